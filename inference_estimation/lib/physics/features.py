"""The one source of truth for every feature a predictor sees.

The training frame (dbt's ``training_features`` Python model) and ``predict`` both call
:func:`feature_frame` on rows made of the same flat facts: :func:`model_facts` and
:func:`hardware_facts` (which also fill the warehouse's ``raw.models`` and ``raw.hardware``
tables) plus the workload columns. A test builds one configuration both ways and requires the
identical feature row.

Physics, per decoder forward pass (all numbers are for the whole batch, all devices):

* matmul parameters ``P`` (attention projections, MLP -- the *active* experts only for MoE --
  and the LM head); a dense matmul costs 2 FLOPs per parameter per token. The LM head
  (``hidden_size * vocab_size``) runs for one position per sequence in prefill -- only the last
  prompt token's logits are needed to sample the first output token (vLLM, and transformers'
  ``generate`` with ``logits_to_keep``) -- and for every decode step. Counting it for every
  prompt token would overstate the bound ~3x for a 150k-vocabulary model of 130M parameters and
  flag real measurements as impossible.
* attention score/value FLOPs: ``4 * layers * q_dim * context`` per token (QK^T and AV);
  causal prefill costs half of the full square.
* bytes moved: every (active) weight is read once per forward pass; the KV cache of the whole
  batch is read once per decode step and written once in prefill.
* bytes per weight and per KV element, and the peak FLOP/s a dtype runs at, come from
  :mod:`inference_estimation.lib.catalog.vocabulary` (FP4/MXFP4/NVFP4 and int4 at ~4.25 bits with their
  scales; FP4 on FP4 tensor cores where the device has them).
* MoE: a forward pass over T tokens reads the *union* of the routed experts those tokens touch --
  ``1 - (1 - k/E)^T`` of them per layer in expectation -- plus the shared weights, so decode bytes
  grow with the batch from the active experts towards the whole model.
* tensor parallelism: two all-reduces per layer of tokens x hidden 16-bit activations over the
  interconnect (ring: ``2 (tp - 1) / tp`` of the message per device, plus a fixed latency each).
* roofline time of a phase = max(FLOPs / peak FLOP/s, bytes / memory bandwidth) (+ the
  all-reduces). Offline, TTFT is the batch's prefill and TPOT one decode step at the mean context
  length. Serving at concurrency ``c`` (continuous batching): each step decodes ``c`` sequences
  and carries the prefills of the ``c / out`` requests that replace the finished ones, and a new
  request's TTFT is one prompt's prefill inflated by the prefill queue (``1 / (1 - rho)``).
  Every other time follows by the identities ``e2e = ttft + (out - 1) tpot`` and
  ``throughput = batch * out / e2e``.

These are deliberately simple, explainable formulas: the predictors learn the correction. They
are computed column-wise (numpy) over all rows at once: the ~6k-row training frame takes ~20 ms and
a 50k-row prediction batch ~0.1 s (row by row it was ~0.4 s and ~2.8 s).
"""

from __future__ import annotations

import typing
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from inference_estimation import constants
from inference_estimation.lib.catalog import HardwareEntry, HardwareSpecs, ModelEntry
from inference_estimation.lib.catalog.vocabulary import (
    BYTES_PER_ELEMENT,
    KV_BYTES_PER_ELEMENT,
    PEAK_COLUMNS_BY_DTYPE,
    normalize_dtype,
    normalize_engine,
)
from inference_estimation.lib.physics.memory import memory_fit_arrays

#: Columns that describe a model (also the columns of ``raw.models``, after ``model_key``).
MODEL_FACT_COLUMNS = [
    "model_key", "hf_id", "family", "model_kind", "params", "active_params", "matmul_params",
    "active_matmul_params", "layers", "hidden_size", "heads", "kv_heads", "head_dim",
    "intermediate_size", "vocab_size", "experts", "active_experts", "gated_mlp", "kv_cache_dim_per_layer",
]
#: The hardware spec facts: every number of the catalog's ``HardwareSpecs`` (its one home; a fact added
#: there is a column here, and a test asks dbt's staging and training rows to carry it too).
HARDWARE_SPEC_FACTS = [name for name, spec in HardwareSpecs.model_fields.items()
                       if {float, int} & set(typing.get_args(spec.annotation) or (spec.annotation,))]
