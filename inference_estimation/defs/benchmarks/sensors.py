"""Partitions follow the catalog, and new catalog entries get benchmarked without anyone launching them.

``catalog_partitions_sensor`` (running by default; it launches nothing) reads the catalog YAML on
each tick and adds new model / hardware keys to the dynamic partitions, so a model added to a
sweep, or hardware given a launcher, is a partition within a minute, without a reload.
``new_partitions_sensor`` (stopped by default: it launches benchmarks) does the same and then
requests one run for each sweep-covered pair never materialized (with the covering sweep's config
and the hardware's host tag). Each (sweep, partition) is requested once; the run key remembers it.
``calibration_sensor`` (stopped by default: it launches benchmarks) calibrates benchmarkable
hardware with fewer than k measurements: it requests the device's plan (``next_benchmarks``), then
the planned points as ordinary ``benchmark_runs`` partitions, one run per model, the points in the
run config. Each plan is launched once; after the refresh retrains, the plan is made again and the
device is left alone once it has k measurements.
"""

import itertools

import dagster as dg

from inference_estimation import constants
from inference_estimation.defs.benchmarks.assets import NEXT_BENCHMARKS, benchmark_runs
from inference_estimation.defs.benchmarks.config import benchmark_run_request
from inference_estimation.defs.benchmarks.partitions import (
    add_requests,
    benchmark_partition_key,
    partition_key_diff,
)
from inference_estimation.defs.jobs import LOCAL_HOST_TAGS, benchmark_job, calibration_job
from inference_estimation.defs.resources import CatalogResource
from inference_estimation.defs.shared import latest_metadata
from inference_estimation.lib.catalog import Catalog


def covering_sweep(catalog: Catalog, model_key: str, hardware_key: str) -> str | None:
    """The sweep a new partition is benchmarked with.

    The default sweep when it covers the pair, else the first sweep (in catalog order) that does;
    None when no sweep does.
    """
    covering = [s.name for s in catalog.sweeps.values() if s.covers(model_key, hardware_key)]
    if constants.DEFAULT_SWEEP in covering:
        return constants.DEFAULT_SWEEP
    return covering[0] if covering else None


def unmeasured_partition_requests(catalog: Catalog, materialized: set[str]) -> list[dg.RunRequest]:
    """Run requests for the catalog's sweep-covered partitions not in ``materialized`` (key strings)."""
    requests = []
    for hardware_key, model_key in itertools.product(catalog.partition_hardware, catalog.partition_models):
        key = benchmark_partition_key(model_key, hardware_key)
        sweep = covering_sweep(catalog, model_key, hardware_key)
        if sweep is None or str(key) in materialized:
            continue
        requests.append(benchmark_run_request(catalog, sweep, model_key, hardware_key,
                                              run_key=f"new-partition:{sweep}:{key}"))
    return requests


def _describe(adds: list[dg.AddDynamicPartitionsRequest]) -> str:
    return "; ".join(f"{a.partitions_def_name} += {', '.join(a.partition_keys)}" for a in adds)


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Keeps the benchmark partitions (model x hardware) in step with the catalog YAML: adds "
           "the keys of models some sweep benchmarks and of hardware with a launcher. Launches nothing.")
def catalog_partitions_sensor(context: dg.SensorEvaluationContext, catalog: CatalogResource):
    """Adds the catalog's new benchmarkable model and hardware keys as dynamic partitions."""
    catalog = catalog.load()
    broken = "; ".join(catalog.skipped_overlays)
    if broken:  # the rest of the catalog still syncs; the tick names the file and field
        context.log.error(f"catalog overlay(s) left out until fixed: {broken}")
    missing, stale = partition_key_diff(catalog, context.instance)
    adds = add_requests(missing)
    if stale:
        context.log.info(f"kept, no longer benchmarkable in the catalog (history stays visible): {stale}")
    if not adds:
        return dg.SkipReason("benchmark partitions match the catalog"
                             + (f"; overlay(s) left out until fixed: {broken}" if broken else ""))
    context.log.info(f"adding partitions: {_describe(adds)}")
    return dg.SensorResult(dynamic_partitions_requests=adds)


