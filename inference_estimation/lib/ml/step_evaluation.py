"""Held-out evaluation of the step-time model beside the coherent (per-row CatBoost) design.

Both designs are fitted on the same training folds and scored on the same held-out rows (those
whose workload is fully stated, :func:`complete_workload`), on the splits users meet (random, a
new device, a new model, a new source). The step model answers a
held-out row as a new campaign (no campaign effect; its interval includes the campaigns'
spread). Scoring uses measured figures only (:func:`coherent_evaluation.measured_mask`, the one rule).
A TPOT that its source states as a median ITL is compared with the step model's median ITL.

Energy per output token has no learned step term: it is the power primitive (CatBoost, unchanged)
divided by the answered throughput, so the step model's energy uses the coherent design's power
on the same fold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from inference_estimation import constants
from inference_estimation.lib.ml.coherent_evaluation import _score, coherent_out_of_fold, measured_mask
from inference_estimation.lib.ml.holdout import SPLITS, split_folds
from inference_estimation.lib.ml.step_fit import fit_step_model
from inference_estimation.lib.ml.step_model import STEP_TARGETS, StepModel
from inference_estimation.lib.physics.usability import step_usable as usability_step_usable

#: Targets both designs answer and are compared on.
COMPARED_TARGETS = ("ttft_s", "tpot_s", "e2e_latency_s", "output_throughput_tok_s", "avg_power_w",
                    "energy_per_output_token_j")
DESIGNS = ("step_model", "coherent")


def step_usable(frame: pd.DataFrame) -> np.ndarray:
    """Rows the step model may train on (the one rule:
    :func:`inference_estimation.lib.physics.usability.step_usable`)."""
    return usability_step_usable(frame)


def complete_workload(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose question is fully stated: a serving or saturation row needs its prompt length.

    Without it the prefill work interleaved with the decodes is unknown; no user asks that
    question, so neither design is scored on it (both are scored on the same rows).
    """
    def num(col: str) -> np.ndarray:
        return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float) if col in frame \
            else np.full(len(frame), np.nan)

    serving = (frame["mode"].astype(str) == "serving").to_numpy() if "mode" in frame else np.zeros(len(frame), bool)
    saturation = ~serving & np.isnan(num("batch_size"))
    return ~(serving | saturation) | np.isfinite(num("input_tokens"))


