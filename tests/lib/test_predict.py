"""predict / explain / batch / recommend from model files and the catalog only."""

import shutil

import numpy as np
import pandas as pd
import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.features import feature_frame, prediction_row
from inference_estimation.lib.modeling import save_predictor, train_predictor
from inference_estimation.lib.predict import (
    BatchInputError,
    PredictorsMissingError,
    explain,
    predict,
    predict_batch,
    recommend,
    workload,
)

MODELS = ("llama-3.1-8b", "llama-3.1-70b", "mistral-7b-v0.1", "qwen2-7b")
HARDWARE = ("nvidia-h100-sxm-80gb", "amd-mi300x", "nvidia-a100-sxm4-80gb", "nvidia-l40s")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


@pytest.fixture(scope="module")
def models_dir(catalog, tmp_path_factory):
    """TTFT and TPOT predictors trained on a physics-shaped frame, saved; only TPOT promoted."""
    rng = np.random.default_rng(2)
    rows = [prediction_row(catalog.model(m), catalog.hw(h), workload(b, 512, 128, engine="vllm", dtype="bfloat16",
                                                                       device_count=2))
            for m in MODELS for h in HARDWARE for b in (1, 8, 32)]
    feats = feature_frame(rows)
    frame = pd.concat([pd.DataFrame(rows)[["model_key", "hardware_key"]], feats], axis=1)
    frame["power_source"] = "none"
    noise = np.exp(rng.normal(0, 0.03, len(frame)))
    frame["tpot_s"] = feats["roofline_decode_step_s"] * 2.0 * noise
    frame["ttft_s"] = feats["roofline_ttft_s"] * 3.0 * noise
    root = tmp_path_factory.mktemp("predictors")
    for target in ("tpot_s", "ttft_s"):
        save_predictor(train_predictor(frame, target, n_folds=2), root / target)
    shutil.copytree(root / "tpot_s", root / "promoted" / "tpot_s")
    return root


def test_predict_uses_promoted_predictors_unless_told_otherwise(catalog, models_dir):
    work = workload(8, 512, 128, engine="vllm", dtype="bfloat16", device_count=2)
    promoted = predict(catalog, models_dir, "llama-3.1-8b", "nvidia-h100-sxm-80gb", work)
    assert set(promoted) == {"tpot_s"} and promoted["tpot_s"]["promoted"]
    both = predict(catalog, models_dir, "llama-3.1-8b", "nvidia-h100-sxm-80gb", work, allow_unpromoted=True)
    # the derived targets follow from both phases; one of them is unpromoted, so they are flagged too
    assert set(both) == {"tpot_s", "ttft_s", "e2e_latency_s", "output_throughput_tok_s"}
    assert not both["ttft_s"]["promoted"] and not both["e2e_latency_s"]["promoted"] and both["tpot_s"]["promoted"]
    assert both["e2e_latency_s"]["value"] == pytest.approx(both["ttft_s"]["value"] + 127 * both["tpot_s"]["value"])
    p = both["tpot_s"]
    assert p["lower_90"] < p["value"] < p["upper_90"]
    with pytest.raises(PredictorsMissingError, match="allow-unpromoted"):
        predict(catalog, models_dir / "nowhere", "llama-3.1-8b", "nvidia-h100-sxm-80gb", work)


def test_prediction_for_spec_only_hardware_follows_its_bandwidth(catalog, models_dir):
    """H200 is in no training row: its larger bandwidth must still make decoding faster than H100's."""
    work = workload(1, 512, 128, engine="vllm", dtype="bfloat16", device_count=2)
    h100 = predict(catalog, models_dir, "llama-3.1-70b", "nvidia-h100-sxm-80gb", work)["tpot_s"]["value"]
    h200 = predict(catalog, models_dir, "llama-3.1-70b", "nvidia-h200-sxm-141gb", work)["tpot_s"]["value"]
    assert h200 < h100


def test_explain_reports_the_physics_baseline_and_top_corrections(catalog, models_dir):
    work = workload(8, 512, 128, engine="vllm", dtype="bfloat16", device_count=2)
    ex = explain(catalog, models_dir, "qwen2-7b", "amd-mi300x", work, "tpot_s", top=3)
    assert ex["physics_baseline"] > 0 and len(ex["contributions"]) == 3
    assert ex["prediction"] == pytest.approx(predict(catalog, models_dir, "qwen2-7b", "amd-mi300x", work)["tpot_s"]["value"])


