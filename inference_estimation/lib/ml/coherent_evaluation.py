"""The coherent model's evaluation: every answer target, split and method, on the same folds.

The primitives are fitted per fold as they are served and every other target is derived from them
by the identities, so the out-of-fold answers never contradict each other; each target is scored
against its measured rows (:func:`measured_mask`, the one rule) next to a per-target model and the
calibrated physics baseline, plus the k-shot curve (a held-out device with k of its measurements in
training) and the largest identity residual. Its report is
:func:`inference_estimation.lib.ml.evaluation.coherent_markdown`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from inference_estimation import constants
from inference_estimation.lib.ml.holdout import SPLITS, error_metrics, kendall_tau_by_workload, split_folds
from inference_estimation.lib.physics.features import MODEL_FEATURES

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


