"""What the step model learned and how it holds up: coefficient tables, physics and reproduction checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from inference_estimation.lib.catalog import Catalog
from inference_estimation.lib.ml.scheduler import physical_bounds
from inference_estimation.lib.ml.step_evaluation import step_usable
from inference_estimation.lib.ml.step_model import (
    BLOCKS,
    StepModel,
    campaign_keys,
    label_rule,
    prepare,
    softplus,
)
from inference_estimation.lib.physics.features import prediction_row

#: Workloads of the physics check grid: (mode, batch, concurrency, input, output).
GRID_WORKLOADS = (("offline", 1, None, 128, 64), ("offline", 32, None, 2048, 256), ("offline", None, None, 1024, 1024),
                  ("serving", None, 64, 1024, 512))
#: Blocks whose value is an efficiency in (0, 1] (the rest are log seconds or a logit).
EFFICIENCY_BLOCKS = ("gemm", "memory", "kv_memory", "attention", "link")


def catalog_grid(catalog: Catalog, stride: int = 1) -> pd.DataFrame:
    """Question rows for catalog LLMs x devices with a peak and a bandwidth at :data:`GRID_WORKLOADS`.

    Args:
        catalog: the catalog.
        stride: keep every ``stride``-th (model, device) pair (1: all).
    """
    models = [m for m in catalog.models.values() if m.kind == "llm" and m.architecture is not None]
    devices = [h for h in catalog.hardware.values()
               if h.specs.memory_bandwidth_gb_s and (h.specs.peak_tflops_bf16 or h.specs.peak_tflops_fp16
                                                     or h.specs.peak_tflops_fp32)]
    rows = []
    for i, model in enumerate(models):
        for j, hw in enumerate(devices):
            if (i + j) % stride:
                continue
            for mode, batch, conc, n_in, n_out in GRID_WORKLOADS:
                rows.append(prediction_row(model, hw, {
                    "engine": "transformers" if hw.kind == "cpu" else "vllm", "dtype": "bfloat16", "mode": mode,
                    "batch_size": batch, "concurrency": conc, "input_tokens": n_in, "output_tokens": n_out}))
    return pd.DataFrame(rows)


def physics_violations(model: StepModel, catalog: Catalog, stride: int = 2) -> dict[str, Any]:
    """How many answers (and 90% lower bounds) on the catalog grid are faster than their physical
    bound, as a new campaign and as the fastest stored campaign and source (should be 0)."""
    grid = catalog_grid(catalog, stride)
    if grid.empty:
        return {"checked": 0, "count": 0, "worst_ratio": None}
    prep = prepare(grid)
    bounds = physical_bounds(prep.facts, prep.work)
    fastest_campaign = min(model.campaign_effects, key=lambda k: model.campaign_effects[k][0], default=None)
    fastest_source = min(model.source_effects, key=lambda k: model.source_effects[k][0], default=None)
    askings = [model.predict(grid)]
    if fastest_campaign is not None:
        askings.append(model.predict(grid, campaigns=np.full(len(grid), fastest_campaign, dtype=object)))
    if fastest_source is not None:
        askings.append(model.predict(grid.assign(source=fastest_source)))
    ratios = []
    for answers in askings:
        for target in ("ttft_s", "tpot_s"):
            for column in (target, f"{target}_lower_90"):
                ok = prep.facts.valid & np.isfinite(bounds[target]) & np.isfinite(answers[column])
                ratios.append(answers[column][ok] / bounds[target][ok])
    ratio = np.concatenate(ratios)
    return {"checked": int(len(ratio)), "count": int(np.sum(ratio < 1 - 1e-9)),
            "worst_ratio": round(float(ratio.min()), 4) if len(ratio) else None}


def reproduction(model: StepModel, frame: pd.DataFrame) -> dict[str, float]:
    """In-sample MdAPE % per target of the rows the model trained on, each with its campaign."""
    frame = frame.reset_index(drop=True)
    usable = step_usable(frame)
    answers = model.predict(frame, campaigns=campaign_keys(frame))
    out = {}
    for target, use in label_rule(frame, usable).items():
        measured = _measured(frame, target)
        if target == "itl_p50_s":
            median = (frame.get("latency_statistic", pd.Series(index=frame.index, dtype=object)).astype(str) == "p50")
            measured = np.where(median.to_numpy() & frame["tpot_s"].notna().to_numpy(), _measured(frame, "tpot_s"),
                                measured)
        ok = use & np.isfinite(measured) & np.isfinite(answers[target])
        if ok.any():
            out[target] = float(np.median(np.abs(answers[target][ok] / measured[ok] - 1.0)) * 100.0)
    return out


def _measured(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)


def coefficient_table(model: StepModel) -> str:
    """The learned blocks as a markdown table: the base value and each category level's value."""
    c = model.coefficients
    lines = ["block | base | by level (value at that level)", "---|---|---"]
    for block in BLOCKS:
        base = c.intercept[block]
        shown = _shown(block, base)
        levels = []
        for col, table in c.levels[block].items():
            for level, coef in sorted(table.items()):
                if abs(coef) > 1e-3:
                    levels.append(f"{col}={level}: {_shown(block, base + coef)}")
        lines.append(f"{block} | {shown} | {'; '.join(levels) or '—'}")
    lines.append("")
    lines.append(f"campaign spread (log): decode {model.campaign_sd[0]:.3f}, TTFT {model.campaign_sd[1]:.3f}; "
                 f"residual spread (log): " + ", ".join(f"{t} {v:.3f}" for t, v in sorted(model.residual_sd.items())))
    return "\n".join(lines)


def _shown(block: str, z: float) -> str:
    if block in EFFICIENCY_BLOCKS:
        return f"{float(np.exp(-softplus(z))):.2f}"
    if block == "burst":
        return f"{1.0 / (1.0 + np.exp(-z)):.2f}"
    return f"{float(np.exp(z)) * 1e6:.1f} µs"

