"""Honest evaluation of a target's predictor on four splits, against baselines of the same run.

Splits (pooled out-of-fold predictions; whole groups held out together):

* ``random`` -- rows shuffled into folds (what most papers report; optimistic);
* ``leave_one_hardware_out`` -- hardware never seen in training (the hard problem);
* ``leave_one_model_out`` -- models never seen in training;
* ``leave_one_source_out`` -- a whole measurement campaign held out (only sources with at least
  :data:`MIN_SOURCE_ROWS` rows are held out; small ones always stay in training).

Methods scored on the same folds:

* ``catboost`` -- the predictor as trained (log target offset by the physics baseline);
* ``catboost_no_physics`` -- CatBoost on the plain log target with the raw spec columns and
  without the physics features (what a plain tabular model would do);
* ``physics_calibrated`` -- the physics baseline (roofline time/throughput, load-scaled TDP,
  weights + KV cache) times the median measured/physics ratio of the training folds.

Metrics: MdAPE, MAPE, share within +-10%, 90% interval coverage (cross-conformal, catboost only)
and, for leave-one-hardware-out, Kendall tau of the hardware ranking per (model, workload).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from inference_estimation import constants
from inference_estimation.lib.features import FEATURE_COLUMNS, MODEL_FEATURES, PHYSICS_FEATURES
from inference_estimation.lib.modeling import (
    calibrated_baseline, cross_conformal_coverage, error_metrics, group_folds, out_of_fold, select_rows,
)

SPLITS = {
    "random": None,
    "leave_one_hardware_out": "hardware_key",
    "leave_one_model_out": "model_key",
    "leave_one_source_out": "source",
}
METHODS = ("catboost", "catboost_no_physics", "physics_calibrated")
MIN_SOURCE_ROWS = 200
#: Columns that identify "the same question asked of different hardware" for the ranking metric.
WORKLOAD_KEY = ["model_key", "source", "engine", "dtype", "mode", "batch_size", "input_tokens",
                "output_tokens", "concurrency", "device_count"]
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


def split_folds(rows: pd.DataFrame, split: str, n_folds: int, seed: int) -> list[np.ndarray] | str:
    """Test-index folds for a split, or the reason the split cannot be made."""
    column = SPLITS[split]
    if column is None:
        order = np.random.default_rng(seed).permutation(len(rows))
        return [np.sort(part) for part in np.array_split(order, min(n_folds, len(rows)))]
    groups = rows[column].astype(str)
    if split == "leave_one_source_out":
        counts = groups.value_counts()
        large = counts[counts >= MIN_SOURCE_ROWS].index
        if len(large) < 2:
            return f"needs 2+ sources with >= {MIN_SOURCE_ROWS} rows (has {len(large)})"
        return [np.flatnonzero((groups == s).to_numpy()) for s in large]
    if groups.nunique() < 2:
        return f"needs 2+ distinct {column} values (has {groups.nunique()})"
    return group_folds(groups, n_folds)


def kendall_tau_by_workload(rows: pd.DataFrame, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float | None, int]:
    """Mean Kendall tau of the hardware ranking over workloads measured on 3+ hardware."""
    frame = rows[WORKLOAD_KEY].astype(str).assign(_true=y_true, _pred=y_pred, _hw=rows["hardware_key"].to_numpy())
    taus = []
    for _, group in frame.groupby(WORKLOAD_KEY, sort=False, dropna=False):
        if group["_hw"].nunique() >= 3:
            tau = kendalltau(group["_true"], group["_pred"]).statistic
            if not np.isnan(tau):
                taus.append(float(tau))
    return (float(np.mean(taus)) if taus else None), len(taus)


def evaluate_target(frame: pd.DataFrame, target: str, n_folds: int = 5, seed: int = 0,
                    iterations: int = constants.EVALUATION_ITERATIONS) -> TargetEvaluation:
    """Scores the three methods on every split that the data allows."""
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
        predictions = {
            "catboost": np.exp(out_of_fold(rows, target, folds, seed, MODEL_FEATURES, iterations)),
            "catboost_no_physics": np.exp(out_of_fold(rows, target, folds, seed, NO_PHYSICS_FEATURES, iterations,
                                                      use_offset=False)),
            "physics_calibrated": calibrated_baseline(rows, target, folds),
        }
        scores: dict[str, dict[str, float]] = {}
        for method, pred in predictions.items():
            mask = np.zeros(len(rows), dtype=bool)
            mask[tested] = True
            mask &= ~np.isnan(pred)
            if not mask.any():
                continue
            metrics: dict[str, float] = {"rows": float(mask.sum()), **error_metrics(y_true[mask], pred[mask])}
            if method == "catboost":
                residual = np.abs(y_log - np.log(pred))
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
            for method in ("catboost", "catboost_no_physics"):
                scores[method]["mdape_pct_on_physics_rows"] = error_metrics(y_true[common],
                                                                            predictions[method][common])["mdape_pct"]
        result.splits[split] = scores
    return result


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


def markdown_table(evaluation: TargetEvaluation) -> str:
    """One row per (split, method): MdAPE, MAPE, within 10%, coverage, tau."""
    lines = [f"### {evaluation.target} ({evaluation.rows} rows)", "",
             "| split | method | rows | MdAPE % | MAPE % | within ±10% | 90% coverage | Kendall τ |",
             "|---|---|---|---|---|---|---|---|"]
    fmt = lambda v, p=1: "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{p}f}"  # noqa: E731
    for split, scores in evaluation.splits.items():
        for method, m in scores.items():
            lines.append(f"| {split} | {method} | {int(m['rows'])} | {fmt(m['mdape_pct'])} | {fmt(m['mape_pct'])} | "
                         f"{fmt(m['within_10pct_share'], 2)} | {fmt(m.get('interval_coverage_90'), 2)} | "
                         f"{fmt(m.get('kendall_tau'), 2)} |")
    for split, reason in evaluation.skipped.items():
        lines.append(f"| {split} | (skipped) | | | | | | {reason} |")
    return "\n".join(lines)


def plot_mdape(evaluation: TargetEvaluation, path: Path) -> Path:
    """Grouped bar chart of MdAPE per split and method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = list(evaluation.splits)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(METHODS)
    for i, method in enumerate(METHODS):
        values = [evaluation.splits[s].get(method, {}).get("mdape_pct", np.nan) for s in splits]
        ax.bar(np.arange(len(splits)) + i * width, values, width, label=method)
    ax.set_xticks(np.arange(len(splits)) + width * (len(METHODS) - 1) / 2)
    ax.set_xticklabels([s.replace("leave_one_", "LO-").replace("_out", "O") for s in splits])
    ax.set_ylabel("MdAPE (%)")
    ax.set_title(f"{evaluation.target}: held-out error by split")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
