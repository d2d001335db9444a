"""CatBoost predictors that learn the correction to physics.

One CatBoost regressor per target, trained on ``log(target)`` with a per-row *offset*: the log
of a physical baseline -- the roofline time or throughput for time targets, total TDP for power,
weights + KV cache for memory (:data:`TARGET_OFFSETS`). The trees therefore learn an efficiency
(measured / physics) as a function of engine, vendor, dtype, batch, ... which transfers to
hardware known only from its spec sheet, instead of memorising spec columns as hardware IDs.
Rows whose physics is unknown (a missing spec or workload fact) get a constant offset learned at
training time and an indicator feature.

Scoring here is grouped by model (out of fold); ``lib.ml.evaluation`` adds the random,
leave-one-hardware-out and leave-one-source-out splits and the baselines. The 90% interval is
split-conformal in log space: its half-width is the 90th percentile of grouped out-of-fold
absolute log residuals, and its coverage is measured out of fold as well (each fold's half-width
comes from the other folds only).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from catboost import CatBoostRegressor, Pool

from inference_estimation import constants
from inference_estimation.lib.ml.hardware_correction import (
    HARDWARE_CORRECTION_PRIOR_ROWS,
    MIN_DEVICE_ROWS_FOR_TREES,
    correction_for,
    hardware_corrections,
)
from inference_estimation.lib.ml.holdout import cross_conformal_coverage, error_metrics, group_folds
from inference_estimation.lib.ml.performance_model import (
    PRIMITIVES,
    TIME_PRIMITIVES,
    PhaseEstimate,
    physics_phase_estimate,
    primitive_labels,
    summarize_kinds,
)
from inference_estimation.lib.physics import usability
from inference_estimation.lib.physics.features import CATEGORICAL_FEATURES, FEATURE_COLUMNS, MODEL_FEATURES
from inference_estimation.targets import REGISTRY

#: How e2e-only rows are split into prefill and decode labels (see lib.ml.performance_model). On the
#: public data, leave-one-hardware-out MdAPE (ttft/tpot/e2e): physics 25.5/15.9/16.8, a CatBoost
#: first stage 27.4/16.0/17.5, no split (e2e-only rows unused) 24.6/14.7/43.2.
DEFAULT_SPLIT = "physics"
#: target -> (numerator features, denominator features): the physical baseline is
#: prod(numerators) / prod(denominators) (sums inside a tuple entry); declared in the registry.
TARGET_OFFSETS: dict[str, tuple[tuple[str | tuple[str, ...], ...], tuple[str, ...]]] = {
    n: t.physics_offset for n, t in REGISTRY.items() if t.physics_offset is not None}
OFFSET_INDICATOR = "physics_known"
CARD_VERSION = "3.0"


class TrainingDataError(ValueError):
    """The training frame cannot support a grouped evaluation (too few rows or groups)."""


@dataclass
class TrainedPredictor:
    """A fitted predictor with its card (features, offset, data version, metrics)."""

    target: str
    model: CatBoostRegressor
    card: dict[str, Any]
    oof: pd.DataFrame = field(repr=False)


def select_rows(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """Rows that count for a target: a positive finite value that the one rule training applies
    (:func:`inference_estimation.lib.physics.usability.counts_for`: plain deployment, not faster than
    the roofline bound, measured power for power targets, the workload the target needs) admits."""
    return frame[usability.counts_for(frame, target)].reset_index(drop=True)


def physics_baseline(frame: pd.DataFrame, target: str) -> np.ndarray:
    """The physical baseline of each row for ``target`` (NaN where a needed feature is unknown)."""
    numerators, denominators = TARGET_OFFSETS[target]
    value = np.ones(len(frame))
    for term in numerators:
        cols = term if isinstance(term, tuple) else (term,)
        value = value * frame[list(cols)].astype(float).sum(axis=1, min_count=len(cols)).to_numpy()
    for col in denominators:
        value = value / frame[col].astype(float).to_numpy()
    value[~(value > 0)] = np.nan
    return value


def log_offset(frame: pd.DataFrame, target: str, fallback_log: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log offset and a 0/1 'physics known' indicator (fallback where the baseline is NaN)."""
    base = physics_baseline(frame, target)
    known = ~np.isnan(base)
    offset = np.where(known, np.log(np.where(known, base, 1.0)), fallback_log)
    return offset, known.astype(float)


