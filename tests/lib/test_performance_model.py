"""The coherent model: labels read back through the identities, answers derived through them."""

import numpy as np
import pandas as pd
import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.ml.coherent_evaluation import evaluate_coherent
from inference_estimation.lib.ml.evaluation import coherent_markdown
from inference_estimation.lib.ml.performance_model import (
    ANSWER_TARGETS,
    PRIMITIVES,
    PrimitiveBounds,
    derive_targets,
    identity_residuals,
    physics_phase_estimate,
    primitive_labels,
)
from inference_estimation.lib.physics.features import feature_frame, prediction_row


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


def _features(catalog, works):
    rows = [prediction_row(catalog.model("llama-3.1-8b"), catalog.hw("nvidia-h100-sxm-80gb"), w) for w in works]
    return feature_frame(rows)


def test_answers_obey_the_identities_exactly_bounds_included(catalog):
    rng = np.random.default_rng(0)
    works = [dict(engine="vllm", dtype="bfloat16", mode=mode, batch_size=b, concurrency=b, input_tokens=i,
                  output_tokens=o) for mode in ("offline", "serving") for b in (1, 7, 64) for i in (128, None)
             for o in (1, 2, 300)]
    features = _features(catalog, works)
    value = {p: rng.uniform(0.01, 2.0, len(features)) for p in PRIMITIVES}
    lower = {p: v * rng.uniform(0.5, 0.99, len(v)) for p, v in value.items()}
    upper = {p: v * rng.uniform(1.01, 2.0, len(v)) for p, v in value.items()}
    answers = derive_targets(features, PrimitiveBounds(value, lower, upper))
    assert set(identity_residuals(features, answers).values()) == {0.0}
    for target in ANSWER_TARGETS:
        ok = answers[target].notna()
        assert (answers.loc[ok, f"{target}_lower_90"] <= answers.loc[ok, target]).all()
        assert (answers.loc[ok, target] <= answers.loc[ok, f"{target}_upper_90"]).all()
    offline = (features["mode"] == "offline") & features["input_tokens"].notna()
    row = answers[offline].iloc[-1]
    feat = features[offline].iloc[-1]
    assert row["e2e_latency_s"] == pytest.approx(row["ttft_s"] + 299 * row["tpot_s"])
    assert row["output_throughput_tok_s"] == pytest.approx(feat["batch_size"] * 300 / row["e2e_latency_s"])
    assert row["energy_per_output_token_j"] == pytest.approx(row["avg_power_w"] / row["output_throughput_tok_s"])
    # a decode-only row (no prompt): throughput is batch / tpot, no e2e
    decode_only = answers[features["input_tokens"].isna().to_numpy()].iloc[0]
    assert np.isnan(decode_only["e2e_latency_s"]) and decode_only["output_throughput_tok_s"] > 0


def _labelled_frame(catalog):
    works = [dict(engine="vllm", dtype="bfloat16", mode="offline", batch_size=4, input_tokens=i, output_tokens=101)
             for i in (256, 256, 256, 256, 256, None, 256)]
    frame = _features(catalog, works).assign(model_key="llama-3.1-8b", hardware_key="nvidia-h100-sxm-80gb",
                                             source="test", roofline_violation="", power_source="nvml-energy")
    nan = np.nan
    frame["ttft_s"] = [0.2, nan, nan, nan, nan, nan, 0.2]
    frame["tpot_s"] = [0.02, 0.02, nan, nan, nan, nan, 0.02]
    frame["e2e_latency_s"] = [2.2, 2.5, 3.0, nan, nan, nan, 2.2]
    frame["output_throughput_tok_s"] = [nan, nan, nan, 4 * 101 / 4.0, nan, 200.0, nan]
    frame["avg_power_w"] = [700.0, nan, nan, nan, nan, nan, nan]
    frame["energy_per_output_token_j"] = [nan, nan, nan, 5.0, nan, nan, nan]
    frame["peak_memory_gb"] = nan
    frame.loc[6, "roofline_violation"] = "tpot_s"  # physically impossible: labels nothing
    return frame


def test_rows_label_the_primitives_through_the_identities_read_backwards(catalog):
    frame = _labelled_frame(catalog)
    ttft, ttft_kind = primitive_labels(frame, "ttft_s", physics_phase_estimate(frame))
    tpot, tpot_kind = primitive_labels(frame, "tpot_s", physics_phase_estimate(frame))
    assert list(ttft_kind) == ["measured", "identity", "split", "split", "", "", ""]
    assert list(tpot_kind) == ["measured", "measured", "split", "split", "", "identity", ""]
    assert ttft[1] == pytest.approx(2.5 - 100 * 0.02)  # e2e and a measured TPOT
    assert tpot[5] == pytest.approx(4 / 200.0)  # decode-only throughput
    for i, e2e in ((2, 3.0), (3, 4.0)):  # e2e only, or an offline throughput: the split adds up
        assert ttft[i] + 100 * tpot[i] == pytest.approx(e2e)
    power, power_kind = primitive_labels(frame, "avg_power_w")
    assert list(power_kind) == ["measured", "", "", "identity", "", "", ""]
    assert power[3] == pytest.approx(5.0 * 101.0)  # energy/token x throughput
    estimated = frame.assign(power_source="estimate")
    assert (primitive_labels(estimated, "avg_power_w")[1] == "").all()
    # without a phase estimate the e2e-only rows label nothing
    assert list(primitive_labels(frame, "ttft_s", None)[1]) == ["measured", "identity", "", "", "", "", ""]


