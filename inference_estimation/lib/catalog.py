"""The catalog: models, hardware and sweeps, read from YAML and validated.

This module owns the catalog schema. The package ships ``inference_estimation/catalog/*.yaml``;
users (and the local hardware probe) add or override entries with overlay files in
``$INFERENCE_ESTIMATION_HOME/catalog/*.yaml`` without editing the package. An overlay entry whose
key already exists is deep-merged over it (so a probe file can fill in only the measured facts).

Every validation error names the file and the field path, e.g.
``models.yaml: models[2] (key='gpt2-small').architecture.layers: Input should be a valid integer``.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

#: libyaml's safe loader when PyYAML was built with it (about 5x faster on the catalog; a cold
#: ``predict`` parses it once), else the pure-Python safe loader. Both construct plain types only.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PACKAGE_CATALOG_DIR = Path(__file__).resolve().parents[1] / "catalog"
KEY_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9.\-]*[a-z0-9])?$")
DTYPES = ("float32", "bfloat16", "float16", "fp8", "int8", "int4")
SPEC_SOURCES = ("vendor-sheet", "public-table", "probe", "user")


class CatalogError(ValueError):
    """The catalog is invalid (the message names the file and the field), or a name is unknown.

    Attributes:
        candidates: for a refused name, the keys it may mean, best first (else empty).
    """

    def __init__(self, message: str, candidates: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.candidates = tuple(candidates)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_key(value: str) -> str:
    if not KEY_PATTERN.match(value) or "|" in value or "," in value:
        raise ValueError(
            f"key {value!r} must be a lower-case slug of letters, digits, '.' and '-' (partition-safe)"
        )
    return value


# --------------------------------------------------------------------------------------- models
class Architecture(_Strict):
    """Architecture facts, enough to build the model with random weights and compute FLOPs/bytes."""

    layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    intermediate_size: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    max_position_embeddings: int = Field(gt=0)
    head_dim: int | None = Field(default=None, gt=0)
    experts: int | None = Field(default=None, gt=0)
    active_experts: int | None = Field(default=None, gt=0)
    moe_intermediate_size: int | None = Field(default=None, gt=0)
    shared_experts: int | None = Field(default=None, ge=0)
    dense_layers: int | None = Field(default=None, ge=0)
    #: Values cached per token and layer when they are not ``2 * kv_heads * head_dim`` (K and V
    #: of every KV head): multi-head latent attention caches one compressed latent plus a shared
    #: RoPE key (DeepSeek-V3/R1: kv_lora_rank 512 + qk_rope_head_dim 64 = 576).
    kv_cache_dim_per_layer: int | None = Field(default=None, gt=0)
    tie_word_embeddings: bool = False
    gated_mlp: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Architecture:
        if self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads})")
        if (self.experts is None) != (self.active_experts is None):
            raise ValueError("experts and active_experts must be given together")
        if self.experts is not None and self.active_experts > self.experts:
            raise ValueError("active_experts cannot exceed experts")
        return self

    @property
    def resolved_head_dim(self) -> int:
        """Head dimension (explicit, else hidden_size / heads)."""
        return self.head_dim or self.hidden_size // self.heads

    @property
    def resolved_kv_cache_dim_per_layer(self) -> int:
        """Values the KV cache holds per token and layer (explicit for MLA, else K and V of every KV head)."""
        return self.kv_cache_dim_per_layer or 2 * self.kv_heads * self.resolved_head_dim


#: Tabular model families the ``tabular`` backend can train and time (scikit-learn as ``sklearn``).
TABULAR_FAMILIES = ("xgboost", "catboost", "sklearn")
SKLEARN_ESTIMATORS = ("random_forest", "extra_trees", "gradient_boosting", "hist_gradient_boosting")


class TabularShape(_Strict):
    """The shape of a tabular model (trained on seeded synthetic data by the ``tabular`` backend).

    Attributes:
        n_features: input columns.
        n_trees: boosting rounds or forest size.
        max_depth: tree depth.
        task: ``regression`` or ``classification``.
        n_classes: classes of a classification model.
        estimator: scikit-learn estimator (``sklearn`` family only).
    """

    n_features: int = Field(gt=0)
    n_trees: int = Field(gt=0)
    max_depth: int = Field(gt=0)
    task: Literal["regression", "classification"] = "regression"
    n_classes: int = Field(default=2, ge=2)
    estimator: Literal[SKLEARN_ESTIMATORS] | None = None  # type: ignore[valid-type]


class ModelEntry(_Strict):
    """One model (an LLM built from its architecture, or a tabular model built from its shape)."""

    key: str
    hf_id: str | None = None
    #: Other spellings datasets use (e.g. "Meta-Llama-3.1-8B-Instruct", "LLaMA 3 8B").
    aliases: list[str] = Field(default_factory=list)
    family: str
    kind: Literal["llm", "tabular"] = "llm"
    params: int | None = Field(default=None, gt=0)
    active_params: int | None = Field(default=None, gt=0)
    default_dtype: Literal[DTYPES] = "bfloat16"  # type: ignore[valid-type]
    architecture: Architecture | None = None
    tabular: TabularShape | None = None
    notes: str | None = None

    _key = field_validator("key")(classmethod(lambda cls, v: _check_key(v)))

    @model_validator(mode="after")
    def _needs_architecture(self) -> ModelEntry:
        if self.kind == "llm" and self.architecture is None:
            raise ValueError("an llm entry needs 'architecture'")
        if self.kind == "llm" and self.tabular is not None:
            raise ValueError("'tabular' belongs to tabular entries (kind: tabular), not to an llm")
        if self.kind == "tabular":
            if self.tabular is None:
                raise ValueError("a tabular entry needs 'tabular' (n_features, n_trees, max_depth)")
            if self.family not in TABULAR_FAMILIES:
                raise ValueError(f"tabular family {self.family!r}; allowed: {', '.join(TABULAR_FAMILIES)}")
            if self.architecture is not None:
                raise ValueError("a tabular entry has 'tabular', not an llm 'architecture'")
            if (self.tabular.estimator is None) != (self.family != "sklearn"):
                raise ValueError("tabular.estimator is required for family sklearn and only allowed there")
        return self

    def tabular_config(self) -> dict[str, Any]:
        """The tabular backend's architecture dict (``benchmark_jobs.backends.tabular_backend``).

        Raises:
            CatalogError: when the entry is not a tabular model.
        """
        if self.tabular is None:
            raise CatalogError(f"model {self.key!r} is not a tabular model")
        return self.tabular.model_dump(exclude_none=True)

    def transformers_config(self) -> dict[str, Any]:
        """Config kwargs in the family's own names, for ``AutoConfig.for_model(family, **kw)``.

        Raises:
            CatalogError: when the family has no mapping (not runnable with transformers here).
        """
        a = self.architecture
        if a is None:
            raise CatalogError(f"model {self.key!r} has no architecture")
        if self.family == "gpt2":
            return {
                "n_layer": a.layers, "n_embd": a.hidden_size, "n_head": a.heads,
                "n_inner": a.intermediate_size, "vocab_size": a.vocab_size,
                "n_positions": a.max_position_embeddings,
            }
        if self.family in ("llama", "qwen2", "mistral"):
            cfg: dict[str, Any] = {
                "hidden_size": a.hidden_size, "intermediate_size": a.intermediate_size,
                "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
                "num_key_value_heads": a.kv_heads, "vocab_size": a.vocab_size,
                "max_position_embeddings": a.max_position_embeddings,
                "tie_word_embeddings": a.tie_word_embeddings,
            }
            if a.head_dim:
                cfg["head_dim"] = a.head_dim
            return cfg
        raise CatalogError(f"model {self.key!r}: family {self.family!r} cannot be built by the transformers backend")


# ------------------------------------------------------------------------------------- hardware
class HardwareSpecs(_Strict):
    """Spec facts per ONE device (multiply by ``device_count`` for the entry). Null = unknown."""

    peak_tflops_fp32: float | None = Field(default=None, gt=0)
    peak_tflops_bf16: float | None = Field(default=None, gt=0)
    peak_tflops_fp16: float | None = Field(default=None, gt=0)
    peak_tflops_fp8: float | None = Field(default=None, gt=0)
    #: Dense FP4 (NVFP4/MXFP4) tensor-core peak; null where the device has no FP4 math.
    peak_tflops_fp4: float | None = Field(default=None, gt=0)
    memory_gb: float | None = Field(default=None, gt=0)
    memory_bandwidth_gb_s: float | None = Field(default=None, gt=0)
    tdp_w: float | None = Field(default=None, gt=0)
    interconnect: str | None = None
    interconnect_bandwidth_gb_s: float | None = Field(default=None, gt=0)
    price_per_hour_usd: float | None = Field(default=None, ge=0)

    def peak_tflops(self, dtype: str) -> float | None:
        """Peak dense TFLOP/s for a dtype (fp16 falls back to bf16 and vice versa)."""
        table = {
            "float32": self.peak_tflops_fp32,
            "bfloat16": self.peak_tflops_bf16 or self.peak_tflops_fp16,
            "float16": self.peak_tflops_fp16 or self.peak_tflops_bf16,
            "fp8": self.peak_tflops_fp8,
            "fp4": self.peak_tflops_fp4 or self.peak_tflops_fp8,
        }
        value = table.get(dtype)
        # CPUs are probed in fp32 only; lower precisions are not faster there without AMX.
        return value if value is not None else self.peak_tflops_fp32


class LocalLauncher(_Strict):
    """Run the harness as a subprocess on this machine."""

    type: Literal["local"]
    host: str = "localhost"
    threads: int | None = Field(default=None, gt=0)
    #: Interpreter of the environment that runs the harness (default: the orchestrator's own);
    #: lets e.g. a vLLM environment with its own torch run beside the orchestrator.
    python: str | None = None
    #: Longest the job may run before its process group is killed (None = computed from the
    #: spec: ``inference_estimation.launchers.local.job_timeout_s``); dstack's entry names it alike.
    timeout_s: int | None = Field(default=None, gt=0)


class DstackLauncher(_Strict):
    """Run the harness as a dstack task on a cloud or on-prem machine (see ``launchers/dstack.py``).

    Attributes:
        resources: dstack's ``resources`` spec; its ``gpu`` names exactly one device type and
            a count equal to the entry's ``device_count`` (the renderer checks this).
        max_price_per_hour_usd: cap on the instance's hourly price (dstack's ``max_price``).
        backends: dstack backends to consider (default: every backend of the project).
        timeout_s: longest the job may run once started (dstack's ``max_duration``).
        image: container image; null = dstack's default CUDA image with ``python`` (AMD needs a
            ROCm image, and a task with an image is checked against its registry at plan time).
        spot_policy: ``on-demand`` by default: an interrupted spot instance loses the run.
        provisioning_timeout_s: longest wait for an instance before the launch is given up.
        max_retries: Dagster retries of a partition after a TRANSIENT dstack failure only
            (spot interruption, unreachable instance, provisioning error after an offer was taken).
        retry_backoff_s: first retry delay; doubled for each further retry.
    """

    type: Literal["dstack"]
    resources: dict[str, Any]
    max_price_per_hour_usd: float | None = Field(default=None, gt=0)
    backends: list[str] | None = None
    timeout_s: int = Field(default=3600, gt=0)
    image: str | None = None
    spot_policy: Literal["on-demand", "spot", "auto"] = "on-demand"
    provisioning_timeout_s: int = Field(default=1800, gt=0)
    max_retries: int = Field(default=2, ge=0)
    retry_backoff_s: float = Field(default=60.0, ge=0)


class HardwareEntry(_Strict):
    """One hardware target: ONE device type and a count."""

    key: str
    #: cpu; cuda (NVIDIA); rocm (AMD Instinct/Radeon); xpu (Intel GPUs); hpu (Intel Gaudi);
    #: rdu (SambaNova); mps (Apple-silicon GPUs, unified memory); tpu (Google Cloud TPU chips,
    #: predict-only: no harness runs on them).
    kind: Literal["cpu", "cuda", "rocm", "xpu", "hpu", "rdu", "mps", "tpu"]
    vendor: str
    device_name: str | None = None
    device_count: int = Field(default=1, gt=0)
    aliases: list[str] = Field(default_factory=list)
    specs: HardwareSpecs = Field(default_factory=HardwareSpecs)
    spec_source: Literal[SPEC_SOURCES]  # type: ignore[valid-type]
    spec_source_overrides: dict[str, Literal[SPEC_SOURCES]] = Field(default_factory=dict)  # type: ignore[valid-type]
    spec_reference: str | None = None
    launcher: LocalLauncher | DstackLauncher | None = Field(default=None, discriminator="type")

    _key = field_validator("key")(classmethod(lambda cls, v: _check_key(v)))

    @model_validator(mode="after")
    def _overrides_name_facts(self) -> HardwareEntry:
        unknown = set(self.spec_source_overrides) - set(HardwareSpecs.model_fields)
        if unknown:
            raise ValueError(f"spec_source_overrides names unknown spec facts: {sorted(unknown)}")
        return self

    def source_of(self, fact: str) -> str:
        """Where a spec fact came from."""
        return self.spec_source_overrides.get(fact, self.spec_source)

    @property
    def benchmarkable(self) -> bool:
        """Whether this entry can be launched (it names a launcher)."""
        return self.launcher is not None

    @property
    def host(self) -> str:
        """The run-concurrency key: runs on the same host never overlap."""
        if isinstance(self.launcher, LocalLauncher):
            return self.launcher.host
        return f"dstack:{self.key}"


# --------------------------------------------------------------------------------------- sweeps
#: Harness backends a sweep can name (``benchmark_jobs.backends.BACKENDS``).
BACKENDS = ("transformers", "vllm", "openai-server", "tabular")
#: The dtypes the harness builds models in (fp8/int8/int4 are catalog facts of public rows only).
HARNESS_DTYPES = ("float32", "bfloat16", "float16")


class ServingLoad(_Strict):
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


class SweepEntry(_Strict):
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

    _name = field_validator("name")(classmethod(lambda cls, v: _check_key(v)))

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


# -------------------------------------------------------------------------------------- catalog
class Catalog(_Strict):
    """The validated catalog."""

    models: dict[str, ModelEntry]
    hardware: dict[str, HardwareEntry]
    sweeps: dict[str, SweepEntry]
    files: tuple[str, ...] = ()
    #: Overlay files left out because they are invalid (lenient loading only): one error per file,
    #: naming the file and field. Empty when every file loaded.
    skipped_overlays: tuple[str, ...] = ()

    #: Name indexes per kind, built on first lookup: (the table they were built from, index).
    _name_indexes: dict[str, tuple[Any, Any]] = PrivateAttr(default_factory=dict)

    def model(self, key: str) -> ModelEntry:
        """Looks up a model by key, Hugging Face id or alias, or as people write it.

        Case, separators, the organisation of a Hugging Face id and packaging suffixes
        (``-Instruct``, ``-hf``, ``-FP8``, ``-AWQ``, release dates) do not matter; see
        :mod:`inference_estimation.lib.names`.

        Raises:
            CatalogError: naming the candidates best first (``.candidates``) when the name is
                unknown or could mean several models.
        """
        return _lookup("model", key, self.models, self._index("model"))

    def hw(self, key: str) -> HardwareEntry:
        """Looks up hardware by key, device name or alias, or as people write it.

        Vendor, model, memory size, form factor and memory type are read from the spelling
        (``H100 SXM 80GB``, ``GB200 192GB``); see :mod:`inference_estimation.lib.names`.

        Raises:
            CatalogError: naming the candidates best first (``.candidates``) when the name is
                unknown or could mean several devices.
        """
        return _lookup("hardware", key, self.hardware, self._index("hardware"))

    def _index(self, kind: str) -> Any:
        from inference_estimation.lib.names import HardwareIndex, ModelIndex

        table = self.models if kind == "model" else self.hardware
        cached = self._name_indexes.get(kind)
        if cached is None or cached[0] is not table:  # a model_copy may have replaced the table
            if kind == "model":
                index = ModelIndex.build(table, lambda m: m.aliases + ([m.hf_id] if m.hf_id else []))
            else:
                index = HardwareIndex.build(table, lambda h: h.aliases + ([h.device_name] if h.device_name else []))
            cached = self._name_indexes[kind] = (table, index)
        return cached[1]

    def sweep(self, name: str) -> SweepEntry:
        """Looks up a sweep by name.

        Raises:
            CatalogError: listing the known sweeps.
        """
        if name not in self.sweeps:
            raise CatalogError(f"unknown sweep {name!r}; known: {', '.join(sorted(self.sweeps))}")
        return self.sweeps[name]

    @property
    def partition_models(self) -> list[str]:
        """Model keys of the ``model`` partition dimension: every model some sweep benchmarks.

        A sweep is what makes a model benchmarkable; the other catalog models (most of them,
        known from public data and architecture facts) are predicted, never launched.
        """
        return sorted({k for sweep in self.sweeps.values() for k in sweep.models})

    @property
    def partition_hardware(self) -> list[str]:
        """Hardware keys of the ``hardware`` partition dimension (entries with a launcher)."""
        return sorted(k for k, h in self.hardware.items() if h.benchmarkable)


def _lookup(kind: str, key: str, table: dict[str, Any], index: Any) -> Any:
    if key in table:
        return table[key]
    found = index.resolve(key)
    if found.key is not None:
        return table[found.key]
    reason = "" if found.reason in ("unknown", "ambiguous") else f" ({found.reason})"
    label = "closest" if found.reason != "ambiguous" else "could be"
    hint = f"; {label}: {', '.join(found.candidates)}" if found.candidates else ""
    verb = "ambiguous" if found.reason == "ambiguous" else "unknown"
    raise CatalogError(f"{verb} {kind} {key!r}{reason}{hint}", candidates=found.candidates)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _format_error(path: Path, section: str, index: int, raw: dict[str, Any], exc: ValidationError) -> str:
    ident = raw.get("key") or raw.get("name")
    where = f"{path.name}: {section}[{index}]" + (f" (key={ident!r})" if ident else "")
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
        lines.append(f"{where}.{loc}: {err['msg']}" if loc else f"{where}: {err['msg']}")
    return f"invalid catalog file {path}:\n  " + "\n  ".join(lines)


_SECTIONS = {"models": ModelEntry, "hardware": HardwareEntry, "sweeps": SweepEntry}


def _read_file(path: Path) -> dict[str, list[dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # unreadable, a dangling link, not UTF-8
        raise CatalogError(f"invalid catalog file {path}: cannot be read as UTF-8 text: {exc}") from exc
    try:
        data = yaml.load(text, Loader=_YAML_LOADER) or {}
    except yaml.YAMLError as exc:
        raise CatalogError(f"invalid catalog file {path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"invalid catalog file {path}: top level must be a mapping with models/hardware/sweeps")
    unknown = set(data) - set(_SECTIONS)
    if unknown:
        raise CatalogError(f"invalid catalog file {path}: unknown section(s) {sorted(unknown)}; "
                           f"allowed: {', '.join(_SECTIONS)}")
    for section, items in data.items():
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise CatalogError(f"invalid catalog file {path}: section '{section}' must be a list of mappings")
    return data


def load_catalog(overlay_dirs: list[Path] | None = None, base_dir: Path | None = None,
                 strict: bool = True) -> Catalog:
    """Loads the package catalog plus overlays, validating every entry.

    Args:
        overlay_dirs: folders whose ``*.yaml`` files add or override entries (in order);
            defaults to ``[$INFERENCE_ESTIMATION_HOME/catalog]``.
        base_dir: the package catalog folder (tests point this elsewhere).
        strict: raise on an invalid overlay file (validation, the ``sweep`` and ``catalog``
            commands). When False (the Dagster code location, its sensors and assets,
            ``predict``), an overlay file that is invalid on its own or together with the files
            before it is left out *whole*, its error kept in :attr:`Catalog.skipped_overlays`, and
            everything else loads: one user's broken file does not take the code location down.
            The package catalog itself must always be valid.

    Returns:
        The validated catalog.

    Raises:
        CatalogError: naming the file and field of the first invalid entry, or a sweep that
            references an unknown model or hardware key.
    """
    if overlay_dirs is None:
        from inference_estimation.lib.home import get_home

        overlay_dirs = [get_home(create=False).catalog_dir]
    base_files = sorted((base_dir or PACKAGE_CATALOG_DIR).glob("*.yaml"))
    overlay_files = [f for folder in overlay_dirs if folder.exists() for f in sorted(folder.glob("*.yaml"))]
    if strict:
        return _build([(path, _read_file(path)) for path in base_files + overlay_files])
    accepted = [(path, _read_file(path)) for path in base_files]
    catalog, skipped = _build(accepted), []
    for path in overlay_files:
        try:
            candidate = [*accepted, (path, _read_file(path))]
            catalog = _build(candidate)
        except CatalogError as exc:
            skipped.append(str(exc))
            continue
        accepted = candidate
    return catalog.model_copy(update={"skipped_overlays": tuple(skipped)}) if skipped else catalog


def _build(files: list[tuple[Path, dict[str, list[dict[str, Any]]]]]) -> Catalog:
    """Merges read catalog files (later entries override earlier ones by key) and validates them."""
    raw: dict[str, dict[str, tuple[dict[str, Any], Path, int]]] = {s: {} for s in _SECTIONS}
    for path, data in files:
        for section, items in data.items():
            id_field = "name" if section == "sweeps" else "key"
            for index, item in enumerate(items):
                ident = item.get(id_field)
                if not ident:
                    raise CatalogError(f"invalid catalog file {path}: {section}[{index}].{id_field}: Field required")
                if ident in raw[section]:
                    base_item, _, _ = raw[section][ident]
                    item = _deep_merge(base_item, item)
                raw[section][ident] = (item, path, index)

    parsed: dict[str, dict[str, Any]] = {s: {} for s in _SECTIONS}
    for section, entries in raw.items():
        for ident, (item, path, index) in entries.items():
            try:
                parsed[section][ident] = _SECTIONS[section].model_validate(item)
            except ValidationError as exc:
                raise CatalogError(_format_error(path, section, index, item, exc)) from None

    for name, sweep in parsed["sweeps"].items():
        _, path, index = raw["sweeps"][name]
        for field, table in (("models", parsed["models"]), ("hardware", parsed["hardware"])):
            for i, key in enumerate(getattr(sweep, field)):
                if key not in table:
                    raise CatalogError(f"invalid catalog file {path}: sweeps[{index}] (key={name!r}).{field}[{i}]: "
                                       f"unknown {field} key {key!r}")
        for i, key in enumerate(sweep.hardware):
            if not parsed["hardware"][key].benchmarkable:
                raise CatalogError(f"invalid catalog file {path}: sweeps[{index}] (key={name!r}).hardware[{i}]: "
                                   f"{key!r} has no launcher, so it cannot be benchmarked")
    return Catalog(models=parsed["models"], hardware=parsed["hardware"], sweeps=parsed["sweeps"],
                   files=tuple(str(path) for path, _ in files))
