"""The one source of truth for every feature a predictor sees.

The training frame (dbt's ``training_features`` Python model) and ``predict`` both call
:func:`feature_frame` on rows made of the same flat facts: :func:`model_facts` and
:func:`hardware_facts` (which also fill the warehouse's ``raw.models`` and ``raw.hardware``
tables) plus the workload columns. A test builds one configuration both ways and requires the
identical feature row.

Physics, per decoder forward pass (all numbers are for the whole batch, all devices):

* matmul parameters ``P`` (attention projections, MLP -- the *active* experts only for MoE --
  and the LM head); a dense matmul costs 2 FLOPs per parameter per token.
* attention score/value FLOPs: ``4 * layers * q_dim * context`` per token (QK^T and AV);
  causal prefill costs half of the full square.
* bytes moved: every (active) weight is read once per forward pass; the KV cache of the whole
  batch is read once per decode step and written once in prefill.
* roofline time of a phase = max(FLOPs / peak FLOP/s, bytes / memory bandwidth); ``e2e`` is
  prefill (which yields the first token) plus ``output_tokens - 1`` decode steps at the mean
  context length.

These are deliberately simple, explainable formulas: the predictors learn the correction.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import pandas as pd

from inference_estimation.lib.catalog import HardwareEntry, ModelEntry

BYTES_PER_ELEMENT = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}

#: Columns that describe a model (also the columns of ``raw.models``, after ``model_key``).
MODEL_FACT_COLUMNS = [
    "model_key", "hf_id", "family", "model_kind", "params", "active_params", "matmul_params",
    "active_matmul_params", "layers", "hidden_size", "heads", "kv_heads", "head_dim",
    "intermediate_size", "vocab_size", "experts", "active_experts", "gated_mlp",
]
#: Columns that describe hardware (also the columns of ``raw.hardware``).
HARDWARE_FACT_COLUMNS = [
    "hardware_key", "hardware_kind", "vendor", "hw_device_count", "peak_tflops_fp32", "peak_tflops_bf16",
    "peak_tflops_fp16", "peak_tflops_fp8", "memory_gb", "memory_bandwidth_gb_s", "tdp_w",
    "interconnect_bandwidth_gb_s", "price_per_hour_usd", "spec_source",
]
#: Workload columns a caller provides.
WORKLOAD_COLUMNS = ["engine", "dtype", "mode", "batch_size", "input_tokens", "output_tokens",
                    "device_count", "tensor_parallel"]

CATEGORICAL_FEATURES = ["hardware_kind", "vendor", "engine", "dtype", "family", "mode", "source", "power_scope"]
PHYSICS_FEATURES = [
    "weights_gb", "prefill_gflop", "decode_gflop_per_step", "prefill_gb_moved", "decode_gb_moved_per_step",
    "prefill_arithmetic_intensity", "decode_arithmetic_intensity", "kv_cache_gb", "memory_fit_ratio",
    "roofline_prefill_s", "roofline_decode_step_s", "roofline_e2e_s", "roofline_output_throughput_tok_s",
]
NUMERIC_FEATURES = [
    # workload
    "batch_size", "input_tokens", "output_tokens", "device_count", "tensor_parallel", "concurrency",
    "request_rate_rps", "effective_batch",
    # architecture
    "params", "active_params", "layers", "hidden_size", "heads", "kv_heads", "head_dim", "vocab_size",
    # hardware specs (per device)
    "peak_tflops", "memory_gb", "memory_bandwidth_gb_s", "tdp_w", "tdp_total_w",
    # physics
    *PHYSICS_FEATURES,
]
FEATURE_COLUMNS = CATEGORICAL_FEATURES + NUMERIC_FEATURES
#: Raw spec-sheet columns. They stay in the frame (the physics baseline and reports use them) but
#: the predictors do not see them: with a few dozen devices, raw specs act as hardware IDs and
#: hurt unseen hardware (leave-one-hardware-out MdAPE 24.0% -> 21.2% for e2e latency, Kendall tau
#: 0.32 -> 0.61, on the public data); hardware enters through the physics features instead.
SPEC_COLUMNS = ["peak_tflops", "memory_gb", "memory_bandwidth_gb_s", "tdp_w", "tdp_total_w"]
MODEL_FEATURES = [c for c in FEATURE_COLUMNS if c not in SPEC_COLUMNS]


def matmul_params(arch: Any, active: bool) -> int:
    """Parameters that take part in matmuls per token (no embedding lookup).

    Args:
        arch: a catalog ``Architecture``.
        active: for MoE, count only the routed experts a token uses (plus shared experts).
    """
    hd = arch.resolved_head_dim
    q_dim, kv_dim = arch.heads * hd, arch.kv_heads * hd
    attn = arch.hidden_size * q_dim * 2 + arch.hidden_size * kv_dim * 2
    mlp_mult = 3 if arch.gated_mlp else 2
    dense_mlp = mlp_mult * arch.hidden_size * arch.intermediate_size
    if arch.experts:
        dense_layers = arch.dense_layers or 0
        moe_layers = arch.layers - dense_layers
        expert = mlp_mult * arch.hidden_size * (arch.moe_intermediate_size or arch.intermediate_size)
        n_experts = (arch.active_experts if active else arch.experts) + (arch.shared_experts or 0)
        mlp_total = dense_layers * dense_mlp + moe_layers * n_experts * expert
    else:
        mlp_total = arch.layers * dense_mlp
    return int(arch.layers * attn + mlp_total + arch.hidden_size * arch.vocab_size)


def model_facts(model: ModelEntry) -> dict[str, Any]:
    """Flat model facts: one row of ``raw.models`` and the model half of a feature row."""
    a = model.architecture
    row: dict[str, Any] = {c: None for c in MODEL_FACT_COLUMNS}
    row.update(model_key=model.key, hf_id=model.hf_id, family=model.family, model_kind=model.kind)
    if a is not None:
        mm_total, mm_active = matmul_params(a, active=False), matmul_params(a, active=True)
        embed = 0 if a.tie_word_embeddings else a.vocab_size * a.hidden_size
        params = model.params or mm_total + embed
        row.update(
            params=params,
            active_params=model.active_params or (params if not a.experts else mm_active + embed),
            matmul_params=mm_total, active_matmul_params=mm_active, layers=a.layers,
            hidden_size=a.hidden_size, heads=a.heads, kv_heads=a.kv_heads, head_dim=a.resolved_head_dim,
            intermediate_size=a.intermediate_size, vocab_size=a.vocab_size, experts=a.experts,
            active_experts=a.active_experts, gated_mlp=a.gated_mlp,
        )
    else:
        row.update(params=model.params, active_params=model.active_params or model.params)
    return row


def hardware_facts(hw: HardwareEntry) -> dict[str, Any]:
    """Flat hardware facts: one row of ``raw.hardware`` and the hardware half of a feature row."""
    s = hw.specs
    return {
        "hardware_key": hw.key, "hardware_kind": hw.kind, "vendor": hw.vendor, "hw_device_count": hw.device_count,
        "peak_tflops_fp32": s.peak_tflops_fp32, "peak_tflops_bf16": s.peak_tflops_bf16,
        "peak_tflops_fp16": s.peak_tflops_fp16, "peak_tflops_fp8": s.peak_tflops_fp8,
        "memory_gb": s.memory_gb, "memory_bandwidth_gb_s": s.memory_bandwidth_gb_s, "tdp_w": s.tdp_w,
        "interconnect_bandwidth_gb_s": s.interconnect_bandwidth_gb_s, "price_per_hour_usd": s.price_per_hour_usd,
        "spec_source": hw.spec_source,
    }


def _num(value: Any) -> float | None:
    """A float, or None for null/NaN (pandas hands NaN for SQL NULL)."""
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def peak_tflops_for(row: Mapping[str, Any], dtype: str) -> float | None:
    """Peak dense TFLOP/s per device for ``dtype`` (fp16/bf16 stand in for each other; CPUs fall back to fp32)."""
    order = {
        "float32": ["peak_tflops_fp32"],
        "bfloat16": ["peak_tflops_bf16", "peak_tflops_fp16"],
        "float16": ["peak_tflops_fp16", "peak_tflops_bf16"],
        "fp8": ["peak_tflops_fp8", "peak_tflops_bf16"],
        "int8": ["peak_tflops_fp8", "peak_tflops_bf16"],
        "int4": ["peak_tflops_fp8", "peak_tflops_bf16"],
    }.get(dtype, ["peak_tflops_bf16"])
    if row.get("hardware_kind") in ("cpu", "mps"):  # no faster low-precision matmul path to count on
        order = order + ["peak_tflops_fp32"]
    for col in order:
        value = _num(row.get(col))
        if value is not None:
            return value
    return None


def effective_batch(row: Mapping[str, Any]) -> float | None:
    """Sequences in flight: the batch offline; the measured concurrency when serving (else the batch)."""
    if row.get("mode") == "serving" and _num(row.get("concurrency")):
        return _num(row.get("concurrency"))
    return _num(row.get("batch_size"))


def physics_features(row: Mapping[str, Any]) -> dict[str, float | None]:
    """Analytic FLOPs, bytes, roofline times and memory fit for one workload row.

    Args:
        row: model facts + hardware facts + workload columns (see module docstring).

    Returns:
        The physics feature columns; None where a needed fact is unknown.
    """
    out: dict[str, float | None] = {k: None for k in PHYSICS_FEATURES}
    dtype = str(row.get("dtype") or "bfloat16")
    bpe = BYTES_PER_ELEMENT.get(dtype, 2.0)
    n_in, n_out = _num(row.get("input_tokens")), _num(row.get("output_tokens"))
    batch = effective_batch(row)
    layers, heads, kv_heads, head_dim = (_num(row.get(k)) for k in ("layers", "heads", "kv_heads", "head_dim"))
    mm_active = _num(row.get("active_matmul_params"))
    params, active_params = _num(row.get("params")), _num(row.get("active_params"))
    if None in (batch, layers, heads, kv_heads, head_dim, mm_active, params) or (n_in is None and n_out is None):
        return out
    devices = _num(row.get("device_count")) or 1.0
    q_dim = heads * head_dim
    kv_bytes_per_token = 2.0 * layers * kv_heads * head_dim * bpe
    weight_bytes_active = (active_params or params) * bpe
    # A decode-only row (llama.cpp tg, serving rows without a fixed prompt) decodes from an
    # unknown context: count the generated half only, a lower bound on the KV traffic.
    mean_ctx = (n_in or 0.0) + (n_out or 0.0) / 2.0
    kv_total = batch * ((n_in or 0.0) + (n_out or 0.0)) * kv_bytes_per_token
    out["kv_cache_gb"] = kv_total / 1e9
    out["weights_gb"] = params * bpe / 1e9
    memory_gb = _num(row.get("memory_gb"))
    if memory_gb:
        out["memory_fit_ratio"] = (params * bpe + kv_total) / (memory_gb * 1e9 * devices)
    peak = peak_tflops_for(row, dtype)
    bandwidth = _num(row.get("memory_bandwidth_gb_s"))
    flops_s = peak * 1e12 * devices if peak else None
    bytes_s = bandwidth * 1e9 * devices if bandwidth else None
    t_prefill = t_decode = None
    if n_in:
        prefill_flop = batch * (2.0 * mm_active * n_in + 2.0 * layers * q_dim * n_in * n_in)
        prefill_bytes = weight_bytes_active + batch * n_in * kv_bytes_per_token
        out.update(prefill_gflop=prefill_flop / 1e9, prefill_gb_moved=prefill_bytes / 1e9,
                   prefill_arithmetic_intensity=prefill_flop / prefill_bytes)
        if flops_s and bytes_s:
            t_prefill = max(prefill_flop / flops_s, prefill_bytes / bytes_s)
            out["roofline_prefill_s"] = t_prefill
    if n_out:
        decode_flop = batch * (2.0 * mm_active + 4.0 * layers * q_dim * mean_ctx)
        decode_bytes = weight_bytes_active + batch * mean_ctx * kv_bytes_per_token
        out.update(decode_gflop_per_step=decode_flop / 1e9, decode_gb_moved_per_step=decode_bytes / 1e9,
                   decode_arithmetic_intensity=decode_flop / decode_bytes)
        if flops_s and bytes_s:
            t_decode = max(decode_flop / flops_s, decode_bytes / bytes_s)
            out["roofline_decode_step_s"] = t_decode
    if t_prefill is not None and t_decode is not None:
        e2e = t_prefill + (n_out - 1.0) * t_decode
        out.update(roofline_e2e_s=e2e, roofline_output_throughput_tok_s=batch * n_out / e2e)
    elif t_decode is not None:
        out["roofline_output_throughput_tok_s"] = batch / t_decode  # steady-state decode
    return out


def feature_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The full feature row (categoricals as strings, numerics as float or None)."""
    feats: dict[str, Any] = {}
    for col in CATEGORICAL_FEATURES:
        value = row.get(col)
        feats[col] = "unknown" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    for col in NUMERIC_FEATURES:
        feats[col] = _num(row.get(col))
    feats["peak_tflops"] = peak_tflops_for(row, str(row.get("dtype") or "bfloat16"))
    feats["effective_batch"] = effective_batch(row)
    if feats["tensor_parallel"] is None:
        feats["tensor_parallel"] = feats["device_count"] or 1.0
    if feats["device_count"] is None:
        feats["device_count"] = 1.0
    if feats["tdp_w"] is not None:
        feats["tdp_total_w"] = feats["tdp_w"] * feats["device_count"]
    feats.update(physics_features(row))
    return feats


