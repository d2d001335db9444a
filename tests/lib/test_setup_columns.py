"""Many questions resolved at once give each question the answer it gets alone (one path, column-wise)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.ml.setup import resolve_setup, workload
from inference_estimation.lib.ml.setup_columns import (
    QUESTION_COLUMNS,
    one_question,
    resolve_columns,
    workload_problems,
)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


def random_works(catalog, n: int, seed: int = 7) -> list[tuple[str, str, dict]]:
    """Random questions over the catalog: defaults, dtypes a device may lack, odd layouts, 'max', serving."""
    rng = np.random.default_rng(seed)
    models = sorted(catalog.models)
    hardware = sorted(catalog.hardware) + ["8x H200", "2xA100-80GB"]
    out = []
    for _ in range(n):
        serving = rng.random() < 0.25
        batch = None if serving else rng.choice([1, 4, 32, 512, "max"])
        work = workload(None if batch is None else (batch if batch == "max" else int(batch)),
                        int(rng.choice([128, 1024, 8192, 200_000])), int(rng.choice([16, 256])),
                        engine=rng.choice([None, "vllm", "transformers", "sglang"]),
                        dtype=rng.choice([None, "bf16", "fp8", "fp4", "float16", "int4"]),
                        device_count=rng.choice([None, 1, 2, 3, 8, 16, 64]), mode="serving" if serving else "offline",
                        concurrency=int(rng.choice([1, 64])) if serving else None)
        out.append((rng.choice(models), rng.choice(hardware), work))
    return out


def test_random_questions_resolved_together_equal_each_resolved_alone(catalog):
    questions = [(m, h, w) for m, h, w in random_works(catalog, 400)
                 if not (catalog.hw_and_count(h)[1] and w.get("device_count"))]  # a clash is an error, not a setup
    models = [catalog.model(m) for m, _, _ in questions]
    counted = [catalog.hw_and_count(h) for _, h, _ in questions]
    rows = [one_question(w) for _, _, w in questions]
    q = {name: np.concatenate([r[name] for r in rows]) for name in QUESTION_COLUMNS}
    codes = np.arange(len(questions))
    together = resolve_columns(models, codes, [hw for hw, _ in counted], codes, q,
                               hardware_names=np.array([h for _, h, _ in questions], dtype=object),
                               named_count=np.array([np.nan if c is None else c for _, c in counted], dtype=float))
    refused = 0
    for i, (model, hardware, work) in enumerate(questions):
        alone = resolve_setup(catalog, model, hardware, work)
        assert together.refusal[i] == alone.refusal, (model, hardware, work)
        assert together.notes[i] == alone.notes, (model, hardware, work)
        w = together.work
        batch = None if np.isnan(w["batch_size"][i]) else int(w["batch_size"][i])
        assert (w["engine"][i], w["dtype"][i], int(w["device_count"][i]), batch) == (
            alone.work["engine"], alone.work["dtype"], alone.work["device_count"], alone.work["batch_size"]), i
        refused += alone.refusal is not None
    assert 0 < refused < len(questions)  # both kinds of answer were compared


def test_the_workload_rules_of_many_rows_are_the_single_questions_rules_and_messages():
    frame = pd.DataFrame({"mode": ["offline", "serving", "batchy", "offline", "serving"],
                          "batch_size": [0.0, 4.0, 1.0, np.nan, np.nan], "concurrency": [np.nan, 2.0, np.nan, 3.0, 8.0]})
    q = {"mode": frame["mode"].to_numpy(dtype=object), "batch_max": np.zeros(5, dtype=bool),
         "batch_size": frame["batch_size"].to_numpy(), "concurrency": frame["concurrency"].to_numpy(),
         **{name: np.full(5, value) for name, value in (("input_tokens", 8.0), ("output_tokens", 4.0),
                                                        ("device_count", np.nan), ("request_rate_rps", np.nan))}}
    problems = workload_problems(q)
    for i, row in frame.iterrows():
        kwargs = {"mode": row["mode"], "concurrency": None if np.isnan(row["concurrency"]) else int(row["concurrency"])}
        batch = None if np.isnan(row["batch_size"]) else int(row["batch_size"])
        if problems[i] is None:
            workload(batch, 8, 4, **kwargs)
            continue
        with pytest.raises(ValueError) as caught:
            workload(batch, 8, 4, **kwargs)
        assert str(caught.value) == problems[i]
    assert problems[4] is None and problems[0] == "batch_size must be >= 1, got 0"