#: Columns that describe hardware (also the columns of ``raw.hardware``).
HARDWARE_FACT_COLUMNS = ["hardware_key", "hardware_kind", "vendor", "hw_device_count", *HARDWARE_SPEC_FACTS,
                         "spec_source"]

CATEGORICAL_FEATURES = ["hardware_kind", "vendor", "engine", "dtype", "family", "mode", "source", "power_scope"]
PHYSICS_FEATURES = [
    "weights_gb", "prefill_gflop", "decode_gflop_per_step", "prefill_gb_moved", "decode_gb_moved_per_step",
    "prefill_arithmetic_intensity", "decode_arithmetic_intensity", "kv_cache_gb", "activation_gb",
    "runtime_memory_gb", "memory_fit_ratio",
    "moe_experts_touched_share", "tp_comm_prefill_s", "tp_comm_decode_step_s",
    "roofline_prefill_s", "roofline_decode_step_s", "roofline_prefill_one_s", "roofline_bound_prefill_one_s",
    "roofline_bound_decode_step_one_s", "serving_prefill_load",
    "roofline_ttft_s", "roofline_tpot_s", "roofline_e2e_s", "roofline_output_throughput_tok_s",
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
            kv_cache_dim_per_layer=a.resolved_kv_cache_dim_per_layer,
        )
    else:
        row.update(params=model.params, active_params=model.active_params or model.params)
    return row


def hardware_facts(hw: HardwareEntry) -> dict[str, Any]:
    """Flat hardware facts: one row of ``raw.hardware`` and the hardware half of a feature row."""
    return {
        "hardware_key": hw.key, "hardware_kind": hw.kind, "vendor": hw.vendor, "hw_device_count": hw.device_count,
        **{fact: getattr(hw.specs, fact) for fact in HARDWARE_SPEC_FACTS},
        "spec_source": hw.spec_source,
    }


DEFAULT_DTYPE = "bfloat16"


class _Columns:
    """Column access on fact rows: numbers as float arrays (NaN for null, absent or non-numeric),
    text as object arrays (``missing`` for null or absent). Same meaning as reading one row's dict
    field by field: a missing column and a null value are the same thing."""

    def __init__(self, frame: pd.DataFrame):
        self.frame, self.n = frame, len(frame)
        self._numbers: dict[str, np.ndarray] = {}

    def num(self, col: str) -> np.ndarray:
        if col not in self._numbers:
            if col not in self.frame:
                self._numbers[col] = np.full(self.n, np.nan)
            else:
                values = pd.to_numeric(self.frame[col], errors="coerce")
                self._numbers[col] = values.to_numpy(dtype="float64", na_value=np.nan)
        return self._numbers[col]

    def text(self, col: str, missing: str | None = None) -> np.ndarray:
        if col not in self.frame:
            return np.full(self.n, missing, dtype=object)
        series = self.frame[col]
        return np.where(series.isna().to_numpy(), missing, series.astype(str).to_numpy(dtype=object))


def _or(value: np.ndarray, fallback: np.ndarray | float) -> np.ndarray:
    """``value or fallback`` element-wise: null and zero take the fallback."""
    return np.where(np.isnan(value) | (value == 0), fallback, value)


def _peak_tflops(cols: _Columns, dtype: np.ndarray) -> np.ndarray:
    """Peak dense TFLOP/s per device for each row's dtype (:data:`PEAK_COLUMNS_BY_DTYPE`)."""
    peak = np.full(cols.n, np.nan)
    known = np.isin(dtype, list(PEAK_COLUMNS_BY_DTYPE))
    cpu_like = np.isin(cols.text("hardware_kind"), ["cpu", "mps"])
    orders = [(dtype == name, order) for name, order in PEAK_COLUMNS_BY_DTYPE.items()]
    orders.append((~known, ["peak_tflops_bf16"]))
    for rows, order in orders:
        for col in order:
            value = cols.num(col)
            fill = rows & np.isnan(peak)
            peak[fill] = value[fill]
    value = cols.num("peak_tflops_fp32")
    fill = cpu_like & np.isnan(peak)
    peak[fill] = value[fill]
    return peak


