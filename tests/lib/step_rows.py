"""Synthetic measurements for step-model tests: catalog facts, a workload grid, figures generated
from known coefficients through the same scheduler, a factor per campaign and log-normal noise."""

import numpy as np
import pandas as pd

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.ml.step_fit import _levels
from inference_estimation.lib.ml.step_model import campaign_keys, prepare, simulate
from inference_estimation.lib.ml.step_parameters import Layout
from inference_estimation.lib.physics.features import prediction_row

MODELS = ("llama-3.1-8b", "llama-2-70b", "qwen2.5-7b", "mixtral-8x7b")
DEVICES = ("nvidia-h100-sxm-80gb", "nvidia-a100-sxm4-80gb", "amd-mi300x", "nvidia-l40s")


def synthetic_rows(campaign_effects: dict[str, float], noise: float, seed: int) -> pd.DataFrame:
    """Synthetic measurements: catalog facts, a grid of workloads, figures from known coefficients
    through the same scheduler, a slow or fast factor per campaign and log-normal noise."""
    catalog = load_catalog(strict=False)
    rows = []
    for source in ("lab-a", "lab-b"):
        for model in MODELS:
            for hw in DEVICES:
                m, h = catalog.model(model), catalog.hw(hw)
                devices = 4 if model in ("llama-2-70b", "mixtral-8x7b") else 1
                for batch in (1, 8, 32):
                    for n_in, n_out in ((128, 128), (1024, 256)):
                        rows.append({**prediction_row(m, h, {"engine": "vllm", "dtype": "bfloat16", "mode": "offline",
                                                            "batch_size": batch, "input_tokens": n_in,
                                                            "output_tokens": n_out, "device_count": devices}),
                                     "source": source, "measured_at_ts": "2025-06-01"})
                for conc in (4, 64):
                    rows.append({**prediction_row(m, h, {"engine": "vllm", "dtype": "bfloat16", "mode": "serving",
                                                        "concurrency": conc, "input_tokens": 1024,
                                                        "output_tokens": 512, "device_count": devices}),
                                 "source": source, "measured_at_ts": "2025-06-01"})
    frame = pd.DataFrame(rows)
    prep = prepare(frame)
    layout = Layout(_levels(prep, np.arange(len(frame))))
    x = layout.initial()
    sched = simulate(layout.coefficients(x), prep)
    rng = np.random.default_rng(seed)
    shift = np.array([campaign_effects.get(k, 0.0) for k in campaign_keys(frame)])
    frame["ttft_s"] = sched.ttft_s * np.exp(shift + rng.normal(0, noise, len(frame)))
    frame["tpot_s"] = sched.tpot_s * np.exp(shift + rng.normal(0, noise, len(frame)))
    return frame[prep.facts.valid].reset_index(drop=True)
