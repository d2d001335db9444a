"""Partitions follow the catalog, and new catalog entries get benchmarked without anyone launching them.

``catalog_partitions_sensor`` (running by default; it launches nothing) reads the catalog YAML on
each tick and adds new model / hardware keys to the dynamic partitions, so a model added to a
sweep, or hardware given a launcher, is a partition within a minute, without a reload.
``new_partitions_sensor`` (stopped by default: it launches benchmarks) does the same and then
requests one run for each sweep-covered pair never materialized (with the covering sweep's config
and the hardware's host tag). Each (sweep, partition) is requested once; the run key remembers it.
"""

import itertools

import dagster as dg

from inference_estimation import constants
from inference_estimation.defs.benchmark_requests import benchmark_run_request
from inference_estimation.defs.benchmarks.assets import benchmark_runs
from inference_estimation.defs.jobs import benchmark_job
from inference_estimation.defs.partitions import (
    add_requests,
    benchmark_partition_key,
    partition_key_diff,
)
from inference_estimation.defs.resources import CatalogResource
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