def step_answers(model: StepModel, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The step model's answers for ``frame`` as a new campaign, TPOT read as the source states it."""
    out = model.predict(frame)
    median = (frame.get("latency_statistic", pd.Series(index=frame.index, dtype=object)).astype(str) == "p50").to_numpy()
    for suffix in ("", "_lower_90", "_upper_90"):
        out[f"tpot_s{suffix}"] = np.where(median, out[f"itl_p50_s{suffix}"], out[f"tpot_s{suffix}"])
    return out


def step_out_of_fold(frame: pd.DataFrame, folds: list[np.ndarray], max_evaluations: int,
                     fit_prompts: bool = False, train_frame: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """Held-out step-model answers (value and 90% bounds per target) for every row of ``folds``.

    Args:
        frame: every row (the held-out ones are answered from their facts and workload).
        folds: the held-out row positions of each fold.
        max_evaluations: least-squares budget per fit.
        fit_prompts: fit unpublished prompt lengths from each fold's training rows
            (:func:`inference_estimation.lib.ml.step_fit.fit_step_model`).
        train_frame: what the training rows say, where it differs from ``frame`` (same rows in the
            same order; e.g. figures blanked to measure what some labels add); default ``frame``.
    """
    n = len(frame)
    out = {f"{t}{s}": np.full(n, np.nan) for t in STEP_TARGETS for s in ("", "_lower_90", "_upper_90")}
    teach = frame if train_frame is None else train_frame.reset_index(drop=True)
    usable = step_usable(teach)
    for test_idx in folds:
        train = np.ones(n, dtype=bool)
        train[test_idx] = False
        model = fit_step_model(teach[train], usable[train], max_evaluations=max_evaluations, fit_prompts=fit_prompts)
        answers = step_answers(model, frame.iloc[test_idx])
        for key in out:
            out[key][test_idx] = answers[key]
    return out


@dataclass
class DesignComparison:
    """``splits[split][design][target] -> metrics`` plus what could not be scored and timings."""

    splits: dict[str, dict[str, dict[str, dict[str, float]]]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def compare_designs(frame: pd.DataFrame, splits: tuple[str, ...] = tuple(SPLITS), n_folds: int = 5, seed: int = 0,
                    iterations: int = constants.EVALUATION_ITERATIONS, max_evaluations: int = 40,
                    include_coherent: bool = True, fit_prompts: bool = False,
                    train_frame: pd.DataFrame | None = None) -> DesignComparison:
    """Scores the step model and (optionally) the coherent design on the same folds of each split.

    ``fit_prompts`` fits unpublished prompt lengths inside each fold (the step model's option);
    ``train_frame`` is what the step model's training rows say (:func:`step_out_of_fold`).
    """
    frame = frame.reset_index(drop=True)
    result = DesignComparison()
    for split in splits:
        folds = split_folds(frame, split, n_folds, seed)
        if isinstance(folds, str):
            result.skipped[split] = folds
            continue
        t0 = time.perf_counter()
        step = step_out_of_fold(frame, folds, max_evaluations, fit_prompts, train_frame)
        result.seconds[f"{split}/step_model"] = round(time.perf_counter() - t0, 1)
        scored: dict[str, dict[str, dict[str, float]]] = {d: {} for d in DESIGNS}
        coherent: pd.DataFrame | None = None
        if include_coherent:
            t0 = time.perf_counter()
            coherent, _ = coherent_out_of_fold(frame, folds, seed, iterations, "physics")
            result.seconds[f"{split}/coherent"] = round(time.perf_counter() - t0, 1)
        held_out = np.zeros(len(frame), dtype=bool)
        held_out[np.concatenate(folds)] = True
        complete = complete_workload(frame)
        for target in COMPARED_TARGETS:
            mask = measured_mask(frame, target) & held_out & complete
            if target in STEP_TARGETS:
                metrics = _score(frame, target, step[target], mask, split, step[f"{target}_lower_90"],
                                 step[f"{target}_upper_90"])
            elif coherent is not None and target == "energy_per_output_token_j":
                energy = _coherent_target(coherent, "avg_power_w")[0] / step["output_throughput_tok_s"]
                metrics = _score(frame, target, energy, mask, split)
            else:
                metrics = None
            if metrics:
                scored["step_model"][target] = metrics
            if coherent is not None:
                value, lower, upper = _coherent_target(coherent, target)
                metrics = _score(frame, target, value, mask, split, lower, upper)
                if metrics:
                    scored["coherent"][target] = metrics
        result.splits[split] = scored
    return result


def _coherent_target(answers: pd.DataFrame, target: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value and bounds of one target from :func:`evaluation.coherent_out_of_fold`'s answers."""
    col = lambda name: pd.to_numeric(answers[name], errors="coerce").to_numpy(dtype=float)  # noqa: E731
    return col(target), col(f"{target}_lower_90"), col(f"{target}_upper_90")


def comparison_markdown(result: DesignComparison) -> str:
    """One table per split: MdAPE, share within 10%, 90% coverage and Kendall tau per design and target."""
    lines = []
    for split, designs in result.splits.items():
        lines += [f"### {split}", "", "target | design | rows | MdAPE % | within ±10% | 90% coverage | Kendall τ",
                  "---|---|---|---|---|---|---"]
        for target in COMPARED_TARGETS:
            for design in DESIGNS:
                m = designs.get(design, {}).get(target)
                if not m:
                    continue
                cov = m.get("interval_coverage_90")
                tau = m.get("kendall_tau")
                lines.append(
                    f"{target} | {design} | {int(m['rows'])} | {m['mdape_pct']:.1f} | {m['within_10pct_share'] * 100:.0f}% | "
                    f"{'—' if cov is None else f'{cov:.2f}'} | {'—' if tau is None or tau != tau else f'{tau:.2f}'}")
        lines.append("")
    for split, reason in result.skipped.items():
        lines.append(f"- {split}: skipped ({reason})")
    return "\n".join(lines)
