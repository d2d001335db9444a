"""The calibration sensor: benchmarkable hardware short of k measurements gets its plan, then its points.

``calibration_sensor`` (stopped by default: it launches benchmarks) calibrates benchmarkable
hardware with fewer than k measurements: it requests the device's plan (``next_benchmarks``), then
the planned points as ordinary ``benchmark_runs`` partitions, one run per model, the points in the
run config. Each plan is launched once; after the refresh retrains, the plan is made again and the
device is left alone once it has k measurements.
"""

import dagster as dg

from inference_estimation import constants
from inference_estimation.defs.benchmark_requests import benchmark_run_request
from inference_estimation.defs.calibration.assets import NEXT_BENCHMARKS
from inference_estimation.defs.jobs import LOCAL_HOST_TAGS, benchmark_job, calibration_job
from inference_estimation.defs.partitions import add_requests, partition_key_diff
from inference_estimation.defs.resources import CatalogResource
from inference_estimation.defs.shared import latest_metadata
from inference_estimation.lib.catalog import Catalog


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
