"""Benchmark partitions: model x benchmarkable hardware (dimensions ``model`` and ``hardware``).

Both dimensions are dynamic partitions whose keys live in the Dagster instance and follow the
catalog: ``catalog_partitions_sensor`` (running by default) reads the catalog YAML on every tick
and adds the model and hardware keys that appeared, so a model added to a sweep, or hardware given
a launcher, becomes a partition within a minute -- no code change and no code-location reload.
The ``sweep`` CLI, the weekly schedules and the new-partitions sensor add the keys they need
before requesting runs, so they never depend on the sync sensor having ticked first.

Keys of entries removed from the catalog are kept: their partitions hold measurement history
(materializations, metadata) that deleting the key would hide in the UI. Planning refuses to
launch a pair whose model or hardware is no longer in the catalog.
"""

import dagster as dg

from inference_estimation.lib.catalog import Catalog

#: Names of the two dynamic partition sets in the instance.
MODEL_PARTITIONS = "benchmark_models"
HARDWARE_PARTITIONS = "benchmark_hardware"

model_partitions = dg.DynamicPartitionsDefinition(name=MODEL_PARTITIONS)
hardware_partitions = dg.DynamicPartitionsDefinition(name=HARDWARE_PARTITIONS)

benchmark_partitions = dg.MultiPartitionsDefinition({"model": model_partitions, "hardware": hardware_partitions})


def benchmark_partition_key(model_key: str, hardware_key: str) -> dg.MultiPartitionKey:
    """The partition key of one (model, hardware) pair (dimension order is Dagster's business)."""
    return dg.MultiPartitionKey({"model": model_key, "hardware": hardware_key})


def partition_key_diff(catalog: Catalog, instance: dg.DagsterInstance
                       ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """How the instance's benchmark partition keys differ from the catalog (each set read once).

    Returns:
        ``(missing, stale)``: per partitions set name, the catalog's benchmarkable keys the instance
        does not hold yet (catalog order), and the keys it holds that the catalog no longer makes
        benchmarkable (kept, see the module docstring); only sets with something to report.
    """
    wanted = {MODEL_PARTITIONS: catalog.partition_models, HARDWARE_PARTITIONS: catalog.partition_hardware}
    missing, stale = {}, {}
    for name, keys in wanted.items():
        have = set(instance.get_dynamic_partitions(name))
        if new := [k for k in keys if k not in have]:
            missing[name] = new
        if gone := sorted(have - set(keys)):
            stale[name] = gone
    return missing, stale


def add_requests(missing: dict[str, list[str]]) -> list[dg.AddDynamicPartitionsRequest]:
    """Requests adding ``missing`` keys (from :func:`partition_key_diff`), for a ``SensorResult``."""
    return [dg.AddDynamicPartitionsRequest(partitions_def_name=name, partition_keys=keys)
            for name, keys in missing.items()]


def ensure_benchmark_partitions(instance: dg.DagsterInstance, catalog: Catalog) -> dict[str, list[str]]:
    """Adds the catalog's benchmarkable model and hardware keys to ``instance`` (idempotent).

    Args:
        instance: the Dagster instance that holds the dynamic partitions.
        catalog: the catalog to follow.

    Returns:
        The keys added, by partitions set name (empty when the instance was up to date).
    """
    missing, _ = partition_key_diff(catalog, instance)
    for name, keys in missing.items():
        try:
            instance.add_dynamic_partitions(name, keys)
        except Exception:  # noqa: BLE001 - another writer (sensor, schedule, CLI) added them first
            still = [k for k in keys if k not in set(instance.get_dynamic_partitions(name))]
            if still:
                raise
    return missing


def benchmark_partition_keys(instance: dg.DagsterInstance) -> list[dg.MultiPartitionKey]:
    """Every benchmark partition key the instance holds (model x hardware)."""
    return benchmark_partitions.get_partition_keys(dynamic_partitions_store=instance)
