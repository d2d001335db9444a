"""Run-time knobs of the benchmark stage and the mapping of its graph config onto the launch op
(requests are built in ``defs/benchmark_requests.py``)."""

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


def _launch_op_config(graph_config: Mapping[str, Any]) -> dict[str, Any]:
    config = BenchmarkConfig(**graph_config).model_dump()
    if config.get("points") is None:
        config.pop("points", None)  # the sweep's grid: the op's config says only the sweep
    return {LAUNCH_OP: {"config": config}}


#: The ``benchmark_runs`` graph takes :class:`BenchmarkConfig` as its own config and gives it to the
#: launch op, so the run config path stays ``ops.benchmark_runs.config`` however the graph is split.
benchmark_config_mapping = dg.ConfigMapping(config_fn=_launch_op_config,
                                            config_schema=BenchmarkConfig.to_config_schema())