def test_batch_prediction_writes_one_row_per_config_and_names_bad_rows(catalog, models_dir, tmp_path):
    good = tmp_path / "configs.csv"
    good.write_text("model,hardware,batch_size,input_tokens,output_tokens,engine,dtype,device_count\n"
                    "meta-llama/Llama-3.1-8B-Instruct,NVIDIA H100 80GB HBM3,8,512,128,vllm,bfloat16,2\n"
                    "qwen2-7b,amd-mi300x,1,512,128,vllm,bfloat16,2\n")
    out = tmp_path / "predictions.csv"
    assert predict_batch(catalog, models_dir, good, out) == 2
    result = pd.read_csv(out)
    assert list(result.columns[:3]) == ["model", "hardware", "batch_size"]
    assert (result["tpot_s_lower_90"] < result["tpot_s"]).all()
    bad = tmp_path / "bad.csv"
    bad.write_text("model,hardware,batch_size,input_tokens,output_tokens\nqwen2-7b,amd-mi300x,1,512,128\n"
                   "qwen2-7b,tpu-v9,1,512,128\n")
    with pytest.raises(BatchInputError, match=r"bad.csv: line 3, column 'hardware'.*tpu-v9"):
        predict_batch(catalog, models_dir, bad, tmp_path / "x.csv")


def test_recommend_ranks_hardware_that_fits_and_meets_the_tpot_limit(catalog, models_dir):
    table = recommend(catalog, models_dir, "llama-3.1-70b", 512, 128, max_tpot_s=1.0, rps=5, allow_unpromoted=True)
    assert not table.empty and (table["tpot_s"] <= 1.0).all()
    assert (table["devices"] >= 1).all() and (table["replicas_for_rps"] >= 1).all()
    # 70B in bf16 (141 GB) needs at least two 80 GB devices
    h100 = table[table["hardware"] == "nvidia-h100-sxm-80gb"]
    assert h100.empty or int(h100["devices"].iloc[0]) >= 2
    priced = table["usd_per_million_tokens"].dropna()
    assert list(priced) == sorted(priced)


def test_batch_prediction_equals_the_one_at_a_time_prediction_of_every_row(catalog, models_dir, tmp_path):
    configs = tmp_path / "configs.csv"
    configs.write_text("model,hardware,batch_size,input_tokens,output_tokens,engine,dtype,device_count,mode,concurrency\n"
                       "llama-3.1-8b,nvidia-h100-sxm-80gb,8,512,128,vllm,bfloat16,2,offline,\n"
                       "qwen2-7b,AMD Instinct MI300X,1,1024,64,vllm,bfloat16,,serving,16\n"
                       "mistral-7b-v0.1,nvidia-l40s,4,256,32,,,,,\n"
                       "llama-3.1-8b,nvidia-h100-sxm-80gb,32,512,128,vllm,fp8,1,offline,\n")
    out = tmp_path / "predictions.csv"
    assert predict_batch(catalog, models_dir, configs, out, allow_unpromoted=True) == 4
    batch = pd.read_csv(out)
    works = [workload(8, 512, 128, engine="vllm", dtype="bfloat16", device_count=2),
             workload(1, 1024, 64, engine="vllm", dtype="bfloat16", mode="serving", concurrency=16),
             workload(4, 256, 32),  # CSV defaults: transformers, float32, offline, local
             workload(32, 512, 128, engine="vllm", dtype="fp8", device_count=1)]
    for i, work in enumerate(works):
        single = predict(catalog, models_dir, batch["model"][i], batch["hardware"][i], work, allow_unpromoted=True)
        for target, p in single.items():
            assert batch[target][i] == pytest.approx(p["value"], rel=1e-9), (i, target)
            assert batch[f"{target}_upper_90"][i] == pytest.approx(p["upper_90"], rel=1e-9), (i, target)


