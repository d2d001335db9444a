"""The measurement record: one row per measured workload point.

This module is the single definition of the record. The harness writes it, the orchestrator
turns it into a parquet/DuckDB schema with :func:`arrow_type_names`, external-dataset adapters map
onto it, and dbt's staging model reads it. Nothing else defines these columns.

Conventions:
    * Units are in every metric name (``_s``, ``_gb``, ``_w``, ``_j``, ``_tok_s``, ``_rps``).
    * A metric that was not measured is ``None`` (null) -- never 0. A missing power sensor is
      ``power_source="none"`` with null power and energy.
    * The grain is (``source``, ``run_id``, workload point); the workload point is identified by
      :data:`POINT_KEY_FIELDS`.

Bumping :data:`SCHEMA_VERSION`: add fields at the end with a default of ``None``; never rename
or change the meaning of an existing field in place (add a new one and deprecate).

This module must stay importable with the standard library only: it runs on benchmark machines
that have neither dagster nor pandas.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = "1.2"

#: Allowed values of the enumerated fields.
MODES = ("offline", "serving")
STATUSES = ("ok", "oom", "timeout", "error")
POWER_SOURCES = ("nvml-energy", "nvml-power", "amdsmi", "rapl", "wall", "estimate", "none")
POWER_SCOPES = ("device", "all-devices", "cpu-package", "system")
WEIGHT_SOURCES = ("random", "pretrained")
#: How a source published its throughput (1.2). The record's ``*_throughput_tok_s`` are ALWAYS the
#: whole deployment's tokens/s; ``per-device`` says the source divided by a GPU count and the
#: adapter multiplied it back (see ``throughput_scope``).
THROUGHPUT_SCOPES = ("system", "per-device")
#: Which statistic over requests (serving) or trials (offline) ``ttft_s``/``tpot_s``/``e2e_latency_s`` are (1.2).
LATENCY_STATISTICS = ("mean", "p50")

#: Fields that identify a workload point inside one run (with ``source`` and ``run_id``).
POINT_KEY_FIELDS = (
    "model_key",
    "hardware_key",
    "engine",
    "dtype",
    "device_count",
    "tensor_parallel",
    "mode",
    "batch_size",
    "input_tokens",
    "output_tokens",
    "request_rate_rps",
    "concurrency",
    "prompt_type",
    # added in 1.2: deployments that differ only in these are different points
    "disaggregated_prefill_decode",
    "prefill_device_count",
    "decode_device_count",
    "node_count",
    "expert_parallel",
    "attention_data_parallel",
    "speculative_decoding",
)


class RecordValidationError(ValueError):
    """A measurement record violates the schema; the message names the field, ``problems`` every one."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


