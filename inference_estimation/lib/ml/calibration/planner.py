"""The planner: the k points that most reduce the expected error on a device per unit of cost."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from inference_estimation.lib.ml.calibration.uncertainty import (
    DEFAULT_UNCERTAINTY,
    DISTANCE_FEATURES,
    Standardizer,
    log_features,
)
from inference_estimation.lib.ml.hardware_correction import HARDWARE_CORRECTION_PRIOR_ROWS

#: How the predictor turns a device's measurements into a correction (what the planner plans for).
ESTIMATORS = ("constant", "local")
#: Prior log std of a new device's offset from the predictor (what its correction learns). On the
#: public data, leave-one-hardware-out (29 devices with >= 20 rows), the per-device median log
#: residual of the time primitives spreads by 0.15 robustly (1.4826 x MAD; the plain std, ~1, is
#: three Apple devices the predictor misses by 5x) -- benchmarks/active_calibration.py prints it.
DEVICE_OFFSET_STD = 0.15
#: Prior log std of a point's own error beyond the device offset, at the grid's median uncertainty
#: (same benchmark: the median within-device log std of the residuals is 0.36).
POINT_ERROR_STD = 0.35
#: Log std of what a measured residual says that no smooth function of the features explains:
#: repeat-to-repeat noise plus campaign quirks. Not measured separately; kept well above a benchmark
#: point's repeat CV so that the local correction does not chase single points.
MEASUREMENT_NOISE_STD = 0.15
#: Length scale of the coverage kernel, in standardised log-feature units. Two points of a grid sit
#: about sqrt(2 x 11) ~ 4.7 apart in the 11 standardised features, so a length near that keeps
#: neighbours correlated (at 1.5 every point was its own island and coverage did nothing).
KERNEL_LENGTH = 3.5
#: Random Fourier features of that kernel (low rank keeps a 10k-point plan in milliseconds).
KERNEL_FEATURES = 128


@dataclass
class PlannedPoint:
    """One chosen point and why: its uncertainty, cost, and the expected error after it is measured."""

    candidate: int
    model_key: str
    batch_size: int | None
    input_tokens: int | None
    output_tokens: int | None
    dtype: str
    uncertainty: float
    uncertainty_rank_pct: float
    expected_cost_s: float
    expected_cost_usd: float | None
    expected_error_after_pct: float
    why: str


@dataclass
class Plan:
    """The planner's choice for one device.

    ``expected_error_*_pct`` is the expected median absolute percentage error over the grid of the
    time primitives (the Gaussian model of the module docstring), before and after the points.
    """

    hardware_key: str | None
    points: list[PlannedPoint]
    candidates: int
    measured_before: int
    expected_error_before_pct: float
    expected_error_after_pct: float
    expected_cost_s: float
    expected_cost_usd: float | None
    uncertainty_method: str
    planning_s: float
    order: list[int] = field(default_factory=list)
    estimator: str = "constant"

    def as_dict(self) -> dict[str, Any]:
        """Plain values (JSON-ready)."""
        return asdict(self)

    def markdown(self) -> str:
        """A table of the chosen points and why."""
        cost = "expected cost (USD)" if self.expected_cost_usd is not None else "expected cost (device s)"
        lines = [f"| # | model | batch | input | output | dtype | uncertainty (rank) | {cost} | expected error after |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for i, p in enumerate(self.points, 1):
            money = f"{p.expected_cost_usd:.4f}" if p.expected_cost_usd is not None else f"{p.expected_cost_s:.1f}"
            lines.append(f"| {i} | {p.model_key} | {p.batch_size} | {p.input_tokens} | {p.output_tokens} | {p.dtype} | "
                         f"{p.uncertainty:.3f} ({_rank_text(p.uncertainty_rank_pct)}) | {money} | "
                         f"{p.expected_error_after_pct:.1f}% |")
        lines.append("")
        lines.append(f"Expected error on the grid ({self.candidates} candidates, {self.measured_before} measured "
                     f"before): {self.expected_error_before_pct:.1f}% -> {self.expected_error_after_pct:.1f}% "
                     f"(uncertainty: {self.uncertainty_method}).")
        return "\n".join(lines)


def _int(value: Any) -> int | None:
    """An integer workload field, None when unknown (public rows may lack one)."""
    try:
        return None if value is None or not np.isfinite(float(value)) else int(value)
    except (TypeError, ValueError):
        return None


def _pct(squared_log_error: float) -> float:
    """Median APE (%) of a zero-mean log-normal error with this variance."""
    return 100.0 * (math.exp(0.6745 * math.sqrt(max(squared_log_error, 0.0))) - 1.0)


def plan_points(candidates: pd.DataFrame, candidate_uncertainty: np.ndarray, cost_s: np.ndarray, k: int,
                measured: pd.DataFrame | None = None, measured_uncertainty: np.ndarray | None = None,
                price_per_hour_usd: float | None = None, method: str = DEFAULT_UNCERTAINTY,
                offset_std: float = DEVICE_OFFSET_STD, point_std: float = POINT_ERROR_STD,
                noise_std: float = MEASUREMENT_NOISE_STD, prior_rows: float = HARDWARE_CORRECTION_PRIOR_ROWS,
                length: float = KERNEL_LENGTH, n_features: int = KERNEL_FEATURES, seed: int = 0,
                hardware_key: str | None = None, estimator: str = "constant", cost_power: float = 1.0) -> Plan:
    """Greedily the ``k`` candidates that most reduce the expected error on the grid per unit of cost.

    Args:
        candidates: feature rows of the grid (``model_key``, workload and :data:`DISTANCE_FEATURES`).
        candidate_uncertainty: uncertainty per candidate (any method; scaled to the grid's median).
        cost_s: device seconds per candidate (:func:`point_cost_s`).
        k: points to choose (fewer when the grid is smaller).
        measured: feature rows the device already has measured (they already inform its correction).
        measured_uncertainty: their uncertainty (default: the grid's median).
        price_per_hour_usd: the device's price (all its devices); None when unknown (costs in seconds).
        method: name of the uncertainty method (recorded).
        offset_std: prior log std of the device offset.
        point_std: prior log std of a point's own error at the grid's median uncertainty.
        noise_std: log std of what no smooth function explains (measurement noise and quirks).
        prior_rows: shrinkage of the served correction (``n / (n + prior_rows)``).
        length: kernel length in standardised log features.
        n_features: random Fourier features of the kernel.
        seed: seed of the random Fourier features (the plan is deterministic for a seed).
        hardware_key: recorded in the plan.
        estimator: how the predictor will use the measurements: ``constant`` (the served per-device
            correction, a shrunken mean of the residuals) or ``local`` (:func:`local_correction`).
        cost_power: a point's value is its error reduction / cost ** cost_power (1: per unit of cost,
            0: cost ignored).

    Returns:
        The plan; ``order`` lists the chosen candidate positions in the order chosen (nested: the
        first 3 of a 5-point plan are the 3-point plan).

    Raises:
        ValueError: for k < 1, or arrays whose length differs from the candidates'.
    """
    started = time.perf_counter()
    n = len(candidates)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    u = np.asarray(candidate_uncertainty, dtype=float)
    cost_in = np.asarray(cost_s, dtype=float)
    cost = cost_in ** cost_power
    if len(u) != n or len(cost_in) != n:
        raise ValueError(f"candidate_uncertainty ({len(u)}) and cost_s ({len(cost_in)}) must have one value per "
                         f"candidate ({n})")
    measured = measured if measured is not None else candidates.iloc[:0]
    m = len(measured)
    finite = u[np.isfinite(u) & (u > 0)]
    ref = float(np.median(finite)) if len(finite) else 1.0
    u = np.where(np.isfinite(u) & (u > 0), u, ref)
    mu = np.full(m, ref) if measured_uncertainty is None else np.asarray(measured_uncertainty, dtype=float)
    mu = np.where(np.isfinite(mu) & (mu > 0), mu, ref)
    error_model = DeviceErrorModel.fit(candidates, u, offset_std, point_std, noise_std, length, n_features, seed)
    h_c = error_model.design(candidates, u)
    h_m = error_model.design(measured, mu) if m else np.zeros((0, h_c.shape[1]))
    if estimator == "constant":
        before, chosen, after = _greedy_constant(h_c, h_m, cost, k, noise_std ** 2, prior_rows)
    elif estimator == "local":
        before, chosen, after = _greedy_local(h_c, h_m, cost, k, noise_std ** 2)
    else:
        raise ValueError(f"estimator {estimator!r} is unknown; use one of {', '.join(ESTIMATORS)}")
    current = after[-1] if after else before
    price = price_per_hour_usd if price_per_hour_usd and price_per_hour_usd > 0 else None
    rank = pd.Series(u).rank(pct=True).to_numpy() * 100
    points = [_planned_point(candidates.iloc[best], best, float(u[best]), float(rank[best]), float(cost_in[best]),
                             price, e_after) for best, e_after in zip(chosen, after, strict=True)]
    total_s = float(cost_in[chosen].sum()) if chosen else 0.0
    return Plan(hardware_key=hardware_key, points=points, candidates=n, measured_before=m,
                expected_error_before_pct=_pct(before), expected_error_after_pct=_pct(current),
                expected_cost_s=total_s, expected_cost_usd=None if price is None else total_s / 3600 * price,
                uncertainty_method=method, planning_s=time.perf_counter() - started, order=chosen,
                estimator=estimator)


def _rank_text(rank_pct: float) -> str:
    """Where a point's uncertainty ranks on the grid, in words (a percentile rank of 100 is the highest)."""
    return "the highest of the grid" if rank_pct >= 99.5 else f"above {rank_pct:.0f}% of the grid"


def _planned_point(row: pd.Series, candidate: int, uncertainty: float, rank_pct: float, cost_s: float,
                   price_per_hour_usd: float | None, error_after: float) -> PlannedPoint:
    """One chosen candidate, with its cost and why it was chosen."""
    usd = None if price_per_hour_usd is None else cost_s / 3600 * price_per_hour_usd
    return PlannedPoint(
        candidate=candidate, model_key=str(row.get("model_key", "")), batch_size=_int(row.get("batch_size")),
        input_tokens=_int(row.get("input_tokens")), output_tokens=_int(row.get("output_tokens")),
        dtype=str(row.get("dtype", "")), uncertainty=uncertainty, uncertainty_rank_pct=rank_pct,
        expected_cost_s=cost_s, expected_cost_usd=usd, expected_error_after_pct=_pct(error_after),
        why=(f"uncertainty {uncertainty:.3f} (higher than {rank_pct:.0f}% of the grid), "
             f"about {cost_s:.1f} device-s" + (f" (${usd:.4f})" if usd is not None else "")
             + f"; expected grid error {_pct(error_after):.1f}% once measured"))


def _greedy_constant(h_c: np.ndarray, h_m: np.ndarray, cost: np.ndarray, k: int, var_n: float,
                     prior_rows: float) -> tuple[float, list[int], list[float]]:
    """Greedy for the constant correction ``w/|S| * sum_S r`` (``w = |S| / (|S| + prior_rows)``).

    With ``C_ij = h_i . h_j (+ var_n when i == j)``, the grid-mean expected squared error after
    measuring S is ``mean_j C_jj - 2 a sum_{i in S} mean_j C_ij + a^2 sum_{i,i' in S} C_ii'``
    (``a = w / |S|``); every term updates in O(n d) per chosen point.
    """
    n, m = len(h_c), len(h_m)
    diag = np.einsum("ij,ij->i", h_c, h_c) + var_n
    mean_diag = float(diag.mean())
    h_bar = h_c.mean(axis=0)
    mean_cov = h_c @ h_bar + var_n / n
    sum_mean = float((h_m @ h_bar).sum())
    h_sum = h_m.sum(axis=0)
    col = h_c @ h_sum
    quad = float(h_sum @ h_sum + var_n * m)

    def expected(size: int, s_mean: float, q: float) -> float:
        if size == 0:
            return mean_diag
        a = (size / (size + prior_rows)) / size
        return mean_diag - 2 * a * s_mean + a * a * q

    current = before = expected(m, sum_mean, quad)
    chosen: list[int] = []
    after: list[float] = []
    available = np.ones(n, dtype=bool)
    size = m
    for _ in range(min(k, n)):
        s1 = size + 1
        a = (s1 / (s1 + prior_rows)) / s1
        e_new = mean_diag - 2 * a * (sum_mean + mean_cov) + a * a * (quad + 2 * col + diag)
        gain = (current - e_new) / cost
        gain[~available] = -np.inf
        best = int(np.argmax(gain))
        chosen.append(best)
        available[best] = False
        sum_mean += float(mean_cov[best])
        quad += 2 * float(col[best]) + float(diag[best])
        col = col + h_c @ h_c[best]
        col[best] += var_n
        size = s1
        current = float(e_new[best])
        after.append(current)
    return before, chosen, after


def _greedy_local(h_c: np.ndarray, h_m: np.ndarray, cost: np.ndarray, k: int,
                  var_n: float) -> tuple[float, list[int], list[float]]:
    """Greedy expected variance reduction for the local (Bayesian linear) correction.

    Weights ``w ~ N(0, I)``, ``r_i = h_i . w + noise``: after measuring S the posterior covariance
    is ``Sigma = (I + H_S' H_S / var_n)^-1`` and the grid-mean expected squared error is
    ``trace(Sigma M) + var_n`` with ``M = mean_j h_j h_j'``; adding point c lowers it by
    ``h_c' Sigma M Sigma h_c / (var_n + h_c' Sigma h_c)`` (a rank-one update).
    """
    n, d = h_c.shape
    sigma = np.linalg.inv(np.eye(d) + h_m.T @ h_m / var_n)
    second = h_c.T @ h_c / n
    current = before = float(np.trace(sigma @ second)) + var_n
    chosen: list[int] = []
    after: list[float] = []
    available = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        a = h_c @ sigma
        denom = var_n + np.einsum("ij,ij->i", a, h_c)
        drop = np.einsum("ij,ij->i", a @ second, a) / denom
        gain = drop / cost
        gain[~available] = -np.inf
        best = int(np.argmax(gain))
        chosen.append(best)
        available[best] = False
        vec = sigma @ h_c[best]
        sigma = sigma - np.outer(vec, vec) / (var_n + h_c[best] @ vec)
        current = float(current - drop[best])
        after.append(current)
    return before, chosen, after


@dataclass
class DeviceErrorModel:
    """The Gaussian model of a device's log residuals that the planner and the local correction share.

    A row's design vector is ``[offset_std, point_std * u / u_ref * z(x)]``: the device offset, and
    random Fourier features ``z`` of an RBF kernel on standardised log features, scaled by the
    row's uncertainty ``u`` relative to the grid's median ``u_ref``.
    """

    scaler: Standardizer
    weights: np.ndarray
    phases: np.ndarray
    u_ref: float
    offset_std: float
    point_std: float
    noise_std: float

    @classmethod
    def fit(cls, grid: pd.DataFrame, grid_uncertainty: np.ndarray, offset_std: float = DEVICE_OFFSET_STD,
            point_std: float = POINT_ERROR_STD, noise_std: float = MEASUREMENT_NOISE_STD,
            length: float = KERNEL_LENGTH, n_features: int = KERNEL_FEATURES, seed: int = 0) -> "DeviceErrorModel":
        """Standardises on the grid, draws the Fourier features (seeded), takes the median uncertainty."""
        u = np.asarray(grid_uncertainty, dtype=float)
        finite = u[np.isfinite(u) & (u > 0)]
        rng = np.random.default_rng(seed)
        return cls(scaler=Standardizer.fit(log_features(grid)),
                   weights=rng.normal(0.0, 1.0 / length, size=(len(DISTANCE_FEATURES), n_features)),
                   phases=rng.uniform(0.0, 2 * np.pi, n_features),
                   u_ref=float(np.median(finite)) if len(finite) else 1.0,
                   offset_std=offset_std, point_std=point_std, noise_std=noise_std)

    def design(self, rows: pd.DataFrame, row_uncertainty: np.ndarray | None = None) -> np.ndarray:
        """Design vectors (rows x (1 + features)) of feature rows."""
        u = np.full(len(rows), self.u_ref) if row_uncertainty is None else np.asarray(row_uncertainty, dtype=float)
        u = np.where(np.isfinite(u) & (u > 0), u, self.u_ref)
        z = self.scaler.transform(log_features(rows))
        d = self.weights.shape[1]
        phi = np.sqrt(2.0 / d) * np.cos(z @ self.weights + self.phases) * (self.point_std * u / self.u_ref)[:, None]
        return np.hstack([np.full((len(rows), 1), self.offset_std), phi])


def local_correction(model: DeviceErrorModel, measured: pd.DataFrame, residual_log: np.ndarray,
                     targets: pd.DataFrame, measured_uncertainty: np.ndarray | None = None,
                     target_uncertainty: np.ndarray | None = None) -> np.ndarray:
    """Posterior-mean log correction at ``targets`` from a device's measured log residuals.

    Where the served correction adds one shrunken median to every question on the device, this
    one lets nearby measurements (in workload, model size and physics) count more: the Bayesian
    linear model of :class:`DeviceErrorModel`. With no measurement it is 0 everywhere.
    """
    r = np.asarray(residual_log, dtype=float)
    keep = np.isfinite(r)
    if not keep.any():
        return np.zeros(len(targets))
    h_s = model.design(measured, measured_uncertainty)[keep]
    var_n = model.noise_std ** 2
    d = h_s.shape[1]
    weights = np.linalg.solve(np.eye(d) + h_s.T @ h_s / var_n, h_s.T @ r[keep] / var_n)
    return model.design(targets, target_uncertainty) @ weights


def corner_order(candidates: pd.DataFrame, k: int,
                 axes: Sequence[str] = ("effective_batch", "input_tokens", "output_tokens", "params")) -> list[int]:
    """A fixed "corners of the grid" design: the candidate nearest each corner of the workload box.

    Corners in standardised log axes, all-low first, all-high second, then the others in binary
    order; once every corner has a point, the farthest point from those chosen (max-min).
    """
    values = Standardizer.fit(log_features(candidates, axes)).transform(log_features(candidates, axes))
    lo, hi = values.min(axis=0), values.max(axis=0)
    d = values.shape[1]
    codes = [0, 2 ** d - 1] + [c for c in range(1, 2 ** d - 1)]
    chosen: list[int] = []
    for code in codes:
        if len(chosen) >= min(k, len(candidates)):
            return chosen
        corner = np.array([hi[j] if code >> j & 1 else lo[j] for j in range(d)])
        dist = np.linalg.norm(values - corner, axis=1)
        dist[chosen] = np.inf
        best = int(np.argmin(dist))
        if np.isfinite(dist[best]) and best not in chosen:
            chosen.append(best)
    while len(chosen) < min(k, len(candidates)):
        dist = np.min(np.linalg.norm(values[:, None, :] - values[chosen][None, :, :], axis=2), axis=1)
        dist[chosen] = -np.inf
        chosen.append(int(np.argmax(dist)))
    return chosen
