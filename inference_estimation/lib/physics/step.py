"""The physics of one engine iteration: what a step that runs P prefill tokens and D decodes costs.

An inference engine advances its running requests one *step* (one forward pass) at a time. A step
runs ``P`` prompt (prefill) tokens of ``n_p`` sequences and ``D`` decoding sequences that each read
``K`` cached tokens. Its cost splits into physical terms, each a time at the device's peak:

* ``gemm_s`` -- the dense matmuls: ``2 * body * (P + D)`` FLOPs plus the LM head for the ``n_p + D``
  positions that sample a token (only the last prompt position of a prefill needs logits);
* ``weight_s`` -- bytes of weights touched: the shared (attention, dense MLP, shared experts) part
  once per step, and of the routed experts the *union* the step's ``P + D`` tokens route to
  (``1 - (1 - k/E)^T`` of them in expectation under uniform routing);
* ``attn_s`` -- attention FLOPs, ``4 * layers * q_dim`` per token and context position (QK^T and
  AV); a prefill token sees on average its prior context plus half of its own chunk;
* ``kv_s`` -- KV-cache bytes: every decode reads its ``K`` cached tokens, every prefill token is
  written once (MLA caches its compressed latent: ``kv_cache_dim_per_layer``, whole on every
  tensor-parallel rank; KV heads are copied when there are more ranks than heads);
* ``comm_s`` / ``comm_calls`` -- tensor-parallel all-reduces: two per layer of ``(P + D) * hidden``
  16-bit activations over the interconnect (ring: ``2 (tp - 1) / tp`` of the message per device),
  and the number of collectives (each costs a latency too);
* ``layers`` -- for the per-layer launch overhead.

:func:`step_time` combines them with efficiencies (each in (0, 1], so a step is never faster than
its bound) and non-negative overheads::

    t = smax(gemm / eta_gemm, weight / eta_mem) + smax(attn / eta_attn, kv / eta_kv)
        + comm / eta_link + calls * latency + overhead_step + layers * overhead_layer + D * overhead_seq

(``latency`` is the cost of one collective call, learned too: NCCL's launch and synchronisation.)

``smax(a, b) = (a^p + b^p)^(1/p)`` >= ``max(a, b)``: a kernel is compute- or memory-bound, and
slower than either bound near the ridge point. With every efficiency 1 and no overheads, ``t`` is
at least the roofline bound :func:`step_bound` = ``max(gemm + attn, weight + kv)``, a test checks it
on every catalog device and model. The terms are per *replica* (the ``tp`` devices that hold one
copy of the model); data-parallel replicas multiply throughput, not step speed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from inference_estimation.lib.catalog.vocabulary import (
    BYTES_PER_ELEMENT,
    KV_BYTES_PER_ELEMENT,
    PEAK_COLUMNS_BY_DTYPE,
    normalize_dtype,
)

#: Latency of one all-reduce across the tensor-parallel group (NCCL/RCCL, small messages), s
#: (AIConfigurator's H100/B200 system files: p2p latency 10 us).
ALLREDUCE_LATENCY_S = 10e-6
#: Per-direction link bandwidth when a multi-device training row has no interconnect fact (PCIe 4.0
#: x16), GB/s. A question never uses it: more than one device without a known interconnect
#: bandwidth is refused (:func:`inference_estimation.lib.physics.layout.interconnect_refusal`).
FALLBACK_LINK_GB_S = 32.0
#: Bytes per activation element exchanged by tensor-parallel all-reduces (16-bit activations).
ACTIVATION_BYTES = 2.0
#: Exponent of the smooth maximum of a compute and a memory time (``(a^p + b^p)^(1/p)``).
SMOOTH_MAX_POWER = 3.0
#: Dtype assumed when a row names none.
DEFAULT_DTYPE = "bfloat16"
#: Bytes in a GiB (device memory sizes are quoted in GiB).
GIB = 1024.0**3


def _num(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _text(frame: pd.DataFrame, col: str, missing: str) -> np.ndarray:
    if col not in frame:
        return np.full(len(frame), missing, dtype=object)
    series = frame[col]
    return np.where(series.isna().to_numpy(), missing, series.astype(str).to_numpy(dtype=object))


def num_column(frame: pd.DataFrame, col: str) -> np.ndarray:
    """A column as float64 (NaN for null, absent or non-numeric)."""
    return _num(frame, col)


def text_column(frame: pd.DataFrame, col: str, missing: str) -> np.ndarray:
    """A column as text (``missing`` for null or absent)."""
    return _text(frame, col, missing)


def _or(value: np.ndarray, fallback: np.ndarray | float) -> np.ndarray:
    return np.where(np.isnan(value) | (value == 0), fallback, value)


def canonical_dtypes(frame: pd.DataFrame) -> np.ndarray:
    """Each row's canonical dtype (``bf16`` -> ``bfloat16``), :data:`DEFAULT_DTYPE` when unnamed."""
    raw = _text(frame, "dtype", DEFAULT_DTYPE)
    mapping = {v: (normalize_dtype(v) or DEFAULT_DTYPE) for v in pd.unique(raw)}
    out = np.array([mapping[v] for v in raw], dtype=object)
    out[~np.isin(out, list(BYTES_PER_ELEMENT))] = DEFAULT_DTYPE
    return out