def _normalized(values: np.ndarray, normalize) -> np.ndarray:
    """Vocabulary spelling applied per distinct value (``bf16`` -> ``bfloat16``); "unknown" kept."""
    mapping = {v: (v if v in (None, "unknown") else (normalize(v) or v)) for v in pd.unique(values)}
    return np.array([mapping[v] for v in values], dtype=object)


def _effective_batch(cols: _Columns) -> np.ndarray:
    """Sequences in flight: the batch offline; the measured concurrency when serving (else the batch)."""
    concurrency = cols.num("concurrency")
    serving = (cols.text("mode") == "serving") & ~np.isnan(concurrency) & (concurrency != 0)
    return np.where(serving, concurrency, cols.num("batch_size"))


#: Latency of one all-reduce across the tensor-parallel group (NCCL/RCCL, small messages), s.
ALLREDUCE_LATENCY_S = 10e-6
#: Per-direction link bandwidth assumed when a multi-device entry has no interconnect fact (PCIe 4.0
#: x16, GB/s) -- for measured rows only: a question on more than one device without that fact is
#: refused (:func:`inference_estimation.lib.physics.layout.interconnect_refusal`). Spec sheets quote
#: interconnect bandwidth as the bidirectional aggregate, halved below.
FALLBACK_LINK_GB_S = 32.0
#: Bytes per activation element exchanged by tensor-parallel all-reduces (16-bit activations).
ACTIVATION_BYTES = 2.0
#: Highest prefill utilisation used in the serving queueing term (keeps it finite at saturation).
MAX_PREFILL_LOAD = 0.9


