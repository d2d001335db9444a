"""Honest evaluation of a target's predictor on four splits, against baselines of the same run.

Splits (pooled out-of-fold predictions; whole groups held out together):

* ``random`` -- rows shuffled into folds (what most papers report; optimistic);
* ``leave_one_hardware_out`` -- hardware never seen in training (the hard problem);
* ``leave_one_model_out`` -- models never seen in training;
* ``leave_one_source_out`` -- a whole measurement campaign held out (only sources with at least
  :data:`MIN_SOURCE_ROWS` rows are held out; small ones always stay in training).

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
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from inference_estimation import constants
from inference_estimation.lib.ml.learners import LEARNERS, ensemble_log
from inference_estimation.lib.ml.modeling import (
    calibrated_baseline,
    cross_conformal_coverage,
    error_metrics,
    group_folds,
    out_of_fold,
    out_of_fold_with,
    select_rows,
)
from inference_estimation.lib.physics.features import FEATURE_COLUMNS, MODEL_FEATURES, PHYSICS_FEATURES

SPLITS = {
    "random": None,
    "leave_one_hardware_out": "hardware_key",
    "leave_one_model_out": "model_key",
    "leave_one_source_out": "source",
}
METHODS = ("catboost", "hist_gbm", "ridge_physics", "ensemble", "catboost_no_physics", "physics_calibrated")
#: Methods that are learners on the physics offset (interval coverage is reported for these).
LEARNER_METHODS = ("catboost", "hist_gbm", "ridge_physics", "ensemble")
#: The ensemble's members (mean of their log predictions).
ENSEMBLE_MEMBERS = ("catboost", "hist_gbm")
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


# ------------------------------------------------------------------ the coherent model, all targets
#: k measurements of a held-out device added to training for the k-shot curve.
K_SHOTS = (1, 3, 10)


@dataclass
class CoherentEvaluation:
    """Scores of the coherent model on every answer target, split and method, plus the k-shot curve.

    ``splits[split][target][method] -> metrics``; ``k_shot[k][target] -> metrics`` (leave one
    hardware out, then k of its measurements in training); ``identities`` the largest relative
    identity residual over every out-of-fold answer (0 = coherent); ``labels`` the rows that
    label each primitive by kind.
    """

    rows: int
    splits: dict[str, dict[str, dict[str, dict[str, float]]]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    k_shot: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)
    identities: dict[str, float] = field(default_factory=dict)
    labels: dict[str, dict[str, int]] = field(default_factory=dict)


def measured_mask(frame: pd.DataFrame, target: str) -> np.ndarray:
    """Rows on which ``target`` was measured and that count for it (the one rule,
    :func:`inference_estimation.lib.physics.usability.counts_for`)."""
    from inference_estimation.lib.physics.usability import counts_for

    if target not in frame:
        return np.zeros(len(frame), dtype=bool)
    return counts_for(frame, target)


def _coherent_fold(frame: pd.DataFrame, train_idx: np.ndarray, test_idx: np.ndarray, seed: int, iterations: int,
                   split: str) -> dict[str, np.ndarray]:
    """Log predictions of every primitive for the test rows, from a fit on the training rows."""
    from inference_estimation.lib.ml.modeling import fit_phase_estimate, fit_primitive, predict_primitive_log
    from inference_estimation.lib.ml.performance_model import PRIMITIVES

    train = frame.iloc[train_idx]
    phase = fit_phase_estimate(train, split, seed)
    out = {}
    for primitive in PRIMITIVES:
        fitted = fit_primitive(train, primitive, seed, iterations, phase)
        out[primitive] = (predict_primitive_log(fitted, frame.iloc[test_idx]) if fitted is not None
                          else np.full(len(test_idx), np.nan))
    return out


def coherent_out_of_fold(frame: pd.DataFrame, folds: list[np.ndarray], seed: int, iterations: int, split: str,
                         extra_train: dict[int, np.ndarray] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Out-of-fold answers (all targets, 90% bounds) of the coherent model, and each row's fold.

    Primitive bounds are cross-conformal: fold k's log half-width is the 90th percentile of the
    other folds' absolute log residuals on measured (and exact-identity) labels. Derived targets
    take their bounds from the primitives' through the identities.

    Args:
        frame: training_features rows.
        folds: test-row indices per fold.
        seed: CatBoost seed.
        iterations: CatBoost rounds per fit.
        split: how e2e-only rows are split into phase labels (``physics``, ``model`` or ``none``).
        extra_train: fold -> test rows moved into that fold's training (k-shot calibration).
    """
    from inference_estimation.lib.ml.modeling import scored_labels
    from inference_estimation.lib.ml.performance_model import PRIMITIVES, PrimitiveBounds, derive_targets

    n = len(frame)
    logs = {p: np.full(n, np.nan) for p in PRIMITIVES}
    fold_id = np.full(n, -1)
    for k, test_idx in enumerate(folds):
        extra = (extra_train or {}).get(k, np.array([], dtype=int))
        train_idx = np.union1d(np.setdiff1d(np.arange(n), test_idx), extra)
        predict_idx = np.setdiff1d(test_idx, extra)
        fold_id[predict_idx] = k
        for primitive, values in _coherent_fold(frame, train_idx, predict_idx, seed, iterations, split).items():
            logs[primitive][predict_idx] = values
    value, lower, upper = {}, {}, {}
    for primitive in PRIMITIVES:
        y, _ = scored_labels(frame, primitive)
        residual = np.abs(_log_measured(y) - logs[primitive])
        half = np.full(n, np.nan)
        for k in range(len(folds)):
            others = (fold_id != k) & (fold_id >= 0) & np.isfinite(residual)
            pool = residual[others] if others.any() else residual[np.isfinite(residual)]
            if len(pool):
                half[fold_id == k] = float(np.quantile(pool, constants.PREDICTION_INTERVAL))
        value[primitive] = np.exp(logs[primitive])
        lower[primitive] = np.exp(logs[primitive] - half)
        upper[primitive] = np.exp(logs[primitive] + half)
    answers = derive_targets(frame, PrimitiveBounds(value, lower, upper))
    return answers, fold_id


