"""One coherent performance model: four primitives, and every published figure derived from them.

Physics separates a generation into a few quantities; we learn those and derive the rest, so the
answers can never contradict each other:

* ``ttft_s`` -- time to the first token: the prefill of the batch offline; one prompt's prefill
  plus the prefill queue when serving (:mod:`inference_estimation.lib.physics.features`);
* ``tpot_s`` -- one decode step at the batch (or concurrency) in flight and the mean context;
* ``avg_power_w`` -- average power over the run (all devices used);
* ``peak_memory_gb`` -- weights + KV cache + activations + engine reservations.

The published targets follow by identities (:func:`derive_targets`), intervals included (the
bounds are propagated through the same monotone formulas, never re-estimated):

* ``e2e_latency_s = ttft_s + (output_tokens - 1) * tpot_s``
* ``output_throughput_tok_s = effective_batch * output_tokens / e2e_latency_s`` (the batch
  offline, the concurrency in flight when serving; ``effective_batch / tpot_s`` for decode-only
  rows without a prompt)
* ``energy_per_output_token_j = avg_power_w * e2e_latency_s / (effective_batch * output_tokens)``
  ``= avg_power_w / output_throughput_tok_s``.

**Every row trains what it measures** (:func:`primitive_labels`). A row that reports only some
figures still labels the primitives through the same identities read backwards:

* ``tpot`` from throughput on decode-only rows (``effective_batch / throughput``, exact);
* ``ttft`` from e2e and a measured TPOT (``e2e - (out - 1) tpot``), and ``tpot`` from e2e and a
  measured TTFT (exact);
* rows with only e2e (or an offline throughput, ``e2e = batch * out / throughput``) are *split*
  into a prefill and a decode label in the proportion that a first-stage estimate gives
  (``split="model"``: CatBoost fitted on the directly measured rows; ``split="physics"``: the
  roofline times scaled by their median measured efficiency). The two labels add up to the
  measured e2e exactly. ``benchmarks/accuracy.py --label-ablation`` measures measured-only
  against both splits;
* ``avg_power_w`` from energy per token and throughput (``energy/token * throughput``, exact).

Labels derived this way carry their kind (``measured``, ``identity``, ``split``) so that scoring
only ever uses measured values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from inference_estimation.constants import PRIMITIVES
from inference_estimation.lib.physics import usability

#: The published figures that follow from the primitives by identities.
DERIVED_TARGETS = ("e2e_latency_s", "output_throughput_tok_s", "energy_per_output_token_j")
#: Every figure an answer gives, primitives (:data:`constants.PRIMITIVES`, the learned ones) first.
ANSWER_TARGETS = PRIMITIVES + DERIVED_TARGETS
TIME_PRIMITIVES = ("ttft_s", "tpot_s")
#: Which primitives each derived target is made of (how it is explained).
DERIVED_FROM = {
    "e2e_latency_s": ("ttft_s", "tpot_s"),
    "output_throughput_tok_s": ("ttft_s", "tpot_s"),
    "energy_per_output_token_j": ("avg_power_w", "ttft_s", "tpot_s"),
}
#: Power and energy train only on measured power, never on estimates.
MEASURED_POWER_SOURCES = usability.MEASURED_POWER_SOURCES
POWER_TARGETS = usability.POWER_TARGETS
LABEL_KINDS = ("measured", "identity", "split")

#: ``estimate(rows) -> (ttft_s, tpot_s)``: a first-stage estimate used to split an e2e into phases.
PhaseEstimate = Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray]]


def _num(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _positive(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype="float64")
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def usable_rows(frame: pd.DataFrame, target: str | None = None) -> np.ndarray:
    """Rows whose figures may label ``target`` (any target when None): the one rule,
    :func:`inference_estimation.lib.physics.usability.unused_reasons`.

    Physically possible (not faster than the roofline), and a plain deployment: disaggregated
    prefill/decode pools, speculative decoding (a TPOT per *accepted* token, several per step) and
    multi-node runs measure other quantities than the primitives model, so they are kept in the
    warehouse and the reports but label nothing (``plain_deployment`` false). With a target: also
    measured power for power targets and the workload lengths the target needs.
    """
    return usability.usable_mask(frame, target)


def observed_e2e(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The e2e latency a row states, directly or through its throughput (``batch * out / throughput``).

    Returns:
        (e2e seconds or NaN, True where it came from the throughput). Decode-only rows (no prompt
        length) have no e2e.
    """
    e2e = _positive(_num(frame, "e2e_latency_s"))
    n_in, n_out, batch = _num(frame, "input_tokens"), _num(frame, "output_tokens"), _num(frame, "effective_batch")
    with np.errstate(divide="ignore", invalid="ignore"):
        from_throughput = _positive(batch * n_out / _num(frame, "output_throughput_tok_s"))
    from_throughput = np.where(np.isnan(n_in) | (n_in <= 0), np.nan, from_throughput)
    use = np.isnan(e2e) & ~np.isnan(from_throughput)
    return np.where(use, from_throughput, e2e), use


