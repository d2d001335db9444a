"""The backend interface: build a model once, then run workload points and summarise trials.

A backend is one inference engine (transformers, vLLM, an OpenAI-compatible server, tabular
libraries). The runner only sees this interface, so adding an engine means adding a module here
and a line in :data:`benchmark_jobs.backends.BACKENDS`. An LLM engine implements ``generate``;
an engine whose points are not "a batch of prompts" (serving, tabular) overrides ``run``, and
``workload_fields``/``summarize`` map its trials onto the record.
"""

from __future__ import annotations

import itertools
import statistics
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from benchmark_jobs.metrics import TrialSummary, offline_llm_summary
from benchmark_jobs.spec import ModelSpec

if TYPE_CHECKING:
    from benchmark_jobs.spec import JobSpec, WorkloadPoint
    from benchmark_jobs.trackers.power_source import PowerSource


class PointTimeoutError(Exception):
    """A generation ran past the point's deadline and was abandoned."""


@dataclass(frozen=True)
class GenerationTiming:
    """Clock readings of one generation of one batch (``time.perf_counter`` seconds).

    Attributes:
        start_s: just before the prompt is handed to the engine (device synchronised).
        token_times_s: one reading per generated step, when that step's tokens reached the host;
            with a batch, all sequences get their token in the same step.
        end_s: after the engine returned (device synchronised).
    """

    start_s: float
    token_times_s: tuple[float, ...]
    end_s: float

    @property
    def output_tokens(self) -> int:
        """Generated steps (tokens per sequence)."""
        return len(self.token_times_s)

    @property
    def e2e_latency_s(self) -> float:
        """Prefill plus decode of the whole batch."""
        return self.end_s - self.start_s

    @property
    def ttft_s(self) -> float:
        """Time to first token: from start to the first generated token."""
        return self.token_times_s[0] - self.start_s

    @property
    def tpot_s(self) -> float | None:
        """Time per output token after the first: decode time / (tokens - 1); None for 1 token."""
        if self.output_tokens < 2:
            return None
        return (self.token_times_s[-1] - self.token_times_s[0]) / (self.output_tokens - 1)

    @property
    def itl_s(self) -> list[float]:
        """Inter-token latencies: the gaps between consecutive generated steps."""
        return [b - a for a, b in itertools.pairwise(self.token_times_s)]

    @property
    def request_ttfts_s(self) -> tuple[float, ...]:
        """TTFT of each request; every sequence of a batch gets its first token in one step."""
        return (self.ttft_s,)

    def summary(self) -> str:
        """One human line for progress logs."""
        tpot = self.tpot_s
        tpot_ms = f"{tpot * 1e3:.2f}" if tpot is not None else "n/a"
        itl = self.itl_s
        itl_ms = f"{statistics.median(itl) * 1e3:.2f}" if itl else "n/a"
        return (
            f"e2e {self.e2e_latency_s * 1e3:.1f} ms, ttft {self.ttft_s * 1e3:.1f} ms, "
            f"tpot {tpot_ms} ms, median itl {itl_ms} ms"
        )


@dataclass(frozen=True)
class RequestTimings:
    """One batch from an engine that reports per-request metrics itself (vLLM offline).

    Attributes:
        start_s: ``perf_counter`` before the batch was handed to the engine.
        end_s: ``perf_counter`` after the engine returned every request.
        request_ttfts_s: time to first token of each request, as the engine measured it.
        request_tpots_s: decode time / (tokens - 1) of each request (None for one token).
    """

    start_s: float
    end_s: float
    request_ttfts_s: tuple[float, ...]
    request_tpots_s: tuple[float | None, ...]

    @property
    def e2e_latency_s(self) -> float:
        """Prefill plus decode of the whole batch (our clock)."""
        return self.end_s - self.start_s

    @property
    def ttft_s(self) -> float | None:
        """Mean time to first token of the batch's requests."""
        return statistics.fmean(self.request_ttfts_s) if self.request_ttfts_s else None

    @property
    def tpot_s(self) -> float | None:
        """Mean time per output token of the batch's requests."""
        tpots = [t for t in self.request_tpots_s if t is not None]
        return statistics.fmean(tpots) if tpots else None

    @property
    def itl_s(self) -> list[float]:
        """Per-step gaps are not reported per request by the engine: empty."""
        return []


