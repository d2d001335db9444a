"""The cases of the GPU check (see :mod:`benchmark_jobs.gpu_check`): models, points, settings.

Each case is one harness run (a :class:`~benchmark_jobs.spec.JobSpec`) with what its rows must
show. Models are built from their architecture with random weights; the shapes follow real
models (GPT-2 small, Llama 3.2 1B, Llama 3.1 8B) so the figures are of realistic sizes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark_jobs.schema import MeasurementRecord
from benchmark_jobs.spec import (
    JobSpec,
    MeasurementSettings,
    ModelSpec,
    ServingSettings,
    WorkloadPoint,
    serving_points,
    tabular_points,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY_SERVER = REPO_ROOT / "tests" / "benchmark_jobs" / "support" / "tiny_openai_server.py"

GPT2_SMALL = {"n_layer": 12, "n_embd": 768, "n_head": 12, "vocab_size": 50257, "n_positions": 1024}
LLAMA_1B = {
    "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
    "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 4096, "tie_word_embeddings": True,
}  # fmt: skip
LLAMA_8B = {
    "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 8192,
}  # fmt: skip
TINY_GPT2 = {"n_layer": 2, "n_embd": 64, "n_head": 2, "vocab_size": 1000, "n_positions": 256}

@dataclass
class Case:
    """One run of the harness: a label, a spec, and what its rows must show."""

    label: str
    spec: JobSpec
    expect_statuses: list[str] | None = None  # per point; None = all ok
    power_source: Any = "auto"
    needs: Callable[[], str | None] = lambda: None  # why it cannot run here, or None
    start: Callable[[], contextlib.AbstractContextManager[Any]] | None = None  # e.g. a server
    records: list[MeasurementRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: str | None = None


def _spec(label: str, model: ModelSpec, points: tuple[WorkloadPoint, ...], device: str, backend: str = "transformers", **kwargs: Any) -> JobSpec:
    settings = kwargs.pop("settings")
    return JobSpec(
        run_id=f"gpu-check-{int(time.time())}-{label}",
        source="local",
        sweep="gpu-check",
        partition_key=None,
        hardware_key="gpu-check" if device != "cpu" else "local-cpu",
        device=device,
        backend=backend,
        weight_source="random",
        model=model,
        points=points,
        settings=settings,
        **kwargs,
    )


def _points(batches: list[int], input_tokens: int, output_tokens: int, dtype: str) -> tuple[WorkloadPoint, ...]:
    return tuple(WorkloadPoint(batch_size=b, input_tokens=input_tokens, output_tokens=output_tokens, dtype=dtype) for b in batches)


def _importable(module: str) -> Callable[[], str | None]:
    return lambda: None if importlib.util.find_spec(module) is not None else f"{module} is not installed"


def _tabular_family() -> tuple[str, dict[str, Any]] | None:
    for family, module, extra in (("xgboost", "xgboost", {}), ("catboost", "catboost", {}), ("sklearn", "sklearn", {"estimator": "random_forest"})):
        if importlib.util.find_spec(module) is not None:
            return family, extra
    return None


@contextlib.contextmanager
def _tiny_server(*args: str) -> Iterator[str]:
    sys.path.insert(0, str(TINY_SERVER.parent))
    try:
        from tiny_openai_server import running_server
    finally:
        sys.path.remove(str(TINY_SERVER.parent))
    with running_server(*args) as url:
        yield url


def build_cases(device: str, quick: bool) -> list[Case]:
    """The checks to run on ``device`` (``quick``: tiny models and settings, seconds)."""
    cuda = device.startswith("cuda")
    dtype = "bfloat16" if cuda else "float32"
    if quick:
        settings = MeasurementSettings(warmup_runs=1, min_trials=2, max_trials=3, target_cv=0.5, threads=None if cuda else 1, min_energy_window_s=0.2, point_timeout_s=60)
        llm_cases = [("tiny-gpt2", "gpt2", TINY_GPT2, _points([1, 2], 16, 8, dtype))]
    else:
        settings = MeasurementSettings(warmup_runs=2, min_trials=3, max_trials=10, target_cv=0.03, cooldown_s=0.5, point_timeout_s=120)
        llm_cases = [
            ("gpt2-small", "gpt2", GPT2_SMALL, _points([1, 16, 64], 128, 64, dtype)),
            ("llama-1b-shape", "llama", LLAMA_1B, _points([1, 8, 32], 512, 64, dtype)),
            ("llama-8b-shape", "llama", LLAMA_8B, _points([1, 16], 512, 64, dtype)),
        ]
    cases = [
        Case(label, _spec(label, ModelSpec(key=label, hf_id=None, family=family, architecture=arch), points, device, settings=settings))
        for label, family, arch, points in llm_cases
    ]
    if cuda and not quick:
        # A batch far beyond 141 GB of KV cache and activations, then a point that must still run.
        oom_points = (
            WorkloadPoint(batch_size=4096, input_tokens=2048, output_tokens=8, dtype=dtype),
            WorkloadPoint(batch_size=1, input_tokens=128, output_tokens=16, dtype=dtype),
        )
        cases.append(Case("oom-then-ok", _spec("oom-then-ok", ModelSpec(key="llama-1b-shape", hf_id=None, family="llama", architecture=LLAMA_1B), oom_points, device, settings=settings), expect_statuses=["oom", "ok"]))
        cases.extend(_energy_vs_power_cases(device, dtype, settings))
    cases.append(_serving_case(device, quick, settings))
    tabular = _tabular_family()
    if tabular is not None:
        family, extra = tabular
        tab_device = device if family == "xgboost" else "cpu"
        arch = {"n_features": 32, "n_trees": 20 if quick else 200, "max_depth": 4 if quick else 8, **extra}
        cases.append(Case(f"tabular-{family}", _spec(f"tabular-{family}", ModelSpec(key=f"{family}-synthetic", hf_id=None, family=family, architecture=arch), tabular_points([1, 1024] if quick else [1, 1024, 65536]), tab_device, backend="tabular", settings=settings, backend_options={"train_rows": 500 if quick else 20000})))
    if cuda:
        cases.append(Case("vllm-llama-1b-shape", _spec("vllm-llama-1b-shape", ModelSpec(key="llama-1b-shape", hf_id=None, family="llama", architecture=LLAMA_1B), _points([1, 16, 64], 512, 64, dtype), device, backend="vllm", settings=settings, backend_options={"gpu_memory_utilization": 0.5}), needs=_importable("vllm")))
    return cases


def _energy_vs_power_cases(device: str, dtype: str, settings: MeasurementSettings) -> list[Case]:
    """The same point measured with NVML's energy counter and with NVML power sampling."""
    from benchmark_jobs.trackers.nvml import nvml_power_source

    class _NoEnergyCounter:
        """pynvml, with the energy counter hidden so the power-sampling fallback is used."""

        def __init__(self, nvml: Any) -> None:
            self._nvml = nvml

        def __getattr__(self, name: str) -> Any:
            if name == "nvmlDeviceGetTotalEnergyConsumption":
                raise AttributeError(name)
            return getattr(self._nvml, name)

    try:
        import pynvml
    except Exception:  # noqa: BLE001
        return []
    model = ModelSpec(key="llama-1b-shape", hf_id=None, family="llama", architecture=LLAMA_1B)
    points = _points([8], 512, 64, dtype)
    return [
        Case("counter:nvml-energy", _spec("counter-energy", model, points, device, settings=settings), power_source=nvml_power_source(device)),
        Case("counter:nvml-power", _spec("counter-power", model, points, device, settings=settings), power_source=nvml_power_source(device, nvml=_NoEnergyCounter(pynvml))),
    ]


