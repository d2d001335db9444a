"""Calibration of the step model to a user's own measurements: reproduce them, interpolate, return.

A user measures a few points of their setup (one device, one engine). Calibration fits, with the
shared coefficients fixed:

1. the campaign's effects ``u`` (decode side) and ``v`` (TTFT) -- the closed form of
   :func:`inference_estimation.lib.ml.step_fit.campaign_effects`, without shrinking towards other
   campaigns' typical value as hard (the user's rows are the best evidence about their setup);
2. what remains at each measured point (its log residual per figure), interpolated along the
   workload by a Gaussian process over (log2 load, log2 input, log2 output, serving, model size):
   at a measured point the answer reproduces the measurement (within its noise), between points it
   interpolates along the physics, and far from every point (a factor of several in load, lengths
   or model size) the correction fades and the interval widens back to the shared model's.

Each calibration is one JSON file per device and engine beside the shared model
(``<predictors>/calibrations/<hardware>__<engine>.json``): writing one changes no other device's
answers, and it takes milliseconds (no retraining). ``predict`` answers every question about that
device and engine with it by default; naming a public ``source`` still asks "as that campaign
measured it".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inference_estimation.lib.catalog.vocabulary import normalize_engine
from inference_estimation.lib.ml.step_fit import NOISE_SD_INIT, StepFitError
from inference_estimation.lib.ml.step_model import (
    Adjustment,
    StepModel,
    _signs,
    observations,
    prepare,
    simulate,
)

#: Kernel length of the local correction in log2 units of load, input and output (a factor of 2).
KERNEL_LENGTH_LOG2 = 1.0
#: Prior spread (log) of what remains of a measurement after the campaign effects (the local
#: deviation the Gaussian process interpolates); against the measurement noise it sets how closely
#: the answer follows a measured point.
LOCAL_SIGNAL_SD = 0.2
#: Spread (log) assumed for a user's own measurement around its point.
MEASUREMENT_NOISE_SD = 0.03
#: How strongly the user's rows are shrunk towards the typical campaign: a fraction of the
#: shared fit's prior (their own measurements of their setup outweigh other campaigns).
USER_PRIOR_SCALE = 1.0
#: The figures the local correction applies to (e2e and throughput follow by the identities).
CORRECTED = ("ttft_s", "tpot_s", "itl_p50_s")
CALIBRATIONS_DIR = "calibrations"


#: Weight of log2(active parameters) in the kernel distance: another model of a similar size is
#: near, one twice the size is as far as a load twice as large (x 2 = a factor of 2 counts double).
MODEL_SIZE_WEIGHT = 2.0


def workload_coordinates(frame: pd.DataFrame) -> np.ndarray:
    """(log2 load, log2 input, log2 output, serving, model size) per row: the space the correction
    interpolates in (points of another model of another size are far)."""
    def col(name: str) -> np.ndarray:
        if name not in frame:
            return np.full(len(frame), np.nan)
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)

    serving = (frame["mode"].astype(str) == "serving").to_numpy() if "mode" in frame else np.zeros(len(frame), bool)
    load = np.where(serving, np.where(np.isnan(col("concurrency")), col("request_rate_rps"), col("concurrency")),
                    col("batch_size"))
    load = np.where(np.isnan(load), 4096.0, load)  # saturation: the far end of the load axis
    size = np.log2(np.maximum(np.nan_to_num(col("active_params"), nan=np.nan_to_num(col("params"), nan=1.0)), 1.0))
    return np.column_stack([np.log2(np.maximum(load, 1.0)), np.log2(np.maximum(np.nan_to_num(col("input_tokens")), 1.0)),
                            np.log2(np.maximum(np.nan_to_num(col("output_tokens"), nan=1.0), 1.0)),
                            serving.astype(float) * 4.0, size * MODEL_SIZE_WEIGHT])


@dataclass
class Calibration:
    """One device x engine calibrated from a user's rows (see the module docstring)."""

    hardware_key: str
    engine: str
    campaign: str
    u: float
    v: float
    points: list[list[float]]
    residuals: dict[str, list[float]]
    rows: int
    created_at: str
    data_version: str = ""
    notes: list[str] = field(default_factory=list)

    def adjustment(self, frame: pd.DataFrame) -> Adjustment:
        """The effects and local corrections for question rows (all of this device and engine)."""
        n = len(frame)
        x = workload_coordinates(frame)
        pts = np.asarray(self.points, dtype=float).reshape(len(self.points), -1)
        d2 = ((x[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2) / KERNEL_LENGTH_LOG2**2
        kernel = np.exp(-0.5 * d2)
        local, weight = {}, {}
        ratio = (MEASUREMENT_NOISE_SD / LOCAL_SIGNAL_SD) ** 2
        for target, values in self.residuals.items():
            r = np.asarray(values, dtype=float)
            has = np.isfinite(r)
            if not has.any():
                local[target], weight[target] = np.zeros(n), np.zeros(n)
                continue
            # Gaussian-process mean of the remaining residual: the measured points reproduced (up to
            # their noise), smooth between them, zero far from every one
            k_xx = np.exp(-0.5 * ((pts[has][:, None, :] - pts[has][None, :, :]) ** 2).sum(axis=2) / KERNEL_LENGTH_LOG2**2)
            system = k_xx + ratio * np.eye(int(has.sum()))
            k_star = kernel[:, has]
            local[target] = -(k_star @ np.linalg.solve(system, r[has]))
            # how much of the prior uncertainty the points explain here (1 at a point, 0 far away)
            weight[target] = np.clip(np.einsum("ij,ji->i", k_star, np.linalg.solve(system, k_star.T)), 0.0, 1.0)
        return Adjustment(np.ones(n, dtype=bool), np.full(n, self.u), np.full(n, self.v), local, weight,
                          MEASUREMENT_NOISE_SD)

    def save(self, folder: Path) -> Path:
        """Writes ``<folder>/calibrations/<hardware>__<engine>.json``."""
        path = calibration_path(folder, self.hardware_key, self.engine)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """Reads a calibration written by :meth:`save`."""
        return cls(**json.loads(Path(path).read_text()))


def calibration_path(predictors_dir: Path, hardware_key: str, engine: str) -> Path:
    """Where the calibration of one device and engine lives."""
    return predictors_dir / CALIBRATIONS_DIR / f"{hardware_key}__{engine}.json"


def load_calibrations(predictors_dir: Path) -> dict[tuple[str, str], Calibration]:
    """Every stored calibration, by (hardware, engine)."""
    folder = predictors_dir / CALIBRATIONS_DIR
    out = {}
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        cal = Calibration.load(path)
        out[(cal.hardware_key, cal.engine)] = cal
    return out


def calibrate(model: StepModel, frame: pd.DataFrame, campaign: str | None = None) -> Calibration:
    """Fits one device x engine's calibration from its rows, the shared model fixed.

    Args:
        model: the shared step model.
        frame: the user's rows (catalog facts joined: a training-frame or prediction-row shape)
            with their measured figures; one hardware and one engine.
        campaign: a name for the calibration (default: ``source|hardware|engine``).

    Raises:
        StepFitError: rows of several devices or engines, or none with a usable figure.
    """
    frame = frame.reset_index(drop=True)
    hardware = sorted(set(frame["hardware_key"].astype(str)))
    engines = sorted({normalize_engine(e) or "unknown" for e in frame["engine"].astype(str)})
    if len(hardware) != 1 or len(engines) != 1:
        raise StepFitError(f"a calibration is of one device and one engine; these rows have hardware {hardware} "
                           f"and engines {engines}")
    obs = observations(frame, np.ones(len(frame), dtype=bool))
    if len(obs.row) == 0:
        raise StepFitError("the calibration rows carry no latency or throughput figure (need TTFT, TPOT, ITL, "
                           "e2e or throughput with the workload that produced it)")
    prep = prepare(frame, year=model.answer_years(frame))  # the same software year predict answers for
    sched = simulate(model.coefficients, prep)
    pred = np.array([getattr(sched, t)[r] for t, r in zip(obs.target, obs.row, strict=True)])
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.log(pred) - obs.log_value
    ok = np.isfinite(r)
    sd = (model.campaign_sd[0] * USER_PRIOR_SCALE, model.campaign_sd[1] * USER_PRIOR_SCALE)
    u, v = _robust_effects(r[ok], obs.target[ok], sd, model.card.get("noise_sd", NOISE_SD_INIT))
    # only whole-request figures (e2e, throughput) and no TTFT: scale the prefill as the decode
    if not np.any(obs.target[ok] == "ttft_s"):
        v = u.copy()
    # what remains at each measured point, per figure (times; throughput folds into TPOT's sign)
    after = np.where(obs.target == "ttft_s", r + v[0], r + _signs(obs.target) * u[0])
    points = workload_coordinates(frame)
    residuals = {t: [float("nan")] * len(frame) for t in CORRECTED}
    for target, row, value in zip(obs.target, obs.row, after, strict=True):
        # a whole-request figure (e2e, throughput) corrects both phases by the same factor
        keys = ("ttft_s", "tpot_s") if target in ("e2e_latency_s", "output_throughput_tok_s") else (target,)
        sign = -1.0 if target == "output_throughput_tok_s" else 1.0
        for key in keys:
            if np.isfinite(value) and (np.isnan(residuals[key][row]) or target == key):
                residuals[key][row] = float(sign * value)
    source = str(frame["source"].iloc[0]) if "source" in frame else "user"
    return Calibration(hardware_key=hardware[0], engine=engines[0],
                       campaign=campaign or f"{source}|{hardware[0]}|{engines[0]}", u=float(u[0]), v=float(v[0]),
                       points=points.tolist(), residuals=residuals, rows=len(frame),
                       created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       data_version=str(model.card.get("data_version", "")))


def _robust_effects(r: np.ndarray, targets: np.ndarray, sd: tuple[float, float], noise_sd: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The campaign's effects from few rows: the shrunken *median* residual per side (one odd row
    among five must not move every answer of the device)."""
    out = []
    for side, prior in ((targets != "ttft_s", sd[0]), (targets == "ttft_s", sd[1])):
        values = (_signs(targets) * r)[side]
        if not len(values):
            out.append(np.zeros(1))
            continue
        n = len(values)
        out.append(np.array([-np.median(values) * n / (n + noise_sd**2 / prior**2)]))
    return out[0], out[1]


def describe(cal: Calibration) -> dict[str, Any]:
    """What a calibration changed, in words and numbers (for the CLI and asset metadata)."""
    return {"hardware": cal.hardware_key, "engine": cal.engine, "rows": cal.rows,
            "decode_factor": round(float(np.exp(cal.u)), 4), "ttft_factor": round(float(np.exp(cal.v)), 4),
            "created_at": cal.created_at}


def plan_points(coords: np.ndarray, k: int) -> np.ndarray:
    """Indices of ``k`` points that pin a calibration best for their number (greedy, farthest-first).

    The campaign effects are pinned by any point; the local correction by points that cover the
    workload space. Start at the point nearest the middle of the candidates (the effects), then add
    the candidate farthest from every chosen one (the correction's coverage), keeping the most
    remote tenth of the candidates for last.

    Args:
        coords: candidate workloads in :func:`workload_coordinates` space.
        k: points to choose.
    """
    n = len(coords)
    if n == 0 or k <= 0:
        return np.array([], dtype=int)
    centre = np.median(coords, axis=0)
    from_centre = ((coords - centre) ** 2).sum(axis=1)
    chosen = [int(np.argmin(from_centre))]
    # the farthest tenth are left to the end: an extreme point is often an odd one
    remote = from_centre > np.quantile(from_centre, 0.9) if n >= 10 else np.zeros(n, dtype=bool)
    dist = ((coords - coords[chosen[0]]) ** 2).sum(axis=1)
    while len(chosen) < min(k, n):
        candidates = np.where(remote & (len(chosen) < max(n - remote.sum(), 1)), -np.inf, dist)
        nxt = int(np.argmax(candidates))
        chosen.append(nxt)
        dist = np.minimum(dist, ((coords - coords[nxt]) ** 2).sum(axis=1))
    return np.array(chosen, dtype=int)


#: This project's own sweeps' source: its rows train the shared model, as the public datasets' do.
OWN_SOURCE = "local"


def user_rows(frame: pd.DataFrame, shared_sources: set[str]) -> np.ndarray:
    """Rows a user imported (a source not in ``shared_sources``, the public datasets' and this
    project's own): they calibrate their device, not the shared model."""
    if "source" not in frame:
        return np.zeros(len(frame), dtype=bool)
    return ~frame["source"].astype(str).isin(shared_sources | {OWN_SOURCE}).to_numpy()


def calibrations_from_rows(model: StepModel, frame: pd.DataFrame) -> tuple[list[Calibration], list[str]]:
    """One calibration per (hardware, engine) of the user's rows in ``frame``.

    Returns:
        (calibrations, one line per group that could not be calibrated and why).
    """
    frame = frame.reset_index(drop=True)
    engine = frame["engine"].map(lambda e: normalize_engine(e) or "unknown") if "engine" in frame else "unknown"
    out, skipped = [], []
    for (hardware, eng), group in frame.assign(_engine=engine).groupby(["hardware_key", "_engine"], sort=True):
        try:
            out.append(calibrate(model, group.drop(columns="_engine")))
        except StepFitError as exc:
            skipped.append(f"{hardware} with {eng}: {exc}")
    return out, skipped


def fact_rows(records: list[dict[str, Any]], catalog: Any) -> pd.DataFrame:
    """Measured records (resolved model and hardware keys) joined to their catalog facts, the shape
    the step model reads (as the warehouse's training rows are)."""
    from inference_estimation.lib.physics.features import prediction_row

    rows = []
    for record in records:
        row = prediction_row(catalog.model(record["model_key"]), catalog.hw(record["hardware_key"]), {})
        row.update({k: v for k, v in record.items() if v is not None})
        rows.append(row)
    return pd.DataFrame(rows)
