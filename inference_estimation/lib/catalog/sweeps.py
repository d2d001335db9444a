"""Sweep entries: a named workload grid, the backend that measures it and the load of a serving sweep."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from inference_estimation.lib.catalog.base import (
    StrictEntry,
    check_key,
)

#: Harness backends a sweep can name (``benchmark_jobs.backends.BACKENDS``).
BACKENDS = ("transformers", "vllm", "openai-server", "tabular")
#: The dtypes the harness builds models in (fp8/int8/int4 are catalog facts of public rows only).
HARNESS_DTYPES = ("float32", "bfloat16", "float16")


class ServingLoad(StrictEntry):
    """The load an ``openai-server`` sweep puts on an OpenAI-compatible endpoint that is already up.

    The grid is every (concurrency, request rate, input tokens, output tokens); each trial sends
    ``num_requests`` requests. The API key is never written here: the harness reads it from the
    ``INFERENCE_ESTIMATION_SERVING_API_KEY`` secret (bound with ``dg.EnvVar``).

    Attributes:
        base_url: server root, e.g. ``http://127.0.0.1:8000``.
        model: served model name (None = the first one ``/v1/models`` lists).
        num_requests: requests per trial.
        request_rates_rps: arrival rates to sweep (null = all requests at once).
        concurrencies: concurrency caps to sweep (null = unbounded).
        prompt_format: ``token-ids`` (exact lengths; vLLM, SGLang) or ``text`` (any server).
        input_length_distribution: ``fixed``, ``uniform`` or ``normal`` around the point's length.
        input_length_spread: spread of input lengths.
        output_length_distribution: as for inputs.
        output_length_spread: spread of output lengths.
        burstiness: gamma shape of arrival gaps (1 = Poisson).
        ttft_limit_s: goodput limit on time to first token.
        tpot_limit_s: goodput limit on time per output token.
        e2e_limit_s: goodput limit on request latency.
        request_timeout_s: per-request timeout.
        engine_name: the rows' ``engine`` (None = what the server reports).
    """

    base_url: str = Field(pattern=r"^https?://")
    model: str | None = None
    num_requests: int = Field(default=32, gt=0)
    request_rates_rps: list[float | None] = Field(default_factory=lambda: [None], min_length=1)
    concurrencies: list[int | None] = Field(default_factory=lambda: [None], min_length=1)
    prompt_format: Literal["token-ids", "text"] = "token-ids"
    input_length_distribution: Literal["fixed", "uniform", "normal"] = "fixed"
    input_length_spread: float = Field(default=0.0, ge=0)
    output_length_distribution: Literal["fixed", "uniform", "normal"] = "fixed"
    output_length_spread: float = Field(default=0.0, ge=0)
    burstiness: float = Field(default=1.0, gt=0)
    ttft_limit_s: float | None = Field(default=None, gt=0)
    tpot_limit_s: float | None = Field(default=None, gt=0)
    e2e_limit_s: float | None = Field(default=None, gt=0)
    request_timeout_s: float = Field(default=300.0, gt=0)
    engine_name: str | None = None

    @field_validator("request_rates_rps")
    @classmethod
    def _rates(cls, values: list[float | None]) -> list[float | None]:
        if any(v is not None and v <= 0 for v in values):
            raise ValueError("every rate must be > 0 (or null for all at once)")
        return values

    @field_validator("concurrencies")
    @classmethod
    def _concurrencies(cls, values: list[int | None]) -> list[int | None]:
        if any(v is not None and v < 1 for v in values):
            raise ValueError("every concurrency must be >= 1 (or null for unbounded)")
        return values


class SweepEntry(StrictEntry):
    """A named workload grid, the backend that measures it and the partitions it covers.

    What the axes mean depends on ``backend``: ``transformers`` and ``vllm`` generate exactly
    ``output_tokens`` for batches of ``batch_sizes`` prompts of ``input_tokens``; ``openai-server``
    loads an endpoint (``serving``) with mean lengths ``input_tokens``/``output_tokens`` and has no
    batch axis; ``tabular`` times ``predict`` on ``batch_sizes`` rows and has no token axes.
    """

    name: str
    description: str = ""
    models: list[str] = Field(min_length=1)
    hardware: list[str] = Field(min_length=1)
    backend: Literal[BACKENDS] = "transformers"  # type: ignore[valid-type]
    weight_source: Literal["random", "pretrained"] = "random"
    dtypes: list[Literal[HARNESS_DTYPES]] = Field(default_factory=lambda: ["float32"], min_length=1)  # type: ignore[valid-type]
    batch_sizes: list[int] = Field(default_factory=list)
    input_tokens: list[int] = Field(default_factory=list)
    output_tokens: list[int] = Field(default_factory=list)
    prompt_type: str = "random"
    warmup_runs: int = Field(default=1, ge=0)
    min_trials: int = Field(default=2, ge=1)
    max_trials: int = Field(default=5, ge=1)
    target_cv: float = Field(default=0.03, gt=0)
    cooldown_s: float = Field(default=0.0, ge=0)
    point_timeout_s: float = Field(default=600.0, gt=0)
    threads: int | None = Field(default=None, ge=1)
    min_energy_window_s: float | None = Field(default=None, ge=0)
    backend_options: dict[str, Any] = Field(default_factory=dict)
    serving: ServingLoad | None = None
    cv_folds: int = Field(default=4, ge=2)

    _name = field_validator("name")(classmethod(lambda cls, v: check_key(v)))

    @field_validator("batch_sizes", "input_tokens", "output_tokens")
    @classmethod
    def _positive(cls, values: list[int]) -> list[int]:
        if any(v < 1 for v in values):
            raise ValueError("every value must be a positive integer")
        return values

    @model_validator(mode="after")
    def _trials(self) -> SweepEntry:
        if self.max_trials < self.min_trials:
            raise ValueError("max_trials must be >= min_trials")
        needs = {"transformers": ("batch_sizes", "input_tokens", "output_tokens"),
                 "vllm": ("batch_sizes", "input_tokens", "output_tokens"),
                 "openai-server": ("input_tokens", "output_tokens"),
                 "tabular": ("batch_sizes",)}[self.backend]
        for axis in needs:
            if not getattr(self, axis):
                raise ValueError(f"{axis}: backend {self.backend!r} needs at least one value")
        if (self.serving is None) == (self.backend == "openai-server"):
            raise ValueError("'serving' is required by backend 'openai-server' and only allowed there")
        if self.backend == "openai-server" and self.batch_sizes:
            raise ValueError("batch_sizes: an openai-server sweep sets serving.num_requests instead")
        if self.backend == "tabular" and (self.input_tokens or self.output_tokens):
            raise ValueError("input_tokens/output_tokens: a tabular sweep has no token axes")
        return self

    @property
    def max_context_tokens(self) -> int:
        """Longest prompt + output of the grid (0 for tabular sweeps)."""
        if not self.input_tokens:
            return 0
        return max(self.input_tokens) + max(self.output_tokens)

    def covers(self, model_key: str, hardware_key: str) -> bool:
        """Whether the partition (model, hardware) is part of this sweep."""
        return model_key in self.models and hardware_key in self.hardware


