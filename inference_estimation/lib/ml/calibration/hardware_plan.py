"""One device's plan: candidates, uncertainty, costs and the planner put together."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from inference_estimation.lib.ml.calibration.costs import (
    point_cost_s,
)
from inference_estimation.lib.ml.calibration.grid import candidate_grid, grid_facts
from inference_estimation.lib.ml.calibration.planner import (
    Plan,
    plan_points,
)
from inference_estimation.lib.ml.calibration.uncertainty import (
    DEFAULT_UNCERTAINTY,
    uncertainty,
)


@dataclass
class HardwarePlan:
    """What the ``next_benchmarks`` asset and ``calibrate`` show for one device.

    Attributes:
        hardware_key: the device.
        sweep: the sweep whose axes made the grid (and whose settings the runs use).
        k: points asked for.
        measured_rows: rows of the device in the training frame (what its correction has seen).
        measured_rows_by_model: the same per model.
        plan: the chosen points (None when there is nothing to plan: no sweep covers the device,
            or no candidate fits).
        notes: why models or the whole device were left out.
        plan_id: a short hash of the chosen points (a calibration run is requested once per plan).
    """

    hardware_key: str
    sweep: str | None
    k: int
    measured_rows: int
    measured_rows_by_model: dict[str, int]
    plan: Plan | None
    notes: list[str]
    plan_id: str = ""

    def serving_points(self, concurrencies: tuple[int, ...] | None = None) -> list[dict[str, Any]]:
        """Serving points to measure beside the offline ones: per planned model, its median planned
        workload at each concurrency (:data:`~inference_estimation.constants.CALIBRATION_SERVING_CONCURRENCIES`).

        The offline points are chosen for what they teach the correction; a deployment is sized by
        serving, whose queueing and scheduling no offline batch shows, so a few loads are measured too.
        """
        from inference_estimation import constants

        out: list[dict[str, Any]] = []
        for model, points in self.points_by_model().items():
            inputs = sorted(p["input_tokens"] for p in points)
            outputs = sorted(p["output_tokens"] for p in points)
            for c in concurrencies or constants.CALIBRATION_SERVING_CONCURRENCIES:
                out.append({"model": model, "mode": "serving", "concurrency": c, "dtype": points[0]["dtype"],
                            "input_tokens": inputs[len(inputs) // 2], "output_tokens": outputs[len(outputs) // 2]})
        return out

    def points_by_model(self) -> dict[str, list[dict[str, Any]]]:
        """The chosen points as benchmark run-config points, per model."""
        out: dict[str, list[dict[str, Any]]] = {}
        for p in self.plan.points if self.plan else []:
            out.setdefault(p.model_key, []).append({"batch_size": p.batch_size, "input_tokens": p.input_tokens,
                                                    "output_tokens": p.output_tokens, "dtype": p.dtype})
        return out


def covering_sweeps(catalog: Any, hardware_key: str) -> list[str]:
    """Sweeps that cover the device with at least one model (the default sweep first)."""
    from inference_estimation import constants

    names = [s.name for s in catalog.sweeps.values() if hardware_key in s.hardware]
    return sorted(names, key=lambda n: n != constants.DEFAULT_SWEEP)


def axes_sweep(catalog: Any, hardware_key: str) -> str | None:
    """The sweep whose axes a device is planned over: one that covers it, else the one covering
    the most devices of its kind (a device without a sweep -- one measured by hand -- is planned
    over the grid its peers are)."""
    covering = covering_sweeps(catalog, hardware_key)
    if covering:
        return covering[0]
    kind = catalog.hw(hardware_key).kind
    peers = {s.name: sum(1 for h in s.hardware if h in catalog.hardware and catalog.hardware[h].kind == kind)
             for s in catalog.sweeps.values()}
    best = max(peers, key=lambda n: (peers[n], n), default=None)
    return best if best is not None and peers[best] else None


def with_device_in_sweep(catalog: Any, hardware_key: str, sweep: str) -> Any:
    """A catalog copy whose ``sweep`` covers the device too (planning a device no sweep names)."""
    entry = catalog.sweep(sweep)
    if hardware_key in entry.hardware:
        return catalog
    widened = entry.model_copy(update={"hardware": [*entry.hardware, hardware_key]})
    return catalog.model_copy(update={"sweeps": {**catalog.sweeps, sweep: widened}})


def _predicted_e2e_s(catalog: Any, predictors_dir: Any, grid: pd.DataFrame, notes: list[str]) -> np.ndarray:
    """Each grid point's predicted e2e latency (NaN where none), what prices its benchmark: the answers
    ``predict`` gives (the step model's time figures where there is one), not the CatBoost frame
    alone, which has no time figure where only power was promoted. Says in ``notes`` when there is none."""
    from inference_estimation.lib.ml.predict import Predictors, PredictorsMissingError, predictor_folders

    e2e = np.full(len(grid), np.nan)
    try:
        allow = not predictor_folders(predictors_dir)
        _, predicted = Predictors.load(predictors_dir, allow_unpromoted=allow).answer(grid_facts(catalog, grid))
        if "e2e_latency_s" in predicted:
            e2e = predicted["e2e_latency_s"].to_numpy(dtype=float)
        if np.isnan(e2e).all():
            notes.append("no predicted e2e latency for these points: every point costs the same (unknown) time")
    except PredictorsMissingError:
        notes.append("no trained predictor yet: every point costs the same (unknown) time")
    return e2e


def plan_for_hardware(catalog: Any, predictors_dir: Any, frame: pd.DataFrame, hardware_key: str, k: int,
                      sweep: str | None = None, method: str = DEFAULT_UNCERTAINTY, estimator: str = "constant",
                      seed: int = 0, models: list[str] | None = None) -> HardwarePlan:
    """Plans the next ``k`` calibration points of a device.

    Args:
        catalog: the catalog.
        predictors_dir: the predictors folder (promoted ones first, trained-but-unpromoted otherwise);
            without predictors every point costs the same unknown time and the plan is by coverage.
        frame: the training frame (``marts.training_features``; may be empty).
        hardware_key: the device (key or alias).
        k: points to choose.
        sweep: the sweep whose grid to plan over (default: :func:`covering_sweeps`' first).
        method: uncertainty method (:data:`UNCERTAINTY_METHODS`).
        estimator: the correction the plan is for (:data:`ESTIMATORS`).
        seed: seed of the kernel features (and of the ensemble).
        models: models to plan points for (names or keys; default: the sweep's models), e.g. the
            user's own model rather than the sweep's.

    Raises:
        CatalogError: for an unknown hardware or sweep.
    """
    import hashlib
    import json

    hardware = catalog.hw(hardware_key)
    mine = frame[frame["hardware_key"].astype(str) == hardware.key] if len(frame) else frame
    by_model = {str(m): int(n) for m, n in mine.groupby("model_key").size().items()} if len(mine) else {}
    notes: list[str] = []
    if sweep is None:
        covering = covering_sweeps(catalog, hardware.key)
        if not covering:
            return HardwarePlan(hardware.key, None, k, len(mine), by_model, None,
                                [f"no sweep covers {hardware.key}; add it to a sweep's hardware to calibrate it"])
        sweep = covering[0]
    keys = None if not models else [catalog.model(m).key for m in models]
    if keys and set(keys) - set(catalog.sweep(sweep).models):  # the user's own model: the sweep's axes for it
        entry = catalog.sweep(sweep)
        widened = entry.model_copy(update={"models": [*entry.models, *(k for k in keys if k not in entry.models)]})
        catalog = catalog.model_copy(update={"sweeps": {**catalog.sweeps, sweep: widened}})
    grid, notes = candidate_grid(catalog, hardware.key, sweep, models=keys)
    if grid.empty:
        return HardwarePlan(hardware.key, sweep, k, len(mine), by_model, None,
                            notes + [f"no point of sweep {sweep!r} runs on {hardware.key}"])
    # leave out what the device has measured already (same model and workload)
    if len(mine):
        done = set(zip(mine["model_key"].astype(str), pd.to_numeric(mine["batch_size"], errors="coerce"),
                       pd.to_numeric(mine["input_tokens"], errors="coerce"),
                       pd.to_numeric(mine["output_tokens"], errors="coerce"), strict=True))
        fresh = [(m, float(b), float(i), float(o)) not in done for m, b, i, o in
                 zip(grid["model_key"], grid["batch_size"], grid["input_tokens"], grid["output_tokens"], strict=True)]
        grid = grid[np.array(fresh, dtype=bool)].reset_index(drop=True)
        if grid.empty:
            return HardwarePlan(hardware.key, sweep, k, len(mine), by_model, None,
                                notes + [f"every point of sweep {sweep!r} is measured on {hardware.key}"])
    e2e = _predicted_e2e_s(catalog, predictors_dir, grid, notes)
    cost = point_cost_s(e2e, 1 + catalog.sweep(sweep).max_trials)
    train = frame[frame["hardware_key"].astype(str) != hardware.key] if len(frame) else frame
    if method == "ensemble" and len(train) < 8:
        method = "distance"
    u = uncertainty(method, train, grid, seed=seed)
    u_measured = uncertainty(method, train, mine, seed=seed) if len(mine) and method == "distance" else None
    price = hardware.specs.price_per_hour_usd * hardware.device_count if hardware.specs.price_per_hour_usd else None
    plan = plan_points(grid, u, cost, k, measured=mine if len(mine) else None, measured_uncertainty=u_measured,
                       price_per_hour_usd=price, method=method, seed=seed, hardware_key=hardware.key,
                       estimator=estimator)
    chosen = [asdict(p) for p in plan.points]
    plan_id = hashlib.sha256(json.dumps([sweep, chosen], sort_keys=True, default=str).encode()).hexdigest()[:12]
    return HardwarePlan(hardware.key, sweep, k, len(mine), by_model, plan, notes, plan_id)
