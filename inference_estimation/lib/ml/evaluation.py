"""Honest evaluation of a target's predictor on four splits, against baselines of the same run.

Splits (pooled out-of-fold predictions; whole groups held out together):

* ``random`` -- rows shuffled into folds (what most papers report; optimistic);
* ``leave_one_hardware_out`` -- hardware never seen in training (the hard problem);
* ``leave_one_model_out`` -- models never seen in training;
* ``leave_one_source_out`` -- a whole measurement campaign held out (only large sources; see
  :mod:`inference_estimation.lib.ml.holdout`, which makes the folds).

Methods scored on the same folds:

* ``catboost`` -- the predictor as trained (log target offset by the physics baseline);
* ``hist_gbm``, ``ridge_physics`` -- other learners on the same offset, matrix and folds
  (:mod:`inference_estimation.lib.ml.learners`);
* ``ensemble`` -- the mean of CatBoost's and ``hist_gbm``'s log predictions;
* ``catboost_no_physics`` -- CatBoost on the plain log target with the raw spec columns and
  without the physics features (what a plain tabular model would do);
* ``physics_calibrated`` -- the physics baseline (roofline time/throughput, load-scaled TDP,
  weights + KV cache) times the median measured/physics ratio of the training folds.

Metrics: MdAPE, MAPE, share within +-10%, 90% interval coverage (cross-conformal, for the
learners) and, for leave-one-hardware-out, Kendall tau of the hardware ranking per (model,
workload). The promotion gate and ``predict`` use CatBoost: the comparison is reported (and
:func:`comparison_summary` says where the ensemble would win) but ``hist_gbm`` has no
pickle-free save format, so an ensemble with it is not served.

The coherent model (every target from the primitives and the identities) is evaluated by
:mod:`inference_estimation.lib.ml.coherent_evaluation`; both evaluations' tables and figures are
here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inference_estimation import constants
from inference_estimation.lib.ml.coherent_evaluation import (  # noqa: F401  (evaluate_coherent: for the training assets)
    CoherentEvaluation,
    evaluate_coherent,
)
from inference_estimation.lib.ml.holdout import (
    SPLITS,
    cross_conformal_coverage,
    error_metrics,
    kendall_tau_by_workload,
    split_folds,
)
from inference_estimation.lib.ml.learners import LEARNERS, ensemble_log
from inference_estimation.lib.ml.modeling import (
    calibrated_baseline,
    out_of_fold,
    out_of_fold_with,
    select_rows,
)
from inference_estimation.lib.physics.features import FEATURE_COLUMNS, MODEL_FEATURES, PHYSICS_FEATURES

METHODS = ("catboost", "hist_gbm", "ridge_physics", "ensemble", "catboost_no_physics", "physics_calibrated")
#: Methods that are learners on the physics offset (interval coverage is reported for these).
LEARNER_METHODS = ("catboost", "hist_gbm", "ridge_physics", "ensemble")
#: The ensemble's members (mean of their log predictions).
ENSEMBLE_MEMBERS = ("catboost", "hist_gbm")
NO_PHYSICS_FEATURES = [c for c in FEATURE_COLUMNS if c not in PHYSICS_FEATURES]


@dataclass
class TargetEvaluation:
    """Evaluation of one target: ``splits[split][method] -> metrics``, plus skipped splits."""

    target: str
    rows: int
    splits: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def headline_split(self) -> str | None:
        """The split that decides promotion: unseen hardware if possible, else unseen models."""
        for split in ("leave_one_hardware_out", "leave_one_model_out", "random"):
            if split in self.splits:
                return split
        return None


def evaluate_target(frame: pd.DataFrame, target: str, n_folds: int = 5, seed: int = 0,
                    iterations: int = constants.EVALUATION_ITERATIONS) -> TargetEvaluation:
    """Scores every method of :data:`METHODS` on every split that the data allows, on the same folds."""
    frame = frame.reset_index(drop=True).assign(_frame_row=np.arange(len(frame)))
    rows = select_rows(frame, target)
    result = TargetEvaluation(target=target, rows=len(rows))
    if len(rows) < 8:
        result.skipped = {s: f"only {len(rows)} usable rows" for s in SPLITS}
        return result
    y_true = rows[target].to_numpy(dtype=float)
    y_log = np.log(y_true)
    for split in SPLITS:
        folds = split_folds(rows, split, n_folds, seed)
        if isinstance(folds, str):
            result.skipped[split] = folds
            continue
        tested = np.concatenate(folds)
        fold_id = np.full(len(rows), -1)
        for k, idx in enumerate(folds):
            fold_id[idx] = k
        if target in constants.PRIMITIVES:
            # The served primitive: trained on every row that labels it (identities, split e2e).
            logs = {"catboost": _primitive_out_of_fold(frame, rows, target, split, folds, seed, iterations)}
        else:
            logs = {"catboost": out_of_fold(rows, target, folds, seed, MODEL_FEATURES, iterations)}
        for name, fit_predict in LEARNERS.items():
            logs[name] = out_of_fold_with(rows, target, folds, fit_predict, seed, MODEL_FEATURES)
        logs["ensemble"] = ensemble_log(*(logs[m] for m in ENSEMBLE_MEMBERS))
        predictions = {name: np.exp(log) for name, log in logs.items()}
        predictions["catboost_no_physics"] = np.exp(out_of_fold(rows, target, folds, seed, NO_PHYSICS_FEATURES,
                                                                iterations, use_offset=False))
        predictions["physics_calibrated"] = calibrated_baseline(rows, target, folds)
        scores: dict[str, dict[str, float]] = {}
        for method, pred in predictions.items():
            mask = np.zeros(len(rows), dtype=bool)
            mask[tested] = True
            mask &= ~np.isnan(pred)
            if not mask.any():
                continue
            metrics: dict[str, float] = {"rows": float(mask.sum()), **error_metrics(y_true[mask], pred[mask])}
            if method in LEARNER_METHODS:  # from the log prediction itself: exp then log of an underflow is log(0)
                residual = np.abs(y_log - logs[method])
                metrics["interval_coverage_90"] = cross_conformal_coverage(residual[mask], fold_id[mask],
                                                                           constants.PREDICTION_INTERVAL)
            if split == "leave_one_hardware_out":
                tau, n = kendall_tau_by_workload(rows[mask], y_true[mask], pred[mask])
                metrics["kendall_tau"] = tau if tau is not None else float("nan")
                metrics["tau_workloads"] = float(n)
            scores[method] = metrics
        # Everyone scored on the rows the physics baseline covers too (a like-for-like comparison).
        base = predictions["physics_calibrated"]
        common = ~np.isnan(base)
        common[np.setdiff1d(np.arange(len(rows)), tested)] = False
        if common.any():
            for method in scores.keys() - {"physics_calibrated"}:
                scores[method]["mdape_pct_on_physics_rows"] = error_metrics(y_true[common],
                                                                            predictions[method][common])["mdape_pct"]
        result.splits[split] = scores
    return result


def _primitive_out_of_fold(frame: pd.DataFrame, rows: pd.DataFrame, target: str, split: str,
                           folds: list[np.ndarray], seed: int, iterations: int) -> np.ndarray:
    """Out-of-fold log predictions for ``rows`` of a primitive fitted as it is served.

    Each fold trains on the whole frame minus the held-out groups (minus the held-out rows for
    the random split), so rows that inform the primitive only through an identity or a split e2e
    train it too; scoring stays on ``rows`` (measured values).
    """
    from inference_estimation.lib.ml.modeling import (
        DEFAULT_SPLIT,
        fit_phase_estimate,
        fit_primitive,
        predict_primitive_log,
    )

    column = SPLITS[split]
    out = np.full(len(rows), np.nan)
    for test_idx in folds:
        if column is None:
            held = np.isin(frame["_frame_row"].to_numpy(), rows["_frame_row"].to_numpy()[test_idx])
        else:
            held = frame[column].astype(str).isin(set(rows[column].astype(str).iloc[test_idx])).to_numpy()
        train = frame[~held]
        fitted = fit_primitive(train, target, seed, iterations, fit_phase_estimate(train, DEFAULT_SPLIT, seed))
        if fitted is not None:
            out[test_idx] = predict_primitive_log(fitted, rows.iloc[test_idx])
    return out


def promotion_decision(evaluation: TargetEvaluation) -> tuple[bool, str, dict[str, Any]]:
    """Whether the candidate beats its baselines on the headline split, with the reason.

    The candidate must have a lower MdAPE than the calibrated physics baseline (on the rows the
    baseline covers) and than CatBoost without physics (on all rows).
    """
    split = evaluation.headline_split()
    if split is None:
        return False, "no split could be evaluated: " + "; ".join(f"{k}: {v}" for k, v in evaluation.skipped.items()), {}
    scores = evaluation.splits[split]
    cand = scores["catboost"]
    observed: dict[str, Any] = {"split": split, "catboost_mdape_pct": cand["mdape_pct"]}
    reasons = []
    if "catboost_no_physics" in scores:
        observed["no_physics_mdape_pct"] = scores["catboost_no_physics"]["mdape_pct"]
        if cand["mdape_pct"] >= scores["catboost_no_physics"]["mdape_pct"]:
            reasons.append("not better than CatBoost without physics")
    if "physics_calibrated" in scores and "mdape_pct_on_physics_rows" in cand:
        observed["catboost_mdape_pct_on_physics_rows"] = cand["mdape_pct_on_physics_rows"]
        observed["physics_mdape_pct"] = scores["physics_calibrated"]["mdape_pct"]
        if cand["mdape_pct_on_physics_rows"] >= scores["physics_calibrated"]["mdape_pct"]:
            reasons.append("not better than the calibrated physics baseline")
    passed = not reasons
    return passed, (f"beats its baselines on {split}" if passed else "; ".join(reasons) + f" on {split}"), observed


#: The metric columns of every evaluation table (:func:`_metric_cells` fills them).
METRIC_HEADER = "rows | MdAPE % | MAPE % | within ±10% | 90% coverage | Kendall τ"


def _fmt(value: float | None, places: int = 1) -> str:
    """A number for a table cell ("" for none or NaN)."""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{places}f}"


#: Above this a MAPE is a few rows' doing (a measurement near zero, a runaway prediction), not the
#: typical error: the table says so instead of printing a number like 6.4e27.
MAPE_DISPLAY_CAP_PCT = 1000.0


def _mape_cell(m: dict[str, float]) -> str:
    mape = m.get("mape_pct")
    if mape is not None and not np.isnan(mape) and mape > MAPE_DISPLAY_CAP_PCT:
        return f">{MAPE_DISPLAY_CAP_PCT:.0f} (a few rows; typical: MdAPE)"
    return _fmt(mape)


def _metric_cells(m: dict[str, float]) -> str:
    """The :data:`METRIC_HEADER` cells of one scored method."""
    return (f"{int(m['rows'])} | {_fmt(m['mdape_pct'])} | {_mape_cell(m)} | {_fmt(m['within_10pct_share'], 2)} | "
            f"{_fmt(m.get('interval_coverage_90'), 2)} | {_fmt(m.get('kendall_tau'), 2)}")


def markdown_table(evaluation: TargetEvaluation) -> str:
    """One row per (split, method): MdAPE, MAPE, within 10%, coverage, tau."""
    lines = [f"### {evaluation.target} ({evaluation.rows} rows)", "",
             f"| split | method | {METRIC_HEADER} |", "|---|---|---|---|---|---|---|---|"]
    for split, scores in evaluation.splits.items():
        for method, m in scores.items():
            lines.append(f"| {split} | {method} | {_metric_cells(m)} |")
    for split, reason in evaluation.skipped.items():
        lines.append(f"| {split} | (skipped) | | | | | | {reason} |")
    return "\n".join(lines)


def _short(split: str) -> str:
    return split.replace("leave_one_", "LO-").replace("_out", "O")


def comparison_summary(evaluation: TargetEvaluation) -> dict[str, dict[str, Any]]:
    """Per split: every method's MdAPE, the best learner, and whether the ensemble beats CatBoost.

    Returns:
        ``{split: {"mdape_pct": {method: value}, "best_learner": name,
        "ensemble_beats_catboost": bool}}``.
    """
    out: dict[str, dict[str, Any]] = {}
    for split, scores in evaluation.splits.items():
        learners = {m: scores[m]["mdape_pct"] for m in LEARNER_METHODS if m in scores}
        if "catboost" not in learners:
            continue
        out[split] = {"mdape_pct": {m: scores[m]["mdape_pct"] for m in METHODS if m in scores},
                      "best_learner": min(learners, key=learners.__getitem__),
                      "ensemble_beats_catboost": learners.get("ensemble", np.inf) < learners["catboost"]}
    return out


def comparison_table(evaluations: list[TargetEvaluation], split: str | None = None) -> str:
    """A markdown table of MdAPE %: one row per (target, split), one column per method.

    The best learner of each row is in bold; the last column says whether the ensemble beats
    CatBoost there. ``split`` restricts the rows to one split (e.g. leave-one-hardware-out).
    """
    lines = ["| target | split | " + " | ".join(METHODS) + " | ensemble beats CatBoost |",
             "|---|---|" + "---|" * (len(METHODS) + 1)]
    for evaluation in evaluations:
        for name, row in comparison_summary(evaluation).items():
            if split is not None and name != split:
                continue
            cells = []
            for method in METHODS:
                value = row["mdape_pct"].get(method)
                text = "" if value is None else f"{value:.1f}"
                cells.append(f"**{text}**" if method == row["best_learner"] else text)
            verdict = "yes" if row["ensemble_beats_catboost"] else "no"
            lines.append(f"| {evaluation.target} | {_short(name)} | " + " | ".join(cells) + f" | {verdict} |")
    return "\n".join(lines)


def comparison_verdict(evaluation: TargetEvaluation) -> str:
    """One sentence on the leave-one-hardware-out comparison (else the headline split)."""
    split = evaluation.headline_split()
    row = comparison_summary(evaluation).get(split or "")
    if row is None:
        return f"{evaluation.target}: no learner comparison (no split could be evaluated)."
    mdape = row["mdape_pct"]
    head = (f"{evaluation.target} on {split}: best learner {row['best_learner']} "
            f"({mdape[row['best_learner']]:.1f}% MdAPE); ")
    if "ensemble" not in mdape:
        return head + "no ensemble scored."
    relation = "beats" if row["ensemble_beats_catboost"] else "does not beat"
    return (head + f"the ensemble (mean log of {' + '.join(ENSEMBLE_MEMBERS)}, {mdape['ensemble']:.1f}%) "
            f"{relation} CatBoost ({mdape['catboost']:.1f}%). CatBoost stays the served predictor.")


def _save_figure(fig, ax, path: Path) -> Path:
    """Adds the legend, saves the figure as a PNG at ``path`` and frees it."""
    import matplotlib.pyplot as plt

    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_holdout(oof: pd.DataFrame, target: str, path: Path) -> Path:
    """Log-log scatter of held-out predictions against measurements (grouped by model), with the
    y = x line and the +-10% band: what the predictor page shows at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    ax.scatter(oof["y_true"], oof["y_pred"], s=6, alpha=0.5)
    low = float(min(oof["y_true"].min(), oof["y_pred"].min()))
    high = float(max(oof["y_true"].max(), oof["y_pred"].max()))
    line = np.array([low, high])
    ax.plot(line, line, color="black", lw=1)
    ax.fill_between(line, line * 0.9, line * 1.1, color="grey", alpha=0.2, label="±10%")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"measured {target}")
    ax.set_ylabel(f"predicted {target} (held out, grouped by model)")
    return _save_figure(fig, ax, path)


