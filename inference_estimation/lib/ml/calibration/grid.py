"""The candidate grid: a sweep's axes x the models that fit the device, minus what it measured."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd


def workload_grid(models: Sequence[Any], hardware: Any, batch_sizes: Sequence[int], input_tokens: Sequence[int],
                  output_tokens: Sequence[int], dtypes: Sequence[str], engine: str,
                  source: str = "local") -> pd.DataFrame:
    """Feature rows (plus ``model_key``, ``hardware_key``) for every model x workload point.

    Built column-wise with the training frame's feature code (``lib.physics.features``), so 10k points take
    well under a second.
    """
    import itertools

    from inference_estimation.lib.physics.features import feature_frame, hardware_facts, model_facts

    hw = hardware_facts(hardware)
    rows = []
    for model in models:
        facts = {**model_facts(model), **hw, "engine": engine, "mode": "offline", "source": source,
                 "power_scope": "all-devices", "device_count": hardware.device_count}
        for dtype, b, i, o in itertools.product(dtypes, sorted(batch_sizes), sorted(input_tokens),
                                                sorted(output_tokens)):
            rows.append({**facts, "dtype": dtype, "batch_size": b, "input_tokens": i, "output_tokens": o})
    facts_frame = pd.DataFrame.from_records(rows)
    if facts_frame.empty:
        return facts_frame
    features = feature_frame(facts_frame)
    features.insert(0, "hardware_key", facts_frame["hardware_key"].to_numpy())
    features.insert(0, "model_key", facts_frame["model_key"].to_numpy())
    return features


#: The workload columns of a grid row (beside the model's and the hardware's catalog facts).
GRID_WORKLOAD = ("engine", "dtype", "mode", "source", "power_scope", "device_count", "batch_size", "input_tokens",
                 "output_tokens")


def grid_facts(catalog: Any, grid: pd.DataFrame) -> pd.DataFrame:
    """The fact rows of grid points (catalog facts of their model and hardware, and their workload),
    as :func:`~inference_estimation.lib.physics.features.prediction_row` joins them: what
    :meth:`~inference_estimation.lib.ml.predict.Predictors.answer` takes, so that the step model and
    its scheduler answer the time figures."""
    from inference_estimation.lib.physics.features import hardware_facts, model_facts

    facts = {(m, h): {**model_facts(catalog.model(m)), **hardware_facts(catalog.hw(h))}
             for m, h in dict.fromkeys(zip(grid["model_key"].astype(str), grid["hardware_key"].astype(str),
                                           strict=True))}
    work = grid[list(GRID_WORKLOAD)].to_dict(orient="records")
    return pd.DataFrame.from_records([{**facts[(m, h)], **w} for m, h, w in zip(
        grid["model_key"].astype(str), grid["hardware_key"].astype(str), work, strict=True)])


def candidate_grid(catalog: Any, hardware_key: str, sweep_name: str,
                   models: Sequence[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The calibration candidates of a device: a sweep's points that fit it, for each runnable model.

    Args:
        catalog: the catalog.
        hardware_key: the device.
        sweep_name: the sweep whose axes (batch, input, output, dtype) and backend make the grid.
        models: model keys to consider (default: the sweep's models).

    Returns:
        (feature rows with ``model_key`` and ``hardware_key``, one note per model left out and why).
    """
    from inference_estimation.lib.sweeps.planning import fitting_points, skip_reason

    hardware, sweep = catalog.hw(hardware_key), catalog.sweep(sweep_name)
    frames, notes = [], []
    for key in models if models is not None else sweep.models:
        model = catalog.model(key)
        reason = skip_reason(model, hardware, sweep)
        if reason:
            notes.append(f"{key}: {reason}")
            continue
        points, _ = fitting_points(model, hardware, sweep)
        for point in points:
            frames.append({"model": model, "point": point})
    if not frames:
        return pd.DataFrame(), notes
    by_model: dict[str, list[Any]] = {}
    for f in frames:
        by_model.setdefault(f["model"].key, []).append(f["point"])
    parts = []
    for key, points in by_model.items():
        grid = workload_grid([catalog.model(key)], hardware, sorted({p.batch_size for p in points}),
                             sorted({p.input_tokens for p in points}), sorted({p.output_tokens for p in points}),
                             sorted({p.dtype for p in points}), sweep.backend)
        wanted = {(p.batch_size, p.input_tokens, p.output_tokens, p.dtype) for p in points}
        keep = [(int(b), int(i), int(o), str(d)) in wanted for b, i, o, d in
                zip(grid["batch_size"], grid["input_tokens"], grid["output_tokens"], grid["dtype"], strict=True)]
        parts.append(grid[np.array(keep, dtype=bool)])
    return pd.concat(parts, ignore_index=True), notes
