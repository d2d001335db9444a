"""The job spec: what the orchestrator asks a benchmark machine to measure.

A spec is plain JSON (sent as a Dagster Pipes extra, or read from a file when the harness runs
standalone), so the benchmark machine needs neither dagster nor the catalog. It is validated at
construction, with errors that name the field.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPEC_VERSION = "1.1"


class SpecError(ValueError):
    """The job spec is invalid; the message names the field."""


@dataclass(frozen=True)
class ModelSpec:
    """The model to build on the benchmark machine.

    Attributes:
        key: catalog key (partition-safe slug).
        hf_id: Hugging Face id, used only when ``weight_source`` is ``pretrained``.
        family: architecture family as transformers names it (``gpt2``, ``llama``, ``qwen2``...).
        architecture: config kwargs in the family's own names (built with random weights).
        params: parameter count (for reporting and memory checks).
    """

    key: str
    hf_id: str | None
    family: str
    architecture: dict[str, Any]
    params: int | None = None


@dataclass(frozen=True)
class WorkloadPoint:
    """One point of the grid: generation is forced to exactly ``output_tokens`` new tokens.

    What the fields mean depends on the backend (see :data:`benchmark_jobs.backends.BACKENDS`):

    * LLM offline (``transformers``, ``vllm``): a batch of ``batch_size`` random prompts of
      ``input_tokens`` tokens, each generating exactly ``output_tokens``.
    * serving (``openai-server``): ``batch_size`` is the number of requests sent per trial;
      ``input_tokens``/``output_tokens`` are the mean lengths of the spec's length
      distributions; ``request_rate_rps`` (None = all at once) and ``concurrency`` (None =
      unbounded) shape the load.
    * tabular: ``batch_size`` is the rows per prediction call; the token fields are unused
      (build points with :func:`tabular_points`).
    """

    batch_size: int
    input_tokens: int
    output_tokens: int
    dtype: str = "float32"
    prompt_type: str = "random"
    request_rate_rps: float | None = None
    concurrency: int | None = None

    def __post_init__(self) -> None:
        for name in ("batch_size", "input_tokens", "output_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SpecError(f"workload field '{name}' must be a positive integer, got {value!r}")
        if self.dtype not in ("float32", "bfloat16", "float16"):
            raise SpecError(f"workload field 'dtype' is {self.dtype!r}; allowed: float32, bfloat16, float16")
        rate = self.request_rate_rps
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0):
            raise SpecError(f"workload field 'request_rate_rps' must be > 0 or null, got {rate!r}")
        concurrency = self.concurrency
        if concurrency is not None and (
            not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1
        ):
            raise SpecError(f"workload field 'concurrency' must be a positive integer or null, got {concurrency!r}")


@dataclass(frozen=True)
class MeasurementSettings:
    """How carefully to measure each point.

    Attributes:
        warmup_runs: untimed generations before the timed trials of each point.
        min_trials: timed trials always run.
        max_trials: cap on timed trials while the latency CV is above ``target_cv``.
        target_cv: stop adding trials once std/mean of e2e latency is below this.
        cooldown_s: sleep between energy windows (lets clocks/thermals settle); a window holds
            one trial unless trials are shorter than ``min_energy_window_s``.
        point_timeout_s: a point exceeding this is recorded with ``status=timeout``.
        threads: torch intra-op threads on CPU (None = leave torch's default).
        min_energy_window_s: shortest window over which energy is read; a trial shorter than
            this repeats the workload inside the window (each repetition is a timed trial).
            Counters such as NVML's update every 20-100 ms, so short windows quantise.
            None = the power source's own minimum (1 s for real sensors, 0 for the estimate);
            0 turns windows off (fast sweeps such as ``test-tiny``).
    """

    warmup_runs: int = 1
    min_trials: int = 2
    max_trials: int = 5
    target_cv: float = 0.03
    cooldown_s: float = 0.0
    point_timeout_s: float = 600.0
    threads: int | None = None
    min_energy_window_s: float | None = None

    def __post_init__(self) -> None:
        if self.warmup_runs < 0:
            raise SpecError("settings field 'warmup_runs' must be >= 0")
        if self.min_trials < 1 or self.max_trials < self.min_trials:
            raise SpecError("settings fields 'min_trials'/'max_trials' need 1 <= min_trials <= max_trials")
        if self.target_cv <= 0:
            raise SpecError("settings field 'target_cv' must be > 0")
        if self.point_timeout_s <= 0 or self.cooldown_s < 0:
            raise SpecError("settings fields need point_timeout_s > 0 and cooldown_s >= 0")
        if self.threads is not None and self.threads < 1:
            raise SpecError("settings field 'threads' must be >= 1")
        if self.min_energy_window_s is not None and self.min_energy_window_s < 0:
            raise SpecError("settings field 'min_energy_window_s' must be >= 0 or null")


#: Environment variable the ``openai-server`` backend reads the endpoint's API key from when the
#: spec carries none (how the orchestrator passes it: a secret, never part of the spec).
SERVING_API_KEY_ENV = "INFERENCE_ESTIMATION_SERVING_API_KEY"

#: Length distributions of serving prompts and outputs (around the point's mean length).
LENGTH_DISTRIBUTIONS = ("fixed", "uniform", "normal")


@dataclass(frozen=True)
class ServingSettings:
    """How the ``openai-server`` backend loads an OpenAI-compatible endpoint.

    Attributes:
        base_url: server root, e.g. ``http://127.0.0.1:8000`` (``/v1/completions`` is appended).
        model: served model name; None = the first one ``GET /v1/models`` lists.
        prompt_format: ``token-ids`` (the prompt is a list of token ids: exact lengths; vLLM and
            SGLang accept it) or ``text`` (random words, about one token each; any server).
        input_length_distribution: ``fixed``, ``uniform`` (mean x [1 - spread, 1 + spread]) or
            ``normal`` (std = spread x mean), clipped to >= 1 token.
        input_length_spread: spread of the input lengths (0 = fixed).
        output_length_distribution: as ``input_length_distribution``, for output lengths.
        output_length_spread: spread of the output lengths.
        burstiness: shape of the gamma-distributed gaps between arrivals at a request rate
            (1 = Poisson; < 1 burstier; > 1 more regular), as vLLM's benchmark defines it.
        ttft_limit_s: goodput limit on time to first token (None = no limit).
        tpot_limit_s: goodput limit on time per output token (None = no limit).
        e2e_limit_s: goodput limit on request latency (None = no limit).
        request_timeout_s: a request taking longer fails (and so does the trial).
        api_key: sent as a bearer token when set (else the ``SERVING_API_KEY_ENV`` variable's value).
        engine_name: ``engine`` column of the rows (the serving engine, e.g. ``vllm``);
            None = the ``owned_by`` of the served model, else ``openai-server``.
    """

    base_url: str
    model: str | None = None
    prompt_format: str = "token-ids"
    input_length_distribution: str = "fixed"
    input_length_spread: float = 0.0
    output_length_distribution: str = "fixed"
    output_length_spread: float = 0.0
    burstiness: float = 1.0
    ttft_limit_s: float | None = None
    tpot_limit_s: float | None = None
    e2e_limit_s: float | None = None
    request_timeout_s: float = 300.0
    api_key: str | None = None
    engine_name: str | None = None

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise SpecError(f"serving field 'base_url' must be an http(s) URL, got {self.base_url!r}")
        if self.prompt_format not in ("token-ids", "text"):
            raise SpecError(f"serving field 'prompt_format' is {self.prompt_format!r}; allowed: token-ids, text")
        for kind in ("input", "output"):
            distribution = getattr(self, f"{kind}_length_distribution")
            if distribution not in LENGTH_DISTRIBUTIONS:
                raise SpecError(
                    f"serving field '{kind}_length_distribution' is {distribution!r}; "
                    f"allowed: {', '.join(LENGTH_DISTRIBUTIONS)}"
                )
            spread = getattr(self, f"{kind}_length_spread")
            if spread < 0 or (distribution == "uniform" and spread >= 1):
                raise SpecError(f"serving field '{kind}_length_spread' must be >= 0 (and < 1 for uniform)")
        if self.burstiness <= 0 or self.request_timeout_s <= 0:
            raise SpecError("serving fields need burstiness > 0 and request_timeout_s > 0")
        for name in ("ttft_limit_s", "tpot_limit_s", "e2e_limit_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise SpecError(f"serving field '{name}' must be > 0 or null")


@dataclass(frozen=True)
class JobSpec:
    """Everything one benchmark run needs.

    Attributes:
        run_id: unique id of this run; every row carries it.
        source: measurement source label (``local`` for our own sweeps).
        sweep: sweep name from the catalog.
        partition_key: the Dagster partition this run materializes.
        hardware_key: catalog key of the target hardware.
        device: torch device string (``cpu``, ``cuda``).
        backend: harness backend name (``transformers``).
        weight_source: ``random`` (build from config) or ``pretrained`` (needs the hub).
        model: the model to build.
        points: workload points, measured in order.
        settings: measurement settings.
        backend_options: engine options of the backend (e.g. vLLM's ``gpu_memory_utilization``,
            ``enforce_eager``, ``tensor_parallel_size``; tabular ``train_rows``); each backend
            documents and validates its own.
        serving: load settings of the ``openai-server`` backend (required by it, else None).
    """

    run_id: str
    source: str
    sweep: str
    partition_key: str | None
    hardware_key: str
    device: str
    backend: str
    weight_source: str
    model: ModelSpec
    points: tuple[WorkloadPoint, ...]
    settings: MeasurementSettings = field(default_factory=MeasurementSettings)
    spec_version: str = SPEC_VERSION
    backend_options: dict[str, Any] = field(default_factory=dict)
    serving: ServingSettings | None = None

    def __post_init__(self) -> None:
        for name in ("run_id", "source", "hardware_key", "device", "backend"):
            if not getattr(self, name):
                raise SpecError(f"spec field '{name}' is required")
        if not self.model.key:
            raise SpecError("spec field 'model.key' is required")
        if self.weight_source not in ("random", "pretrained"):
            raise SpecError(f"spec field 'weight_source' is {self.weight_source!r}; allowed: random, pretrained")
        if not self.points:
            raise SpecError("spec field 'points' is empty")
        if self.backend == "openai-server" and self.serving is None:
            raise SpecError("spec field 'serving' is required by the openai-server backend")

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-serialisable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        """Builds a spec from its dict form.

        Raises:
            SpecError: naming the missing or invalid field.
        """
        try:
            payload = dict(data)
            payload["model"] = ModelSpec(**payload["model"])
            payload["points"] = tuple(WorkloadPoint(**p) for p in payload["points"])
            payload["settings"] = MeasurementSettings(**payload.get("settings", {}))
            if payload.get("serving") is not None:
                payload["serving"] = ServingSettings(**payload["serving"])
            return cls(**payload)
        except KeyError as exc:
            raise SpecError(f"spec field {exc} is required") from exc
        except TypeError as exc:
            raise SpecError(f"spec has an unknown or missing field: {exc}") from exc

    @classmethod
    def from_file(cls, path: str | Path) -> JobSpec:
        """Reads a JSON spec file.

        Raises:
            SpecError: naming the file and the field.
        """
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as exc:
            raise SpecError(f"{path}: not valid JSON: {exc}") from exc
        except SpecError as exc:
            raise SpecError(f"{path}: {exc}") from exc


def grid_points(
    batch_sizes: list[int],
    input_tokens: list[int],
    output_tokens: list[int],
    dtypes: list[str],
    prompt_type: str = "random",
) -> tuple[WorkloadPoint, ...]:
    """Expands a sweep's axes into workload points (cartesian product, small to large)."""
    return tuple(
        WorkloadPoint(batch_size=b, input_tokens=i, output_tokens=o, dtype=d, prompt_type=prompt_type)
        for d, b, i, o in itertools.product(dtypes, sorted(batch_sizes), sorted(input_tokens), sorted(output_tokens))
    )


def serving_points(
    num_requests: int,
    input_tokens: list[int],
    output_tokens: list[int],
    request_rates_rps: list[float | None],
    concurrencies: list[int | None],
    dtype: str = "float32",
    prompt_type: str = "random",
) -> tuple[WorkloadPoint, ...]:
    """Serving points: every (rate, concurrency, input, output) with ``num_requests`` per trial.

    A rate of None sends all requests at once; a concurrency of None leaves it unbounded.
    """
    return tuple(
        WorkloadPoint(
            batch_size=num_requests,
            input_tokens=i,
            output_tokens=o,
            dtype=dtype,
            prompt_type=prompt_type,
            request_rate_rps=rate,
            concurrency=concurrency,
        )
        for concurrency, rate, i, o in itertools.product(
            concurrencies, request_rates_rps, sorted(input_tokens), sorted(output_tokens)
        )
    )


def tabular_points(rows_per_batch: list[int], dtype: str = "float32") -> tuple[WorkloadPoint, ...]:
    """Tabular points: one per batch size in rows (the token fields are unused and set to 1)."""
    return tuple(WorkloadPoint(batch_size=rows, input_tokens=1, output_tokens=1, dtype=dtype) for rows in sorted(rows_per_batch))
