"""How rows are held out (the four splits, grouped folds) and how held-out predictions are scored.

Both evaluations (:mod:`inference_estimation.lib.ml.evaluation` per target,
:mod:`inference_estimation.lib.ml.coherent_evaluation` for the coherent model) and feature
selection hold rows out the same way: ``random`` folds, or whole hardware, models or measurement
campaigns (only sources with at least :data:`MIN_SOURCE_ROWS` rows are held out; small ones always
stay in training). Scores: MdAPE, MAPE and the share within 10% (:func:`error_metrics`), the
coverage of a cross-conformal interval, and the Kendall tau of a predicted hardware ranking.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

#: Split -> the column whose groups are held out together (None: rows shuffled into folds).
SPLITS = {
    "random": None,
    "leave_one_hardware_out": "hardware_key",
    "leave_one_model_out": "model_key",
    "leave_one_source_out": "source",
}
#: Sources smaller than this always stay in training (a campaign of a few rows is no held-out test).
MIN_SOURCE_ROWS = 200
#: Columns that identify "the same question asked of different hardware" for the ranking metric.
WORKLOAD_KEY = ["model_key", "source", "engine", "dtype", "mode", "batch_size", "input_tokens",
                "output_tokens", "concurrency", "device_count"]


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


def group_folds(groups: pd.Series, n_folds: int) -> list[np.ndarray]:
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


def cross_conformal_coverage(residual: np.ndarray, fold_id: np.ndarray, level: float) -> float:
    """Share of rows inside an interval whose half-width came from the other folds' residuals."""
    covered = np.zeros(len(residual), dtype=bool)
    for k in np.unique(fold_id):
        inside, outside = fold_id == k, fold_id != k
        if outside.any():
            covered[inside] = residual[inside] <= float(np.quantile(residual[outside], level))
    return float(np.mean(covered))
