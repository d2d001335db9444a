"""How unsure the predictor is at a candidate point: distance to the training rows, or an ensemble's spread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from inference_estimation.lib.ml.modeling import (
    FittedPrimitive,
    fit_phase_estimate,
    fit_primitive,
    predict_primitive_log,
)
from inference_estimation.lib.ml.performance_model import TIME_PRIMITIVES

#: Columns (log-transformed, standardised) in which "near the training data" and grid coverage are
#: measured: the workload, the model's size and the physics the predictor is built on.
DISTANCE_FEATURES = [
    "effective_batch", "input_tokens", "output_tokens", "params", "weights_gb", "kv_cache_gb",
    "prefill_arithmetic_intensity", "decode_arithmetic_intensity", "roofline_ttft_s", "roofline_tpot_s",
    "memory_fit_ratio",
]
UNCERTAINTY_METHODS = ("distance", "ensemble")
#: The planner's default uncertainty (the ensemble ranks errors better but plans no better, and costs
#: fits: see the module docstring).
DEFAULT_UNCERTAINTY = "distance"
#: Nearest training rows averaged by the distance uncertainty.
DISTANCE_NEIGHBOURS = 5
#: Bootstrap members and CatBoost rounds of the ensemble uncertainty.
ENSEMBLE_MEMBERS = 3
ENSEMBLE_ITERATIONS = 150


def log_features(frame: pd.DataFrame, columns: Sequence[str] = DISTANCE_FEATURES) -> np.ndarray:
    """``log`` of the positive feature values (NaN where unknown or not positive), rows x columns."""
    out = np.full((len(frame), len(columns)), np.nan)
    for j, column in enumerate(columns):
        if column in frame:
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[:, j] = np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)
    return out


@dataclass
class Standardizer:
    """Centre and scale of log features, fitted on reference rows; unknown values sit at the centre."""

    centre: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> "Standardizer":
        """Median and standard deviation per column (1 where a column is constant or unknown)."""
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                centre = np.nanmedian(values, axis=0) if len(values) else np.zeros(values.shape[1])
                scale = np.nanstd(values, axis=0) if len(values) else np.ones(values.shape[1])
        centre = np.where(np.isfinite(centre), centre, 0.0)
        scale = np.where(np.isfinite(scale) & (scale > 1e-9), scale, 1.0)
        return cls(centre, scale)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Standardised values; NaN becomes 0 (the centre)."""
        z = (values - self.centre) / self.scale
        return np.where(np.isfinite(z), z, 0.0)


def distance_uncertainty(train: pd.DataFrame, candidates: pd.DataFrame,
                         neighbours: int = DISTANCE_NEIGHBOURS) -> np.ndarray:
    """Mean distance of each candidate to its nearest training rows (standardised log features).

    Large where the predictor would extrapolate (a workload, model size or arithmetic intensity
    it has never seen); needs no model fit.
    """
    from scipy.spatial import cKDTree

    if len(train) == 0:
        return np.ones(len(candidates))
    ref = log_features(train)
    scaler = Standardizer.fit(ref)
    tree = cKDTree(scaler.transform(ref))
    k = min(neighbours, len(train))
    dist, _ = tree.query(scaler.transform(log_features(candidates)), k=k)
    dist = dist.reshape(len(candidates), k)
    return dist.mean(axis=1)


def fit_ensemble(train: pd.DataFrame, primitives: Sequence[str] = TIME_PRIMITIVES, members: int = ENSEMBLE_MEMBERS,
                 seed: int = 0, iterations: int = ENSEMBLE_ITERATIONS,
                 split: str = "physics") -> dict[str, list[FittedPrimitive]]:
    """Bootstrap fits of the primitives (rows resampled with replacement, a seed per member)."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[FittedPrimitive]] = {p: [] for p in primitives}
    for member in range(members):
        sample = train.iloc[rng.integers(0, len(train), len(train))]
        phase = fit_phase_estimate(sample, split, seed + member)
        for primitive in primitives:
            fitted = fit_primitive(sample, primitive, seed + member, iterations, phase)
            if fitted is not None:
                out[primitive].append(fitted)
    return out


def ensemble_uncertainty(ensemble: dict[str, list[FittedPrimitive]], candidates: pd.DataFrame) -> np.ndarray:
    """Root mean (over primitives) of the members' variance of log predictions, per candidate."""
    variances = []
    for fits in ensemble.values():
        if len(fits) >= 2:
            logs = np.vstack([predict_primitive_log(f, candidates) for f in fits])
            variances.append(np.nanvar(logs, axis=0))
    if not variances:
        return np.ones(len(candidates))
    return np.sqrt(np.nanmean(np.vstack(variances), axis=0))


def uncertainty(method: str, train: pd.DataFrame, candidates: pd.DataFrame,
                ensemble: dict[str, list[FittedPrimitive]] | None = None, seed: int = 0) -> np.ndarray:
    """The chosen uncertainty of each candidate (see :data:`UNCERTAINTY_METHODS`).

    Raises:
        ValueError: naming the unknown method.
    """
    if method == "distance":
        return distance_uncertainty(train, candidates)
    if method == "ensemble":
        return ensemble_uncertainty(ensemble if ensemble is not None else fit_ensemble(train, seed=seed), candidates)
    raise ValueError(f"uncertainty method {method!r} is unknown; use one of {', '.join(UNCERTAINTY_METHODS)}")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation over the pairs where both are finite (NaN under 3 pairs)."""
    from scipy.stats import spearmanr

    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    return float(spearmanr(a[ok], b[ok]).statistic)