def feature_frame(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Builds the feature frame (columns :data:`FEATURE_COLUMNS`, in order) from fact rows.

    Args:
        rows: a DataFrame or iterable of dicts holding model facts, hardware facts and workload.

    Returns:
        One feature row per input row, same order and index.
    """
    if isinstance(rows, pd.DataFrame):
        index = rows.index
        records = rows.to_dict(orient="records")
    else:
        records = [dict(r) for r in rows]
        index = None
    frame = pd.DataFrame([feature_row(r) for r in records], columns=FEATURE_COLUMNS, index=index)
    for col in NUMERIC_FEATURES:
        frame[col] = frame[col].astype("float64")
    return frame


def prediction_row(model: ModelEntry, hw: HardwareEntry, workload: Mapping[str, Any]) -> dict[str, Any]:
    """Joins catalog facts and a workload exactly as the warehouse join does."""
    row: dict[str, Any] = {}
    row.update(model_facts(model))
    row.update(hardware_facts(hw))
    row.update(workload)
    row.setdefault("device_count", hw.device_count)
    return row


#: A measurement faster than its roofline bound by more than this share is physically impossible
#: (the tolerance absorbs rounded spec sheets and clock boost).
ROOFLINE_TOLERANCE = 0.05
#: measured metric -> (roofline feature, True when the measurement must be >= the bound).
ROOFLINE_BOUNDS = {
    "e2e_latency_s": ("roofline_e2e_s", True),
    "ttft_s": ("roofline_prefill_s", True),
    "tpot_s": ("roofline_decode_step_s", True),
    "output_throughput_tok_s": ("roofline_output_throughput_tok_s", False),
}


def roofline_violations(measured: pd.DataFrame, features: pd.DataFrame) -> pd.Series:
    """Names the metrics of each row that beat their roofline bound (empty string: none).

    Args:
        measured: rows with measured metric columns (missing columns are ignored).
        features: the feature frame of the same rows (same index).

    Returns:
        A string per row, e.g. ``"tpot_s,output_throughput_tok_s"``; such rows are kept in the
        warehouse but never trained on.
    """
    flags = pd.Series([""] * len(features), index=features.index, dtype="object")
    for metric, (bound_col, lower) in ROOFLINE_BOUNDS.items():
        if metric not in measured.columns:
            continue
        value = pd.to_numeric(measured[metric], errors="coerce")
        bound = features[bound_col]
        if lower:
            bad = value < bound * (1.0 - ROOFLINE_TOLERANCE)
        else:
            bad = value > bound * (1.0 + ROOFLINE_TOLERANCE)
        bad = bad.fillna(False)
        flags[bad] = flags[bad].map(lambda s, m=metric: f"{s},{m}" if s else m)
    return flags