@dg.sensor(job=benchmark_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Benchmarks partitions that appeared in the catalog (a model added to a sweep, hardware "
           "given a launcher) and were never measured; one run each, tagged with the hardware's host.")
def new_partitions_sensor(context: dg.SensorEvaluationContext, catalog: CatalogResource):
    """Adds the catalog's new partition keys and requests its never-materialized, sweep-covered pairs."""
    catalog = catalog.load()
    for error in catalog.skipped_overlays:
        context.log.error(f"catalog overlay left out: {error}")
    adds = add_requests(partition_key_diff(catalog, context.instance)[0])  # processed before the run requests
    materialized = {str(k) for k in context.instance.get_materialized_partitions(benchmark_runs.key)}
    requests = unmeasured_partition_requests(catalog, materialized)
    if not requests and not adds:
        return dg.SkipReason(f"all {len(materialized)} covered partitions were measured")
    return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=adds)


def calibration_requests(catalog: Catalog, plans: dict[str, dict | None],
                         k: int = constants.CALIBRATION_POINTS) -> list[dg.RunRequest]:
    """What the calibration sensor requests for the catalog's benchmarkable hardware.

    Args:
        catalog: the catalog (hardware with a launcher is benchmarkable).
        plans: hardware key -> the metadata of its latest ``next_benchmarks`` materialization (None
            when it was never planned).
        k: points a device's plan asks for.

    Returns:
        A ``calibration_job`` run for each device never planned; for each planned device with fewer
        than its plan's k measurements, one ``benchmark_job`` run per planned model with the points
        in the run config (run key: device, plan id, model -- each plan is launched once).
    """
    requests = []
    for hardware_key in catalog.partition_hardware:
        meta = plans.get(hardware_key)
        if meta is None:
            requests.append(dg.RunRequest(
                job_name=calibration_job.name, partition_key=hardware_key, run_key=f"calibration-plan:{hardware_key}",
                run_config={"ops": {NEXT_BENCHMARKS: {"config": {"points": k}}}}, tags=LOCAL_HOST_TAGS))
            continue
        if int(meta.get("measured_rows", 0)) >= int(meta.get("k", k)):
            continue
        requests.extend(plan_run_requests(catalog, hardware_key, meta))
    return requests


def plan_run_requests(catalog: Catalog, hardware_key: str, plan: dict) -> list[dg.RunRequest]:
    """One ``benchmark_job`` run per model of a device's plan (``next_benchmarks`` metadata), the
    planned points in its run config, tagged with the device's host and the plan id."""
    return [benchmark_run_request(catalog, plan["sweep"], model_key, hardware_key,
                                  run_key=f"calibration:{hardware_key}:{plan['plan_id']}:{model_key}",
                                  points=points, job_name=benchmark_job.name,
                                  tags={"calibration_plan": str(plan["plan_id"])})
        for model_key, points in (plan.get("points") or {}).items()]


@dg.sensor(jobs=[benchmark_job, calibration_job], minimum_interval_seconds=300,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Calibrates hardware that gained a launcher and has fewer than k measurements: plans its "
           "next points (next_benchmarks), then benchmarks them as ordinary benchmark_runs partitions with the "
           "points in the run config. Launches benchmarks, so it starts stopped.")
def calibration_sensor(context: dg.SensorEvaluationContext, catalog: CatalogResource):
    """Requests plans for unplanned devices and the planned points of devices short of k measurements."""
    catalog = catalog.load()
    for error in catalog.skipped_overlays:
        context.log.error(f"catalog overlay left out: {error}")
    adds = add_requests(partition_key_diff(catalog, context.instance)[0])
    key = dg.AssetKey(NEXT_BENCHMARKS)
    plans = {hw: latest_metadata(context.instance, key, hw) for hw in catalog.partition_hardware}
    requests = calibration_requests(catalog, plans)
    if not requests and not adds:
        return dg.SkipReason("every benchmarkable device is planned and has its calibration measurements")
    return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=adds)