def _routed_expert_fraction(tokens: np.ndarray, experts: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Expected share of a layer's routed experts that ``tokens`` tokens touch (uniform routing).

    Each token picks ``active`` of ``experts``; the chance that one expert is picked by none of T
    tokens is ``(1 - active/experts)^T``, so the expected distinct share is ``1 - (1 - k/E)^T``:
    k/E for one token, approaching 1 as the batch grows. Dense models: 0 (no routed experts).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        share = 1.0 - np.power(1.0 - active / experts, np.maximum(tokens, 1.0))
    return np.where((experts > 0) & (active > 0), share, 0.0)


def _physics(cols: _Columns, dtype: np.ndarray, batch: np.ndarray, peak: np.ndarray,
             tensor_parallel: np.ndarray) -> dict[str, np.ndarray]:
    """Analytic FLOPs, bytes, roofline times and memory fit (see the module docstring).

    NaN where a needed fact is unknown: no model architecture, no batch, neither input nor output
    length (all physics), no memory size (fit), no peak or bandwidth (roofline times).
    """
    bpe = pd.Series(dtype, dtype=object).map(BYTES_PER_ELEMENT).fillna(2.0).to_numpy(dtype="float64")
    kv_bpe = pd.Series(dtype, dtype=object).map(KV_BYTES_PER_ELEMENT).fillna(2.0).to_numpy(dtype="float64")
    n_in, n_out = cols.num("input_tokens"), cols.num("output_tokens")
    layers, heads, kv_heads, head_dim = (cols.num(c) for c in ("layers", "heads", "kv_heads", "head_dim"))
    mm_active, params = cols.num("active_matmul_params"), cols.num("params")
    mm_total = _or(cols.num("matmul_params"), mm_active)
    valid = ~(np.isnan(batch) | np.isnan(layers) | np.isnan(heads) | np.isnan(kv_heads) | np.isnan(head_dim)
              | np.isnan(mm_active) | np.isnan(params) | (np.isnan(n_in) & np.isnan(n_out)))
    devices = _or(cols.num("device_count"), 1.0)
    tp = _or(tensor_parallel, devices)
    q_dim = heads * head_dim
    # KV cache per token: K and V per layer; a compressed (MLA) cache states its width per layer.
    kv_dim = _or(cols.num("kv_cache_dim_per_layer"), 2.0 * kv_heads * head_dim)
    kv_bytes_per_token = layers * kv_dim * kv_bpe
    # MoE: the routed experts' parameters (all layers) from total minus active matmul parameters;
    # a forward pass over T tokens reads the experts those tokens touch, not only the active ones.
    experts, active = cols.num("experts"), cols.num("active_experts")
    with np.errstate(divide="ignore", invalid="ignore"):
        routed = np.where((experts > active) & (active > 0),
                          (mm_total - mm_active) * experts / (experts - active), 0.0)
    routed = np.nan_to_num(routed)
    shared = mm_active - routed * np.where(experts > 0, np.nan_to_num(active / experts), 0.0)
    n_in0, n_out0 = np.nan_to_num(n_in), np.nan_to_num(n_out)
    decode_share = _routed_expert_fraction(batch, experts, active)
    prefill_share = _routed_expert_fraction(batch * np.maximum(n_in0, 1.0), experts, active)
    weight_bytes_decode = (shared + routed * decode_share) * bpe
    weight_bytes_prefill = (shared + routed * prefill_share) * bpe
    # A decode-only row (llama.cpp tg, serving rows without a fixed prompt) decodes from an
    # unknown context: count the generated half only, a lower bound on the KV traffic.
    mean_ctx = n_in0 + n_out0 / 2.0
    kv_total = batch * (n_in0 + n_out0) * kv_bytes_per_token
    memory_gb = cols.num("memory_gb")
    peak, bandwidth = _or(peak, np.nan), _or(cols.num("memory_bandwidth_gb_s"), np.nan)
    flops_s, bytes_s = peak * 1e12 * devices, bandwidth * 1e9 * devices
    # 0 input tokens = a decode from an empty prompt (llama-bench tg): no prefill phase.
    has_in, has_out = ~np.isnan(_or(n_in, np.nan)) & (n_in0 > 0), ~np.isnan(_or(n_out, np.nan))
    # Tensor parallelism: two all-reduces per layer (attention and MLP outputs) of tokens x hidden
    # activations; a ring moves 2 (tp - 1) / tp of the message per device over its link.
    link = np.where(np.isnan(cols.num("interconnect_bandwidth_gb_s")), FALLBACK_LINK_GB_S,
                    cols.num("interconnect_bandwidth_gb_s") / 2.0) * 1e9
    hidden = cols.num("hidden_size")
    with np.errstate(divide="ignore", invalid="ignore"):
        ring = np.where(tp > 1, 2.0 * (tp - 1.0) / tp, 0.0)
        per_layer = lambda tokens: 2.0 * (ring * tokens * hidden * ACTIVATION_BYTES / link  # noqa: E731
                                          + np.where(tp > 1, ALLREDUCE_LATENCY_S, 0.0))
        comm_prefill = layers * per_layer(batch * n_in0)
        comm_decode = layers * per_layer(batch)
        comm_prefill_one = layers * per_layer(n_in0)
        head = hidden * cols.num("vocab_size")  # LM head: the last prompt position only
        body = np.where(np.isnan(head), mm_active * n_in, (mm_active - head) * n_in + head)
        prefill_flop = batch * (2.0 * body + 2.0 * layers * q_dim * n_in * n_in)
        prefill_bytes = weight_bytes_prefill + batch * n_in * kv_bytes_per_token
        t_prefill = np.maximum(prefill_flop / flops_s, prefill_bytes / bytes_s)
        decode_flop = batch * (2.0 * mm_active + 4.0 * layers * q_dim * mean_ctx)
        decode_bytes = weight_bytes_decode + batch * mean_ctx * kv_bytes_per_token
        t_decode = np.maximum(decode_flop / flops_s, decode_bytes / bytes_s)
        t_prefill, t_decode = np.where(has_in, t_prefill, np.nan), np.where(has_out, t_decode, np.nan)
        # One prompt alone (what a request arriving at a busy server prefills).
        one_flop = 2.0 * body + 2.0 * layers * q_dim * n_in * n_in
        one_bytes = (shared + routed * _routed_expert_fraction(np.maximum(n_in0, 1.0), experts, active)) * bpe \
            + n_in * kv_bytes_per_token
        prefill_one_bound = np.where(has_in, np.maximum(one_flop / flops_s, one_bytes / bytes_s), np.nan)
        t_prefill_one = prefill_one_bound + comm_prefill_one
        # one sequence's decode step (the least a serving step can take, whatever batch formed)
        decode_one_bytes = (shared + routed * _routed_expert_fraction(np.ones_like(batch), experts, active)) * bpe \
            + mean_ctx * kv_bytes_per_token
        decode_one_flop = 2.0 * mm_active + 4.0 * layers * q_dim * mean_ctx
        decode_one_bound = np.where(has_out, np.maximum(decode_one_flop / flops_s, decode_one_bytes / bytes_s), np.nan)
        step = t_decode + comm_decode
        # Serving at concurrency c (continuous batching): every step decodes c sequences, and the
        # c / out requests that finish per step are replaced by new ones whose prefills are
        # interleaved, so each step also carries (c / out) prompt prefills. A new request waits
        # for the prefill queue: t_p1 / (1 - rho), rho = the share of time spent prefilling.
        serving = cols.text("mode") == "serving"
        arrivals_per_step = batch / np.maximum(n_out0, 1.0)
        prefill_per_step = np.where(has_in, arrivals_per_step * t_prefill_one, 0.0)
        serving_tpot = step + prefill_per_step
        rho = np.minimum(prefill_per_step / serving_tpot, MAX_PREFILL_LOAD)
        serving_ttft = t_prefill_one / (1.0 - rho) + step / 2.0
        ttft = np.where(serving, serving_ttft, t_prefill + comm_prefill)
        tpot = np.where(serving, serving_tpot, step)
        ttft, tpot = np.where(has_in, ttft, np.nan), np.where(has_out, tpot, np.nan)
        e2e = ttft + (n_out - 1.0) * tpot
        throughput = np.where(np.isnan(ttft), batch / tpot, batch * n_out / e2e)
        out = {
            "weights_gb": params * bpe / 1e9,
            "prefill_gflop": np.where(has_in, prefill_flop / 1e9, np.nan),
            "decode_gflop_per_step": np.where(has_out, decode_flop / 1e9, np.nan),
            "prefill_gb_moved": np.where(has_in, prefill_bytes / 1e9, np.nan),
            "decode_gb_moved_per_step": np.where(has_out, decode_bytes / 1e9, np.nan),
            "prefill_arithmetic_intensity": np.where(has_in, prefill_flop / prefill_bytes, np.nan),
            "decode_arithmetic_intensity": np.where(has_out, decode_flop / decode_bytes, np.nan),
            "kv_cache_gb": kv_total / 1e9,
            # prefill activations of the widest layer (the MLP's up-projection, gate included) for
            # the whole batch's prompt, plus the last position's logits in float32
            "activation_gb": batch * (np.maximum(n_in0, 1.0) * (hidden + 2.0 * cols.num("intermediate_size"))
                                      * ACTIVATION_BYTES + 4.0 * cols.num("vocab_size")) / 1e9,
            "runtime_memory_gb": np.where(np.isin(cols.text("hardware_kind"), ["cpu", "mps"]),
                                          constants.CPU_RUNTIME_MEMORY_GB, 0.0),
            # the one memory rule (lib/physics/memory.py): the whole batch at once over the usable memory
            "memory_fit_ratio": memory_fit_arrays(
                params, layers, kv_heads, head_dim, dtype,
                _normalized(cols.text("engine", missing="unknown"), normalize_engine), batch,
                n_in0 + n_out0, memory_gb, devices, cols.text("hardware_kind", missing="unknown"),
                kv_cache_dim_per_layer=cols.num("kv_cache_dim_per_layer"))["batch_memory_ratio"],
            "moe_experts_touched_share": np.where(experts > 0, decode_share, np.nan),
            "tp_comm_prefill_s": np.where(has_in, comm_prefill, np.nan),
            "tp_comm_decode_step_s": np.where(has_out, comm_decode, np.nan),
            "roofline_prefill_s": t_prefill,
            "roofline_decode_step_s": t_decode,
            "roofline_prefill_one_s": t_prefill_one,
            "roofline_bound_prefill_one_s": prefill_one_bound,
            "roofline_bound_decode_step_one_s": decode_one_bound,
            "serving_prefill_load": np.where(serving, rho, 0.0),
            "roofline_ttft_s": ttft,
            "roofline_tpot_s": tpot,
            "roofline_e2e_s": e2e,
            "roofline_output_throughput_tok_s": throughput,
        }
    return {k: np.where(valid, v, np.nan) for k, v in out.items()}


def feature_frame(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Builds the feature frame (columns :data:`FEATURE_COLUMNS`, in order) from fact rows.

    Column-wise (numpy), so the training frame and a batch of many thousand predictions are built
    by the same code at the same speed.

    Args:
        rows: a DataFrame or iterable of dicts holding model facts, hardware facts and workload.

    Returns:
        One feature row per input row, same order and index. Categoricals are strings ("unknown"
        when null); numerics are float64 (NaN when unknown, never 0).
    """
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame.from_records([dict(r) for r in rows])
    cols = _Columns(frame)
    out: dict[str, Any] = {}
    for col in CATEGORICAL_FEATURES:
        out[col] = cols.text(col, missing="unknown")
    for col in NUMERIC_FEATURES:
        out[col] = cols.num(col)
    dtype = _normalized(cols.text("dtype", missing=DEFAULT_DTYPE), normalize_dtype)
    dtype[(dtype == "") | (dtype == "unknown")] = DEFAULT_DTYPE
    out["dtype"] = _normalized(out["dtype"], normalize_dtype)
    out["engine"] = _normalized(out["engine"], normalize_engine)
    out["peak_tflops"] = _peak_tflops(cols, dtype)
    out["effective_batch"] = _effective_batch(cols)
    device_count = out["device_count"]
    out["tensor_parallel"] = np.where(np.isnan(out["tensor_parallel"]), _or(device_count, 1.0), out["tensor_parallel"])
    out["device_count"] = np.where(np.isnan(device_count), 1.0, device_count)
    tdp = out["tdp_w"]
    out["tdp_total_w"] = np.where(np.isnan(tdp), out["tdp_total_w"], tdp * out["device_count"])
    out.update(_physics(cols, dtype, out["effective_batch"], out["peak_tflops"], out["tensor_parallel"]))
    result = pd.DataFrame({c: out[c] for c in FEATURE_COLUMNS},
                          index=frame.index if isinstance(rows, pd.DataFrame) else None)
    for col in NUMERIC_FEATURES:
        result[col] = result[col].astype("float64")
    return result


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
#: The same for hardware whose peak and bandwidth were *probed* (a CPU): a probe is a measurement
#: with its own noise (a busy machine, caches that hold a small model), not a limit; only rows
#: more than twice as fast as the probe allows are impossible.
PROBED_ROOFLINE_TOLERANCE = 0.5
#: measured metric -> True when the measurement must be >= its bound (times), False for <= (throughput).
#: The bounds are the pure compute/memory roofline (:func:`roofline_bounds`): the all-reduce and
#: serving-queue terms of ``roofline_ttft_s``/``roofline_tpot_s`` are estimates, not limits.
ROOFLINE_BOUNDS = {"e2e_latency_s": True, "ttft_s": True, "tpot_s": True, "output_throughput_tok_s": False}


def roofline_bounds(features: pd.DataFrame) -> dict[str, pd.Series]:
    """The physical limit of each metric of :data:`ROOFLINE_BOUNDS` for feature rows.

    Offline, the whole batch is prefilled and decoded together. Serving at a concurrency, the
    batch actually formed is not known (arrivals are staggered, engines cap the running batch),
    so the safe limits are one prompt's prefill and one sequence's decode step.
    """
    serving = features["mode"].astype(str) == "serving"
    prefill = features["roofline_prefill_s"].where(~serving, features["roofline_bound_prefill_one_s"])
    step = features["roofline_decode_step_s"].where(~serving, features["roofline_bound_decode_step_one_s"])
    n_out = features["output_tokens"]
    e2e = prefill + (n_out - 1.0) * step
    throughput = (features["effective_batch"] * n_out / e2e).where(prefill.notna(), features["effective_batch"] / step)
    return {"e2e_latency_s": e2e, "ttft_s": prefill, "tpot_s": step, "output_throughput_tok_s": throughput}


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
    bounds = roofline_bounds(features)
    probed = (measured["spec_source"].astype(str) == "probe").to_numpy() if "spec_source" in measured else False
    tolerance = np.where(probed, PROBED_ROOFLINE_TOLERANCE, ROOFLINE_TOLERANCE)
    for metric, lower in ROOFLINE_BOUNDS.items():
        if metric not in measured.columns:
            continue
        value = pd.to_numeric(measured[metric], errors="coerce")
        bound = bounds[metric]
        if lower:
            bad = value < bound * (1.0 - tolerance)
        else:
            bad = value > bound * (1.0 + tolerance)
        bad = bad.fillna(False)
        flags[bad] = flags[bad].map(lambda s, m=metric: f"{s},{m}" if s else m)
    return flags
