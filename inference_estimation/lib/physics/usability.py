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

The time figures (TTFT, TPOT, median ITL, e2e, throughput) train the step-time model, whose label
rule is :func:`step_labels` (below, beside the rule above, which it extends): which ONE figure of a
row trains it and why the row's other figures do not (:func:`step_label_reasons`). Power, energy
and memory train the CatBoost predictors under :func:`unused_reasons` alone.

Pure pandas/numpy; no Dagster, no warehouse.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from inference_estimation.constants import CATALOG_GB_IN_GB
from inference_estimation.targets import REGISTRY

#: Power sources that are measurements (never ``estimate`` or ``none``).
MEASURED_POWER_SOURCES = frozenset({"nvml-energy", "nvml-power", "amdsmi", "rapl", "wall"})
#: Targets whose value is a power measurement (or derived from one).
POWER_TARGETS = tuple(n for n, t in REGISTRY.items() if t.power_basis)
#: The targets the usage report covers (every answer target, published figures and primitives).
REPORT_TARGETS = tuple(REGISTRY)
#: The measured figures that train the step-time model (:func:`step_labels`); the others train CatBoost.
STEP_FIGURES = ("ttft_s", "tpot_s", "itl_p50_s", "e2e_latency_s", "output_throughput_tok_s")
#: target -> the workload lengths it needs (declared in the registry): ``input`` (prompt tokens, 0
#: allowed) and/or ``output``. TTFT is a prefill of the prompt; TPOT a decode step (its context may
#: be unknown, but not how many tokens were generated); e2e and memory need both. A throughput
#: without a prompt length is read as decode-only (``tpot = batch / throughput``, the performance
#: model's convention), so it needs the output length only; power needs neither.
WORKLOAD_NEEDS: dict[str, tuple[str, ...]] = {
    n: t.workload_needs for n, t in REGISTRY.items() if t.workload_needs is not None}

R_NOT_PLAIN = "not plain deployment"
R_ROOFLINE = "faster than roofline"
R_POWER_ESTIMATE = "power is an estimate"
R_POWER_UNMEASURED = "power not measured by a sensor"
R_NO_INPUT = "no input length"
R_NO_OUTPUT = "no output length"
R_WEIGHTS = "weights exceed the devices' memory"
R_NO_LOAD = "serving without a concurrency or request rate"
R_NO_PROMPT = "serving or saturation without a prompt length"
R_MEAN_TPOT = "the row's TPOT trains it"
R_REPEATS = "repeats the row's TTFT and TPOT"
R_PINNED = "a latency of the row trains it"
R_OPEN_LOOP = "open-loop throughput (set by the request rate)"
#: Every reason, in the order they are checked.
REASONS = (R_NOT_PLAIN, R_ROOFLINE, R_POWER_ESTIMATE, R_POWER_UNMEASURED, R_NO_INPUT, R_NO_OUTPUT, R_WEIGHTS,
           R_NO_LOAD, R_NO_PROMPT, R_MEAN_TPOT, R_REPEATS, R_PINNED, R_OPEN_LOOP)


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




def _text(frame: pd.DataFrame, col: str, missing: str) -> np.ndarray:
    if col not in frame:
        return np.full(len(frame), missing, dtype=object)
    return frame[col].astype(object).where(frame[col].notna(), missing).astype(str).to_numpy(dtype=object)


def weights_exceed_memory(frame: pd.DataFrame) -> np.ndarray:
    """True where the weights cannot fit the stated devices' memory (unknown memory: False).

    Such a row ran with offloading or on other devices than it states: its time measures
    something the step physics does not model.
    """
    weights = _num(frame, "weights_gb")
    count = _num(frame, "device_count")
    memory = _num(frame, "memory_gb") * CATALOG_GB_IN_GB * np.where(np.isfinite(count), count, 1.0)
    with np.errstate(invalid="ignore"):
        return weights > memory


def step_usable(frame: pd.DataFrame) -> np.ndarray:
    """Rows the step model may train on: :func:`usable_mask` and weights that fit the devices."""
    return usable_mask(frame) & ~weights_exceed_memory(frame)


