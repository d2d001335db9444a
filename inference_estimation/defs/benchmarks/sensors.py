"""New catalog entries get benchmarked without anyone launching them.

Partitions follow the catalog: a model added to a sweep, or hardware given a launcher, is a new
partition once the code location reloads. This sensor then finds sweep-covered partitions that
were never materialized and requests one run each (with the covering sweep's config and the
hardware's host tag). Each (sweep, partition) is requested once; the run key remembers it.
"""

import dagster as dg

from inference_estimation import constants
from inference_estimation.defs.benchmarks.assets import benchmark_runs
from inference_estimation.defs.benchmarks.config import benchmark_run_config
from inference_estimation.defs.benchmarks.partitions import benchmark_partitions
from inference_estimation.defs.jobs import benchmark_job
from inference_estimation.lib.catalog import Catalog, load_catalog


def covering_sweep(catalog: Catalog, model_key: str, hardware_key: str) -> str | None:
    """The sweep a new partition is benchmarked with: the default sweep when it covers the pair, else
    the first sweep (in catalog order) that does; None when no sweep does."""
    covering = [s.name for s in catalog.sweeps.values() if s.covers(model_key, hardware_key)]
    if constants.DEFAULT_SWEEP in covering:
        return constants.DEFAULT_SWEEP
    return covering[0] if covering else None


def unmeasured_partition_requests(catalog: Catalog, partition_keys: list[dg.MultiPartitionKey],
                                  materialized: set[str]) -> list[dg.RunRequest]:
    """Run requests for the sweep-covered partitions among ``partition_keys`` (the code location's)
    that are not in ``materialized`` (partition key strings)."""
    requests = []
    for key in partition_keys:
        dims = key.keys_by_dimension
        if dims["model"] not in catalog.models or dims["hardware"] not in catalog.hardware:
            continue  # removed from the catalog since the code location loaded
        sweep = covering_sweep(catalog, dims["model"], dims["hardware"])
        if sweep is None or str(key) in materialized:
            continue
        requests.append(dg.RunRequest(
            run_key=f"new-partition:{sweep}:{key}", partition_key=key,
            run_config=benchmark_run_config(sweep),
            tags={constants.HOST_TAG: catalog.hw(dims["hardware"]).host, "sweep": sweep}))
    return requests


@dg.sensor(job=benchmark_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Benchmarks partitions that appeared in the catalog (a model added to a sweep, hardware "
           "given a launcher) and were never measured; one run each, tagged with the hardware's host.")
def new_partitions_sensor(context: dg.SensorEvaluationContext):
    """Requests the never-materialized, sweep-covered partitions of the loaded catalog."""
    catalog = load_catalog()
    materialized = {str(k) for k in context.instance.get_materialized_partitions(benchmark_runs.key)}
    requests = unmeasured_partition_requests(catalog, benchmark_partitions.get_partition_keys(), materialized)
    if not requests:
        return dg.SkipReason(f"all {len(materialized)} covered partitions were measured")
    return requests