def plot_mdape(evaluation: TargetEvaluation, path: Path) -> Path:
    """Grouped bar chart of MdAPE per split and method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = list(evaluation.splits)
    fig, ax = plt.subplots(figsize=(9, 3.5))
    width = 0.8 / len(METHODS)
    for i, method in enumerate(METHODS):
        values = [evaluation.splits[s].get(method, {}).get("mdape_pct", np.nan) for s in splits]
        ax.bar(np.arange(len(splits)) + i * width, values, width, label=method)
    ax.set_xticks(np.arange(len(splits)) + width * (len(METHODS) - 1) / 2)
    ax.set_xticklabels([_short(s) for s in splits])
    ax.set_ylabel("MdAPE (%)")
    ax.set_title(f"{evaluation.target}: held-out error by split")
    return _save_figure(fig, ax, path)


def coherent_markdown(evaluation: CoherentEvaluation) -> str:
    """Tables: MdAPE/coverage/τ per split × target × method, the k-shot curve, identity residuals."""
    fmt = _fmt
    lines = [f"### Coherent model: primitives + identities ({evaluation.rows} rows)", "",
             f"| split | target | method | {METRIC_HEADER} |", "|---|---|---|---|---|---|---|---|---|"]
    for split, targets in evaluation.splits.items():
        for target, methods in targets.items():
            for method, m in methods.items():
                lines.append(f"| {_short(split)} | {target} | {method} | {_metric_cells(m)} |")
    for split, reason in evaluation.skipped.items():
        lines.append(f"| {_short(split)} | (skipped) | | | | | | | {reason} |")
    if evaluation.k_shot:
        targets = list(next(iter(evaluation.splits.values())).keys()) if evaluation.splits else []
        lines += ["", "#### k-shot: leave one hardware out, then k of its measurements in training (MdAPE %)", "",
                  "| target | k=0 | " + " | ".join(f"k={k}" for k in evaluation.k_shot) + " |",
                  "|---|---|" + "---|" * len(evaluation.k_shot)]
        loho = evaluation.splits.get("leave_one_hardware_out", {})
        for target in targets:
            zero = loho.get(target, {}).get("coherent", {}).get("mdape_pct")
            cells = [fmt(evaluation.k_shot[k].get(target, {}).get("mdape_pct")) for k in evaluation.k_shot]
            lines.append(f"| {target} | {fmt(zero)} | " + " | ".join(cells) + " |")
    if evaluation.identities:
        lines += ["", "#### Consistency: largest relative identity residual over all out-of-fold answers", "",
                  "| identity | max relative residual |", "|---|---|"]
        lines += [f"| {name} | {value:.1e} |" for name, value in evaluation.identities.items()]
    if evaluation.labels:
        lines += ["", "#### Rows that label each primitive", "", "| primitive | measured | identity | total |",
                  "|---|---|---|---|"]
        lines += [f"| {p} | {c['measured']} | {c['identity']} | {c['total']} |" for p, c in evaluation.labels.items()]
    return "\n".join(lines)
