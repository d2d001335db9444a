"""Training CatBoost predictors with a grouped held-out evaluation.

One CatBoost regressor per target, trained on ``log(target)`` (targets span orders of magnitude
and errors are relative). Honest scoring: every row is predicted by a model that never saw its
*model* (grouped K-fold by ``model_key``, pooled out-of-fold predictions); the final model is then
fit on all rows. The 90% interval is split-conformal in log space: its half-width is the 90th
percentile of out-of-fold absolute log residuals, and its coverage is itself measured out of fold
(each fold's half-width is computed from the other folds' residuals only).

A calibrated roofline baseline is scored on the same folds: roofline time x the median
measured/roofline ratio of the training folds (throughput: the inverse).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from catboost import CatBoostRegressor, Pool

from inference_estimation import constants
from inference_estimation.lib.features import CATEGORICAL_FEATURES, FEATURE_COLUMNS

#: Power and energy train only on measured power, never on estimates.
POWER_TARGETS = {"avg_power_w", "energy_per_output_token_j"}
MEASURED_POWER_SOURCES = {"nvml-energy", "nvml-power", "amdsmi", "rapl", "wall"}
#: Roofline column and direction for the calibrated baseline of each target.
ROOFLINE_BASELINE = {
    "e2e_latency_s": ("roofline_e2e_s", 1),
    "ttft_s": ("roofline_prefill_s", 1),
    "tpot_s": ("roofline_decode_step_s", 1),
    "output_throughput_tok_s": ("roofline_output_throughput_tok_s", 1),
}
CARD_VERSION = "1.0"


class TrainingDataError(ValueError):
    """The training frame cannot support a grouped evaluation (too few rows or groups)."""


@dataclass
class TrainedPredictor:
    """A fitted predictor with its card (features, data version, metrics)."""

    target: str
    model: CatBoostRegressor
    card: dict[str, Any]
    oof: pd.DataFrame = field(repr=False)


def select_rows(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """Rows usable for a target: positive finite target, physically possible (not faster than
    the roofline bound), and measured power for power targets."""
    rows = frame[frame[target].notna() & (frame[target] > 0)]
    if "roofline_violation" in rows.columns:
        rows = rows[rows["roofline_violation"].fillna("") == ""]
    rows = rows[np.isfinite(rows[target].astype(float))]
    if target in POWER_TARGETS:
        rows = rows[rows["power_source"].isin(MEASURED_POWER_SOURCES)]
    return rows.reset_index(drop=True)


def data_version(frame: pd.DataFrame) -> str:
    """A short content hash of the training rows (so a card says which data made it)."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).values.tobytes()).hexdigest()
    return digest[:16]


def _fit(X: pd.DataFrame, y: np.ndarray, seed: int) -> CatBoostRegressor:
    model = CatBoostRegressor(
        iterations=constants.CATBOOST_ITERATIONS, depth=constants.CATBOOST_DEPTH,
        learning_rate=constants.CATBOOST_LEARNING_RATE, loss_function="RMSE", random_seed=seed,
        verbose=False, allow_writing_files=False, thread_count=-1,
    )
    model.fit(Pool(X, y, cat_features=CATEGORICAL_FEATURES))
    return model


def _group_folds(groups: pd.Series, n_folds: int) -> list[np.ndarray]:
    """Assigns whole groups to folds (largest groups first, greedy balance); returns test indices."""
    sizes = groups.value_counts()
    n_folds = min(n_folds, len(sizes))
    load = [0] * n_folds
    members: list[list[Any]] = [[] for _ in range(n_folds)]
    for group, size in sizes.items():
        i = int(np.argmin(load))
        members[i].append(group)
        load[i] += size
    return [np.flatnonzero(groups.isin(m).to_numpy()) for m in members]