def _per_target_out_of_fold(frame: pd.DataFrame, target: str, folds: list[np.ndarray], seed: int,
                            iterations: int) -> np.ndarray:
    """One regressor per target (the previous design): CatBoost on the target's measured rows only."""
    mask = measured_mask(frame, target)
    out = np.full(len(frame), np.nan)
    y_log = _log_measured(pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float))
    fit_predict = None
    from inference_estimation.lib.ml.modeling import (
        _fallback_log,
        catboost_fit_predict,
        log_offset,
        model_matrix,
    )

    fit_predict = catboost_fit_predict(iterations)
    for test_idx in folds:
        train_idx = np.setdiff1d(np.flatnonzero(mask), test_idx)
        test = test_idx[mask[test_idx]]
        if len(train_idx) < 8 or not len(test):
            continue
        fallback = _fallback_log(frame.iloc[train_idx], target, y_log[train_idx])
        offset, known = log_offset(frame, target, fallback)
        X = model_matrix(frame, known, MODEL_FEATURES)
        out[test] = np.exp(fit_predict(X.iloc[train_idx], y_log[train_idx] - offset[train_idx], X.iloc[test], seed)
                           + offset[test])
    return out


def _physics_out_of_fold(frame: pd.DataFrame, target: str, folds: list[np.ndarray]) -> np.ndarray:
    """The calibrated roofline (or load-scaled TDP) per target, scale fitted on the training folds."""
    from inference_estimation.lib.ml.modeling import physics_baseline

    mask = measured_mask(frame, target)
    base = physics_baseline(frame, target)
    y_log = _log_measured(pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float))
    out = np.full(len(frame), np.nan)
    for test_idx in folds:
        train = np.setdiff1d(np.flatnonzero(mask & ~np.isnan(base)), test_idx)
        if len(train):
            out[test_idx] = base[test_idx] * float(np.exp(np.median(y_log[train] - np.log(base[train]))))
    return out


def _log_measured(values: np.ndarray) -> np.ndarray:
    """The log of measured values, NaN where a value is not positive (a zero time or energy is no
    measurement; its log would be -inf and warn "divide by zero encountered in log")."""
    return np.log(np.where(np.asarray(values, dtype=float) > 0, values, np.nan))


def _score(frame: pd.DataFrame, target: str, pred: np.ndarray, mask: np.ndarray, split: str,
           lower: np.ndarray | None = None, upper: np.ndarray | None = None) -> dict[str, float] | None:
    y = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float)
    # only rows with a positive measurement have a percentage error (a zero made MAPE infinite)
    mask = mask & np.isfinite(pred) & (pred > 0) & np.isfinite(y) & (y > 0)
    if not mask.any():
        return None
    metrics: dict[str, float] = {"rows": float(mask.sum()), **error_metrics(y[mask], pred[mask])}
    if lower is not None and upper is not None:
        inside = (y[mask] >= lower[mask] * (1 - 1e-12)) & (y[mask] <= upper[mask] * (1 + 1e-12))
        metrics["interval_coverage_90"] = float(np.mean(inside))
    if split == "leave_one_hardware_out":
        tau, count = kendall_tau_by_workload(frame[mask], y[mask], pred[mask])
        metrics["kendall_tau"] = tau if tau is not None else float("nan")
        metrics["tau_workloads"] = float(count)
    return metrics


