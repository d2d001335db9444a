"""The notes and warnings of answered rows, one function for ``predict`` and ``batch`` (neither loses one)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from inference_estimation.lib.ml.step_serving import step_notes

if TYPE_CHECKING:
    from inference_estimation.lib.ml.predict import Predictors


def answer_notes(predictors: Predictors, features: pd.DataFrame, answers: pd.DataFrame, engines: np.ndarray,
                 hardware_keys: np.ndarray) -> tuple[list[list[str]], list[list[str]]]:
    """The notes and warnings of answered rows: what ``predict`` prints, and what a batch row's
    ``notes`` cell holds (one function, so neither loses one).

    Notes: the step model's campaign and software year, the requests in flight a rate was solved
    for. Warnings: choices no predictor was trained on, a rate the setup cannot serve.
    """
    n = len(features)
    notes = (step_notes(predictors.step, engines, hardware_keys,
                        answers["campaign"].to_numpy() if "campaign" in answers else np.full(n, ""))
             if predictors.step is not None else [[] for _ in range(n)])
    warnings = predictors.unseen_choices(features)
    in_flight = pd.to_numeric(features["concurrency"], errors="coerce").to_numpy(dtype="float64")
    saturated = answers["saturated"].to_numpy(dtype=bool)
    rate = features["request_rate_rps"] if "request_rate_rps" in features else pd.Series(np.nan, index=features.index)
    solved = (features["mode"].astype(str) == "serving").to_numpy() & pd.to_numeric(rate, errors="coerce").notna(
        ).to_numpy()
    # an offline batch larger than the engine holds at once runs in waves
    held = (answers["in_flight"].to_numpy(dtype="float64") if "in_flight" in answers else np.full(n, np.nan))
    batch = pd.to_numeric(features["batch_size"], errors="coerce").to_numpy(dtype="float64")
    offline = (features["mode"].astype(str) != "serving").to_numpy()
    for i in range(n):
        if saturated[i]:
            warnings[i].append(saturation_warning(in_flight[i]))
        elif solved[i] and np.isfinite(in_flight[i]):
            notes[i].append(f"{in_flight[i]:g} requests in flight at that rate (Little's law: rate x e2e)")
        if offline[i] and np.isfinite(batch[i]) and np.isfinite(held[i]) and held[i] < batch[i] - 0.5:
            notes[i].append(wave_note(batch[i], held[i]))
    return notes, warnings


def wave_note(batch_size: float, held: float) -> str:
    """The note of an offline batch larger than the engine holds at once (its KV cache or batch limit)."""
    waves = math.ceil(batch_size / held)
    return (f"the engine holds {held:g} of the {batch_size:g} sequences at once (its KV cache or batch limit), so "
            f"it runs the batch in {waves} waves: TTFT, TPOT and e2e are one wave's (a sequence of a later wave "
            f"also waits for the waves before it); throughput holds for the whole batch, which takes about "
            f"{waves} x e2e")


def saturation_warning(concurrency: float) -> str:
    """The warning of a request rate that a setup cannot serve (answers at its most requests in flight)."""
    return (f"the request rate saturates this setup: the most requests it holds in flight ({concurrency:g}, its "
            "KV cache or batch limit) cannot serve it; requests queue without bound (answers are at that concurrency)")
