"""Serving mode: load an OpenAI-compatible streaming endpoint (vLLM serve, SGLang, TGI...).

The server runs elsewhere (another process, or another machine); the harness is its client.
Each workload point is a load -- ``batch_size`` requests per trial at ``request_rate_rps``
(None = all at once) with at most ``concurrency`` in flight (None = unbounded), prompt and
output lengths drawn around the point's ``input_tokens``/``output_tokens`` as the spec's
:class:`~benchmark_jobs.spec.ServingSettings` say -- and the record holds vLLM's serving
metrics (see :func:`benchmark_jobs.metrics.serving_summary`).

Record mapping: ``mode="serving"``, ``batch_size`` null (the server batches as it likes),
``request_rate_rps``/``concurrency`` from the point, ``input_tokens``/``output_tokens`` the
mean lengths; with non-fixed length distributions ``prompt_type`` gains a suffix such as
``random;in=uniform:0.5;out=fixed`` so different distributions are different points.
``energy_j`` is the energy of one trial (all its requests). Power is measured only when the
server is on this machine (a loopback URL) and a real sensor covers ``spec.device``; the CPU
estimate counts this process's CPU time, not the server's, so it is never used here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmark_jobs.backends.base import Backend
from benchmark_jobs.backends.serving_load import (
    CompletionsClient,
    HTTPStatusError,
    RequestPlan,
    ServingTrial,
    arrival_offsets_s,
    make_prompt,
    run_load,
    sample_lengths,
)
from benchmark_jobs.device import is_loopback_url
from benchmark_jobs.metrics import TrialSummary
from benchmark_jobs.spec import SERVING_API_KEY_ENV, JobSpec, ModelSpec, ServingSettings, WorkloadPoint

#: How long ``load`` waits for the server to answer ``GET /v1/models``.
SERVER_READY_TIMEOUT_S = 60.0


class ServingError(RuntimeError):
    """Requests of a trial failed (the point becomes an error row with the first reason)."""


class OpenAIServerBackend(Backend):
    """A client of an OpenAI-compatible completions endpoint."""

    engine_name = "openai-server"
    mode = "serving"
    runs_in_process = False

    def __init__(self) -> None:
        self.settings: ServingSettings | None = None
        self.client: CompletionsClient | None = None
        self.vocab_size: int | None = None
        self.base_prompt_type = "random"
        self._engine_version = "unknown"
        self._rng = np.random.default_rng(0)

    @property
    def engine_version(self) -> str:
        return self._engine_version

    @property
    def device_name(self) -> str | None:
        return None  # the device serves behind the endpoint; local names come from the source

    def configure(self, spec: JobSpec) -> None:
        if spec.serving is None:
            raise ValueError("the openai-server backend needs the spec's 'serving' settings")
        self.settings = spec.serving
        self.device_is_local = is_loopback_url(spec.serving.base_url)
        vocab = spec.model.architecture.get("vocab_size")
        self.vocab_size = int(vocab) if vocab else None
        if spec.serving.prompt_format == "token-ids" and not self.vocab_size:
            raise ValueError("token-id prompts need 'vocab_size' in the model architecture (or use prompt_format 'text')")
        self.client = CompletionsClient(
            spec.serving.base_url,
            spec.serving.model,
            timeout_s=spec.serving.request_timeout_s,
            api_key=spec.serving.api_key or os.environ.get(SERVING_API_KEY_ENV) or None,
        )

    def usable_power_source(self, source: Any) -> Any:
        if source is None or not self.device_is_local or not source.measures_idle:
            return None
        return source

    def load(
        self,
        model_spec: ModelSpec,
        dtype: str,
        device: str,
        weight_source: str,
        *,
        threads: int | None = None,
        seed: int = 0,
    ) -> None:
        """Waits for the server, picks the served model, reads the engine's version."""
        if self.client is None or self.settings is None:
            raise RuntimeError("load() called before configure()")
        models = _wait_for_models(self.client, SERVER_READY_TIMEOUT_S)
        served = [m.get("id") for m in models.get("data", [])]
        if self.client.model is None:
            if not served:
                raise RuntimeError(f"{self.settings.base_url} serves no model")
            self.client.model = served[0]
        elif served and self.client.model not in served:
            raise RuntimeError(f"{self.settings.base_url} does not serve {self.client.model!r} (it serves {served})")
        owner = next((m.get("owned_by") for m in models.get("data", []) if m.get("id") == self.client.model), None)
        self.engine_name = self.settings.engine_name or owner or "openai-server"
        try:
            self._engine_version = str(self.client.get_json("/version").get("version", "unknown"))
        except Exception:  # noqa: BLE001 - not every server has /version
            self._engine_version = "unknown"
        self._rng = np.random.default_rng(seed)

    def plan_requests(self, point: WorkloadPoint) -> list[RequestPlan]:
        """Prompts, forced output lengths and send offsets of one trial of ``point``."""
        settings = self.settings
        assert settings is not None
        n = point.batch_size
        input_lengths = sample_lengths(
            self._rng, point.input_tokens, settings.input_length_distribution, settings.input_length_spread, n
        )
        output_lengths = sample_lengths(
            self._rng, point.output_tokens, settings.output_length_distribution, settings.output_length_spread, n
        )
        offsets = arrival_offsets_s(self._rng, n, point.request_rate_rps, settings.burstiness)
        return [
            RequestPlan(
                prompt=make_prompt(self._rng, n_in, settings.prompt_format, self.vocab_size),
                prompt_tokens=n_in,
                output_tokens=n_out,
                send_offset_s=offset,
            )
            for n_in, n_out, offset in zip(input_lengths, output_lengths, offsets, strict=True)
        ]

    def run(self, point: WorkloadPoint, *, deadline_s: float | None = None) -> ServingTrial:
        if self.client is None:
            raise RuntimeError("run() called before configure()")
        trial = run_load(
            self.plan_requests(point),
            self.client.stream_completion,
            concurrency=point.concurrency,
            deadline_s=deadline_s,
        )
        if trial.failures:
            raise ServingError(
                f"{len(trial.failures)} of {point.batch_size} requests failed; first: {trial.failures[0].error}"
            )
        return trial

    def workload_fields(self, point: WorkloadPoint) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "batch_size": None,
            "input_tokens": point.input_tokens,
            "output_tokens": point.output_tokens,
            "request_rate_rps": point.request_rate_rps,
            "concurrency": point.concurrency,
            "prompt_type": self.prompt_type(point),
        }

    def prompt_type(self, point: WorkloadPoint) -> str:
        """The point's prompt type, with the length distributions when they are not fixed."""
        settings = self.settings
        if settings is None:
            return point.prompt_type
        shapes = [
            (kind, getattr(settings, f"{kind}_length_distribution"), getattr(settings, f"{kind}_length_spread"))
            for kind in ("input", "output")
        ]
        if all(dist == "fixed" or spread == 0 for _, dist, spread in shapes):
            return point.prompt_type
        labels = {"input": "in", "output": "out"}
        parts = [
            f"{labels[kind]}=" + ("fixed" if dist == "fixed" or spread == 0 else f"{dist}:{spread:g}")
            for kind, dist, spread in shapes
        ]
        return ";".join([point.prompt_type, *parts])

    def summarize(self, point: WorkloadPoint, timings: Sequence[Any]) -> TrialSummary:
        from benchmark_jobs.metrics import serving_summary

        settings = self.settings
        assert settings is not None
        return serving_summary(timings, settings.ttft_limit_s, settings.tpot_limit_s, settings.e2e_limit_s)

    def unload(self) -> None:
        pass  # the server's lifetime is not ours


def _wait_for_models(client: CompletionsClient, timeout_s: float) -> dict[str, Any]:
    """``GET /v1/models``, retried until the server answers or ``timeout_s`` passes.

    A client error (HTTP 4xx: a wrong API key, a wrong URL prefix) is an answer: it fails at once.
    """
    deadline_s = time.monotonic() + timeout_s
    while True:
        try:
            return client.get_json("/v1/models")
        except Exception as exc:  # not up yet (refused, reset, 5xx while loading)
            if isinstance(exc, HTTPStatusError) and 400 <= exc.status < 500:
                raise RuntimeError(f"{client.scheme}://{client.host}:{client.port}{client.prefix}: {exc}") from exc
            if time.monotonic() > deadline_s:
                raise RuntimeError(f"no answer from GET /v1/models within {timeout_s:g} s: {exc}") from exc
            time.sleep(0.5)
