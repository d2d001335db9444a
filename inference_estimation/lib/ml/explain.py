"""One answer taken apart: the step model's terms and efficiencies, or a CatBoost primitive's SHAP factors."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from catboost import Pool

from inference_estimation.lib.catalog import Catalog
from inference_estimation.lib.ml.hardware_correction import correction_for
from inference_estimation.lib.ml.modeling import card_matrix, physics_baseline, predict_log
from inference_estimation.lib.ml.performance_model import DERIVED_FROM
from inference_estimation.lib.ml.predict import (
    Predictors,
    SetupRefused,
    power_basis_missing,
    predict_setup,
    resolve_setup,
)
from inference_estimation.lib.ml.step_serving import answer_regime, explain_step
from inference_estimation.lib.physics.features import feature_frame, prediction_row
from inference_estimation.targets import REGISTRY


def explain_prediction(catalog: Catalog, predictors_dir: Path, model_key: str, hardware_key: str, work: dict[str, Any],
            target: str, top: int = 5, allow_unpromoted: bool = False) -> dict[str, Any]:
    """One prediction taken apart into factors that multiply to it exactly.

    ``prediction = physics_baseline x base_correction x prod(contributions' factors) x remainder``:
    the baseline is the physics estimate (or the predictor's constant fallback where the physics is
    unknown), ``base_correction`` the model's mean correction (CatBoost's SHAP expected value),
    each contribution ``exp`` of one feature's SHAP value in log space (the ``top`` largest), and
    ``remainder`` the product of every other feature's factor.

    Returns:
        ``{"target", "physics_baseline", "physics_known", "base_correction", "contributions":
        [{"feature", "value", "factor"}], "remainder", "prediction"}``; ``prediction`` None, no
        contributions and a ``reason`` where :func:`predict` gives no value (power or energy
        without a power basis).

    Raises:
        SetupRefused: when the setup cannot run.
    """
    setup = resolve_setup(catalog, model_key, hardware_key, work)
    if setup.refusal:
        raise SetupRefused(setup)
    if target in DERIVED_FROM:
        # A derived target is explained through the primitives it is made of.
        answer = predict_setup(setup, predictors_dir, [target], allow_unpromoted)[target]
        return {"target": target, "physics_baseline": None, "prediction": answer["value"], "contributions": [],
                "identity": REGISTRY[target].identity_text(answer_regime(setup.work, False)),
                "primitives": {p: explain_prediction(catalog, predictors_dir, model_key, hardware_key, work, p, top, allow_unpromoted)
                               for p in DERIVED_FROM[target]}}
    predictors = Predictors.load(predictors_dir, allow_unpromoted, [target])
    if predictors.step is not None and target in ("ttft_s", "tpot_s"):
        rows = pd.DataFrame([prediction_row(setup.model, setup.hardware, setup.work)])
        return explain_step(predictors.step, rows, target, predictors.calibrations)
    predictor, card, _ = predictors.models[target]
    features = feature_frame([prediction_row(setup.model, setup.hardware, setup.work)])
    if bool(power_basis_missing(card, features).iloc[0]):
        return {"target": target, "physics_baseline": None, "prediction": None, "contributions": [],
                "reason": f"no power basis for {setup.hardware.key} (see predict)"}
    X, offset = card_matrix(card, features)
    cats = [c for c in card["categorical_features"] if c in X.columns]
    shap = predictor.get_feature_importance(Pool(X, cat_features=cats), type="ShapValues")[0]
    contributions, expected = shap[:-1], float(shap[-1])
    order = np.argsort(-np.abs(contributions))[:top]
    rest = np.setdiff1d(np.arange(len(contributions)), order)
    physics = physics_baseline(features, target)[0]
    base = float(np.exp(offset[0]))
    correction = float(correction_for((card.get("hardware_correction") or {}).get("log", {}), [setup.hardware.key], 1,
                                      [str(features["source"].iloc[0])])[0])
    return {
        "target": target,
        "physics_baseline": base,
        "physics_known": not math.isnan(physics),
        "base_correction": float(np.exp(expected)),
        "contributions": [{"feature": X.columns[i], "value": _plain(X.iloc[0, i]),
                           "factor": float(np.exp(contributions[i]))} for i in order],
        "remainder": float(np.exp(contributions[rest].sum())),
        # what this device's own measurements said beyond its physics (1.0 for a device never measured)
        "hardware_correction_factor": float(np.exp(correction)),
        "prediction": float(np.exp(predict_log(predictor, X, offset)[0] + correction)),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    return value.item() if hasattr(value, "item") else value
