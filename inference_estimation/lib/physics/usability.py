"""Which measured rows may train a target, and why the others may not: the one rule.

One function decides whether a ``marts.training_features`` row may train a target
(:func:`unused_reasons`; "" = it counts). Training (``lib.ml.performance_model.usable_rows``), the
row selection of evaluation and the promotion gate (``lib.ml.modeling.select_rows``) and the usage
report (``lib.data.row_usage.usage_report``) all call it, so a row that does not train is always
counted under a reason, and the gate never scores rows the predictor never trained on. It lives
beside the physics because both the data layer and the model layer read it.

The reasons, checked in this order (the first that applies is the row's reason):

* ``not plain deployment`` -- disaggregated prefill/decode pools, speculative decoding (a TPOT per
  accepted token) or several nodes (``plain_deployment`` false): other quantities than the
  primitives model; kept in the warehouse and the reports, never trained on.
* ``faster than roofline`` -- a measured figure beats the physical bound (``roofline_violation``).
* ``power is an estimate`` / ``power not measured by a sensor`` -- power and energy train only on
  measured power (:data:`MEASURED_POWER_SOURCES`).
* ``no input length`` / ``no output length`` -- the workload the target depends on is unknown
  (:data:`WORKLOAD_NEEDS`). An input length of 0 is known: a decode from an empty prompt.

Pure pandas/numpy; no Dagster, no warehouse.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Power sources that are measurements (never ``estimate`` or ``none``).
MEASURED_POWER_SOURCES = frozenset({"nvml-energy", "nvml-power", "amdsmi", "rapl", "wall"})
#: Targets whose value is a power measurement (or derived from one).
POWER_TARGETS = ("avg_power_w", "energy_per_output_token_j")
#: The targets the usage report covers (published figures and primitives).
REPORT_TARGETS = ("ttft_s", "tpot_s", "e2e_latency_s", "output_throughput_tok_s", "avg_power_w",
                  "energy_per_output_token_j", "peak_memory_gb")
#: target -> the workload lengths it needs: ``input`` (prompt tokens, 0 allowed) and/or ``output``.
#: TTFT is a prefill of the prompt; TPOT a decode step (its context may be unknown, but not how
#: many tokens were generated); e2e and memory need both. A throughput without a prompt length is
#: read as decode-only (``tpot = batch / throughput``, the performance model's convention), so it
#: needs the output length only; power needs neither.
WORKLOAD_NEEDS: dict[str, tuple[str, ...]] = {
    "ttft_s": ("input",),
    "tpot_s": ("output",),
    "e2e_latency_s": ("input", "output"),
    "output_throughput_tok_s": ("output",),
    "avg_power_w": (),
    "energy_per_output_token_j": ("output",),
    "peak_memory_gb": ("input", "output"),
}

R_NOT_PLAIN = "not plain deployment"
R_ROOFLINE = "faster than roofline"
R_POWER_ESTIMATE = "power is an estimate"
R_POWER_UNMEASURED = "power not measured by a sensor"
R_NO_INPUT = "no input length"
R_NO_OUTPUT = "no output length"
#: Every reason, in the order they are checked.
REASONS = (R_NOT_PLAIN, R_ROOFLINE, R_POWER_ESTIMATE, R_POWER_UNMEASURED, R_NO_INPUT, R_NO_OUTPUT)


def _num(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def has_value(frame: pd.DataFrame, target: str) -> np.ndarray:
    """True where the row carries a measured value of ``target`` (positive and finite)."""
    value = _num(frame, target)
    return np.isfinite(value) & (value > 0)


def unused_reasons(frame: pd.DataFrame, target: str | None = None) -> np.ndarray:
    """Why each row may not train ``target`` ("" where it may): THE rule (see the module docstring).

    The value itself is not checked (a row without one may still label ``target`` through an
    identity); :func:`counts_for` adds that.

    Args:
        frame: ``marts.training_features`` rows (missing columns are treated as unknown/null).
        target: a column of :data:`WORKLOAD_NEEDS`; None applies only the target-independent part
            (plain deployment, not faster than the roofline).

    Returns:
        One reason string per row (object array), "" where the row counts.

    Raises:
        ValueError: naming the target when it is not one of :data:`WORKLOAD_NEEDS`.
    """
    if target is not None and target not in WORKLOAD_NEEDS:
        raise ValueError(f"target {target!r} is not one of {', '.join(WORKLOAD_NEEDS)}")
    n = len(frame)
    reason = np.full(n, "", dtype=object)

    def mark(bad: np.ndarray, text: str) -> None:
        reason[(reason == "") & bad] = text

    if "plain_deployment" in frame:
        mark(~frame["plain_deployment"].astype("boolean").fillna(True).to_numpy(dtype=bool), R_NOT_PLAIN)
    if "roofline_violation" in frame:
        mark((frame["roofline_violation"].fillna("").astype(str) != "").to_numpy(), R_ROOFLINE)
    if target is None:
        return reason
    if target in POWER_TARGETS:
        source = frame["power_source"].astype("string").fillna("none").to_numpy() if "power_source" in frame \
            else np.full(n, "none", dtype=object)
        mark(source == "estimate", R_POWER_ESTIMATE)
        mark(~np.isin(source, list(MEASURED_POWER_SOURCES)), R_POWER_UNMEASURED)
    needs = WORKLOAD_NEEDS[target]
    if "input" in needs:
        n_in = _num(frame, "input_tokens")
        mark(~(np.isfinite(n_in) & (n_in >= 0)), R_NO_INPUT)
    if "output" in needs:
        n_out = _num(frame, "output_tokens")
        mark(~(np.isfinite(n_out) & (n_out >= 1)), R_NO_OUTPUT)
    return reason


def usable_mask(frame: pd.DataFrame, target: str | None = None) -> np.ndarray:
    """True where :func:`unused_reasons` gives no reason (the value itself is not checked)."""
    return unused_reasons(frame, target) == ""


def counts_for(frame: pd.DataFrame, target: str) -> np.ndarray:
    """True where the row has a measured ``target`` and may train it (what select_rows keeps)."""
    return has_value(frame, target) & usable_mask(frame, target)


