"""Mean prompt lengths a public dataset never published, fitted from the dataset's own rows.

ML.ENERGY (v1-v3) and four MLPerf LLM benchmarks publish their output lengths but no mean prompt
length (the ML.ENERGY adapters' docstrings and the MLPerf adapter's ``WORKLOADS`` cite what each
benchmark does publish: ml-energy/benchmark v3.0 task configs, mlcommons/inference
``submission_checker.py`` and the reference READMEs). Without
one, a serving or saturation row cannot train the step model: the prefill work interleaved with
its decodes is unknown. But each such dataset ran ONE prompt distribution, so its mean prompt
length is one unknown number per dataset, and the rows constrain it. Within a campaign (one
source, hardware, engine and version), how TPOT, ITL, TTFT and throughput move with batch,
concurrency and scenario depends on how many prompt tokens each request adds: long prompts make
large batches costlier (more KV cache read per step, more prefill interleaved).

:func:`fit_prompt_lengths` reads that number by profile likelihood: for each candidate length on a
log grid within the dataset's documented bounds (:data:`PROMPT_BOUNDS`), the fitted step model
simulates the dataset's rows; each campaign's level is removed (a campaign's efficiency must not
be read as a prompt length), and the length whose remaining residuals are smallest is kept. The
step model is then refitted with it (:func:`inference_estimation.lib.ml.step_fit.fit_step_model`).

Conventions: a fitted length is flagged (``input_tokens_basis = "fitted"``), reported in the model
card with its bounds and how many campaigns constrained it, and is never an answer that is scored:
an evaluation fold fits it from its training rows only, and held-out rows with no published prompt
length stay out of the scores (:func:`inference_estimation.lib.ml.step_evaluation.complete_workload`).
For multimodal tasks the fitted length is an *effective* prompt (text plus image/video tokens as
the prefill sees them).

Off by default (``fit_step_model(..., fit_prompts=False)``): hiding lengths the sources do state
and fitting them back recovers them (InferenceX 1,024 -> ~780 and 8,192 -> ~9,400, Argonne 512 ->
512, LLM-Pilot 122 -> 119), but on ML.ENERGY and MLPerf most fits land on their lower bound, where
the length absorbs the step model's own error at large batches instead of measuring the prompts,
and the fitted rows cost TPOT accuracy on unseen sources. ``benchmarks/accuracy.py --fit-prompts``
measures it against the default.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from inference_estimation.lib.ml.step_model import (
    LOSS_SCALE,
    _num,
    _predicted,
    _signs,
    _text,
    observations,
    prepare,
    simulate,
)
from inference_estimation.lib.ml.step_parameters import Coefficients

#: Candidate mean prompt lengths tried per dataset (a log grid, ~24% apart).
GRID_POINTS = 41
#: Bounds used where a dataset documents none: a few tokens to a long-context prompt.
DEFAULT_BOUNDS = (8.0, 32768.0)
#: dataset -> (fewest, most) mean prompt tokens it can have, and where the bounds come from.
PROMPT_BOUNDS: dict[str, tuple[float, float, str]] = {
    "mlperf-inference:llama2-70b": (8.0, 1024.0, "mlcommons/inference language/llama2-70b/processorca.py keeps "
                                    "prompts under --seqlen_limit=1024 Llama-2 tokens"),
    "mlperf-inference:mixtral-8x7b": (8.0, 2048.0, "mlcommons/inference language/mixtral-8x7b README: max_seq_len 2048"),
    "mlenergy-v2:chat": (4.0, 800.0, "ml-energy/benchmark@d0311acfa9: ShareGPT first turns with 4-800 prompt tokens"),
}
#: Input-token basis of a row whose prompt length was fitted here.
FITTED = "fitted"


@dataclass
class PromptFit:
    """One dataset's fitted mean prompt length and how well its rows pin it.

    Attributes:
        input_tokens: the fitted mean prompt length (tokens).
        lower_tokens / upper_tokens: the bounds searched (documented or default).
        bounds_source: where the bounds come from.
        rows: rows of the dataset that carry a figure.
        campaigns: campaigns with two or more figures (only they constrain the length).
        at_bound: the best length is a bound of the search (the data want a length beyond it).
        loss_drop: relative loss reduction of the best length over the worse bound (0 = flat).
    """

    input_tokens: float
    lower_tokens: float
    upper_tokens: float
    bounds_source: str
    rows: int
    campaigns: int
    at_bound: bool
    loss_drop: float

    def to_json(self) -> dict[str, object]:
        """Plain JSON-able fields (the model card stores them)."""
        return asdict(self)


def dataset_keys(frame: pd.DataFrame) -> np.ndarray:
    """The prompt distribution each row ran: ``source:task``; MLPerf rows by benchmark family.

    MLPerf's ``prompt_type`` is ``mlperf/<round>/<benchmark>/<scenario>/<id>...``: every round and
    scenario of a benchmark runs the same dataset (``llama2-70b-99.9`` and ``-99`` too).
    """
    keys = []
    for source, prompt in zip(_text(frame, "source", ""), _text(frame, "prompt_type", ""), strict=True):
        if prompt.startswith("mlperf/") and prompt.count("/") >= 2:
            family = re.sub(r"-edge$", "", re.sub(r"-99(\.9)?$", "", prompt.split("/")[2]))
            keys.append(f"{source}:{family}")
        else:
            keys.append(f"{source}:{prompt}")
    return np.array(keys, dtype=object)


def unknown_prompts(frame: pd.DataFrame, usable: np.ndarray) -> np.ndarray:
    """Usable rows with an output length but no prompt length (what :func:`fit_prompt_lengths` fills)."""
    return (np.asarray(usable, dtype=bool) & ~np.isfinite(_num(frame, "input_tokens"))
            & np.isfinite(_num(frame, "output_tokens")))


def _soft_l1(r: np.ndarray) -> float:
    z = (r / LOSS_SCALE) ** 2
    return float(np.sum(2.0 * (np.sqrt(1.0 + z) - 1.0)))


def _centered(r: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, int]:
    """Residuals minus their group's mean, and how many groups hold two or more of them."""
    codes, counts = np.unique(group, return_inverse=True, return_counts=True)[1:]
    means = np.bincount(codes, weights=r) / counts
    return r - means[codes], int(np.sum(counts >= 2))


