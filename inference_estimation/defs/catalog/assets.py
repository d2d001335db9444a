"""Catalog stage: hardware and model facts from the catalog YAML into ``raw.hardware`` and ``raw.models``."""

import dagster as dg
import yaml
from dagster_duckdb import DuckDBResource

from inference_estimation import constants
from inference_estimation.defs.catalog.config import ProbeConfig
from inference_estimation.defs.partitions import ensure_benchmark_partitions
from inference_estimation.defs.resources import CatalogResource, HomeResource
from inference_estimation.lib.data import warehouse
from inference_estimation.lib.physics.features import hardware_facts, model_facts


@dg.asset(
    group_name="catalog",
    kinds={"python", "duckdb"},
    pool=constants.DUCKDB_POOL,
    description="Hardware spec facts (per device, with units and spec_source) in raw.hardware; "
    "local CPUs are measured by a short matmul/memory probe first.",
)
def hardware_specs(context: dg.AssetExecutionContext, config: ProbeConfig, duckdb: DuckDBResource,
                   catalog: CatalogResource, home: HomeResource) -> dg.MaterializeResult:
    """Probes local hardware marked ``spec_source: probe`` and lands every hardware entry."""
    from benchmark_jobs.probe import probe_cpu

    overlays = home.get().catalog_dir
    entries = catalog.complete("landing hardware facts")
    probed: dict[str, dict] = {}
    for hw in entries.hardware.values():
        if hw.spec_source == "probe" and hw.kind == "cpu" and hw.launcher and hw.launcher.type == "local":
            probed[hw.key] = probe_cpu(max_seconds=config.probe_max_seconds)
            overlay = {"hardware": [{
                "key": hw.key,
                "device_name": probed[hw.key]["cpu_model"],
                "specs": {
                    "peak_tflops_fp32": round(probed[hw.key]["peak_matmul_gflops"] / 1000.0, 6),
                    # the catalog's memory GB are GiB, as vendors size device memory
                    "memory_gb": round(probed[hw.key]["memory_gb"] / constants.CATALOG_GB_IN_GB, 3),
                    "memory_bandwidth_gb_s": round(probed[hw.key]["memory_bandwidth_gb_s"], 3),
                },
            }]}
            (overlays / f"probe-{hw.key}.yaml").write_text(
                "# Written by the hardware_specs asset from the local probe; safe to delete.\n"
                + yaml.safe_dump(overlay, sort_keys=False)
            )
            context.log.info(f"probe {hw.key}: {probed[hw.key]}")
    entries = catalog.complete("landing hardware facts")  # again: the probe wrote an overlay
    rows = [hardware_facts(hw) for hw in entries.hardware.values()]
    with duckdb.get_connection() as con:
        warehouse.ensure_raw_tables(con)
        n = warehouse.replace_facts(con, "hardware", rows)
    metadata: dict = {"rows": n, "benchmarkable": entries.partition_hardware}
    for key, result in probed.items():
        metadata[f"{key}/peak_matmul_gflops"] = result["peak_matmul_gflops"]
        metadata[f"{key}/memory_bandwidth_gb_s"] = result["memory_bandwidth_gb_s"]
        metadata[f"{key}/cpu_model"] = result["cpu_model"]
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name="catalog",
    kinds={"python", "duckdb"},
    pool=constants.DUCKDB_POOL,
    description="Model architecture facts (params, layers, heads, ...) in raw.models.",
)
def model_specs(context: dg.AssetExecutionContext, duckdb: DuckDBResource,
                catalog: CatalogResource) -> dg.MaterializeResult:
    """Lands every catalog model's flat facts and adds new benchmarkable keys as partitions."""
    entries = catalog.complete("landing model facts")
    with duckdb.get_connection() as con:
        warehouse.ensure_raw_tables(con)
        n = warehouse.replace_facts(con, "models", [model_facts(m) for m in entries.models.values()])
    added = ensure_benchmark_partitions(context.instance, entries)
    if added:
        context.log.info(f"new benchmark partition keys: {added}")
    return dg.MaterializeResult(metadata={
        "rows": n, "benchmarkable": entries.partition_models,
        "partition_keys_added": sorted(k for keys in added.values() for k in keys)})
