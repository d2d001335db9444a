"""Predictions from saved model files and the catalog only -- no warehouse, no Dagster.

``predict`` builds the feature row with the same code that built the training frame
(:mod:`inference_estimation.lib.features`), so a configuration gets the identical features at
training and prediction time.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from catboost import Pool

from inference_estimation.lib.catalog import Catalog
from inference_estimation.lib.features import CATEGORICAL_FEATURES, feature_frame, prediction_row
from inference_estimation.lib.modeling import load_predictor


class PredictorsMissingError(FileNotFoundError):
    """No trained predictor was found in the models folder."""


def workload(batch_size: int, input_tokens: int, output_tokens: int, engine: str = "transformers",
             dtype: str = "float32", device_count: int | None = None, mode: str = "offline") -> dict[str, Any]:
    """A workload dict in the training frame's column names.

    Raises:
        ValueError: naming the field for non-positive sizes.
    """
    for name, value in (("batch_size", batch_size), ("input_tokens", input_tokens), ("output_tokens", output_tokens)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    out: dict[str, Any] = {"engine": engine, "dtype": dtype, "mode": mode, "batch_size": batch_size,
                           "input_tokens": input_tokens, "output_tokens": output_tokens}
    if device_count is not None:
        out["device_count"] = device_count
        out["tensor_parallel"] = device_count
    return out


def predict(catalog: Catalog, models_dir: Path, model_key: str, hardware_key: str,
            work: dict[str, Any], targets: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Predicts every available target for one configuration.

    Args:
        catalog: the catalog (model and hardware facts).
        models_dir: folder holding one subfolder per target with ``model.cbm`` + ``card.json``.
        model_key: model key or Hugging Face id.
        hardware_key: hardware key or alias.
        work: the workload (see :func:`workload`).
        targets: restrict to these targets (default: every trained one).

    Returns:
        ``{target: {"value", "unit", "lower_90", "upper_90"}}``.

    Raises:
        PredictorsMissingError: when no predictor has been trained yet.
        CatalogError: for an unknown model or hardware (listing the closest keys).
    """
    model, hardware = catalog.model(model_key), catalog.hw(hardware_key)
    folders = sorted(p.parent for p in models_dir.glob("*/card.json"))
    if targets is not None:
        folders = [f for f in folders if f.name in targets]
    if not folders:
        raise PredictorsMissingError(f"no trained predictors in {models_dir}; run `inference-estimation sweep` first")
    X = feature_frame([prediction_row(model, hardware, work)])
    out: dict[str, dict[str, Any]] = {}
    for folder in folders:
        predictor, card = load_predictor(folder)
        log_pred = float(predictor.predict(Pool(X[card["features"]], cat_features=CATEGORICAL_FEATURES))[0])
        halfwidth = (card.get("interval") or {}).get("log_halfwidth")
        out[card["target"]] = {
            "value": math.exp(log_pred),
            "unit": card["unit"],
            "lower_90": math.exp(log_pred - halfwidth) if halfwidth is not None else None,
            "upper_90": math.exp(log_pred + halfwidth) if halfwidth is not None else None,
        }
    return out