@dataclass
class MeasurementRecord:
    """One measured workload point (see module docstring for conventions).

    Attributes are grouped as identity, provenance, workload, metrics and quality; every metric
    name carries its unit. Fields added after ``schema_version`` (1.1):

    * ``e2e_p50_s``/``e2e_p90_s``/``e2e_p99_s``: percentiles of request latency (serving) or
      of batch latency over trials (offline).
    * ``request_throughput_rps``: completed requests per second (serving).
    * ``goodput_rps``: completed requests per second that met the sweep's TTFT/TPOT/e2e limits
      (serving; vLLM's benchmark definition). 0 is a measured value: no request met them.
    * ``row_throughput_rows_s``: rows predicted per second (tabular models; for them
      ``batch_size`` is rows per call and ``e2e_latency_s`` the latency of one call).

    Fields added in 1.2 (deployment topology and what a published figure means; null = the source
    does not say, which for every source before 1.2 means a plain single-pool, single-node
    deployment without speculative decoding):

    * ``disaggregated_prefill_decode``: True when prefill and decode run on separate pools of
      devices (e.g. NVIDIA Dynamo); then ``prefill_device_count`` + ``decode_device_count`` =
      ``device_count``, and ``tensor_parallel`` is the decode pool's TP degree.
    * ``prefill_device_count`` / ``decode_device_count``: devices in each pool (disaggregated only).
    * ``node_count``: hosts the deployment spans (1 = single node; >1 = multi-node).
    * ``expert_parallel``: expert-parallel degree of an MoE deployment (1 = experts not sharded by EP).
    * ``attention_data_parallel``: True when attention runs data-parallel across the TP group
      (SGLang/TRT-LLM "DP attention"), False when it is tensor-parallel.
    * ``speculative_decoding``: ``"none"`` or the method (``"mtp"``, ``"eagle"``, ...); with a method,
      ``tpot_s`` is per ACCEPTED output token, so it is not a single decode step's time.
    * ``throughput_scope``: how the SOURCE published throughput: ``"system"`` (whole deployment,
      stored as is) or ``"per-device"`` (tokens/s per GPU; the adapter multiplied it by the GPUs
      the source divided by, so ``output_throughput_tok_s``/``total_throughput_tok_s`` are still
      the whole deployment's). Which tokens a throughput counts is in its name: ``output_`` counts
      generated tokens, ``total_`` input + output.
    * ``latency_statistic``: which statistic ``ttft_s``, ``tpot_s`` and ``e2e_latency_s`` are over
      requests (serving) or trials (offline): ``"mean"`` or ``"p50"`` (the median, for sources
      that publish no mean). The ``*_p50_s``/``*_p90_s``/``*_p99_s`` columns are always percentiles.
    """

    # identity
    source: str
    run_id: str
    sweep: str | None
    partition_key: str | None
    model_key: str
    hardware_key: str
    measured_at: str  # ISO-8601 UTC
    # provenance
    device_name: str | None = None
    device_count: int = 1
    driver_version: str | None = None
    engine: str | None = None
    engine_version: str | None = None
    harness_version: str | None = None
    weight_source: str | None = None
    dtype: str | None = None
    weight_dtype: str | None = None
    tensor_parallel: int = 1
    # workload
    mode: str = "offline"
    batch_size: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    request_rate_rps: float | None = None
    concurrency: int | None = None
    prompt_type: str | None = None
    # metrics
    e2e_latency_s: float | None = None
    ttft_s: float | None = None
    tpot_s: float | None = None
    output_throughput_tok_s: float | None = None
    total_throughput_tok_s: float | None = None
    ttft_p50_s: float | None = None
    ttft_p90_s: float | None = None
    ttft_p99_s: float | None = None
    itl_p50_s: float | None = None
    itl_p90_s: float | None = None
    itl_p99_s: float | None = None
    peak_memory_gb: float | None = None
    avg_power_w: float | None = None
    idle_power_w: float | None = None
    energy_j: float | None = None
    energy_per_output_token_j: float | None = None
    # quality
    n_trials: int | None = None
    latency_cv: float | None = None
    power_source: str = "none"
    power_scope: str | None = None
    status: str = "ok"
    error: str | None = None
    schema_version: str = SCHEMA_VERSION
    # added in 1.1: serving and tabular metrics
    e2e_p50_s: float | None = None
    e2e_p90_s: float | None = None
    e2e_p99_s: float | None = None
    request_throughput_rps: float | None = None
    goodput_rps: float | None = None
    row_throughput_rows_s: float | None = None
    # added in 1.2: deployment topology and the meaning of published figures
    disaggregated_prefill_decode: bool | None = None
    prefill_device_count: int | None = None
    decode_device_count: int | None = None
    node_count: int | None = None
    expert_parallel: int | None = None
    attention_data_parallel: bool | None = None
    speculative_decoding: str | None = None
    throughput_scope: str | None = None
    latency_statistic: str | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Checks enumerations, required identity fields and metric sanity.

        Raises:
            RecordValidationError: naming the offending field and value (the first problem; every
                problem of the record is in its ``problems``).
        """
        found = self.problems()
        if found:
            raise RecordValidationError(found[0], problems=found)

    def problems(self) -> list[str]:
        """Every way the record violates the schema, one message each naming the field (empty: valid),
        so a user's row is fixed in one pass."""
        out: list[str] = []
        for name in ("source", "run_id", "model_key", "hardware_key", "measured_at"):
            if not getattr(self, name):
                out.append(f"field '{name}' is required and was empty")
        out += _enum_problem("mode", self.mode, MODES)
        out += _enum_problem("status", self.status, STATUSES)
        out += _enum_problem("power_source", self.power_source, POWER_SOURCES)
        if self.power_scope is not None:
            out += _enum_problem("power_scope", self.power_scope, POWER_SCOPES)
        if self.weight_source is not None:
            out += _enum_problem("weight_source", self.weight_source, WEIGHT_SOURCES)
        if self.throughput_scope is not None:
            out += _enum_problem("throughput_scope", self.throughput_scope, THROUGHPUT_SCOPES)
        if self.latency_statistic is not None:
            out += _enum_problem("latency_statistic", self.latency_statistic, LATENCY_STATISTICS)
        for name in ("disaggregated_prefill_decode", "attention_data_parallel"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), bool):
                out.append(f"field '{name}' must be true, false or null, got {getattr(self, name)!r}")
        if self.speculative_decoding is not None and not self.speculative_decoding.strip():
            out.append("field 'speculative_decoding' is empty; use 'none' or the method's name")
        if self.power_source == "none":
            for name in ("avg_power_w", "energy_j", "energy_per_output_token_j"):
                if getattr(self, name) is not None:
                    out.append(f"field '{name}' is set but power_source is 'none'; name the power source")
        elif self.status == "ok" and self.power_scope is None:
            out.append("field 'power_scope' is required when power_source is set")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float):
                if math.isnan(value) or math.isinf(value):
                    out.append(f"field '{f.name}' is {value}; use null for 'not measured'")
                elif value < 0:
                    out.append(f"field '{f.name}' is negative ({value})")
        for name in ("batch_size", "input_tokens", "output_tokens", "device_count", "tensor_parallel",
                     "prefill_device_count", "decode_device_count", "node_count", "expert_parallel"):
            value = getattr(self, name)
            # input_tokens may be 0: a decode from an empty prompt (llama-bench tg); null = unknown.
            least = 0 if name == "input_tokens" else 1
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < least):
                kind = "a non-negative" if least == 0 else "a positive"
                out.append(f"field '{name}' must be {kind} integer, got {value!r}")
        pools = (self.prefill_device_count, self.decode_device_count)
        if all(p is not None for p in pools) and sum(pools) != self.device_count:
            out.append(f"fields 'prefill_device_count' + 'decode_device_count' ({pools[0]} + {pools[1]}) "
                       f"must equal 'device_count' ({self.device_count})")
        if self.status != "ok" and not self.error:
            out.append(f"field 'error' is required when status is '{self.status}'")
        return out

    def to_dict(self) -> dict[str, Any]:
        """Returns the record as a plain JSON-serialisable dict in schema field order."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MeasurementRecord":
        """Builds and validates a record from a dict, rejecting unknown fields.

        Raises:
            RecordValidationError: for unknown or invalid fields.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RecordValidationError(f"unknown field(s) {unknown}")
        try:
            return cls(**data)
        except TypeError as exc:  # missing required identity fields
            raise RecordValidationError(str(exc)) from exc


