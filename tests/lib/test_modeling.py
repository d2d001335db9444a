"""Training and SHAP on a small frame built with the real feature code.

The frame's targets come from a noisy power law of the physics features (a stand-in for
measurements: this tests the mechanics -- grouped scoring, intervals, files -- not accuracy).
"""

import json

import numpy as np
import pandas as pd
import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.ml.holdout import group_folds
from inference_estimation.lib.ml.modeling import (
    TrainingDataError,
    card_matrix,
    load_predictor,
    predict_log,
    save_predictor,
    select_rows,
    train_predictor,
)
from inference_estimation.lib.ml.shap_report import write_shap_report
from inference_estimation.lib.physics.features import MODEL_FEATURES, feature_frame, prediction_row


@pytest.fixture(scope="module")
def frame():
    catalog = load_catalog(overlay_dirs=[])
    rng = np.random.default_rng(0)
    rows = []
    for model in ("llama-3.1-8b", "llama-3.1-70b", "gpt2-small", "qwen2-small-130m", "llama-small-55m"):
        for hw in ("nvidia-h100-sxm-80gb", "amd-mi300x"):
            for b in (1, 4, 16):
                for n_in in (128, 512):
                    rows.append(prediction_row(catalog.model(model), catalog.hw(hw), dict(
                        engine="vllm", dtype="bfloat16", mode="offline", batch_size=b, input_tokens=n_in,
                        output_tokens=64)))
    feats = feature_frame(rows)
    ids = pd.DataFrame(rows)[["model_key", "hardware_key"]]
    e2e = feats["roofline_e2e_s"] * 2.5 * np.exp(rng.normal(0, 0.05, len(feats)))
    out = pd.concat([ids, feats], axis=1)
    out["source"] = "synthetic"
    out["power_source"] = "estimate"
    out["power_scope"] = "cpu-package"
    out["e2e_latency_s"] = e2e
    # the phases, measured on two of every three rows; the others report only their e2e
    measured = np.arange(len(out)) % 3 != 0
    out["ttft_s"] = np.where(measured, feats["roofline_ttft_s"] * 4.0 * np.exp(rng.normal(0, 0.05, len(feats))), np.nan)
    out["tpot_s"] = np.where(measured, feats["roofline_tpot_s"] * 2.5 * np.exp(rng.normal(0, 0.05, len(feats))), np.nan)
    out["e2e_latency_s"] = np.where(measured, out["ttft_s"] + (out["output_tokens"] - 1) * out["tpot_s"], e2e)
    out["avg_power_w"] = 300.0
    return out


def test_grouped_folds_never_split_a_model_across_train_and_test(frame):
    folds = group_folds(frame["model_key"], 3)
    seen = [set(frame["model_key"].iloc[idx]) for idx in folds]
    for i, a in enumerate(seen):
        for b in seen[i + 1:]:
            assert not a & b
    assert sum(len(f) for f in folds) == len(frame)


def test_predictor_scores_out_of_fold_by_model_and_saves_a_loadable_card(frame, tmp_path):
    trained = train_predictor(frame, "tpot_s", n_folds=5)
    metrics = trained.card["metrics"]
    assert 0 <= metrics["holdout_mdape_pct"] < 100
    assert 0 <= metrics["holdout_interval_coverage_90"] <= 1
    assert "baseline_physics_mdape_pct" in metrics
    # every out-of-fold prediction came from a model trained without that row's model
    # scored on the measured rows only; trained on those plus the e2e-only rows split into phases
    assert (trained.oof["fold"] >= 0).all() and len(trained.oof) == frame["tpot_s"].notna().sum()
    paths = save_predictor(trained, tmp_path / "tpot_s")
    model, card = load_predictor(tmp_path / "tpot_s")
    assert card["features"] == MODEL_FEATURES and json.loads(paths["card"].read_text())["n_rows"] == len(frame)
    assert card["label_kinds"] == {"measured": int(frame["tpot_s"].notna().sum()), "identity": 0,
                                   "split": int(frame["tpot_s"].isna().sum())}
    X, offset = card_matrix(card, frame)
    assert np.allclose(predict_log(model, X, offset), predict_log(trained.model, X, offset))


def test_power_targets_never_train_on_estimated_power(frame):
    assert select_rows(frame, "avg_power_w").empty
    with pytest.raises(TrainingDataError, match="avg_power_w"):
        train_predictor(frame, "avg_power_w")


def test_single_model_frame_cannot_be_scored_grouped(frame):
    with pytest.raises(TrainingDataError, match="2 models"):
        train_predictor(frame[frame["model_key"] == "gpt2-small"], "tpot_s")


def test_derived_targets_are_not_trained_but_derived(frame):
    with pytest.raises(ValueError, match="derived"):
        train_predictor(frame, "e2e_latency_s")


def test_shap_report_writes_beeswarm_and_bar_pngs_and_markdown(frame, tmp_path):
    trained = train_predictor(frame, "tpot_s", n_folds=3)
    X, _ = card_matrix(trained.card, frame.head(40))
    report = write_shap_report(trained.model, X, "tpot_s", tmp_path)
    for path in (report.beeswarm_png, report.bar_png):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    assert "data:image/png;base64," in report.markdown
    assert (tmp_path / "report.md").exists()
    assert len(list(tmp_path.glob("dependence_*.png"))) == 3 and "What drives tpot_s" in report.markdown
    # the synthetic target is a constant 2.5x the roofline (plus noise): the correction to physics
    # is almost nothing, so no feature should carry a large share of log-space SHAP
    assert max(report.mean_abs_shap.values()) < 0.2
