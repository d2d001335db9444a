"""Speed of batch prediction on distinct random questions: rows/s of ``predict_batch``.

Random rows over the catalog's models and accelerators (names with a count such as ``8x H200``
included), engines and dtypes given or left to the defaults, device counts, ``max`` batches and
serving rows, all distinct, so every row is resolved and refused afresh (repeated rows are
resolved once and would flatter the figure). The predictors are trained on a small
physics-shaped frame first (not timed): the figure is the batch path, not the model size.
Prints the best of ``--repeats`` runs in rows/s and the seconds of the resolution alone.
Goal: >= 50k rows/s.

Usage:
    .venv/bin/python benchmarks/batch_speed.py [--rows 5000] [--repeats 3] [--cores 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

GOAL_ROWS_PER_S = 50_000.0
#: Hardware spellings with a device count, as users write them.
COUNTED_NAMES = ("8x H200", "2xA100-80GB", "4 x H100", "2x MI300X")


def train_small_predictors(catalog, root: Path) -> None:
    """TPOT and TTFT predictors on a physics-shaped frame, promoted (what the batch path loads)."""
    import numpy as np
    import pandas as pd

    from inference_estimation.lib.ml.modeling import save_predictor, train_predictor
    from inference_estimation.lib.ml.setup import workload
    from inference_estimation.lib.physics.features import feature_frame, prediction_row

    rng = np.random.default_rng(2)
    rows = [prediction_row(catalog.model(m), catalog.hw(h), workload(b, 512, 128, engine="vllm", dtype="bfloat16",
                                                                       device_count=2))
            for m in ("llama-3.1-8b", "llama-3.1-70b", "mistral-7b-v0.1", "qwen2-7b")
            for h in ("nvidia-h100-sxm-80gb", "amd-mi300x", "nvidia-a100-sxm4-80gb", "nvidia-l40s")
            for b in (1, 8, 32)]
    feats = feature_frame(rows)
    frame = pd.concat([pd.DataFrame(rows)[["model_key", "hardware_key"]], feats], axis=1)
    frame["power_source"] = "none"
    noise = np.exp(rng.normal(0, 0.03, len(frame)))
    frame["tpot_s"] = feats["roofline_decode_step_s"] * 2.0 * noise
    frame["ttft_s"] = feats["roofline_ttft_s"] * 3.0 * noise
    for target in ("tpot_s", "ttft_s"):
        save_predictor(train_predictor(frame, target, n_folds=2), root / "promoted" / target)


def random_questions(catalog, rows: int, seed: int = 0):
    """``rows`` distinct random questions as a batch CSV frame (strings; empty = the default)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    models = [k for k, m in catalog.models.items() if m.architecture is not None]
    hardware = [k for k, h in catalog.hardware.items() if h.kind != "cpu" and h.specs.memory_bandwidth_gb_s]
    n = rows * 2  # drawn twice over, duplicates dropped
    serving = rng.random(n) < 0.2
    frame = pd.DataFrame({
        "model": rng.choice(models, n),
        "hardware": np.where(rng.random(n) < 0.05, rng.choice(COUNTED_NAMES, n), rng.choice(hardware, n)),
        "batch_size": np.where(serving, "", rng.choice(["1", "2", "4", "8", "16", "32", "64", "max"], n)),
        "input_tokens": rng.choice([128, 512, 1024, 2048, 8192], n).astype(str),
        "output_tokens": rng.choice([64, 128, 256, 512], n).astype(str),
        "engine": rng.choice(["", "vllm", "sglang", "transformers"], n),
        "dtype": rng.choice(["", "bfloat16", "fp8", "float16"], n),
        "device_count": rng.choice(["", "1", "2", "4", "8", "16"], n),
        "mode": np.where(serving, "serving", "offline"),
        "concurrency": np.where(serving, rng.choice([1, 8, 32, 128], n).astype(str), ""),
    })
    counted = frame["hardware"].isin(COUNTED_NAMES).to_numpy()
    frame.loc[counted, "device_count"] = ""  # the name states the count
    frame = frame.drop_duplicates().head(rows).reset_index(drop=True)
    if len(frame) < rows:
        raise RuntimeError(f"only {len(frame)} distinct questions drawn; ask for fewer rows")
    return frame


def main() -> None:
    """Runs the benchmark and prints its figures (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2, help="pin to this many CPUs (0: no pinning)")
    args = parser.parse_args()
    if args.cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])
    warnings.filterwarnings("ignore")

    from inference_estimation.lib.catalog import load_catalog
    from inference_estimation.lib.ml.batch_predict import predict_batch

    catalog = load_catalog(overlay_dirs=[])
    work = Path(tempfile.mkdtemp(prefix="ie-batch-speed-"))
    train_small_predictors(catalog, work / "predictors")
    input_csv, output_csv = work / "questions.csv", work / "answers.csv"
    random_questions(catalog, args.rows).to_csv(input_csv, index=False)
    best, stats = float("inf"), {}
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        n = predict_batch(catalog, work / "predictors", input_csv, output_csv, stats=stats)
        best = min(best, time.perf_counter() - t0)
    rows_per_s = n / best
    print(f"predict_batch: {n} distinct rows in {best:.3f} s (best of {args.repeats}) = {rows_per_s:,.0f} rows/s "
          f"(goal >= {GOAL_ROWS_PER_S:,.0f}; {'met' if rows_per_s >= GOAL_ROWS_PER_S else 'NOT met'}); "
          f"{stats.get('refused', 0)} refused; CPUs {len(os.sched_getaffinity(0))}")


if __name__ == "__main__":
    main()