def _profile(coefficients: Coefficients, sub: pd.DataFrame, grid: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Loss per candidate length for one dataset's rows, campaign levels removed."""
    n = len(sub)
    trial = pd.concat([sub] * len(grid), ignore_index=True)
    trial["input_tokens"] = np.repeat(grid, n)
    obs = observations(trial, np.ones(len(trial), dtype=bool))
    if len(obs.row) == 0:
        return np.full(len(grid), np.nan), 0, 0
    sched = simulate(coefficients, prepare(trial))
    pred = np.empty(len(obs.row))
    for target in np.unique(obs.target):
        at = obs.target == target
        pred[at] = _predicted(sched, str(target))[obs.row[at]]
    # throughput residuals flipped, so one campaign effect moves every figure the same way; TTFT
    # has its own campaign effect, so its residuals are centred apart from the decode side's
    r = (np.log(pred) - obs.log_value) * _signs(obs.target)
    candidate = obs.row // n
    campaign = np.asarray(prepare(sub).campaign, dtype=object)[obs.row % n]
    side = np.where(obs.target == "ttft_s", "ttft", "decode")
    losses = np.full(len(grid), np.nan)
    constrained = 0
    for i in range(len(grid)):
        at = (candidate == i) & np.isfinite(r)
        if not at.any():
            continue
        centred, constrained = _centered(r[at], campaign[at] + "|" + side[at])
        losses[i] = _soft_l1(centred)
    return losses, constrained, int(len(np.unique(obs.row % n)))


def fit_prompt_lengths(coefficients: Coefficients, frame: pd.DataFrame, usable: np.ndarray) -> dict[str, PromptFit]:
    """Each dataset's mean prompt length, where its rows pin one (see the module's docstring).

    Args:
        coefficients: a step model fitted on the rows whose prompt lengths are known.
        frame: the training rows.
        usable: rows that may train.

    Returns:
        dataset key (:func:`dataset_keys`) -> :class:`PromptFit`, for every dataset with rows of
        unknown prompt length that at least one campaign with two figures constrains.
    """
    frame = frame.reset_index(drop=True)
    unknown = unknown_prompts(frame, usable)
    keys = dataset_keys(frame)
    fits: dict[str, PromptFit] = {}
    for key in sorted(set(keys[unknown])):
        lower, upper, basis = PROMPT_BOUNDS.get(key, (*DEFAULT_BOUNDS, "no documented bounds: defaults"))
        grid = np.geomspace(lower, upper, GRID_POINTS)
        sub = frame.loc[unknown & (keys == key)].reset_index(drop=True)
        losses, constrained, rows = _profile(coefficients, sub, grid)
        if constrained == 0 or not np.isfinite(losses).any():
            continue  # no campaign holds two figures: nothing pins the length
        best = int(np.nanargmin(losses))
        worst_bound = np.nanmax([losses[0], losses[-1]])
        drop = float(1.0 - losses[best] / worst_bound) if worst_bound > 0 else 0.0
        fits[key] = PromptFit(input_tokens=float(round(grid[best], 1)), lower_tokens=lower, upper_tokens=upper,
                              bounds_source=basis, rows=rows, campaigns=constrained,
                              at_bound=best in (0, len(grid) - 1), loss_drop=round(drop, 4))
    return fits


def with_prompt_lengths(frame: pd.DataFrame, fits: dict[str, PromptFit], usable: np.ndarray) -> pd.DataFrame:
    """``frame`` with each fitted dataset's prompt length filled in (flagged ``input_tokens_basis``)."""
    out = frame.reset_index(drop=True).copy()
    unknown = unknown_prompts(out, usable)
    keys = dataset_keys(out)
    basis = out["input_tokens_basis"].astype(object).to_numpy() if "input_tokens_basis" in out \
        else np.where(np.isfinite(_num(out, "input_tokens")), "stated", None).astype(object)
    tokens = _num(out, "input_tokens").copy()
    for key, fit in fits.items():
        at = unknown & (keys == key)
        tokens[at] = fit.input_tokens
        basis[at] = FITTED
    out["input_tokens"] = tokens
    out["input_tokens_basis"] = basis
    return out
