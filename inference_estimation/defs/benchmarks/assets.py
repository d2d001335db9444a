"""Benchmark stage: one benchmark run per model x hardware partition, launched then landed."""

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation import constants
from inference_estimation.defs.benchmarks.config import (
    BENCHMARK_ASSET,
    LAND_OP,
    LAUNCH_OP,
    BenchmarkConfig,
    benchmark_config_mapping,
)
from inference_estimation.defs.partitions import benchmark_partitions
from inference_estimation.defs.resources import (
    CatalogResource,
    HarnessSecrets,
    HomeResource,
    PipesMessageStore,
)
from inference_estimation.launchers import launcher_for
from inference_estimation.lib.catalog import CatalogError
from inference_estimation.lib.data import warehouse
from inference_estimation.lib.sweeps.planning import (
    build_job_spec,
    explicit_points,
    points_left_out,
    skip_reason,
)
from inference_estimation.lib.sweeps.summaries import run_summary


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
