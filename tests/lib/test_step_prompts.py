"""Fitting a dataset's unpublished mean prompt length from its rows (lib.ml.step_prompts)."""

import numpy as np
import pandas as pd

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.ml.step_fit import _levels, fit_step_model
from inference_estimation.lib.ml.step_model import prepare, simulate
from inference_estimation.lib.ml.step_parameters import Layout
from inference_estimation.lib.ml.step_prompts import (
    FITTED,
    dataset_keys,
    fit_prompt_lengths,
    unknown_prompts,
    with_prompt_lengths,
)
from inference_estimation.lib.physics.features import prediction_row


def _serving_sweep(prompt_tokens: float, source: str, task: str) -> pd.DataFrame:
    """A concurrency sweep of two models on two devices, figures from the model's start values."""
    catalog = load_catalog(strict=False)
    rows = []
    for model in ("llama-3.1-8b", "qwen2.5-7b"):
        for hw in ("nvidia-h100-sxm-80gb", "nvidia-a100-sxm4-80gb"):
            for conc in (1, 8, 32, 128, 256):
                rows.append({**prediction_row(catalog.model(model), catalog.hw(hw), {
                    "engine": "vllm", "dtype": "bfloat16", "mode": "serving", "concurrency": conc,
                    "input_tokens": prompt_tokens, "output_tokens": 256, "device_count": 1}),
                    "source": source, "prompt_type": task, "measured_at_ts": "2025-06-01"})
    frame = pd.DataFrame(rows)
    prep = prepare(frame)
    sched = simulate(Layout(_levels(prep, np.arange(len(frame)))).coefficients(
        Layout(_levels(prep, np.arange(len(frame)))).initial()), prep)
    frame["ttft_s"], frame["tpot_s"] = sched.ttft_s, sched.tpot_s
    return frame


def test_a_hidden_prompt_length_is_recovered_from_the_rows_shape():
    known = _serving_sweep(512.0, "lab", "known")
    hidden = _serving_sweep(2000.0, "lab", "hidden").assign(input_tokens=np.nan)
    frame = pd.concat([known, hidden], ignore_index=True)
    usable = np.ones(len(frame), dtype=bool)
    assert unknown_prompts(frame, usable).sum() == len(hidden)
    model = fit_step_model(frame[~unknown_prompts(frame, usable)], usable[: len(known)])
    fits = fit_prompt_lengths(model.coefficients, frame, usable)
    fit = fits["lab:hidden"]
    assert 1400 <= fit.input_tokens <= 2900, fit
    assert not fit.at_bound and fit.campaigns >= 1
    filled = with_prompt_lengths(frame, fits, usable)
    assert (filled["input_tokens_basis"].to_numpy()[len(known):] == FITTED).all()
    assert np.isfinite(filled["input_tokens"]).all()
    # a fit with the option on says what it fitted in its card
    card = fit_step_model(frame, usable, fit_prompts=True).card
    assert set(card["fitted_prompt_tokens"]) == {"lab:hidden"}


def test_mlperf_rows_share_one_key_per_benchmark_whatever_the_round_and_scenario():
    frame = pd.DataFrame({"source": ["mlperf-inference"] * 3 + ["mlenergy-v3"],
                          "prompt_type": ["mlperf/v4.1/llama2-70b-99/offline/4.1-0001",
                                          "mlperf/v5.1/llama2-70b-99.9/server/5.1-0002;p99-limits:ttft=2s",
                                          "mlperf/v5.1/llama3.1-8b-edge/offline/5.1-0003", "gpqa"]})
    assert list(dataset_keys(frame)) == ["mlperf-inference:llama2-70b", "mlperf-inference:llama2-70b",
                                         "mlperf-inference:llama3.1-8b", "mlenergy-v3:gpqa"]