def model_matrix(frame: pd.DataFrame, known: np.ndarray, features: list[str]) -> pd.DataFrame:
    """The matrix CatBoost sees: the feature columns plus the physics indicator."""
    X = frame[features].copy()
    X[OFFSET_INDICATOR] = known
    return X


def data_version(frame: pd.DataFrame) -> str:
    """A short content hash of the training rows (so a card says which data made it)."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).values.tobytes()).hexdigest()
    return digest[:16]


def fit_catboost(X: pd.DataFrame, y_log: np.ndarray, offset: np.ndarray, seed: int,
                 iterations: int = constants.CATBOOST_ITERATIONS) -> CatBoostRegressor:
    """Fits log(target) - offset (CatBoost's ``baseline``), categoricals native."""
    cats = [c for c in CATEGORICAL_FEATURES if c in X.columns]
    model = CatBoostRegressor(
        iterations=iterations, depth=constants.CATBOOST_DEPTH, learning_rate=constants.CATBOOST_LEARNING_RATE,
        one_hot_max_size=constants.CATBOOST_ONE_HOT_MAX_SIZE, loss_function="RMSE", random_seed=seed, verbose=False,
        allow_writing_files=False, thread_count=-1,
    )
    model.fit(Pool(X, y_log - offset, cat_features=cats))
    return model


def predict_log(model: CatBoostRegressor, X: pd.DataFrame, offset: np.ndarray) -> np.ndarray:
    """log(prediction) = model output + offset."""
    cats = [c for c in CATEGORICAL_FEATURES if c in X.columns]
    return model.predict(Pool(X, cat_features=cats)) + offset


#: ``fit_predict(X_train, residual_train, X_test, seed) -> residual_test``: one learner's fit on the
#: log-target residual over the physics offset, and its prediction for held-out rows.
FitPredict = Callable[[pd.DataFrame, np.ndarray, pd.DataFrame, int], np.ndarray]


def out_of_fold_with(rows: pd.DataFrame, target: str, folds: list[np.ndarray], fit_predict: FitPredict, seed: int,
                     features: list[str], use_offset: bool = True) -> np.ndarray:
    """Out-of-fold log predictions of any learner, on the offset and matrix CatBoost gets.

    Each fold's offset fallback comes from its training rows only, so every learner scored on the
    same folds sees exactly the same inputs and the comparison is like for like.
    """
    y_log = np.log(rows[target].to_numpy(dtype=float))
    oof = np.full(len(rows), np.nan)
    for test_idx in folds:
        train_idx = np.setdiff1d(np.arange(len(rows)), test_idx)
        if use_offset:
            fallback = _fallback_log(rows.iloc[train_idx], target, y_log[train_idx])
            offset, known = log_offset(rows, target, fallback)
        else:
            offset, known = np.zeros(len(rows)), np.zeros(len(rows))
        X = model_matrix(rows, known, features)
        oof[test_idx] = fit_predict(X.iloc[train_idx], y_log[train_idx] - offset[train_idx], X.iloc[test_idx],
                                    seed) + offset[test_idx]
    return oof


def catboost_fit_predict(iterations: int) -> FitPredict:
    """CatBoost as a :data:`FitPredict` (fitting the residual is what ``baseline`` does for RMSE)."""
    def fit_predict(X_train: pd.DataFrame, residual: np.ndarray, X_test: pd.DataFrame, seed: int) -> np.ndarray:
        model = fit_catboost(X_train, residual, np.zeros(len(X_train)), seed, iterations)
        return predict_log(model, X_test, np.zeros(len(X_test)))
    return fit_predict


def out_of_fold(rows: pd.DataFrame, target: str, folds: list[np.ndarray], seed: int, features: list[str],
                iterations: int, use_offset: bool = True) -> np.ndarray:
    """Out-of-fold CatBoost log predictions; each fold's offset fallback comes from its training rows."""
    return out_of_fold_with(rows, target, folds, catboost_fit_predict(iterations), seed, features, use_offset)


def _fallback_log(rows: pd.DataFrame, target: str, y_log: np.ndarray) -> float:
    """Offset for rows without physics: the median log target of such training rows (else all)."""
    unknown = np.isnan(physics_baseline(rows, target))
    pool = y_log[unknown] if unknown.any() else y_log
    return float(np.median(pool))


#: Boosting rounds of the first-stage phase models that split e2e-only rows (labels only).
PHASE_ESTIMATE_ITERATIONS = 200
#: Label kinds scored out of fold: measured figures and exact identities of measured figures
#: (never the split labels, which depend on a model).
SCORED_KINDS = ("measured", "identity")


@dataclass
class FittedPrimitive:
    """One primitive's CatBoost fit on every row that labels it."""

    target: str
    model: CatBoostRegressor
    fallback_log: float
    label_kinds: dict[str, int]
    n_rows: int
    rows_index: pd.Index = field(repr=False, default=None)
    #: hardware key -> additive log correction (see :func:`hardware_corrections`).
    hardware_correction: dict[str, float] = field(default_factory=dict)


def fit_phase_estimate(train: pd.DataFrame, split: str, seed: int) -> PhaseEstimate | None:
    """The first-stage TTFT/TPOT estimate that splits e2e-only rows (``split``: model|physics|none).

    ``model``: CatBoost on the rows that measure each phase (or give it by an exact identity),
    offset by its roofline; falls back to ``physics`` when either phase has fewer than 8 such rows.
    """
    if split == "none":
        return None
    if split == "physics":
        return physics_phase_estimate(train)
    fits = {}
    for target in TIME_PRIMITIVES:
        label, _ = primitive_labels(train, target, None)
        keep = ~np.isnan(label)
        if keep.sum() < 8:
            return physics_phase_estimate(train)
        rows, y_log = train[keep], np.log(label[keep])
        fallback = _fallback_log(rows, target, y_log)
        offset, known = log_offset(rows, target, fallback)
        fits[target] = (fit_catboost(model_matrix(rows, known, MODEL_FEATURES), y_log, offset, seed,
                                     PHASE_ESTIMATE_ITERATIONS), fallback)

    def estimate(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        out = []
        for target in TIME_PRIMITIVES:
            model, fallback = fits[target]
            offset, known = log_offset(rows, target, fallback)
            out.append(np.exp(predict_log(model, model_matrix(rows, known, MODEL_FEATURES), offset)))
        return out[0], out[1]
    return estimate


def fit_primitive(train: pd.DataFrame, target: str, seed: int, iterations: int,
                  phase_estimate: PhaseEstimate | None, features: list[str] | None = None) -> FittedPrimitive | None:
    """Fits one primitive on every row of ``train`` that labels it (None when fewer than 2 rows)."""
    label, kind = primitive_labels(train, target, phase_estimate)
    keep = ~np.isnan(label)
    if keep.sum() < 2:
        return None
    rows, y_log = train[keep], np.log(label[keep])
    fallback = _fallback_log(rows, target, y_log)
    offset, known = log_offset(rows, target, fallback)
    X = model_matrix(rows, known, features or MODEL_FEATURES)
    # Devices with only a few rows calibrate a per-device correction instead of entering the trees:
    # trees would memorise their few points (in-sample residual ~0) without generalising to the
    # device's other configurations, and the correction would learn nothing.
    per_device = rows["hardware_key"].astype(str).map(rows["hardware_key"].astype(str).value_counts())
    in_trees = (per_device >= MIN_DEVICE_ROWS_FOR_TREES).to_numpy().copy()
    if in_trees.sum() < 8:
        in_trees[:] = True
    model = fit_catboost(X[in_trees], y_log[in_trees], offset[in_trees], seed, iterations)
    correction = hardware_corrections(rows["hardware_key"], y_log - predict_log(model, X, offset), rows["source"])
    return FittedPrimitive(target=target, model=model, fallback_log=fallback, label_kinds=summarize_kinds(kind[keep]),
                           n_rows=int(keep.sum()), rows_index=rows.index, hardware_correction=correction)


def predict_primitive_log(fitted: FittedPrimitive, rows: pd.DataFrame, features: list[str] | None = None) -> np.ndarray:
    """log(prediction) of a fitted primitive for feature rows (with their ``hardware_key``, if any)."""
    offset, known = log_offset(rows, fitted.target, fitted.fallback_log)
    hardware = rows["hardware_key"] if "hardware_key" in rows else None
    source = rows["source"] if "source" in rows else None
    return (predict_log(fitted.model, model_matrix(rows, known, features or MODEL_FEATURES), offset)
            + correction_for(fitted.hardware_correction, hardware, len(rows), source))


def scored_labels(frame: pd.DataFrame, target: str) -> tuple[np.ndarray, np.ndarray]:
    """The values a primitive is scored on: measured figures and exact identities (NaN elsewhere)."""
    label, kind = primitive_labels(frame, target, None)
    return np.where(np.isin(kind, SCORED_KINDS), label, np.nan), kind


def train_predictor(frame: pd.DataFrame, target: str, n_folds: int = 4, seed: int = 0,
                    split: str = DEFAULT_SPLIT) -> TrainedPredictor:
    """Trains one primitive's predictor on every row that informs it and scores it out of fold.

    Labels come from :func:`lib.ml.performance_model.primitive_labels` (measured, exact identities,
    and e2e-only rows split by a first-stage estimate); the held-out score, grouped by model, uses
    measured and identity labels only, each fold's phase estimate fitted on its training rows.

    Args:
        frame: the training_features mart (identity, targets and FEATURE_COLUMNS).
        target: a primitive of :data:`PRIMITIVES` (derived targets follow from them).
        n_folds: grouped folds (capped at the number of models).
        seed: CatBoost seed.
        split: how e2e-only rows are split into phase labels (``model``, ``physics`` or ``none``).

    Raises:
        ValueError: for a target that is not a primitive.
        TrainingDataError: when fewer than 8 rows of 2 models score the target.
    """
    if target not in PRIMITIVES:
        raise ValueError(f"{target!r} is not a primitive ({', '.join(PRIMITIVES)}); it is derived from them")
    frame = frame.reset_index(drop=True)
    held = _grouped_holdout(frame, target, n_folds, seed, split)
    final = fit_primitive(frame, target, seed, constants.CATBOOST_ITERATIONS, fit_phase_estimate(frame, split, seed))
    card = _card(frame, target, seed, split, final, held)
    oof = pd.DataFrame({"model_key": held.groups.to_numpy(), "hardware_key": held.rows["hardware_key"],
                        "y_true": held.y_true, "y_pred": np.exp(held.oof_log), "fold": held.fold_id})
    return TrainedPredictor(target=target, model=final.model, card=card, oof=oof)


@dataclass
class _Holdout:
    """A primitive's grouped out-of-fold predictions on its scored rows (see :func:`_grouped_holdout`)."""

    rows: pd.DataFrame  # the scored rows, the target column holding the scored label
    groups: pd.Series  # each scored row's model
    y_true: np.ndarray
    oof_log: np.ndarray
    fold_id: np.ndarray
    folds: list[np.ndarray]

    @property
    def done(self) -> np.ndarray:
        """Rows some fold predicted."""
        return ~np.isnan(self.oof_log)


def _grouped_holdout(frame: pd.DataFrame, target: str, n_folds: int, seed: int, split: str) -> _Holdout:
    """Fits the primitive with each model's rows held out (as it is served) and predicts them.

    Raises:
        TrainingDataError: when fewer than 8 rows of 2 models score the target, or no fold trains.
    """
    y_scored, _ = scored_labels(frame, target)
    scored = np.flatnonzero(~np.isnan(y_scored))
    groups_all = frame["model_key"].astype(str)
    groups = groups_all.iloc[scored]
    if len(scored) < 8 or groups.nunique() < 2:
        raise TrainingDataError(
            f"target {target!r}: {len(scored)} usable rows over {groups.nunique()} model(s); a grouped "
            "held-out evaluation needs at least 8 rows and 2 models"
        )
    y_true = y_scored[scored]
    folds = group_folds(groups.reset_index(drop=True), n_folds)
    fold_id = np.full(len(scored), -1)
    oof_log = np.full(len(scored), np.nan)
    for k, idx in enumerate(folds):
        fold_id[idx] = k
        train = frame[~groups_all.isin(set(groups.iloc[idx])).to_numpy()]
        fitted = fit_primitive(train, target, seed, constants.CATBOOST_ITERATIONS,
                               fit_phase_estimate(train, split, seed))
        if fitted is not None:
            oof_log[idx] = predict_primitive_log(fitted, frame.iloc[scored[idx]])
    if np.isnan(oof_log).all():
        raise TrainingDataError(f"target {target!r}: no fold left enough rows to train on")
    rows = frame.iloc[scored].reset_index(drop=True).assign(**{target: y_true})
    return _Holdout(rows, groups, y_true, oof_log, fold_id, folds)


def _holdout_metrics(target: str, held: _Holdout) -> dict[str, Any]:
    """The card's held-out scores: the predictor's, and the calibrated physics baseline's on the same folds."""
    done, y_true, oof_log = held.done, held.y_true, held.oof_log
    residual = np.abs(np.log(y_true) - oof_log)
    metrics: dict[str, Any] = {
        "evaluation": f"grouped by model_key, {len(held.folds)} folds, pooled out-of-fold predictions on measured "
                      "(and exact-identity) labels",
        **{f"holdout_{k}": v for k, v in error_metrics(y_true[done], np.exp(oof_log[done])).items()},
        "holdout_interval_coverage_90": cross_conformal_coverage(residual[done], held.fold_id[done],
                                                                 constants.PREDICTION_INTERVAL),
    }
    baseline = calibrated_baseline(held.rows, target, held.folds)
    has_base = ~np.isnan(baseline) & done
    if has_base.any():
        metrics["baseline_rows"] = int(has_base.sum())
        metrics.update({f"baseline_physics_{k}": v for k, v in error_metrics(y_true[has_base], baseline[has_base]).items()})
        metrics.update({f"holdout_on_baseline_rows_{k}": v
                        for k, v in error_metrics(y_true[has_base], np.exp(oof_log[has_base])).items()})
    return metrics


def _seen(trained_rows: pd.DataFrame, column: str) -> list[str]:
    """The distinct values of a column over the rows that trained a primitive, sorted."""
    return sorted(trained_rows[column].astype(str).unique().tolist())


def _card(frame: pd.DataFrame, target: str, seed: int, split: str, final: FittedPrimitive,
          held: _Holdout) -> dict[str, Any]:
    """The predictor card: what the saved model is, what trained it and how well it did held out."""
    trained_rows = frame.loc[final.rows_index]
    X = model_matrix(frame.iloc[:1], np.ones(1), MODEL_FEATURES)
    importances = dict(zip(X.columns, map(float, final.model.get_feature_importance()), strict=False))
    residual = np.abs(np.log(held.y_true) - held.oof_log)[held.done]
    return {
        "card_version": CARD_VERSION,
        "target": target,
        "kind": "primitive",
        "unit": constants.TARGET_UNITS.get(target, ""),
        "transform": "log, offset by the physics baseline",
        "offset": {"numerators": [list(t) if isinstance(t, tuple) else [t] for t in TARGET_OFFSETS[target][0]],
                   "denominators": list(TARGET_OFFSETS[target][1]), "fallback_log": final.fallback_log,
                   "indicator": OFFSET_INDICATOR,
                   "rows_with_physics": int((~np.isnan(physics_baseline(held.rows, target))).sum())},
        "features": MODEL_FEATURES,
        "categorical_features": CATEGORICAL_FEATURES,
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data_version": frame_data_version(frame),
        "n_rows": final.n_rows,
        "label_kinds": final.label_kinds,
        "label_split": split,
        "models": _seen(trained_rows, "model_key"),
        "hardware": _seen(trained_rows, "hardware_key"),
        "hardware_kinds": _seen(trained_rows, "hardware_kind"),
        # how many rows of each device and model label this primitive (what `predict` says it has seen)
        "rows_by_hardware": {str(k): int(v) for k, v in trained_rows["hardware_key"].astype(str).value_counts().items()},
        "rows_by_model": {str(k): int(v) for k, v in trained_rows["model_key"].astype(str).value_counts().items()},
        "engines": _seen(trained_rows, "engine"),
        "dtypes": _seen(trained_rows, "dtype"),
        "modes": _seen(trained_rows, "mode"),
        "sources": _seen(trained_rows, "source"),
        "default_source": str(held.rows["source"].mode().iloc[0]),
        "hardware_correction": {"log": final.hardware_correction, "prior_rows": HARDWARE_CORRECTION_PRIOR_ROWS,
                                "method": "shrunken median residual of each device's training rows"},
        "interval": {"level": constants.PREDICTION_INTERVAL,
                     "log_halfwidth": float(np.quantile(residual, constants.PREDICTION_INTERVAL)),
                     "method": "split-conformal on grouped out-of-fold absolute log residuals"},
        "catboost": {"iterations": constants.CATBOOST_ITERATIONS, "depth": constants.CATBOOST_DEPTH,
                     "learning_rate": constants.CATBOOST_LEARNING_RATE,
                     "one_hot_max_size": constants.CATBOOST_ONE_HOT_MAX_SIZE, "seed": seed},
        "metrics": _holdout_metrics(target, held),
        "top_features": dict(sorted(importances.items(), key=lambda kv: -kv[1])[:8]),
    }


#: Measured columns whose values decide the primitives' labels (part of the data version).
PRIMITIVE_LABEL_COLUMNS = [*constants.TARGETS, "power_source", "roofline_violation", "plain_deployment"]


def frame_data_version(frame: pd.DataFrame) -> str:
    """The data version of a training frame: a hash of its features and of what labels the primitives.

    The same for every primitive trained on the frame, so an evaluation can say which trained
    version it scored.
    """
    return data_version(frame[FEATURE_COLUMNS + [c for c in PRIMITIVE_LABEL_COLUMNS if c in frame]])


def calibrated_baseline(rows: pd.DataFrame, target: str, folds: list[np.ndarray]) -> np.ndarray:
    """The physics baseline scaled by the median measured/physics ratio of each fold's training rows.

    For time targets this is the calibrated roofline; for power, load-scaled TDP. NaN where the
    physics of a row is unknown.
    """
    base = physics_baseline(rows, target)
    y_log = np.log(rows[target].to_numpy(dtype=float))
    out = np.full(len(rows), np.nan)
    for test_idx in folds:
        train_idx = np.setdiff1d(np.arange(len(rows)), test_idx)
        fit = train_idx[~np.isnan(base[train_idx])]
        if len(fit):
            out[test_idx] = base[test_idx] * float(np.exp(np.median(y_log[fit] - np.log(base[fit]))))
    return out


def card_matrix(card: dict[str, Any], frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The model matrix and log offset a saved card prescribes for feature rows (prediction time)."""
    offset, known = log_offset(frame, card["target"], card["offset"]["fallback_log"])
    return model_matrix(frame, known, card["features"]), offset


def save_predictor(predictor: TrainedPredictor, folder: Path) -> dict[str, Path]:
    """Writes ``model.cbm`` (CatBoost's own format, no pickle) and ``card.json`` atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    model_path, card_path = folder / "model.cbm", folder / "card.json"
    tmp_model, tmp_card = folder / ".model.cbm.tmp", folder / ".card.json.tmp"
    predictor.model.save_model(str(tmp_model), format="cbm")
    tmp_card.write_text(json.dumps(predictor.card, indent=2, sort_keys=True))
    tmp_model.replace(model_path)
    tmp_card.replace(card_path)
    return {"model": model_path, "card": card_path}


def load_predictor(folder: Path) -> tuple[CatBoostRegressor, dict[str, Any]]:
    """Loads a saved predictor and its card.

    Raises:
        FileNotFoundError: naming the missing file.
    """
    model_path, card_path = folder / "model.cbm", folder / "card.json"
    for path in (model_path, card_path):
        if not path.exists():
            raise FileNotFoundError(f"predictor file missing: {path}")
    model = CatBoostRegressor()
    model.load_model(str(model_path), format="cbm")
    return model, json.loads(card_path.read_text())
