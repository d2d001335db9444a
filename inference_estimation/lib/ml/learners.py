"""Learners compared with CatBoost on the same folds, offsets and feature matrix.

Every learner fits the same thing CatBoost fits: the log target minus the physics offset (the
log efficiency against the roofline, TDP, ...), from the matrix :func:`modeling.model_matrix`
builds. They plug into :func:`modeling.out_of_fold_with`, so the folds and each fold's offset
fallback are identical and the comparison in ``lib.ml.evaluation`` is like for like.

* ``hist_gbm`` -- scikit-learn's ``HistGradientBoostingRegressor`` with native categorical
  splits (a second gradient-boosting implementation: different binning, leaf-wise growth).
* ``ridge_physics`` -- a ridge regression on log-scaled numeric features and one-hot
  categoricals: the physics offset plus a *linear* correction in log space (a power law in each
  feature). Its whole state is a few arrays, so :meth:`RidgeLogModel.to_json` is a complete,
  pickle-free save format.

An ensemble is the mean of log predictions (:func:`ensemble_log`): a geometric mean of the
members' predictions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from inference_estimation.lib.physics.features import CATEGORICAL_FEATURES

#: HistGradientBoosting settings, chosen to match CatBoost's capacity (shallow trees, slow rate).
HIST_GBM_MAX_ITER = 300
HIST_GBM_LEARNING_RATE = 0.05
HIST_GBM_MAX_LEAF_NODES = 15
HIST_GBM_L2 = 1.0
#: Ridge penalty on standardised features (the intercept is not penalised).
RIDGE_ALPHA = 3.0


def _categorical_columns(X: pd.DataFrame) -> list[str]:
    return [c for c in CATEGORICAL_FEATURES if c in X.columns]


def _codes(X: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    """Categoricals as integer codes of the training categories (unseen: NaN, i.e. missing)."""
    out = X.copy()
    for col, known in categories.items():
        lookup = {value: float(i) for i, value in enumerate(known)}
        out[col] = X[col].astype(str).map(lookup).astype(float)
    return out.astype(float)


def hist_gbm_fit_predict(X_train: pd.DataFrame, residual: np.ndarray, X_test: pd.DataFrame, seed: int) -> np.ndarray:
    """Fits ``HistGradientBoostingRegressor`` on the log residual and predicts held-out rows.

    Categories unseen in training are treated as missing (HistGradientBoosting's own rule),
    which is what a new vendor or engine should be: no information. One OpenMP thread: on a
    shared 2-core machine, OpenMP's spin-waiting made a 2 s fit take 20 s whenever another
    process was busy, and a few thousand rows gain little from more threads.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    cats = _categorical_columns(X_train)
    categories = {c: sorted(X_train[c].astype(str).unique().tolist()) for c in cats}
    train = _codes(X_train, categories)
    # A column with no value in training carries nothing (and HistGradientBoosting cannot bin it).
    keep = [c for c in train.columns if train[c].notna().any()]
    train = train[keep]
    model = HistGradientBoostingRegressor(
        max_iter=HIST_GBM_MAX_ITER, learning_rate=HIST_GBM_LEARNING_RATE, max_leaf_nodes=HIST_GBM_MAX_LEAF_NODES,
        l2_regularization=HIST_GBM_L2, categorical_features=[c in categories for c in train.columns],
        early_stopping=False, random_state=seed,
    )
    with threadpool_limits(limits=1, user_api="openmp"):
        model.fit(train, residual)
        return model.predict(_codes(X_test, categories)[keep])


@dataclass
class RidgeLogModel:
    """Ridge regression on log-scaled numerics and one-hot categoricals, fully described by arrays.

    Attributes:
        numeric: numeric columns, in order.
        log_scaled: per numeric column, whether it enters as ``log(x)`` (positive in training).
        fill: per numeric column, the training median (after scaling) that replaces a missing value.
        categories: per categorical column, the training categories (an unseen one is all zeros).
        mean, scale: standardisation of the design columns.
        low, high: per standardised design column, the training range widened by its own span
            at each end; a held-out row is clipped to it, so the power law extrapolates a step past
            the rows it was fitted on but never without bound (a feature far outside its training
            values once gave log corrections in the thousands and an exp overflow in evaluation).
        coef, intercept: the fitted correction (log space).
    """

    numeric: list[str]
    log_scaled: list[bool]
    fill: list[float]
    categories: dict[str, list[str]]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    low: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)

    @staticmethod
    def _numeric(X: pd.DataFrame, numeric: list[str], log_scaled: list[bool]) -> np.ndarray:
        values = X[numeric].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            logged = np.log(np.where(values > 0, values, np.nan))
        return np.where(np.array(log_scaled)[None, :], logged, values)

    def design(self, X: pd.DataFrame) -> np.ndarray:
        """The standardised design matrix of feature rows (numerics, missing flags, one-hots)."""
        num = self._numeric(X, self.numeric, self.log_scaled)
        missing = np.isnan(num)
        num = np.where(missing, np.array(self.fill)[None, :], num)
        parts = [num, missing.astype(float)]
        for col, known in self.categories.items():
            values = X[col].astype(str).to_numpy()
            parts.append((values[:, None] == np.array(known, dtype=object)[None, :]).astype(float))
        design = np.hstack(parts) if parts else np.zeros((len(X), 0))
        standardised = (design - np.array(self.mean)) / np.array(self.scale)
        if self.low:
            standardised = np.clip(standardised, np.array(self.low), np.array(self.high))
        return standardised

    @classmethod
    def fit(cls, X: pd.DataFrame, residual: np.ndarray, alpha: float = RIDGE_ALPHA) -> RidgeLogModel:
        """Fits the ridge in closed form (features standardised, intercept unpenalised)."""
        cats = _categorical_columns(X)
        numeric = [c for c in X.columns if c not in cats]
        values = X[numeric].to_numpy(dtype=float)
        finite = np.where(np.isnan(values), 1.0, values)
        log_scaled = [bool(np.all(finite[:, j] > 0)) for j in range(len(numeric))]
        num = cls._numeric(X, numeric, log_scaled)
        fill = [float(np.nanmedian(num[:, j])) if np.isfinite(num[:, j]).any() else 0.0 for j in range(len(numeric))]
        model = cls(numeric=numeric, log_scaled=log_scaled, fill=fill,
                    categories={c: sorted(X[c].astype(str).unique().tolist()) for c in cats},
                    mean=[], scale=[], coef=[], intercept=0.0)
        width = 2 * len(numeric) + sum(len(v) for v in model.categories.values())
        model.mean, model.scale = [0.0] * width, [1.0] * width
        raw = model.design(X)
        mean, scale = raw.mean(axis=0), raw.std(axis=0)
        # a column (nearly) constant in training carries no information: a unit scale keeps a
        # rounding-level spread from becoming a huge coefficient on a new value
        scale[scale <= 1e-9 * np.maximum(1.0, np.abs(mean))] = 1.0
        model.mean, model.scale = mean.tolist(), scale.tolist()
        design = (raw - mean) / scale
        low, high = design.min(axis=0), design.max(axis=0)
        model.low, model.high = (low - (high - low)).tolist(), (high + (high - low)).tolist()
        y_mean = float(np.mean(residual))
        gram = design.T @ design + alpha * np.eye(design.shape[1])
        coef = np.linalg.solve(gram, design.T @ (residual - y_mean))
        model.coef, model.intercept = coef.tolist(), y_mean
        return model

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The log correction over the physics offset for feature rows."""
        return self.design(X) @ np.array(self.coef) + self.intercept

    def to_json(self) -> dict[str, Any]:
        """The whole model as plain JSON values (no pickle needed to store or load it)."""
        return {"numeric": self.numeric, "log_scaled": self.log_scaled, "fill": self.fill,
                "categories": self.categories, "mean": self.mean, "scale": self.scale, "coef": self.coef,
                "intercept": self.intercept, "low": self.low, "high": self.high}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RidgeLogModel:
        """Rebuilds a model written by :meth:`to_json`."""
        return cls(**data)


def ridge_fit_predict(X_train: pd.DataFrame, residual: np.ndarray, X_test: pd.DataFrame, seed: int) -> np.ndarray:
    """Fits :class:`RidgeLogModel` on the log residual and predicts held-out rows (``seed`` unused)."""
    return RidgeLogModel.fit(X_train, residual).predict(X_test)


LEARNERS = {"hist_gbm": hist_gbm_fit_predict, "ridge_physics": ridge_fit_predict}


def ensemble_log(*members: np.ndarray) -> np.ndarray:
    """Mean of the members' log predictions (a geometric mean of their predictions)."""
    return np.mean(np.vstack(members), axis=0)