def physics_phase_estimate(train: pd.DataFrame) -> PhaseEstimate:
    """Roofline TTFT and TPOT scaled by their median measured efficiency on ``train``."""
    scales = {}
    for target in TIME_PRIMITIVES:
        ratio = np.log(_positive(_num(train, target)) / _positive(_num(train, f"roofline_{target}")))
        ratio = ratio[np.isfinite(ratio) & usable_rows(train)]
        scales[target] = float(np.exp(np.median(ratio))) if len(ratio) else 1.0

    def estimate(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return (_num(rows, "roofline_ttft_s") * scales["ttft_s"], _num(rows, "roofline_tpot_s") * scales["tpot_s"])
    return estimate


def primitive_labels(frame: pd.DataFrame, primitive: str,
                     phase_estimate: PhaseEstimate | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Labels for one primitive from every row that informs it (see the module docstring).

    Args:
        frame: training_features rows.
        primitive: one of :data:`PRIMITIVES`.
        phase_estimate: first-stage TTFT/TPOT estimate for splitting e2e-only rows; None leaves
            such rows out (measured and identity labels only).

    Returns:
        (label or NaN per row, label kind per row: ``measured``/``identity``/``split``/"").
    """
    n = len(frame)
    ok = usable_rows(frame, primitive)
    kind = np.full(n, "", dtype=object)
    measured = _positive(_num(frame, primitive))
    label = np.where(ok, measured, np.nan)
    kind[~np.isnan(label)] = "measured"
    if primitive not in (*TIME_PRIMITIVES, "avg_power_w"):  # no identity labels it: measured rows only
        return label, kind
    if primitive == "avg_power_w":
        throughput = _positive(_num(frame, "output_throughput_tok_s"))
        e2e, _ = observed_e2e(frame)
        with np.errstate(divide="ignore", invalid="ignore"):
            batch_tokens = _num(frame, "effective_batch") * _num(frame, "output_tokens")
            throughput = np.where(np.isnan(throughput), _positive(batch_tokens / e2e), throughput)
            derived = _positive(_num(frame, "energy_per_output_token_j") * throughput)
        fill = ok & np.isnan(label) & ~np.isnan(derived)
        label[fill], kind[fill] = derived[fill], "identity"
        return label, kind

    n_in, n_out, batch = _num(frame, "input_tokens"), _num(frame, "output_tokens"), _num(frame, "effective_batch")
    ttft, tpot = _positive(_num(frame, "ttft_s")), _positive(_num(frame, "tpot_s"))
    e2e, _ = observed_e2e(frame)
    with np.errstate(divide="ignore", invalid="ignore"):
        if primitive == "tpot_s":
            decode_only = np.isnan(n_in) | (n_in <= 0)
            derived = np.where(decode_only, _positive(batch / _num(frame, "output_throughput_tok_s")),
                               _positive((e2e - ttft) / (n_out - 1.0)))
        else:
            derived = np.where(n_out == 1, e2e, _positive(e2e - (n_out - 1.0) * tpot))
    fill = ok & np.isnan(label) & ~np.isnan(derived)
    label[fill], kind[fill] = derived[fill], "identity"
    if phase_estimate is None:
        return label, kind
    need = ok & np.isnan(label) & ~np.isnan(e2e) & np.isnan(ttft) & np.isnan(tpot) & (n_out > 1)
    if need.any():
        p_hat, d_hat = phase_estimate(frame.loc[need])
        total = p_hat + (n_out[need] - 1.0) * d_hat
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = e2e[need] / total
        part = _positive((p_hat if primitive == "ttft_s" else d_hat) * scale)
        idx = np.flatnonzero(need)
        good = ~np.isnan(part)
        label[idx[good]], kind[idx[good]] = part[good], "split"
    return label, kind


@dataclass
class PrimitiveBounds:
    """Point prediction and 90% bounds of the primitives for feature rows (arrays, NaN = none)."""

    value: dict[str, np.ndarray]
    lower: dict[str, np.ndarray]
    upper: dict[str, np.ndarray]


def derive_targets(features: pd.DataFrame, primitives: PrimitiveBounds) -> pd.DataFrame:
    """Every answer target (with ``_lower_90``/``_upper_90``) from the primitives by identities.

    Bounds are propagated through the same formulas: e2e from both phases' lower (upper) bounds,
    throughput from the e2e's upper (lower) bound, energy from power's and e2e's bounds, so the
    identities hold for the point values and for each bound exactly.
    """
    n_out = _num(features, "output_tokens")
    batch = _num(features, "effective_batch")
    decode_only = np.isnan(_num(features, "input_tokens"))
    out: dict[str, np.ndarray] = {}
    nan = np.full(len(features), np.nan)
    for which, source in (("", primitives.value), ("_lower_90", primitives.lower), ("_upper_90", primitives.upper)):
        for name in PRIMITIVES:
            out[f"{name}{which}"] = np.asarray(source.get(name, nan), dtype="float64").copy()
        # no prompt, no first token: a decode-only question has no TTFT (and so no e2e)
        out[f"ttft_s{which}"][decode_only] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        for which, other in (("", ""), ("_lower_90", "_upper_90"), ("_upper_90", "_lower_90")):
            ttft, tpot = out[f"ttft_s{which}"], out[f"tpot_s{which}"]
            e2e = ttft + (n_out - 1.0) * tpot
            out[f"e2e_latency_s{which}"] = e2e
            # throughput is decreasing in time: its lower bound uses the upper time bounds
            t_ttft, t_tpot = out[f"ttft_s{other}"], out[f"tpot_s{other}"]
            e2e_other = t_ttft + (n_out - 1.0) * t_tpot
            out[f"output_throughput_tok_s{which}"] = np.where(decode_only, batch / t_tpot, batch * n_out / e2e_other)
        for which in ("", "_lower_90", "_upper_90"):
            e2e = out[f"e2e_latency_s{which}"]
            power = out[f"avg_power_w{which}"]
            per_token = np.where(decode_only, power * out[f"tpot_s{which}"] / batch, power * e2e / (batch * n_out))
            out[f"energy_per_output_token_j{which}"] = per_token
    columns = {}
    for name in ANSWER_TARGETS:
        for which in ("", "_lower_90", "_upper_90"):
            columns[f"{name}{which}"] = out[f"{name}{which}"]
    return pd.DataFrame(columns, index=features.index)


def identity_residuals(features: pd.DataFrame, answers: pd.DataFrame) -> dict[str, float]:
    """Largest relative violation of each identity over the rows (0 when the answers are coherent).

    Checked for the point values and both 90% bounds.
    """
    n_out, batch = _num(features, "output_tokens"), _num(features, "effective_batch")
    decode_only = np.isnan(_num(features, "input_tokens"))
    worst: dict[str, float] = {}

    def record(name: str, lhs: np.ndarray, rhs: np.ndarray) -> None:
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(lhs - rhs) / np.abs(rhs)
        rel = rel[np.isfinite(rel)]
        worst[name] = max(worst.get(name, 0.0), float(rel.max()) if len(rel) else 0.0)

    for which, other in (("", ""), ("_lower_90", "_upper_90"), ("_upper_90", "_lower_90")):
        a = {c: answers[f"{c}{which}"].to_numpy(dtype=float) for c in ANSWER_TARGETS}
        b = {c: answers[f"{c}{other}"].to_numpy(dtype=float) for c in ANSWER_TARGETS}
        record("e2e = ttft + (out - 1) * tpot", a["e2e_latency_s"], a["ttft_s"] + (n_out - 1) * a["tpot_s"])
        thr = np.where(decode_only, batch / b["tpot_s"], batch * n_out / b["e2e_latency_s"])
        record("throughput = batch * out / e2e", a["output_throughput_tok_s"], thr)
        energy = np.where(decode_only, a["avg_power_w"] * a["tpot_s"] / batch,
                          a["avg_power_w"] * a["e2e_latency_s"] / (batch * n_out))
        record("energy/token = power * e2e / (batch * out)", a["energy_per_output_token_j"], energy)
    return worst


def label_counts(frame: pd.DataFrame, phase_estimate: PhaseEstimate | None) -> dict[str, dict[str, int]]:
    """Rows that label each primitive, by kind, and the rows a one-regressor-per-target model had."""
    counts: dict[str, dict[str, int]] = {}
    for primitive in PRIMITIVES:
        _, kind = primitive_labels(frame, primitive, phase_estimate)
        counts[primitive] = {k: int((kind == k).sum()) for k in LABEL_KINDS}
        counts[primitive]["total"] = int((kind != "").sum())
    return counts


def summarize_kinds(kind: np.ndarray) -> dict[str, Any]:
    """Counts of label kinds (for cards and metadata)."""
    return {k: int((kind == k).sum()) for k in LABEL_KINDS}
