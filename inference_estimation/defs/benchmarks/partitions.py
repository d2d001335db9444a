"""Benchmark partitions: model x benchmarkable hardware (dimensions ``model`` and ``hardware``)."""

import dagster as dg

from inference_estimation.lib.catalog import load_catalog

_catalog = load_catalog()

benchmark_partitions = dg.MultiPartitionsDefinition(
    {
        "model": dg.StaticPartitionsDefinition(_catalog.partition_models),
        "hardware": dg.StaticPartitionsDefinition(_catalog.partition_hardware),
    }
)


def benchmark_partition_key(model_key: str, hardware_key: str) -> dg.MultiPartitionKey:
    """The partition key of one (model, hardware) pair (dimension order is Dagster's business)."""
    return dg.MultiPartitionKey({"model": model_key, "hardware": hardware_key})