def _enum_problem(name: str, value: Any, allowed: tuple[str, ...]) -> list[str]:
    """The problem of an enumerated field (none when its value is allowed)."""
    return [] if value in allowed else [f"field '{name}' is {value!r}; allowed: {', '.join(allowed)}"]


def field_names() -> list[str]:
    """Returns the record's column names in their canonical order."""
    return [f.name for f in dataclasses.fields(MeasurementRecord)]


_PY_TO_ARROW = {"str": "string", "int": "int64", "float": "float64", "bool": "bool"}


def arrow_type_names() -> dict[str, str]:
    """Maps each column to a type name (``string``, ``int64``, ``float64``, ``bool``) for parquet/DuckDB.

    Returns:
        Ordered dict of column name to type name, derived from the dataclass annotations.
    """
    out: dict[str, str] = {}
    for f in dataclasses.fields(MeasurementRecord):
        base = str(f.type).replace(" | None", "").strip()
        out[f.name] = _PY_TO_ARROW[base]
    return out


__all__ = [
    "MeasurementRecord",
    "RecordValidationError",
    "SCHEMA_VERSION",
    "POINT_KEY_FIELDS",
    "THROUGHPUT_SCOPES",
    "LATENCY_STATISTICS",
    "field_names",
    "arrow_type_names",
    "field",
]
