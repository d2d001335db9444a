"""The calibrated-campaign split: a held-out campaign, k of its rows given, the rest asked.

For campaigns (hardware x source x engine) with at least :data:`MIN_CAMPAIGN_ROWS` fully stated
rows, the shared step model is fitted without them (two campaigns per fold), then for k = 1, 3, 5
(and 10, the random reference) rows given -- chosen by the planner
(:func:`inference_estimation.lib.ml.step_calibration.plan_points`) and at random, the same rows
for every method -- the other rows are scored, and the given rows themselves. Methods:

* ``none`` -- the shared model, the campaign never seen;
* ``single_factor`` -- the previously served correction's rule applied to the step model: one
  shrunken median log residual of the given rows on every time target;
* ``step_calibration`` -- what ``calibrate`` serves: the campaign's effects plus the local
  correction that reproduces the given points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from inference_estimation.lib.ml.step_calibration import calibrate, plan_points, workload_coordinates
from inference_estimation.lib.ml.step_evaluation import complete_workload, step_usable
from inference_estimation.lib.ml.step_fit import StepFitError, fit_step_model
from inference_estimation.lib.ml.step_model import Adjustment, StepModel, label_rule

MIN_CAMPAIGN_ROWS = 12
KS = (1, 3, 5, 10)
METHODS = ("none", "single_factor", "step_calibration")
CHOOSERS = ("planner", "random")
SCORED = ("ttft_s", "tpot_s", "e2e_latency_s", "output_throughput_tok_s")
#: Rows of prior weight in the single-factor rule (as the served per-device correction used).
SINGLE_FACTOR_PRIOR_ROWS = 2.0


@dataclass
class CalibrationScores:
    """``errors[(chooser, k, method, where)][target]`` = list of absolute percentage errors."""

    errors: dict[tuple[str, int, str, str], dict[str, list[float]]] = field(default_factory=dict)
    campaigns: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def mdape(self, chooser: str, k: int, method: str, where: str, target: str) -> float | None:
        """The median absolute percentage error of one cell (None when nothing was scored)."""
        values = self.errors.get((chooser, k, method, where), {}).get(target)
        return float(np.median(values)) if values else None


def _campaign_of(frame: pd.DataFrame) -> np.ndarray:
    engine = frame["engine"].astype(str).fillna("unknown") if "engine" in frame else pd.Series("unknown", index=frame.index)
    return (frame["source"].astype(str) + "|" + frame["hardware_key"].astype(str) + "|" + engine).to_numpy()


def _measured(frame: pd.DataFrame, target: str) -> np.ndarray:
    return pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float) if target in frame \
        else np.full(len(frame), np.nan)


def _scored_masks(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    rules = label_rule(frame, np.ones(len(frame), dtype=bool))
    masks = {t: rules.get(t, np.zeros(len(frame), bool)) for t in SCORED}
    masks["tpot_s"] = masks["tpot_s"] | rules["itl_p50_s"]
    return masks


def choose_campaigns(frame: pd.DataFrame, n: int) -> list[str]:
    """Up to ``n`` campaigns with enough usable, fully stated rows, spread over sources."""
    ok = step_usable(frame) & complete_workload(frame)
    rules = label_rule(frame, ok)
    has_figure = np.zeros(len(frame), dtype=bool)
    for use in rules.values():
        has_figure |= use
    keys = pd.Series(_campaign_of(frame))[has_figure]
    counts = keys.value_counts()
    eligible = counts[counts >= MIN_CAMPAIGN_ROWS]
    by_source: dict[str, list[str]] = {}
    for key in sorted(eligible.index):
        by_source.setdefault(key.split("|")[0], []).append(key)
    chosen: list[str] = []
    while len(chosen) < n and any(by_source.values()):
        for source in sorted(by_source):
            if by_source[source] and len(chosen) < n:
                chosen.append(by_source[source].pop(len(by_source[source]) // 2))
    return chosen


def evaluate_calibration(frame: pd.DataFrame, n_campaigns: int = 8, seed: int = 0,
                         max_evaluations: int = 40) -> CalibrationScores:
    """Scores the three methods on held-out campaigns (see the module docstring)."""
    import time

    t0 = time.perf_counter()
    frame = frame.reset_index(drop=True)
    usable = step_usable(frame)
    campaign = _campaign_of(frame)
    chosen = choose_campaigns(frame, n_campaigns)
    scores = CalibrationScores(campaigns=chosen)
    masks = _scored_masks(frame)
    for fold in range(0, len(chosen), 2):
        held = chosen[fold:fold + 2]
        train = ~np.isin(campaign, held)
        model = fit_step_model(frame[train], usable[train], max_evaluations=max_evaluations)
        for key in held:
            rows = np.flatnonzero((campaign == key) & usable & complete_workload(frame))
            figure_rows = rows[np.any([masks[t][rows] for t in SCORED], axis=0)]
            _score_campaign(model, frame, figure_rows, masks, scores, seed)
    scores.seconds = round(time.perf_counter() - t0, 1)
    return scores


def _score_campaign(model: StepModel, frame: pd.DataFrame, rows: np.ndarray, masks: dict[str, np.ndarray],
                    scores: CalibrationScores, seed: int) -> None:
    part = frame.iloc[rows].reset_index(drop=True).copy()
    part["source"] = "user"  # a user's own setup: no public source to lean on
    coords = workload_coordinates(part)
    base = model.predict(part)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(part))
    for k in KS:
        if k >= len(part):
            continue
        for chooser in CHOOSERS:
            given = plan_points(coords, k) if chooser == "planner" else order[:k]
            rest = np.setdiff1d(np.arange(len(part)), given)
            for method in METHODS:
                if chooser == "planner" and k == 10:
                    continue
                answers = _answers(model, part, given, base, method)
                for where, idx in (("others", rest), ("given", given)):
                    bucket = scores.errors.setdefault((chooser, k, method, where), {})
                    for target in SCORED:
                        use = idx[masks[target][rows][idx]]
                        y = _measured(part, target)
                        if target == "tpot_s":
                            median = (part.get("latency_statistic", pd.Series(index=part.index, dtype=object))
                                      .astype(str) == "p50").to_numpy()
                            pred = np.where(median, answers["itl_p50_s"], answers["tpot_s"])
                            y = np.where(np.isnan(y), _measured(part, "itl_p50_s"), y)
                        else:
                            pred = answers[target]
                        ok = use[np.isfinite(pred[use]) & np.isfinite(y[use]) & (y[use] > 0)]
                        bucket.setdefault(target, []).extend((np.abs(pred[ok] / y[ok] - 1) * 100).tolist())


def _answers(model: StepModel, part: pd.DataFrame, given: np.ndarray, base: dict[str, np.ndarray],
             method: str) -> dict[str, np.ndarray]:
    if method == "none":
        return base
    mine = part.iloc[given]
    if method == "single_factor":
        logs = []
        for target in SCORED:
            y, p = _measured(mine, target), base[target][given]
            ok = np.isfinite(y) & (y > 0) & np.isfinite(p) & (p > 0)  # a zero prediction has no log
            sign = -1.0 if target == "output_throughput_tok_s" else 1.0
            logs.extend((sign * (np.log(p[ok]) - np.log(y[ok]))).tolist())
        factor = -np.median(logs) * len(logs) / (len(logs) + SINGLE_FACTOR_PRIOR_ROWS) if logs else 0.0
        n = len(part)
        adjust = Adjustment(np.ones(n, dtype=bool), np.full(n, factor), np.full(n, factor), {}, {})
        return model.predict(part, adjust=adjust)
    try:
        cal = calibrate(model, mine)
    except StepFitError:
        return base
    return model.predict(part, adjust=cal.adjustment(part))


def calibration_markdown(scores: CalibrationScores) -> str:
    """MdAPE % on the other rows (and at the given points) per k, chooser and method."""
    lines = [f"held-out campaigns: {len(scores.campaigns)} ({', '.join(scores.campaigns)})", "",
             "k | chooser | method | " + " | ".join(f"{t} others" for t in SCORED) + " | tpot_s given | ttft_s given",
             "---|---|---|" + "---|" * (len(SCORED) + 2)]
    fmt = lambda v: "—" if v is None else f"{v:.1f}"  # noqa: E731
    for k in KS:
        for chooser in CHOOSERS:
            for method in METHODS:
                if (chooser, k, method, "others") not in scores.errors:
                    continue
                cells = [fmt(scores.mdape(chooser, k, method, "others", t)) for t in SCORED]
                cells += [fmt(scores.mdape(chooser, k, method, "given", t)) for t in ("tpot_s", "ttft_s")]
                lines.append(f"{k} | {chooser} | {method} | " + " | ".join(cells))
    return "\n".join(lines)