def peak_tflops_for(frame: pd.DataFrame, dtype: np.ndarray) -> np.ndarray:
    """Peak dense TFLOP/s per device at each row's dtype (the vocabulary's fall-back order)."""
    peak = np.full(len(frame), np.nan)
    for name, order in PEAK_COLUMNS_BY_DTYPE.items():
        rows = dtype == name
        for col in order:
            fill = rows & np.isnan(peak)
            peak[fill] = _num(frame, col)[fill]
    cpu_like = np.isin(_text(frame, "hardware_kind", ""), ["cpu", "mps"])
    fill = cpu_like & np.isnan(peak)
    peak[fill] = _num(frame, "peak_tflops_fp32")[fill]
    # a catalog entry that states another precision's peak only: the closest figure it has
    for col in ("peak_tflops_bf16", "peak_tflops_fp16", "peak_tflops_fp8", "peak_tflops_fp32"):
        fill = np.isnan(peak)
        peak[fill] = _num(frame, col)[fill]
    return peak


@dataclass
class StepFacts:
    """Per-row constants of one deployment (model shape, dtype bytes, one replica's peaks).

    Every field is a float array of the rows' length; NaN where a fact is unknown.
    """

    layers: np.ndarray
    hidden: np.ndarray
    q_dim: np.ndarray
    kv_bytes_per_token: np.ndarray
    body_params: np.ndarray
    head_params: np.ndarray
    shared_weight_bytes: np.ndarray
    routed_weight_bytes: np.ndarray
    weight_bytes_total: np.ndarray
    experts: np.ndarray
    active_experts: np.ndarray
    flops_s: np.ndarray
    bytes_s: np.ndarray
    link_bytes_s: np.ndarray
    tp: np.ndarray
    replicas: np.ndarray
    memory_bytes_per_replica: np.ndarray
    valid: np.ndarray

    def take(self, index: np.ndarray) -> StepFacts:
        """The facts of a subset of rows."""
        return StepFacts(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def step_facts(frame: pd.DataFrame, dtype: np.ndarray | None = None,
               layer_split: np.ndarray | None = None) -> StepFacts:
    """Builds :class:`StepFacts` from rows of model facts, hardware facts and layout columns.

    Args:
        frame: rows with the catalog's model and hardware fact columns plus ``device_count`` and
            ``tensor_parallel`` (null: all the devices; 1 while the weights need more: the
            smallest power of two of devices whose memory holds them, the rest data-parallel
            replicas).
        dtype: canonical dtypes (default: from the ``dtype`` column).
        layer_split: rows whose engine splits the model by layers across its devices (llama.cpp's
            default): the devices add memory, not speed -- each token passes them one after another.
    """
    dtype = canonical_dtypes(frame) if dtype is None else dtype
    bpe = pd.Series(dtype, dtype=object).map(BYTES_PER_ELEMENT).fillna(2.0).to_numpy(dtype="float64")
    kv_bpe = pd.Series(dtype, dtype=object).map(KV_BYTES_PER_ELEMENT).fillna(2.0).to_numpy(dtype="float64")
    layers, heads, kv_heads = _num(frame, "layers"), _num(frame, "heads"), _num(frame, "kv_heads")
    head_dim, hidden = _num(frame, "head_dim"), _num(frame, "hidden_size")
    mm_active = _num(frame, "active_matmul_params")
    mm_total = _or(_num(frame, "matmul_params"), mm_active)
    params = _or(_num(frame, "params"), mm_total)
    experts, active = _num(frame, "experts"), _num(frame, "active_experts")
    kv_dim = _or(_num(frame, "kv_cache_dim_per_layer"), 2.0 * kv_heads * head_dim)
    head = np.nan_to_num(hidden * _num(frame, "vocab_size"))
    with np.errstate(divide="ignore", invalid="ignore"):
        routed = np.where((experts > active) & (active > 0), (mm_total - mm_active) * experts / (experts - active), 0.0)
    routed = np.nan_to_num(routed)
    shared = mm_active - routed * np.where(experts > 0, np.nan_to_num(active / experts), 0.0)
    devices = _or(_num(frame, "device_count"), _or(_num(frame, "tensor_parallel"), 1.0))
    # catalog memory sizes are the vendors' "GB", which are GiB (an "80 GB" H100 holds 85.9e9 bytes)
    memory = _num(frame, "memory_gb") * GIB
    weight_bytes = params * bpe
    tp = _num(frame, "tensor_parallel")
    # unknown: one server over all the devices (``--tensor-parallel-size N``); left at the record's
    # default of 1 while the weights cannot fit one device: the smallest power of two of devices
    # that holds them with room for a KV cache, the rest data-parallel replicas
    need = np.ceil(np.log2(np.maximum(weight_bytes / np.maximum(0.8 * memory, 1.0), 1.0)))
    fitted_tp = np.minimum(np.power(2.0, np.nan_to_num(need)), devices)
    tp = np.where(np.isnan(tp), devices, np.where((tp == 1) & (fitted_tp > 1), fitted_tp, tp))
    tp = np.clip(tp, 1.0, devices)
    replicas = np.maximum(np.floor(devices / tp), 1.0)
    peak = peak_tflops_for(frame, dtype)
    bandwidth = _num(frame, "memory_bandwidth_gb_s")
    link = _num(frame, "interconnect_bandwidth_gb_s")
    link = np.where(np.isnan(link), FALLBACK_LINK_GB_S, link / 2.0) * 1e9
    split = np.zeros(len(frame), dtype=bool) if layer_split is None else np.asarray(layer_split, dtype=bool)
    speed_devices = np.where(split, 1.0, tp)
    valid = ~(np.isnan(layers) | np.isnan(heads) | np.isnan(head_dim) | np.isnan(mm_active) | np.isnan(peak)
              | np.isnan(bandwidth) | np.isnan(hidden) | np.isnan(kv_heads))
    # KV cache of one replica per token: tensor-parallel ranks each keep their share of the KV
    # heads, but at least one head each (heads are copied when tp > kv_heads), and a compressed
    # latent (MLA) is kept whole on every rank
    tp_speed = np.where(split, 1.0, tp)
    latent = ~np.isnan(_num(frame, "kv_cache_dim_per_layer")) & (
        _num(frame, "kv_cache_dim_per_layer") != 2.0 * kv_heads * head_dim)
    kv_replica_dim = np.where(latent, kv_dim * tp_speed, 2.0 * head_dim * np.maximum(kv_heads, tp_speed))
    return StepFacts(
        layers=layers, hidden=hidden, q_dim=heads * head_dim, kv_bytes_per_token=layers * kv_replica_dim * kv_bpe,
        body_params=mm_active - head, head_params=head, shared_weight_bytes=shared * bpe,
        routed_weight_bytes=routed * bpe, weight_bytes_total=weight_bytes, experts=np.nan_to_num(experts),
        active_experts=np.nan_to_num(active), flops_s=peak * 1e12 * speed_devices,
        bytes_s=bandwidth * 1e9 * speed_devices, link_bytes_s=link, tp=np.where(split, 1.0, tp), replicas=replicas,
        memory_bytes_per_replica=memory * tp, valid=valid,
    )


def routed_share(tokens: np.ndarray, experts: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Expected share of a layer's routed experts that ``tokens`` tokens touch (uniform routing)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        share = 1.0 - np.power(1.0 - active / np.where(experts > 0, experts, 1.0), np.maximum(tokens, 1.0))
    return np.where((experts > 0) & (active > 0), share, 0.0)


@dataclass
class StepTerms:
    """The physical terms of one step per row, seconds at peak (see the module docstring)."""

    gemm_s: np.ndarray
    weight_s: np.ndarray
    attn_s: np.ndarray
    kv_s: np.ndarray
    comm_s: np.ndarray
    comm_calls: np.ndarray
    layers: np.ndarray
    decode_seqs: np.ndarray
    tokens: np.ndarray


def step_terms(f: StepFacts, prefill_tokens: np.ndarray, prefill_seqs: np.ndarray, prefill_ctx: np.ndarray,
               decode_seqs: np.ndarray, decode_ctx: np.ndarray) -> StepTerms:
    """The terms of a step that prefills ``prefill_tokens`` and decodes ``decode_seqs`` sequences.

    Args:
        f: the deployment's facts.
        prefill_tokens: prompt tokens run this step (all sequences together).
        prefill_seqs: sequences those tokens belong to (each samples a token at its chunk's end).
        prefill_ctx: mean context a prefill token attends to (prior context + half its chunk).
        decode_seqs: sequences decoding one token each.
        decode_ctx: mean cached tokens each decode reads.
    """
    P, D = np.maximum(prefill_tokens, 0.0), np.maximum(decode_seqs, 0.0)
    tokens = P + D
    gemm = (2.0 * f.body_params * tokens + 2.0 * f.head_params * (np.minimum(prefill_seqs, P) + D)) / f.flops_s
    touched = f.shared_weight_bytes + f.routed_weight_bytes * routed_share(tokens, f.experts, f.active_experts)
    weight = np.where(tokens > 0, touched / f.bytes_s, 0.0)
    attn = 4.0 * f.layers * f.q_dim * (P * prefill_ctx + D * decode_ctx) / f.flops_s
    kv = (D * decode_ctx + P) * f.kv_bytes_per_token / f.bytes_s
    ring = np.where(f.tp > 1, 2.0 * (f.tp - 1.0) / f.tp, 0.0)
    comm = 2.0 * f.layers * ring * tokens * f.hidden * ACTIVATION_BYTES / f.link_bytes_s
    calls = np.where((f.tp > 1) & (tokens > 0), 2.0 * f.layers, 0.0)
    return StepTerms(gemm_s=gemm, weight_s=weight, attn_s=attn, kv_s=kv, comm_s=comm, comm_calls=calls,
                     layers=f.layers, decode_seqs=D, tokens=tokens)


def smooth_max(a: np.ndarray, b: np.ndarray, power: float = SMOOTH_MAX_POWER) -> np.ndarray:
    """``(a^p + b^p)^(1/p)``: at least ``max(a, b)``, at most ``2^(1/p)`` times it."""
    top = np.maximum(np.maximum(a, b), 1e-30)
    ra, rb = a / top, b / top
    if power == 3.0:
        return top * np.cbrt(ra * ra * ra + rb * rb * rb)
    return top * np.power(np.power(ra, power) + np.power(rb, power), 1.0 / power)


@dataclass
class Efficiencies:
    """The learned quantities a step time divides by or adds (per row; see :func:`step_time`).

    ``gemm``, ``memory``, ``attention``, ``link`` are in (0, 1]; overheads are seconds, >= 0.
    """

    gemm: np.ndarray | float = 1.0
    memory: np.ndarray | float = 1.0
    kv_memory: np.ndarray | float = 1.0
    attention: np.ndarray | float = 1.0
    link: np.ndarray | float = 1.0
    step_overhead_s: np.ndarray | float = 0.0
    layer_overhead_s: np.ndarray | float = 0.0
    seq_overhead_s: np.ndarray | float = 0.0
    collective_latency_s: np.ndarray | float = ALLREDUCE_LATENCY_S


def step_time(t: StepTerms, e: Efficiencies) -> np.ndarray:
    """Seconds one step takes: the terms over their efficiencies plus the overheads."""
    linear = smooth_max(t.gemm_s / e.gemm, t.weight_s / e.memory)
    attention = smooth_max(t.attn_s / e.attention, t.kv_s / e.kv_memory)
    active = t.tokens > 0
    overhead = np.where(active, e.step_overhead_s + t.layers * e.layer_overhead_s + t.decode_seqs * e.seq_overhead_s, 0.0)
    return linear + attention + t.comm_s / e.link + t.comm_calls * e.collective_latency_s + overhead


def step_bound(t: StepTerms) -> np.ndarray:
    """The roofline bound of a step: all compute or all memory traffic at peak, whichever is longer."""
    return np.maximum(t.gemm_s + t.attn_s, t.weight_s + t.kv_s)


def explain_terms(t: StepTerms, e: Efficiencies) -> dict[str, Any]:
    """Seconds each term contributes to one step (for ``--explain``), first row of the arrays."""
    def first(x: Any) -> float:
        return float(np.ravel(x)[0])
    return {
        "gemm_at_peak_s": first(t.gemm_s), "weights_at_peak_s": first(t.weight_s),
        "attention_at_peak_s": first(t.attn_s), "kv_cache_at_peak_s": first(t.kv_s),
        "collectives_at_peak_s": first(t.comm_s), "collective_calls": first(t.comm_calls),
        "collective_latency_s": first(e.collective_latency_s),
        "gemm_efficiency": first(e.gemm), "memory_efficiency": first(e.memory),
        "kv_memory_efficiency": first(e.kv_memory),
        "attention_efficiency": first(e.attention), "link_efficiency": first(e.link),
        "step_overhead_s": first(e.step_overhead_s), "layer_overhead_s": first(e.layer_overhead_s),
        "per_sequence_overhead_s": first(e.seq_overhead_s),
    }
