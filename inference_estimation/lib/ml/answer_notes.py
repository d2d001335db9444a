"""The notes and warnings of answered rows, one function for ``predict`` and ``batch`` (neither loses one)."""

from __future__ import annotations

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
    for i in range(n):
        if saturated[i]:
            warnings[i].append(saturation_warning(in_flight[i]))
        elif solved[i] and np.isfinite(in_flight[i]):
            notes[i].append(f"{in_flight[i]:g} requests in flight at that rate (Little's law: rate x e2e)")
    return notes, warnings


def saturation_warning(concurrency: float) -> str:
    """The warning of a request rate that a setup cannot serve (answers at its most requests in flight)."""
    return (f"the request rate saturates this setup: the most requests it holds in flight ({concurrency:g}, its "
            "KV cache or batch limit) cannot serve it; requests queue without bound (answers are at that concurrency)")
