"""Benchmark stage: catalog facts into the warehouse, and benchmark runs per partition."""


import time

import dagster as dg
import yaml
from dagster_duckdb import DuckDBResource

from inference_estimation import constants
from inference_estimation.defs.benchmarks.config import BenchmarkConfig, ProbeConfig
from inference_estimation.defs.benchmarks.partitions import benchmark_partitions
from inference_estimation.defs.resources import HarnessSecrets
from inference_estimation.launchers import launcher_for
from inference_estimation.lib import warehouse
from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.features import hardware_facts, model_facts
from inference_estimation.lib.home import get_home
from inference_estimation.lib.planning import build_job_spec, skip_reason
from inference_estimation.lib.summaries import run_summary


@dg.asset(
    group_name="catalog",
    kinds={"python", "duckdb"},
    pool=constants.DUCKDB_POOL,
    description="Hardware spec facts (per device, with units and spec_source) in raw.hardware; "
    "local CPUs are measured by a short matmul/memory probe first.",
)
def hardware_specs(context: dg.AssetExecutionContext, config: ProbeConfig, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Probes local hardware marked ``spec_source: probe`` and lands every hardware entry."""
    from benchmark_jobs.probe import probe_cpu

    home = get_home()
    catalog = load_catalog()
    probed: dict[str, dict] = {}
    for hw in catalog.hardware.values():
        if hw.spec_source == "probe" and hw.kind == "cpu" and hw.launcher and hw.launcher.type == "local":
            probed[hw.key] = probe_cpu(max_seconds=config.probe_max_seconds)
            overlay = {"hardware": [{
                "key": hw.key,
                "device_name": probed[hw.key]["cpu_model"],
                "specs": {
                    "peak_tflops_fp32": round(probed[hw.key]["peak_matmul_gflops"] / 1000.0, 6),
                    "memory_gb": round(probed[hw.key]["memory_gb"], 3),
                    "memory_bandwidth_gb_s": round(probed[hw.key]["memory_bandwidth_gb_s"], 3),
                },
            }]}
            (home.catalog_dir / f"probe-{hw.key}.yaml").write_text(
                "# Written by the hardware_specs asset from the local probe; safe to delete.\n"
                + yaml.safe_dump(overlay, sort_keys=False)
            )
            context.log.info(f"probe {hw.key}: {probed[hw.key]}")
    catalog = load_catalog()
    rows = [hardware_facts(hw) for hw in catalog.hardware.values()]
    with duckdb.get_connection() as con:
        warehouse.ensure_raw_tables(con)
        n = warehouse.replace_facts(con, "hardware", rows)
    metadata: dict = {"rows": n, "benchmarkable": catalog.partition_hardware}
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
def model_specs(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Lands every catalog model's flat facts."""
    catalog = load_catalog()
    with duckdb.get_connection() as con:
        warehouse.ensure_raw_tables(con)
        n = warehouse.replace_facts(con, "models", [model_facts(m) for m in catalog.models.values()])
    return dg.MaterializeResult(metadata={"rows": n, "benchmarkable": catalog.partition_models})


@dg.asset(
    group_name="benchmarks",
    kinds={"python", "pytorch", "duckdb"},
    partitions_def=benchmark_partitions,
    deps=[hardware_specs, model_specs],
    pool=constants.DUCKDB_POOL,
    description="One benchmark run per model x hardware partition: launched through the hardware's "
    "launcher, rows back as Pipes messages, one immutable parquet file per run, landed in "
    "raw.benchmark_runs.",
)
def benchmark_runs(
    context: dg.AssetExecutionContext, config: BenchmarkConfig, duckdb: DuckDBResource,
    harness_secrets: HarnessSecrets,
) -> dg.MaterializeResult:
    """Runs the sweep's workload grid for this partition (or records why it is skipped)."""
    keys = context.partition_key.keys_by_dimension
    catalog = load_catalog()
    model, hardware, sweep = catalog.model(keys["model"]), catalog.hw(keys["hardware"]), catalog.sweep(config.sweep)
    reason = skip_reason(model, hardware, sweep)
    if reason:
        context.log.warning(f"skipped {context.partition_key}: {reason}")
        return dg.MaterializeResult(metadata={"status": "skipped", "skip_reason": reason, "rows_landed": 0,
                                              "sweep": sweep.name})
    run_id = f"{context.run_id[:8]}-{model.key}-{hardware.key}"
    spec = build_job_spec(run_id, model, hardware, sweep, str(context.partition_key))
    context.log.info(f"launching {len(spec.points)} points of sweep {sweep.name} on {hardware.key}")
    start = time.perf_counter()
    result = launcher_for(hardware).launch(context, spec, secrets=harness_secrets.harness_env())
    home = get_home()
    path = warehouse.write_run_parquet(
        result.records, warehouse.run_parquet_path(home.parquet_dir, spec.source, run_id)
    )
    with duckdb.get_connection() as con:
        landed = warehouse.land_run(con, path)
    metadata = {
        "status": "measured", "sweep": sweep.name, "run_id": run_id, "rows_landed": landed,
        "parquet_path": dg.MetadataValue.path(str(path)), "asset_wall_s": round(time.perf_counter() - start, 3),
        **result.metadata, **run_summary(result.records),
    }
    return dg.MaterializeResult(metadata=metadata)