def step_labels(frame: pd.DataFrame, usable: np.ndarray) -> dict[str, np.ndarray]:
    """Which measured figure of each row trains the step model: THE label rule for time figures.

    * TTFT whenever measured (with an input length);
    * TPOT as the mean time per output token (serving and saturation: only with the prompt length,
      which sets the prefill work interleaved with the decodes); a TPOT the source states as a
      median (``latency_statistic = p50``) is the median ITL instead, and ``itl_p50_s`` is used
      where TPOT is absent;
    * e2e only where TTFT or TPOT is missing (else it repeats them);
    * output throughput only where no latency pins the row, and never for an open-loop row (at a
      request rate below capacity the throughput is the rate times the output, whatever the
      hardware). Serving and saturation throughput also need the prompt length.

    Args:
        frame: ``marts.training_features``-shaped rows.
        usable: rows that may train at all (:func:`step_usable`, or a caller's narrower mask).

    Returns:
        ``{"ttft_s", "tpot_s", "itl_p50_s", "e2e_latency_s", "output_throughput_tok_s"} -> mask``;
        the ``itl_p50_s`` label's value is the median TPOT where the source states one, else
        ``itl_p50_s``.
    """
    pos = lambda col: has_value(frame, col)  # noqa: E731
    has_in = np.nan_to_num(_num(frame, "input_tokens")) > 0
    in_known = np.isfinite(_num(frame, "input_tokens"))
    serving = _text(frame, "mode", "offline") == "serving"
    loaded = ~serving | np.isfinite(_num(frame, "concurrency")) | np.isfinite(_num(frame, "request_rate_rps"))
    ok = np.asarray(usable, dtype=bool) & loaded
    median = _text(frame, "latency_statistic", "") == "p50"
    needs_prompt = serving | (~serving & ~np.isfinite(_num(frame, "batch_size")))
    ttft = ok & pos("ttft_s") & has_in
    tpot = ok & pos("tpot_s") & ~median & (in_known | ~needs_prompt)
    itl = ok & ((pos("tpot_s") & median) | (~pos("tpot_s") & pos("itl_p50_s")))
    e2e = ok & pos("e2e_latency_s") & has_in & ~(ttft & (tpot | itl))
    open_loop = serving & ~np.isfinite(_num(frame, "concurrency"))
    thr = ok & pos("output_throughput_tok_s") & ~(ttft | tpot | itl | e2e) & ~open_loop \
        & (in_known | ~needs_prompt)
    return {"ttft_s": ttft, "tpot_s": tpot, "e2e_latency_s": e2e, "output_throughput_tok_s": thr, "itl_p50_s": itl}


def step_label_reasons(frame: pd.DataFrame, figure: str) -> np.ndarray:
    """Why each row's measured ``figure`` does not train the step model ("" where it does).

    Checked in order: :func:`unused_reasons` (deployment, roofline), weights that cannot fit,
    serving without a load, then what :func:`step_labels` decides for this figure. Every row with
    a measured ``figure`` gets either "" or a reason of :data:`REASONS`.

    Raises:
        ValueError: naming ``figure`` when it is not one of :data:`STEP_FIGURES`.
    """
    if figure not in STEP_FIGURES:
        raise ValueError(f"figure {figure!r} is not one of {', '.join(STEP_FIGURES)}")
    reason = unused_reasons(frame)

    def mark(bad: np.ndarray, text: str) -> None:
        reason[(reason == "") & bad] = text

    mark(weights_exceed_memory(frame), R_WEIGHTS)
    serving = _text(frame, "mode", "offline") == "serving"
    mark(serving & ~np.isfinite(_num(frame, "concurrency")) & ~np.isfinite(_num(frame, "request_rate_rps")),
         R_NO_LOAD)
    labels = step_labels(frame, reason == "")
    median = _text(frame, "latency_statistic", "") == "p50"
    trains = {"ttft_s": labels["ttft_s"], "tpot_s": labels["tpot_s"] | (labels["itl_p50_s"] & median),
              "itl_p50_s": labels["itl_p50_s"] & ~has_value(frame, "tpot_s"),
              "e2e_latency_s": labels["e2e_latency_s"], "output_throughput_tok_s": labels["output_throughput_tok_s"]}
    left = has_value(frame, figure) & ~trains[figure] & (reason == "")
    in_known = np.isfinite(_num(frame, "input_tokens"))
    has_in = np.nan_to_num(_num(frame, "input_tokens")) > 0
    no_prompt = (serving | ~np.isfinite(_num(frame, "batch_size"))) & ~in_known
    if figure == "itl_p50_s":  # the row's TPOT (a mean, or a median read as the median ITL) trains it
        mark(left & (labels["tpot_s"] | (labels["itl_p50_s"] & has_value(frame, "tpot_s"))), R_MEAN_TPOT)
    if figure == "ttft_s":
        mark(left & ~has_in, R_NO_INPUT)
    if figure == "e2e_latency_s":
        mark(left & ~in_known, R_NO_PROMPT)
        mark(left, R_REPEATS)  # its TTFT and TPOT train (or, from an empty prompt, its decode)
    if figure == "output_throughput_tok_s":
        mark(left & serving & ~np.isfinite(_num(frame, "concurrency")), R_OPEN_LOOP)
        mark(left & (labels["ttft_s"] | labels["tpot_s"] | labels["itl_p50_s"] | labels["e2e_latency_s"]), R_PINNED)
    mark(left & no_prompt, R_NO_PROMPT)
    return reason
