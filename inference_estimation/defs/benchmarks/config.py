"""Run-time knobs of the benchmark stage, and the one place that knows where they sit in a run config."""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from inference_estimation import constants
from inference_estimation.defs.benchmarks.partitions import benchmark_partition_key
from inference_estimation.lib.catalog import Catalog

#: The benchmark asset; its graph has the same name, so it is also the key of its run config.
BENCHMARK_ASSET = "benchmark_runs"
#: The op of that graph that reads :class:`BenchmarkConfig` (the graph maps its config there).
LAUNCH_OP = "launch_benchmark"
#: The op of that graph that lands the run file (the only one in the ``duckdb`` pool).
LAND_OP = "land_benchmark"


class WorkloadPointConfig(dg.Config):
    """One explicit workload point of a benchmark run (an LLM point; the harness validates it too).

    Attributes:
        batch_size: prompts per batch.
        input_tokens: prompt length in tokens.
        output_tokens: tokens generated per prompt (forced).
        dtype: ``float32``, ``bfloat16`` or ``float16``.
    """

    batch_size: int
    input_tokens: int
    output_tokens: int
    dtype: str = "float32"


class BenchmarkConfig(dg.Config):
    """Which sweep a benchmark partition runs, and optionally which of its points.

    Attributes:
        sweep: a sweep name from the catalog (``test-tiny``, ``local-demo``, ...).
        points: explicit workload points to measure instead of the sweep's grid (what a
            calibration run measures); the sweep still gives the backend and measurement settings.
            None: the sweep's whole grid.
    """

    sweep: str = constants.DEFAULT_SWEEP
    points: list[WorkloadPointConfig] | None = None


class CalibrationConfig(dg.Config):
    """How ``next_benchmarks`` plans a device's calibration.

    Attributes:
        points: how many points to plan (k).
        sweep: the sweep whose grid and settings to use (None: the default sweep if it covers the
            device, else the first sweep that does).
        uncertainty: ``distance`` (to the training data) or ``ensemble`` (bootstrap disagreement).
        estimator: the correction the plan is for: ``constant`` (what predictors serve) or ``local``.
    """

    points: int = constants.CALIBRATION_POINTS
    sweep: str | None = None
    uncertainty: str = "distance"
    estimator: str = "constant"


class ProbeConfig(dg.Config):
    """The local hardware probe.

    Attributes:
        probe_max_seconds: time budget of the matmul/memory probe per local CPU entry.
    """

    probe_max_seconds: float = 3.0


def benchmark_run_config(sweep: str, points: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The run config that makes ``benchmark_runs`` run ``sweep`` (or only ``points`` of it).

    It is the config of the asset's graph, which hands it on to the launch op (see
    :data:`benchmark_config_mapping`); callers never spell the op path themselves.

    Args:
        sweep: a sweep name from the catalog.
        points: explicit workload points (``batch_size``, ``input_tokens``, ``output_tokens``,
            ``dtype``) instead of the sweep's grid.

    Returns:
        ``{"ops": {"benchmark_runs": {"config": {"sweep": sweep, "points": ...}}}}`` (merge other
        top-level keys, e.g. ``loggers``, beside it).
    """
    config = BenchmarkConfig(sweep=sweep, points=None if points is None else [WorkloadPointConfig(**p) for p in points])
    dumped = config.model_dump()
    if dumped.get("points") is None:
        dumped.pop("points", None)
    return {"ops": {BENCHMARK_ASSET: {"config": dumped}}}


def benchmark_run_request(catalog: Catalog, sweep: str, model_key: str, hardware_key: str, run_key: str | None,
                          points: list[dict[str, Any]] | None = None, job_name: str | None = None,
                          tags: Mapping[str, str] | None = None) -> dg.RunRequest:
    """The one way a benchmark partition is requested (schedules, sensors, calibration and the CLI).

    Args:
        catalog: the catalog (the hardware's host tag comes from it).
        sweep: the sweep whose config the run takes.
        model_key: the partition's model.
        hardware_key: the partition's hardware.
        run_key: the request's run key (what makes a sensor or schedule request it once), or None.
        points: explicit workload points instead of the sweep's grid.
        job_name: the job, when the requester targets more than one.
        tags: extra run tags (e.g. the calibration plan id).

    Returns:
        A run request for partition ``model|hardware`` of ``benchmark_runs`` with the sweep's run config
        and the tags every benchmark run carries: its hardware's host (one run per host at a time) and
        the sweep.
    """
    return dg.RunRequest(
        run_key=run_key, job_name=job_name, partition_key=benchmark_partition_key(model_key, hardware_key),
        run_config=benchmark_run_config(sweep, points),
        tags={constants.HOST_TAG: catalog.hw(hardware_key).host, "sweep": sweep, **(tags or {})})


def points_from_run_config(run_config: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The explicit workload points a run config gives ``benchmark_runs`` (None: the sweep's grid)."""
    config = run_config.get("ops", {}).get(BENCHMARK_ASSET, {}).get("config") or {}
    return config.get("points")


def sweep_from_run_config(run_config: Mapping[str, Any]) -> str:
    """The sweep a run config selects for ``benchmark_runs``: the default sweep when it names none.

    Args:
        run_config: a run config (of a run request, a run, or :func:`benchmark_run_config`).
    """
    config = run_config.get("ops", {}).get(BENCHMARK_ASSET, {}).get("config") or {}
    return config.get("sweep") or constants.DEFAULT_SWEEP


def _launch_op_config(graph_config: Mapping[str, Any]) -> dict[str, Any]:
    config = BenchmarkConfig(**graph_config).model_dump()
    if config.get("points") is None:
        config.pop("points", None)  # the sweep's grid: the op's config says only the sweep
    return {LAUNCH_OP: {"config": config}}


#: The ``benchmark_runs`` graph takes :class:`BenchmarkConfig` as its own config and gives it to the
#: launch op, so the run config path stays ``ops.benchmark_runs.config`` however the graph is split.
benchmark_config_mapping = dg.ConfigMapping(config_fn=_launch_op_config,
                                            config_schema=BenchmarkConfig.to_config_schema())
