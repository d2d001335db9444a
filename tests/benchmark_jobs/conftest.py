"""Shared fixtures: tiny random-weight models and job specs that run in well under a second."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from benchmark_jobs.spec import JobSpec, MeasurementSettings, ModelSpec, WorkloadPoint

TINY_GPT2_ARCHITECTURE = {"n_layer": 2, "n_embd": 64, "n_head": 2, "vocab_size": 1000, "n_positions": 256}
TINY_LLAMA_ARCHITECTURE = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,  # grouped-query attention
    "vocab_size": 1000,
    "max_position_embeddings": 256,
}


def _tiny_gpt2(**architecture_overrides: Any) -> ModelSpec:
    """A 2-layer GPT-2 with a 1000-token vocabulary (random weights)."""
    return ModelSpec(
        key="tiny-gpt2",
        hf_id=None,
        family="gpt2",
        architecture={**TINY_GPT2_ARCHITECTURE, **architecture_overrides},
    )


def _tiny_llama() -> ModelSpec:
    """A 2-layer Llama with 4 query heads sharing 2 KV heads (random weights)."""
    return ModelSpec(key="tiny-llama", hf_id=None, family="llama", architecture=dict(TINY_LLAMA_ARCHITECTURE))


def _make_spec(
    points: list[WorkloadPoint],
    model: ModelSpec | None = None,
    **settings: Any,
) -> JobSpec:
    """A local CPU job spec for ``points`` with fast measurement settings unless overridden."""
    defaults = {"warmup_runs": 1, "min_trials": 2, "max_trials": 3, "target_cv": 0.5, "threads": 1}
    return JobSpec(
        run_id="test-run",
        source="local",
        sweep="test-tiny",
        partition_key="local-cpu|tiny",
        hardware_key="local-cpu",
        device="cpu",
        backend="transformers",
        weight_source="random",
        model=model or _tiny_gpt2(),
        points=tuple(points),
        settings=MeasurementSettings(**{**defaults, **settings}),
    )


def _spec_as_dict(spec: JobSpec) -> dict[str, Any]:
    """The JSON form of a spec, as a file or a Pipes extra carries it."""
    return dataclasses.asdict(spec)


@pytest.fixture
def point() -> WorkloadPoint:
    """A small workload point."""
    return WorkloadPoint(batch_size=1, input_tokens=16, output_tokens=8)


@pytest.fixture(scope="session")
def tiny_gpt2():
    """Factory of tiny GPT-2 model specs (architecture overrides as keyword arguments)."""
    return _tiny_gpt2


@pytest.fixture(scope="session")
def tiny_llama():
    """Factory of the tiny grouped-query-attention Llama model spec."""
    return _tiny_llama


@pytest.fixture(scope="session")
def make_spec():
    """Factory of local CPU job specs: ``make_spec(points, model=None, **settings)``."""
    return _make_spec


@pytest.fixture(scope="session")
def spec_as_dict():
    """Converts a spec to its JSON form."""
    return _spec_as_dict