def test_batch_names_the_first_bad_line_whatever_the_kind_of_error(catalog, models_dir, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("model,hardware,batch_size,input_tokens,output_tokens\n"
                   "qwen2-7b,amd-mi300x,1,512,128\n"
                   "qwen2-7b,amd-mi300x,1,0,128\n"        # line 3: non-positive size
                   "qwen2-7b,tpu-v9,two,512,128\n")       # line 4: a type error and an unknown hardware
    with pytest.raises(BatchInputError, match=r"bad.csv: line 3: input_tokens must be >= 1, got 0"):
        predict_batch(catalog, models_dir, bad, tmp_path / "x.csv")
    bad.write_text("model,hardware,batch_size,input_tokens,output_tokens\nqwen2-7b,tpu-v9,two,512,128\n")
    with pytest.raises(BatchInputError, match=r"line 2, column 'batch_size': 'two' is not a int"):
        predict_batch(catalog, models_dir, bad, tmp_path / "x.csv")
    bad.write_text("model,hardware,batch_size,input_tokens,output_tokens\nqwen2-7b,,1,512,128\n")
    with pytest.raises(BatchInputError, match=r"line 2, column 'hardware': value is required"):
        predict_batch(catalog, models_dir, bad, tmp_path / "x.csv")


def test_power_without_a_tdp_fact_on_a_kind_never_trained_on_is_null_with_a_reason(catalog, tmp_path):
    """Power learned on GPUs says nothing about a CPU with no TDP fact: no figure, and why."""
    rows = [prediction_row(catalog.model(m), catalog.hw(h), workload(b, 512, 128, engine="vllm", dtype="bfloat16"))
            for m in MODELS for h in HARDWARE for b in (1, 8, 32)]
    feats = feature_frame(rows)
    frame = pd.concat([pd.DataFrame(rows)[["model_key", "hardware_key"]], feats], axis=1)
    frame["power_source"] = "nvml-power"
    frame["avg_power_w"] = feats["tdp_total_w"] * (0.5 + 0.01 * feats["effective_batch"])
    save_predictor(train_predictor(frame, "avg_power_w", n_folds=2), tmp_path / "promoted" / "avg_power_w")

    work = workload(1, 64, 32, engine="transformers", dtype="float32")
    cpu = predict(catalog, tmp_path, "gpt2-medium", "local-cpu", work)["avg_power_w"]
    assert cpu["value"] is None and cpu["lower_90"] is None and cpu["upper_90"] is None
    assert "no TDP fact" in cpu["reason"] and "cpu" in cpu["reason"]
    explained = explain(catalog, tmp_path, "gpt2-medium", "local-cpu", work, "avg_power_w")
    assert explained["prediction"] is None and explained["contributions"] == [] and "no power basis" in explained["reason"]
    gpu = predict(catalog, tmp_path, "gpt2-medium", "nvidia-l4", work)["avg_power_w"]  # a TDP fact: grounded
    assert gpu["value"] is not None and "reason" not in gpu and gpu["value"] < 2 * catalog.hw("nvidia-l4").specs.tdp_w

    batch_in, batch_out = tmp_path / "in.csv", tmp_path / "out.csv"
    batch_in.write_text("model,hardware,batch_size,input_tokens,output_tokens\n"
                        "gpt2-medium,local-cpu,1,64,32\ngpt2-medium,nvidia-l4,1,64,32\n")
    predict_batch(catalog, tmp_path, batch_in, batch_out)
    out = pd.read_csv(batch_out)
    assert np.isnan(out.loc[0, "avg_power_w"]) and out.loc[1, "avg_power_w"] > 0


def test_an_engine_the_predictors_never_saw_is_flagged_not_guessed_silently(catalog, models_dir):
    seen = predict(catalog, models_dir, "qwen2-7b", "amd-mi300x",
                   workload(8, 512, 128, engine="vllm", dtype="bfloat16", device_count=2), allow_unpromoted=True)
    assert all("warnings" not in p for p in seen.values())
    unseen = predict(catalog, models_dir, "qwen2-7b", "amd-mi300x",
                     workload(8, 512, 128, engine="sglang", dtype="fp8", device_count=2), allow_unpromoted=True)
    warnings = unseen["e2e_latency_s"]["warnings"]
    assert any("engine 'sglang' was never measured" in w for w in warnings)
    assert any("dtype 'fp8' was never measured" in w for w in warnings)


def test_a_request_rate_is_solved_for_the_concurrency_in_flight_by_littles_law(catalog, models_dir):
    work = workload(1, 512, 128, engine="vllm", dtype="bfloat16", device_count=2, mode="serving",
                    request_rate_rps=2.0)
    work["batch_size"] = None
    answer = predict(catalog, models_dir, "llama-3.1-8b", "nvidia-h100-sxm-80gb", work, allow_unpromoted=True)
    e2e, c = answer["e2e_latency_s"]["value"], answer["e2e_latency_s"]["concurrency_in_flight"]
    assert c >= 1 and c == pytest.approx(2.0 * e2e, rel=0.05)  # Little: in flight = rate x time in system
    # a coherent answer at that concurrency: throughput = concurrency * out / e2e = rate * out
    assert answer["output_throughput_tok_s"]["value"] == pytest.approx(2.0 * 128, rel=0.05)
