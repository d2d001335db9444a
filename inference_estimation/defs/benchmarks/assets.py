"""Benchmark stage: catalog facts into the warehouse, and benchmark runs per partition."""

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from dagster_duckdb import DuckDBResource

from inference_estimation import constants
from inference_estimation.defs.benchmarks.config import (
    BENCHMARK_ASSET,
    LAND_OP,
    LAUNCH_OP,
    BenchmarkConfig,
    CalibrationConfig,
    ProbeConfig,
    benchmark_config_mapping,
)
from inference_estimation.defs.benchmarks.partitions import (
    benchmark_partitions,
    ensure_benchmark_partitions,
    hardware_partitions,
)
from inference_estimation.defs.conditions import refresh_after_new_data
from inference_estimation.defs.resources import (
    CatalogResource,
    HarnessSecrets,
    HomeResource,
    PipesMessageStore,
)
from inference_estimation.defs.shared import PREDICTORS, TRAINING_FEATURES, read_training_features
from inference_estimation.launchers import launcher_for
from inference_estimation.lib.bench.planning import (
    build_job_spec,
    explicit_points,
    points_left_out,
    skip_reason,
)
from inference_estimation.lib.bench.summaries import run_summary
from inference_estimation.lib.catalog import CatalogError
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
                    "memory_gb": round(probed[hw.key]["memory_gb"], 3),
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


@dataclass(frozen=True)
class LaunchedRun:
    """What the launch op hands the landing op: one written run file, or why nothing was launched.

    Attributes:
        sweep: the sweep's name.
        run_id: the benchmark run's id (None when skipped).
        parquet_path: the immutable run file (None when skipped).
        skip_reason: why the partition was not launched (None when it was).
        launch_wall_s: seconds from the launch to the written file.
        metadata: launcher facts and the run summary, for the materialization.
    """

    sweep: str
    run_id: str | None = None
    parquet_path: str | None = None
    skip_reason: str | None = None
    launch_wall_s: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)


@dg.op(
    name=LAUNCH_OP,
    ins={"hardware_specs": dg.In(dg.Nothing), "model_specs": dg.In(dg.Nothing)},
    description="Plans the partition's sweep, runs it through the hardware's launcher and writes the rows "
    "as one immutable parquet file. Holds no pool: launches on different machines overlap.",
)
def launch_benchmark(
    context: dg.OpExecutionContext, config: BenchmarkConfig, harness_secrets: HarnessSecrets,
    pipes_message_store: PipesMessageStore, catalog: CatalogResource, home: HomeResource,
) -> dg.Output[LaunchedRun]:
    """Runs the sweep's workload grid for this partition (or says why it is skipped).

    Returns an explicit ``Output``: a Pipes session makes Dagster require a typed event stream.

    Raises:
        LauncherError: the job failed or was killed; no file is written, so nothing can land.
        dg.RetryRequested: a transient remote failure (the launcher's own backoff and retry budget).
    """
    keys = context.partition_key.keys_by_dimension
    entries = catalog.for_run(context.log)
    model, hardware, sweep = entries.model(keys["model"]), entries.hw(keys["hardware"]), entries.sweep(config.sweep)
    # explicit points (a calibration run) replace the sweep's grid; invalid ones fail here, naming the field
    try:
        points = explicit_points(None if config.points is None else [p.model_dump() for p in config.points])
    except CatalogError as exc:
        raise dg.Failure(description=f"run config ops.{BENCHMARK_ASSET}.config.{exc}") from None
    reason = skip_reason(model, hardware, sweep, points)
    if reason:
        context.log.warning(f"skipped {context.partition_key}: {reason}")
        return dg.Output(LaunchedRun(sweep=sweep.name, skip_reason=reason))
    run_id = f"{context.run_id[:8]}-{model.key}-{hardware.key}"
    spec = build_job_spec(run_id, model, hardware, sweep, str(context.partition_key), points)
    left_out = points_left_out(model, hardware, sweep, points)
    for note in left_out:
        context.log.warning(f"point left out, it does not fit {hardware.key}: {note}")
    context.log.info(f"launching {len(spec.points)} points of sweep {sweep.name} on {hardware.key}")
    start = time.perf_counter()
    result = launcher_for(hardware).launch(context, spec, secrets=harness_secrets.harness_env(),
                                           message_store=pipes_message_store.store())
    path = warehouse.write_run_parquet(
        result.records, warehouse.run_parquet_path(home.get().parquet_dir, spec.source, run_id)
    )
    return dg.Output(LaunchedRun(sweep=sweep.name, run_id=run_id, parquet_path=str(path),
                                 launch_wall_s=time.perf_counter() - start,
                                 metadata={**result.metadata, **run_summary(result.records),
                                           "backend": spec.backend, "points_planned": len(spec.points),
                                           "points_source": "sweep grid" if points is None else "explicit",
                                           "points_left_out": len(left_out),
                                           **({"points_left_out_why": "\n".join(left_out)} if left_out else {})}))


