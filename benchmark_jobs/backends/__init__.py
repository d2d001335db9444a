"""Inference backends, one module per engine, created by name from the job spec.

Engines are imported lazily so that importing the harness (for the probe, or the Pipes entry
point) does not pull torch or an engine in.
"""

from __future__ import annotations

import importlib

from benchmark_jobs.backends.base import Backend, GenerationTiming, PointTimeoutError

#: Backend name (``JobSpec.backend``) -> "module:class".
BACKENDS: dict[str, str] = {
    "transformers": "benchmark_jobs.backends.transformers_backend:TransformersBackend",
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


__all__ = ["BACKENDS", "Backend", "GenerationTiming", "PointTimeoutError", "create_backend"]