def error_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MdAPE, MAPE (percent) and the share within +-10% of the truth."""
    ape = np.abs(y_pred - y_true) / y_true * 100.0
    return {"mdape_pct": float(np.median(ape)), "mape_pct": float(np.mean(ape)),
            "within_10pct_share": float(np.mean(ape <= 10.0))}


def train_predictor(frame: pd.DataFrame, target: str, n_folds: int = 4, seed: int = 0) -> TrainedPredictor:
    """Trains one target's predictor and scores it out of fold, grouped by model.

    Args:
        frame: the training_features mart (identity, targets and FEATURE_COLUMNS).
        target: a target column, e.g. ``e2e_latency_s``.
        n_folds: grouped folds (capped at the number of models).
        seed: CatBoost seed.

    Raises:
        TrainingDataError: when there are fewer than 2 models or 8 rows for the target.
    """
    rows = select_rows(frame, target)
    groups = rows["model_key"].astype(str)
    if len(rows) < 8 or groups.nunique() < 2:
        raise TrainingDataError(
            f"target {target!r}: {len(rows)} usable rows over {groups.nunique()} model(s); a grouped "
            "held-out evaluation needs at least 8 rows and 2 models"
        )
    X = rows[FEATURE_COLUMNS].copy()
    y_log = np.log(rows[target].to_numpy(dtype=float))
    folds = _group_folds(groups, n_folds)
    oof_log = np.full(len(rows), np.nan)
    fold_id = np.full(len(rows), -1)
    baseline = np.full(len(rows), np.nan)
    base_col = ROOFLINE_BASELINE.get(target, (None, 1))[0]
    for k, test_idx in enumerate(folds):
        train_idx = np.setdiff1d(np.arange(len(rows)), test_idx)
        model = _fit(X.iloc[train_idx], y_log[train_idx], seed)
        oof_log[test_idx] = model.predict(X.iloc[test_idx])
        fold_id[test_idx] = k
        if base_col is not None:
            roof = rows[base_col].to_numpy(dtype=float)
            fit = train_idx[~np.isnan(roof[train_idx])]
            if len(fit):
                log_ratio = y_log[fit] - np.log(roof[fit])
                baseline[test_idx] = roof[test_idx] * math.exp(float(np.median(log_ratio)))

    residual = np.abs(y_log - oof_log)
    covered = np.zeros(len(rows), dtype=bool)
    for k in range(len(folds)):
        inside, outside = fold_id == k, fold_id != k
        q = float(np.quantile(residual[outside], constants.PREDICTION_INTERVAL))
        covered[inside] = residual[inside] <= q
    halfwidth = float(np.quantile(residual, constants.PREDICTION_INTERVAL))

    y_true = rows[target].to_numpy(dtype=float)
    metrics: dict[str, Any] = {
        "evaluation": f"grouped by model_key, {len(folds)} folds, pooled out-of-fold predictions",
        **{f"holdout_{k}": v for k, v in error_metrics(y_true, np.exp(oof_log)).items()},
        "holdout_interval_coverage_90": float(np.mean(covered)),
    }
    has_base = ~np.isnan(baseline)
    if has_base.any():
        # Both scored on the rows the roofline can speak about (its specs and workload known).
        metrics["baseline_rows"] = int(has_base.sum())
        metrics.update({f"baseline_roofline_{k}": v
                        for k, v in error_metrics(y_true[has_base], baseline[has_base]).items()})
        metrics.update({f"holdout_on_baseline_rows_{k}": v
                        for k, v in error_metrics(y_true[has_base], np.exp(oof_log[has_base])).items()})

    final = _fit(X, y_log, seed)
    importances = dict(zip(FEATURE_COLUMNS, map(float, final.get_feature_importance())))
    card = {
        "card_version": CARD_VERSION,
        "target": target,
        "unit": constants.TARGET_UNITS.get(target, ""),
        "transform": "log",
        "features": FEATURE_COLUMNS,
        "categorical_features": CATEGORICAL_FEATURES,
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data_version": data_version(rows[FEATURE_COLUMNS + [target]]),
        "n_rows": int(len(rows)),
        "models": sorted(groups.unique().tolist()),
        "hardware": sorted(rows["hardware_key"].astype(str).unique().tolist()),
        "sources": sorted(rows["source"].astype(str).unique().tolist()),
        "interval": {"level": constants.PREDICTION_INTERVAL, "log_halfwidth": halfwidth,
                     "method": "split-conformal on grouped out-of-fold absolute log residuals"},
        "catboost": {"iterations": constants.CATBOOST_ITERATIONS, "depth": constants.CATBOOST_DEPTH,
                     "learning_rate": constants.CATBOOST_LEARNING_RATE, "seed": seed},
        "metrics": metrics,
        "top_features": dict(sorted(importances.items(), key=lambda kv: -kv[1])[:8]),
    }
    oof = pd.DataFrame({"model_key": groups, "hardware_key": rows["hardware_key"], "y_true": y_true,
                        "y_pred": np.exp(oof_log), "fold": fold_id})
    return TrainedPredictor(target=target, model=final, card=card, oof=oof)


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