@dg.op(
    name=LAND_OP,
    pool=constants.DUCKDB_POOL,
    description="Lands the run file in raw.benchmark_runs (one DuckDB writer at a time: pool duckdb) and "
    "records the partition's materialization.",
)
def land_benchmark(context: dg.OpExecutionContext, launched: LaunchedRun, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Lands the launched run (idempotent: landing the same file again adds nothing)."""
    if launched.skip_reason is not None:
        return dg.MaterializeResult(metadata={"status": "skipped", "skip_reason": launched.skip_reason,
                                              "rows_landed": 0, "sweep": launched.sweep})
    start = time.perf_counter()
    with duckdb.get_connection() as con:
        landed = warehouse.land_run(con, Path(launched.parquet_path))
    context.log.info(f"landed {landed} rows of run {launched.run_id}")
    metadata = {
        "status": "measured", "sweep": launched.sweep, "run_id": launched.run_id, "rows_landed": landed,
        "parquet_path": dg.MetadataValue.path(launched.parquet_path),
        # Launch plus landing; the wait for the duckdb pool between them is not the asset's work.
        "asset_wall_s": round(launched.launch_wall_s + time.perf_counter() - start, 3),
        **launched.metadata,
    }
    return dg.MaterializeResult(metadata=metadata)


@dg.graph_asset(
    name=BENCHMARK_ASSET,
    group_name="benchmarks",
    kinds={"python", "pytorch", "duckdb"},
    partitions_def=benchmark_partitions,
    ins={"hardware_specs": dg.AssetIn(dagster_type=dg.Nothing), "model_specs": dg.AssetIn(dagster_type=dg.Nothing)},
    config=benchmark_config_mapping,
    description="One benchmark run per model x hardware partition: launched through the hardware's "
    "launcher, rows back as Pipes messages, one immutable parquet file per run, landed in "
    "raw.benchmark_runs. Only the landing holds the duckdb pool, so partitions on different "
    "machines benchmark side by side.",
)
def benchmark_runs(hardware_specs, model_specs):
    """Launch (no pool) then land (pool ``duckdb``): a slow remote benchmark never blocks other writers."""
    return land_benchmark(launch_benchmark(hardware_specs=hardware_specs, model_specs=model_specs))


#: The calibration plan asset (per benchmarkable hardware); the sensor and ``calibrate`` read its metadata.
NEXT_BENCHMARKS = "next_benchmarks"


def _training_frame(duckdb: DuckDBResource):
    """The training frame, or an empty one before the marts were ever built (a fresh home can plan)."""
    import duckdb as duckdb_module
    import pandas as pd

    try:
        return read_training_features(duckdb)
    except duckdb_module.CatalogException:
        return pd.DataFrame(columns=["hardware_key", "model_key"])


@dg.asset(
    name=NEXT_BENCHMARKS,
    group_name="calibration",
    kinds={"python", "catboost"},
    partitions_def=hardware_partitions,
    deps=[TRAINING_FEATURES, PREDICTORS],
    automation_condition=refresh_after_new_data(),
    description="The next k benchmark points of one device: from its sweep's grid (x the models that fit), "
    "the points that most reduce the predictor's expected error on the device per unit of cost (predicted "
    "run time x price per hour), with why (uncertainty, expected cost) and the expected error before and "
    "after measuring them. calibration_sensor launches them; `inference-estimation calibrate` prints them.",
)
def next_benchmarks(context: dg.AssetExecutionContext, config: CalibrationConfig, duckdb: DuckDBResource,
                    catalog: CatalogResource, home: HomeResource) -> dg.MaterializeResult:
    """Plans this hardware partition's calibration points (lib.ml.calibration.plan_for_hardware)."""
    from inference_estimation.lib.ml.calibration import plan_for_hardware

    hardware_key = context.partition_key
    result = plan_for_hardware(catalog.for_run(context.log), home.get().predictors_dir, _training_frame(duckdb),
                               hardware_key, config.points, sweep=config.sweep, method=config.uncertainty,
                               estimator=config.estimator)
    for note in result.notes:
        context.log.info(note)
    plan = result.plan
    metadata: dict = {
        "hardware": result.hardware_key, "sweep": result.sweep or "none", "k": result.k,
        "measured_rows": result.measured_rows,
        "measured_rows_by_model": dg.MetadataValue.json(result.measured_rows_by_model),
        "plan_id": result.plan_id or "none", "notes": "\n".join(result.notes) or "none",
        "points": dg.MetadataValue.json(result.points_by_model()),
        "serving_points": dg.MetadataValue.json(result.serving_points()),
    }
    if plan is not None:
        metadata.update({
            "planned_points": len(plan.points), "candidates": plan.candidates,
            "expected_error_before_pct": round(plan.expected_error_before_pct, 2),
            "expected_error_after_pct": round(plan.expected_error_after_pct, 2),
            "expected_cost_s": round(plan.expected_cost_s, 1),
            "expected_cost_usd": round(plan.expected_cost_usd, 4) if plan.expected_cost_usd is not None else "unknown",
            "uncertainty_method": plan.uncertainty_method, "estimator": plan.estimator,
            "planning_s": round(plan.planning_s, 4),
            "plan": dg.MetadataValue.md(plan.markdown()),
            "why": dg.MetadataValue.json([{"model": p.model_key, "batch_size": p.batch_size,
                                           "input_tokens": p.input_tokens, "output_tokens": p.output_tokens,
                                           "why": p.why} for p in plan.points]),
        })
    else:
        metadata["planned_points"] = 0
    return dg.MaterializeResult(metadata=metadata)
