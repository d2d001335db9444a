"""The backend interface: build a model once, then generate batches with per-token timestamps.

A backend is one inference engine (transformers today; vLLM, tabular and OpenAI-compatible
servers later). The runner only sees this interface, so adding an engine means adding a module
here and a line in :data:`benchmark_jobs.backends.BACKENDS`.
"""

from __future__ import annotations

import itertools
import statistics
from abc import ABC, abstractmethod
from dataclasses import dataclass

from benchmark_jobs.spec import ModelSpec


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


class Backend(ABC):
    """An inference engine that can build one model and time forced-length generations.

    Lifecycle: ``load`` once per (model, dtype), any number of ``generate`` calls, ``unload``.
    """

    #: Engine name as reported in records (``engine`` column).
    engine_name: str = ""

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

    @abstractmethod
    def generate(
        self,
        batch_size: int,
        input_tokens: int,
        output_tokens: int,
        *,
        deadline_s: float | None = None,
    ) -> GenerationTiming:
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

    @abstractmethod
    def unload(self) -> None:
        """Frees the model (and device memory)."""