def k_shot_rows(frame: pd.DataFrame, test_idx: np.ndarray, k: int, seed: int) -> np.ndarray:
    """K measured rows of each held-out device in ``test_idx`` (seeded; nested: the 3 include the 1)."""
    from inference_estimation.constants import TARGETS

    any_measured = np.zeros(len(frame), dtype=bool)
    for target in TARGETS:
        any_measured |= measured_mask(frame, target)
    chosen = []
    hardware = frame["hardware_key"].astype(str).to_numpy()
    for hw in np.unique(hardware[test_idx]):
        idx = test_idx[(hardware[test_idx] == hw) & any_measured[test_idx]]
        order = np.random.default_rng([seed, zlib.crc32(hw.encode())]).permutation(idx)  # stable across runs
        chosen.append(order[:k])
    return np.concatenate(chosen) if chosen else np.array([], dtype=int)


def evaluate_coherent(frame: pd.DataFrame, n_folds: int = 5, seed: int = 0,
                      iterations: int = constants.EVALUATION_ITERATIONS, split_method: str = "physics",
                      k_shots: tuple[int, ...] = K_SHOTS, per_target: bool = True,
                      splits: tuple[str, ...] = tuple(SPLITS)) -> CoherentEvaluation:
    """Scores the coherent model (primitives + identities) on every answer target and split.

    Methods on the same folds: ``coherent`` (what ``predict`` serves), ``per_target`` (one
    CatBoost regressor per target on its measured rows only -- the previous design) and
    ``physics_calibrated``. Scoring uses measured values only.
    """
    from inference_estimation.constants import TARGETS
    from inference_estimation.lib.ml.performance_model import identity_residuals, label_counts

    frame = frame.reset_index(drop=True)
    any_measured = np.zeros(len(frame), dtype=bool)
    for target in TARGETS:
        any_measured |= measured_mask(frame, target)
    frame = frame[any_measured].reset_index(drop=True)
    result = CoherentEvaluation(rows=len(frame), labels=label_counts(frame, None))
    for split in splits:
        folds = split_folds(frame, split, n_folds, seed)
        if isinstance(folds, str):
            result.skipped[split] = folds
            continue
        answers, fold_id = coherent_out_of_fold(frame, folds, seed, iterations, split_method)
        tested = fold_id >= 0
        if split == "leave_one_hardware_out" or not result.identities:
            for name, value in identity_residuals(frame, answers[tested]).items():
                result.identities[name] = max(result.identities.get(name, 0.0), value)
        scores: dict[str, dict[str, dict[str, float]]] = {}
        for target in TARGETS:
            mask = measured_mask(frame, target) & tested
            per = {"coherent": _score(frame, target, answers[target].to_numpy(), mask, split,
                                      answers[f"{target}_lower_90"].to_numpy(),
                                      answers[f"{target}_upper_90"].to_numpy())}
            if per_target:
                per["per_target"] = _score(frame, target, _per_target_out_of_fold(frame, target, folds, seed, iterations),
                                           mask, split)
            per["physics_calibrated"] = _score(frame, target, _physics_out_of_fold(frame, target, folds), mask, split)
            scores[target] = {m: v for m, v in per.items() if v is not None}
        result.splits[split] = scores
        if split == "leave_one_hardware_out":
            for k in k_shots:
                extra = {i: k_shot_rows(frame, test_idx, k, seed) for i, test_idx in enumerate(folds)}
                answers_k, fold_k = coherent_out_of_fold(frame, folds, seed, iterations, split_method, extra)
                result.k_shot[k] = {}
                for target in TARGETS:
                    mask = measured_mask(frame, target) & (fold_k >= 0)
                    score = _score(frame, target, answers_k[target].to_numpy(), mask, "k_shot",
                                   answers_k[f"{target}_lower_90"].to_numpy(), answers_k[f"{target}_upper_90"].to_numpy())
                    if score is not None:
                        result.k_shot[k][target] = score
    return result


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
