"""The one way a benchmark partition is requested, and where its knobs sit in a run config.

Schedules, sensors (the benchmark stage's and calibration's), the CLI and tests build their
``benchmark_runs`` requests here, so no caller spells the op path or the host tag itself.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from inference_estimation import constants
from inference_estimation.defs.benchmarks.config import BENCHMARK_ASSET, BenchmarkConfig, WorkloadPointConfig
from inference_estimation.defs.partitions import benchmark_partition_key
from inference_estimation.lib.catalog import Catalog


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
