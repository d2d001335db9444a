"""Run-time knobs of the benchmark stage, and the one place that knows where they sit in a run config."""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from inference_estimation import constants

#: The benchmark asset; its graph has the same name, so it is also the key of its run config.
BENCHMARK_ASSET = "benchmark_runs"
#: The op of that graph that reads :class:`BenchmarkConfig` (the graph maps its config there).
LAUNCH_OP = "launch_benchmark"
#: The op of that graph that lands the run file (the only one in the ``duckdb`` pool).
LAND_OP = "land_benchmark"


class BenchmarkConfig(dg.Config):
    """Which sweep a benchmark partition runs.

    Attributes:
        sweep: a sweep name from the catalog (``test-tiny``, ``local-demo``, ...).
    """

    sweep: str = constants.DEFAULT_SWEEP


class ProbeConfig(dg.Config):
    """The local hardware probe.

    Attributes:
        probe_max_seconds: time budget of the matmul/memory probe per local CPU entry.
    """

    probe_max_seconds: float = 3.0


def benchmark_run_config(sweep: str) -> dict[str, Any]:
    """The run config that makes ``benchmark_runs`` run ``sweep``.

    It is the config of the asset's graph, which hands it on to the launch op (see
    :data:`benchmark_config_mapping`); callers never spell the op path themselves.

    Args:
        sweep: a sweep name from the catalog.

    Returns:
        ``{"ops": {"benchmark_runs": {"config": {"sweep": sweep}}}}`` (merge other top-level keys,
        e.g. ``loggers``, beside it).
    """
    return {"ops": {BENCHMARK_ASSET: {"config": BenchmarkConfig(sweep=sweep).model_dump()}}}


def sweep_from_run_config(run_config: Mapping[str, Any]) -> str:
    """The sweep a run config selects for ``benchmark_runs``: the default sweep when it names none.

    Args:
        run_config: a run config (of a run request, a run, or :func:`benchmark_run_config`).
    """
    config = run_config.get("ops", {}).get(BENCHMARK_ASSET, {}).get("config") or {}
    return config.get("sweep") or constants.DEFAULT_SWEEP


def _launch_op_config(graph_config: Mapping[str, Any]) -> dict[str, Any]:
    return {LAUNCH_OP: {"config": BenchmarkConfig(**graph_config).model_dump()}}


#: The ``benchmark_runs`` graph takes :class:`BenchmarkConfig` as its own config and gives it to the
#: launch op, so the run config path stays ``ops.benchmark_runs.config`` however the graph is split.
benchmark_config_mapping = dg.ConfigMapping(config_fn=_launch_op_config,
                                            config_schema=BenchmarkConfig.to_config_schema())