def _serving_case(device: str, quick: bool, settings: MeasurementSettings) -> Case:
    if not quick:  # a serving trial is a whole load: fewer of them
        settings = MeasurementSettings(warmup_runs=1, min_trials=2, max_trials=3, target_cv=0.1, point_timeout_s=120)
    arch = TINY_GPT2 if quick else GPT2_SMALL
    server_args = ["--device", device, "--max-requests", "2000", "--max-seconds", "300", "--threads", "1" if not device.startswith("cuda") else "4"]
    for flag, key in (("--n-layer", "n_layer"), ("--n-embd", "n_embd"), ("--n-head", "n_head"), ("--vocab-size", "vocab_size"), ("--n-positions", "n_positions")):
        server_args += [flag, str(arch[key])]
    points = serving_points(8 if quick else 16, [16 if quick else 128], [8 if quick else 32], [None], [1, 4])
    holder: dict[str, str] = {}

    @contextlib.contextmanager
    def start() -> Iterator[None]:
        with _tiny_server(*server_args) as url:
            holder["url"] = url
            case.spec = _spec("serving", ModelSpec(key="tiny-server-gpt2", hf_id=None, family="gpt2", architecture=arch), points, device, backend="openai-server", settings=settings, serving=ServingSettings(base_url=url, ttft_limit_s=0.5, tpot_limit_s=0.05))
            yield

    placeholder = ServingSettings(base_url="http://127.0.0.1:9")
    case = Case("serving-tiny-server", _spec("serving", ModelSpec(key="tiny-server-gpt2", hf_id=None, family="gpt2", architecture=arch), points, device, backend="openai-server", settings=settings, serving=placeholder), needs=lambda: None if TINY_SERVER.exists() else f"{TINY_SERVER} is missing", start=start)
    return case
