"""Inference backends, one module per engine, created by name from the job spec.

Engines are imported lazily so that importing the harness (for the probe, or the Pipes entry
point) does not pull torch or an engine in.
"""

from __future__ import annotations

import importlib

from benchmark_jobs.backends.base import Backend, GenerationTiming, PointTimeoutError, RequestTimings
from benchmark_jobs.metrics import TrialSummary

#: Backend name (``JobSpec.backend``) -> "module:class".
BACKENDS: dict[str, str] = {
    "transformers": "benchmark_jobs.backends.transformers_backend:TransformersBackend",
    "vllm": "benchmark_jobs.backends.vllm_backend:VllmBackend",
    "openai-server": "benchmark_jobs.backends.openai_server:OpenAIServerBackend",
    "tabular": "benchmark_jobs.backends.tabular_backend:TabularBackend",
}


def create_backend(name: str) -> Backend:
    """Creates the backend called ``name``.

    Raises:
        ValueError: for an unknown backend name.
    """
    try:
        target = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(sorted(BACKENDS))}") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)()


__all__ = [
    "BACKENDS",
    "Backend",
    "GenerationTiming",
    "PointTimeoutError",
    "RequestTimings",
    "TrialSummary",
    "create_backend",
]