def test_coherent_evaluation_scores_every_target_with_a_k_shot_curve_and_zero_identity_residuals(catalog):
    rng = np.random.default_rng(1)
    rows = []
    for model in ("llama-3.1-8b", "qwen2-7b", "mistral-7b-v0.1", "llama-3.1-70b"):
        for hw in ("nvidia-h100-sxm-80gb", "amd-mi300x", "nvidia-a100-sxm4-80gb", "nvidia-l40s"):
            for b in (1, 8, 32):
                for n_in in (128, 1024):
                    rows.append(prediction_row(catalog.model(model), catalog.hw(hw), dict(
                        engine="vllm", dtype="bfloat16", mode="offline", batch_size=b, input_tokens=n_in,
                        output_tokens=64, device_count=2)))
    feats = feature_frame(rows)
    frame = pd.concat([pd.DataFrame(rows)[["model_key", "hardware_key"]], feats], axis=1)
    frame = frame.assign(source="synthetic", roofline_violation="", power_source="nvml-energy")
    noise = lambda: np.exp(rng.normal(0, 0.03, len(frame)))  # noqa: E731
    frame["ttft_s"] = frame["roofline_ttft_s"] * 3.0 * noise()
    frame["tpot_s"] = frame["roofline_tpot_s"] * 2.0 * noise()
    frame["e2e_latency_s"] = frame["ttft_s"] + 63 * frame["tpot_s"]
    frame["output_throughput_tok_s"] = frame["batch_size"] * 64 / frame["e2e_latency_s"]
    frame["avg_power_w"] = frame["tdp_total_w"] * 0.6 * noise()
    frame["energy_per_output_token_j"] = frame["avg_power_w"] / frame["output_throughput_tok_s"]
    frame["peak_memory_gb"] = np.nan
    evaluation = evaluate_coherent(frame, n_folds=4, iterations=60, k_shots=(1, 3),
                                   splits=("random", "leave_one_hardware_out"))
    loho = evaluation.splits["leave_one_hardware_out"]
    for target in ("ttft_s", "tpot_s", "e2e_latency_s", "output_throughput_tok_s", "avg_power_w",
                   "energy_per_output_token_j"):
        assert {"coherent", "per_target", "physics_calibrated"} <= set(loho[target])
        assert loho[target]["coherent"]["rows"] == len(frame)
        # a constant efficiency times physics: the coherent model beats the plain calibrated roofline
        assert loho[target]["coherent"]["mdape_pct"] < 25
    assert set(evaluation.k_shot) == {1, 3} and "tpot_s" in evaluation.k_shot[3]
    assert max(evaluation.identities.values()) == 0.0
    table = coherent_markdown(evaluation)
    assert "k-shot" in table and "| e2e = ttft + (out - 1) * tpot | 0.0e+00 |" in table


def test_a_devices_own_few_measurements_correct_what_its_physics_misses(catalog):
    """One device runs 1.6x slower than its spec sheet says; 3 of its measurements in training are
    enough for the per-device correction to move its predictions most of the way there."""
    from inference_estimation.lib.ml.modeling import fit_primitive, predict_primitive_log

    rng = np.random.default_rng(3)
    rows = []
    for model in ("llama-3.1-8b", "qwen2-7b", "mistral-7b-v0.1", "llama-3.1-70b"):
        for hw in ("nvidia-h100-sxm-80gb", "nvidia-a100-sxm4-80gb", "nvidia-l40s", "nvidia-h200-sxm-141gb"):
            for b in (1, 4, 16, 64):
                for n_in in (512, 2048):
                    rows.append(prediction_row(catalog.model(model), catalog.hw(hw), dict(
                        engine="vllm", dtype="bfloat16", mode="offline", batch_size=b, input_tokens=n_in,
                        output_tokens=64, device_count=2)))
    frame = pd.concat([pd.DataFrame(rows)[["model_key", "hardware_key"]], feature_frame(rows)], axis=1)
    frame = frame.assign(source="synthetic", roofline_violation="", power_source="none")
    slow = (frame["hardware_key"] == "nvidia-l40s").to_numpy()
    frame["tpot_s"] = frame["roofline_tpot_s"] * 2.0 * np.where(slow, 1.6, 1.0) * np.exp(rng.normal(0, 0.02, len(frame)))
    shots = np.flatnonzero(slow)[[0, 5, 10]]
    train = frame[~slow | np.isin(np.arange(len(frame)), shots)]
    fitted = fit_primitive(train, "tpot_s", seed=0, iterations=200, phase_estimate=None)
    # the device's median residual, shrunk towards 0 by how few and how scattered its rows are
    assert 0.35 * np.log(1.6) < fitted.hardware_correction["nvidia-l40s"] < 1.2 * np.log(1.6)
    assert fitted.hardware_correction["nvidia-l40s@synthetic"] == fitted.hardware_correction["nvidia-l40s"]
    assert abs(fitted.hardware_correction["nvidia-h100-sxm-80gb"]) < 0.05
    test = frame[slow & ~np.isin(np.arange(len(frame)), shots)]
    with_correction = np.exp(predict_primitive_log(fitted, test))
    without = np.exp(predict_primitive_log(fitted, test.drop(columns="hardware_key")))
    truth = test["tpot_s"].to_numpy()
    assert np.median(np.abs(with_correction / truth - 1)) < 0.6 * np.median(np.abs(without / truth - 1))
