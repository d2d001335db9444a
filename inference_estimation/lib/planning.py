"""Plans one benchmark partition: is it runnable, and what exactly does the job measure.

A pair that cannot run is known before launch -- not in the sweep, a backend that cannot build
the model, or a model that does not fit in memory -- and is recorded as skipped with the reason;
it is never launched.
"""

from __future__ import annotations

import os

from benchmark_jobs.spec import JobSpec, MeasurementSettings, ModelSpec, grid_points
from inference_estimation import constants
from inference_estimation.lib.catalog import CatalogError, HardwareEntry, ModelEntry, SweepEntry
from inference_estimation.lib.features import BYTES_PER_ELEMENT, model_facts


def host_memory_gb() -> float:
    """Physical memory of this machine in GB (for local targets not probed yet)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9


def required_memory_gb(model: ModelEntry, sweep: SweepEntry, dtype: str) -> float:
    """Memory the largest point of the sweep needs: (weights + KV cache) x overhead factor."""
    facts = model_facts(model)
    bpe = BYTES_PER_ELEMENT[dtype]
    weights = facts["params"] * bpe
    kv_per_token = 2 * facts["layers"] * facts["kv_heads"] * facts["head_dim"] * bpe
    kv = max(sweep.batch_sizes) * (max(sweep.input_tokens) + max(sweep.output_tokens)) * kv_per_token
    return (weights + kv) * constants.MEMORY_OVERHEAD_FACTOR / 1e9


def skip_reason(model: ModelEntry, hardware: HardwareEntry, sweep: SweepEntry) -> str | None:
    """Why this partition cannot run under this sweep, or None when it can.

    Args:
        model: the partition's model.
        hardware: the partition's hardware.
        sweep: the sweep being run.
    """
    if not sweep.covers(model.key, hardware.key):
        return (f"not in sweep {sweep.name!r} (it covers models {sweep.models} "
                f"x hardware {sweep.hardware})")
    if model.kind != "llm":
        return f"backend {sweep.backend!r} measures LLMs; {model.key!r} is a {model.kind} model"
    try:
        model.transformers_config()
    except CatalogError as exc:
        return str(exc)
    if model.architecture and max(sweep.input_tokens) + max(sweep.output_tokens) > model.architecture.max_position_embeddings:
        return (f"sweep context {max(sweep.input_tokens) + max(sweep.output_tokens)} tokens exceeds "
                f"{model.key!r}'s max_position_embeddings {model.architecture.max_position_embeddings}")
    memory_gb = hardware.specs.memory_gb
    if memory_gb is None and hardware.kind == "cpu" and hardware.launcher and hardware.launcher.type == "local":
        memory_gb = host_memory_gb()
    if memory_gb is not None:
        available = memory_gb * hardware.device_count * constants.USABLE_MEMORY_FRACTION
        if hardware.kind == "cpu":
            available -= constants.CPU_RUNTIME_OVERHEAD_GB
        for dtype in sweep.dtypes:
            needed = required_memory_gb(model, sweep, dtype)
            if needed > available:
                return (f"does not fit: {model.key} in {dtype} needs about {needed:.1f} GB for the sweep's "
                        f"largest point; {hardware.key} offers {available:.1f} GB usable")
    return None


def build_job_spec(
    run_id: str, model: ModelEntry, hardware: HardwareEntry, sweep: SweepEntry, partition_key: str | None
) -> JobSpec:
    """The job spec for one partition of a sweep (the benchmark machine needs nothing else)."""
    # torch device strings; ROCm builds of torch expose AMD GPUs as "cuda".
    device = {"cpu": "cpu", "cuda": "cuda", "rocm": "cuda", "xpu": "xpu", "hpu": "hpu", "mps": "mps"}.get(hardware.kind)
    if device is None:
        raise CatalogError(f"hardware {hardware.key!r} ({hardware.kind}) has no torch device for the harness")
    return JobSpec(
        run_id=run_id,
        source="local",
        sweep=sweep.name,
        partition_key=partition_key,
        hardware_key=hardware.key,
        device=device,
        backend=sweep.backend,
        weight_source=sweep.weight_source,
        model=ModelSpec(key=model.key, hf_id=model.hf_id, family=model.family,
                        architecture=model.transformers_config(), params=model_facts(model)["params"]),
        points=grid_points(sweep.batch_sizes, sweep.input_tokens, sweep.output_tokens, list(sweep.dtypes),
                           sweep.prompt_type),
        settings=MeasurementSettings(
            warmup_runs=sweep.warmup_runs, min_trials=sweep.min_trials, max_trials=sweep.max_trials,
            target_cv=sweep.target_cv, cooldown_s=sweep.cooldown_s, point_timeout_s=sweep.point_timeout_s,
        ),
    )