class Backend(ABC):
    """An inference engine that can build one model and time forced-length generations.

    Lifecycle: ``configure`` once with the job spec, then ``load`` once per (model, dtype),
    any number of ``run`` (``generate``) calls, ``unload``.
    """

    #: Engine name as reported in records (``engine`` column).
    engine_name: str = ""
    #: ``mode`` column of the records.
    mode: str = "offline"
    #: Whether the engine computes in this process on the spec's device: then trackers
    #: synchronise that device and read this process's (or the device allocator's) peak
    #: memory. False for engines that run elsewhere (vLLM's engine-core process, a server).
    runs_in_process: bool = True
    #: Whether the engine computes on this machine's ``spec.device`` (False for a remote
    #: server: then this machine's device name and power say nothing about it).
    device_is_local: bool = True

    def configure(self, spec: JobSpec) -> None:  # noqa: B027 - optional hook
        """Reads engine options from the job spec before the first ``load`` (default: none).

        Raises:
            ValueError: an option is invalid (the run cannot start).
        """

    def usable_power_source(self, source: PowerSource | None) -> PowerSource | None:
        """The power source that measures this engine's work (default: the device's source)."""
        return source

    def run(self, point: WorkloadPoint, *, deadline_s: float | None = None) -> Any:
        """Runs one timed trial of ``point``; LLM engines generate one batch.

        Returns:
            A timing object that :meth:`summarize` understands (``e2e_latency_s`` at least:
            the runner's CV rule reads it).
        """
        return self.generate(point.batch_size, point.input_tokens, point.output_tokens, deadline_s=deadline_s)

    def workload_fields(self, point: WorkloadPoint) -> dict[str, Any]:
        """The record's workload fields for ``point`` (default: an offline LLM batch)."""
        return {
            "mode": self.mode,
            "batch_size": point.batch_size,
            "input_tokens": point.input_tokens,
            "output_tokens": point.output_tokens,
            "prompt_type": point.prompt_type,
        }

    def summarize(self, point: WorkloadPoint, timings: Sequence[Any]) -> TrialSummary:
        """Metric fields from the timed trials of ``point`` (default: an offline LLM batch)."""
        return offline_llm_summary(point, timings)

    @property
    @abstractmethod
    def engine_version(self) -> str:
        """Version of the engine library (``engine_version`` column)."""

    @property
    @abstractmethod
    def device_name(self) -> str | None:
        """The device as it reports itself (``device_name`` column); None if unknown."""

    @abstractmethod
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
        """Builds the model on the device.

        Args:
            model_spec: the model (family and architecture, or a hub id for pretrained weights).
            dtype: ``float32``, ``bfloat16`` or ``float16``.
            device: torch device string (``cpu``, ``cuda``, ``cuda:1``).
            weight_source: ``random`` (from the config, seeded) or ``pretrained`` (hub download).
            threads: intra-op CPU threads; None leaves the engine's default.
            seed: seed for random weights and prompts.
        """

    def generate(
        self,
        batch_size: int,
        input_tokens: int,
        output_tokens: int,
        *,
        deadline_s: float | None = None,
    ) -> GenerationTiming | RequestTimings:
        """Generates EXACTLY ``output_tokens`` new tokens for a batch of random prompts.

        Args:
            batch_size: sequences in the batch.
            input_tokens: prompt length of every sequence.
            output_tokens: new tokens per sequence; generation never stops early.
            deadline_s: ``time.perf_counter`` value after which the generation is abandoned.

        Returns:
            The clock readings of this generation.

        Raises:
            PointTimeoutError: the deadline passed during generation.
            RuntimeError: the engine produced a different number of tokens.
        """
        raise NotImplementedError(f"{type(self).__name__} does not generate token batches; it overrides run()")

    @abstractmethod
    def unload(self) -> None:
        """Frees the model (and device memory)."""
