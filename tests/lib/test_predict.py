"""predict / explain / batch / recommend from model files and the catalog only."""

import shutil

import numpy as np
import pandas as pd
import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.ml.batch_predict import predict_batch
from inference_estimation.lib.ml.explain import explain_prediction
from inference_estimation.lib.ml.modeling import save_predictor, train_predictor
from inference_estimation.lib.ml.predict import (
    BatchInputError,
    Predictors,
    PredictorsMissingError,
    SetupRefused,
    predict,
    resolve_setup,
    workload,
)
from inference_estimation.lib.ml.recommend import recommend
from inference_estimation.lib.physics.features import feature_frame, prediction_row

MODELS = ("llama-3.1-8b", "llama-3.1-70b", "mistral-7b-v0.1", "qwen2-7b")
HARDWARE = ("nvidia-h100-sxm-80gb", "amd-mi300x", "nvidia-a100-sxm4-80gb", "nvidia-l40s")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


@pytest.fixture(scope="module")
def predictors_dir(catalog, tmp_path_factory):
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


def test_predict_uses_promoted_predictors_unless_told_otherwise(catalog, predictors_dir):
    work = workload(8, 512, 128, engine="vllm", dtype="bfloat16", device_count=2)
    promoted = predict(catalog, predictors_dir, "llama-3.1-8b", "nvidia-h100-sxm-80gb", work)
    assert set(promoted) == {"tpot_s"} and promoted["tpot_s"]["promoted"]
    both = predict(catalog, predictors_dir, "llama-3.1-8b", "nvidia-h100-sxm-80gb", work, allow_unpromoted=True)
    # the derived targets follow from both phases; one of them is unpromoted, so they are flagged too
    assert set(both) == {"tpot_s", "ttft_s", "e2e_latency_s", "output_throughput_tok_s"}
    assert not both["ttft_s"]["promoted"] and not both["e2e_latency_s"]["promoted"] and both["tpot_s"]["promoted"]
    assert both["e2e_latency_s"]["value"] == pytest.approx(both["ttft_s"]["value"] + 127 * both["tpot_s"]["value"])
    p = both["tpot_s"]
    assert p["lower_90"] < p["value"] < p["upper_90"]
    with pytest.raises(PredictorsMissingError, match="allow-unpromoted"):
        predict(catalog, predictors_dir / "nowhere", "llama-3.1-8b", "nvidia-h100-sxm-80gb", work)


def test_prediction_for_spec_only_hardware_follows_its_bandwidth(catalog, predictors_dir):
    """H200 is in no training row: its larger bandwidth must still make decoding faster than H100's."""
    work = workload(1, 512, 128, engine="vllm", dtype="bfloat16", device_count=2)
    h100 = predict(catalog, predictors_dir, "llama-3.1-70b", "nvidia-h100-sxm-80gb", work)["tpot_s"]["value"]
    h200 = predict(catalog, predictors_dir, "llama-3.1-70b", "nvidia-h200-sxm-141gb", work)["tpot_s"]["value"]
    assert h200 < h100


def test_explain_reports_the_physics_baseline_and_top_corrections(catalog, predictors_dir):
    work = workload(8, 512, 128, engine="vllm", dtype="bfloat16", device_count=2)
    ex = explain_prediction(catalog, predictors_dir, "qwen2-7b", "amd-mi300x", work, "tpot_s", top=3)
    assert ex["physics_baseline"] > 0 and len(ex["contributions"]) == 3
    assert ex["prediction"] == pytest.approx(predict(catalog, predictors_dir, "qwen2-7b", "amd-mi300x", work)["tpot_s"]["value"])


def test_batch_prediction_writes_one_row_per_config_and_names_bad_rows(catalog, predictors_dir, tmp_path):
    good = tmp_path / "configs.csv"
    good.write_text("model,hardware,batch_size,input_tokens,output_tokens,engine,dtype,device_count\n"
                    "meta-llama/Llama-3.1-8B-Instruct,NVIDIA H100 80GB HBM3,8,512,128,vllm,bfloat16,2\n"
                    "qwen2-7b,amd-mi300x,1,512,128,vllm,bfloat16,2\n")
    out = tmp_path / "predictions.csv"
    assert predict_batch(catalog, predictors_dir, good, out) == 2
    result = pd.read_csv(out)
    assert list(result.columns[:3]) == ["model", "hardware", "batch_size"]
    assert (result["tpot_s_lower_90"] < result["tpot_s"]).all()


def test_a_name_no_catalog_entry_or_vocabulary_knows_refuses_its_row_not_the_file(catalog, predictors_dir, tmp_path):
    path, out = tmp_path / "mixed.csv", tmp_path / "x.csv"
    path.write_text("model,hardware,batch_size,input_tokens,output_tokens,engine,dtype\n"
                    "qwen2-7b,amd-mi300x,1,512,128,atom,\n"           # AMD's ATOM: an engine
                    "qwen2-7b,tpu-v9,1,512,128,,\n"                   # no such hardware
                    "qwen2-7b,amd-mi300x,1,512,128,warp-drive,fp6\n"  # no such engine, no such dtype
                    "qwen2-7b,amd-mi300x,1,512,128,vllm,\n")
    assert predict_batch(catalog, predictors_dir, path, out, allow_unpromoted=True) == 4
    result = pd.read_csv(out, keep_default_na=False)
    assert result["refusal"][0] == "" and result["resolved_engine"][0] == "atom"
    assert result["refusal"][1].startswith("hardware: unknown hardware 'tpu-v9'")
    assert "engine: 'warp-drive' is not a known engine" in result["refusal"][2]
    assert "dtype: 'fp6' is not a known dtype" in result["refusal"][2]
    assert list(result["resolved_hardware"][1:3]) == ["", ""] and list(result["tpot_s"][1:3]) == ["", ""]
    assert result["refusal"][3] == "" and float(result["tpot_s"][3]) > 0


def test_recommend_ranks_hardware_that_fits_and_meets_the_tpot_limit(catalog, predictors_dir):
    table = recommend(catalog, predictors_dir, "llama-3.1-70b", 512, 128, max_tpot_s=1.0, rps=5, allow_unpromoted=True).table
    assert not table.empty and (table["tpot_s"] <= 1.0).all()
    assert (table["devices"] >= 1).all() and (table["replicas_for_rps"] >= 1).all()
    # 70B in bf16 (141 GB) needs at least two 80 GB devices
    h100 = table[table["hardware"] == "nvidia-h100-sxm-80gb"]
    assert h100.empty or int(h100["devices"].iloc[0]) >= 2
    # with a request rate: fewest devices for it first, then (no energy predictor here) tokens/s per
    # device; cost only breaks ties, so an unpriced device is never ranked down for lacking a price
    keys = list(zip(table["devices_for_rps"], -table["output_throughput_tok_s"] / table["devices"], strict=True))
    assert keys == sorted(keys)
    without_rate = recommend(catalog, predictors_dir, "llama-3.1-70b", 512, 128, max_tpot_s=1.0,
                             allow_unpromoted=True).table
    keys = list(zip(without_rate["devices"], -without_rate["output_throughput_tok_s"] / without_rate["devices"],
                    strict=True))
    assert keys == sorted(keys)  # fewest devices, then tokens/s per device (no energy predictor here)
    by_cost = recommend(catalog, predictors_dir, "llama-3.1-70b", 512, 128, max_tpot_s=1.0,
                        allow_unpromoted=True, rank_by="cost").table
    priced = by_cost["usd_per_million_tokens"].dropna()
    assert list(priced) == sorted(priced)


def test_recommend_names_the_price_it_used_and_never_ranks_an_unpriced_device_below_a_priced_one_for_lacking_it(
        catalog, predictors_dir):
    table = recommend(catalog, predictors_dir, "llama-3.1-8b", 512, 128, allow_unpromoted=True).table
    rows = table.set_index("hardware")
    h100 = rows.loc["nvidia-h100-sxm-80gb"]
    assert h100["price_per_device_hour_usd"] == catalog.hw("nvidia-h100-sxm-80gb").specs.price_per_hour_usd
    assert h100["price_per_hour_usd"] == pytest.approx(h100["price_per_device_hour_usd"] * h100["devices"])
    assert "Lambda 8x NVIDIA H100 SXM" in h100["price_source"] and "read 2026-09-20" in h100["price_source"]
    unpriced = table[table["price_per_device_hour_usd"].isna()]
    assert len(unpriced) and unpriced["price_source"].str.startswith("no cited on-demand price").all()
    # by default the rank is devices, then (without an energy predictor) tokens/s per device: an
    # unpriced device that needs fewer devices or delivers more per device ranks above priced ones
    keys = list(zip(table["devices"], -table["output_throughput_tok_s"] / table["devices"], strict=True))
    assert keys == sorted(keys)
    first_unpriced = int(np.flatnonzero(table["price_per_device_hour_usd"].isna())[0])
    last_priced = int(np.flatnonzero(table["price_per_device_hour_usd"].notna())[-1])
    assert first_unpriced < last_priced
    by_cost = recommend(catalog, predictors_dir, "llama-3.1-8b", 512, 128, allow_unpromoted=True,
                        rank_by="cost").table
    priced = by_cost["price_per_device_hour_usd"].notna().to_numpy()
    assert priced[:priced.sum()].all()  # asked to rank by cost: the unpriced come after every priced one
    with pytest.raises(ValueError, match="rank_by 'price'"):
        recommend(catalog, predictors_dir, "llama-3.1-8b", 512, 128, allow_unpromoted=True, rank_by="price")


def test_batch_prediction_equals_the_one_at_a_time_prediction_of_every_row(catalog, predictors_dir, tmp_path):
    configs = tmp_path / "configs.csv"
    configs.write_text("model,hardware,batch_size,input_tokens,output_tokens,engine,dtype,device_count,mode,concurrency\n"
                       "llama-3.1-8b,nvidia-h100-sxm-80gb,8,512,128,vllm,bfloat16,2,offline,\n"
                       "qwen2-7b,AMD Instinct MI300X,,1024,64,vllm,bfloat16,,serving,16\n"
                       "mistral-7b-v0.1,nvidia-l40s,4,256,32,,,,,\n"  # defaults of a GPU: vllm, bfloat16
                       "llama-3.1-8b,nvidia-h100-sxm-80gb,32,512,128,vllm,fp8,1,offline,\n")
    out = tmp_path / "predictions.csv"
    assert predict_batch(catalog, predictors_dir, configs, out, allow_unpromoted=True) == 4
    batch = pd.read_csv(out)
    works = [workload(8, 512, 128, engine="vllm", dtype="bfloat16", device_count=2),
             workload(None, 1024, 64, engine="vllm", dtype="bfloat16", mode="serving", concurrency=16),
             workload(4, 256, 32),  # the hardware's defaults, as in the CSV
             workload(32, 512, 128, engine="vllm", dtype="fp8", device_count=1)]
    for i, work in enumerate(works):
        single = predict(catalog, predictors_dir, batch["model"][i], batch["hardware"][i], work, allow_unpromoted=True)
        setup = resolve_setup(catalog, batch["model"][i], batch["hardware"][i], work)
        assert (batch["resolved_engine"][i], batch["resolved_dtype"][i], batch["resolved_device_count"][i]) == \
            (setup.work["engine"], setup.work["dtype"], setup.work["device_count"]), i
        assert str(batch["notes"][i]).startswith(" | ".join(setup.notes)), i
        for target, p in single.items():
            assert batch[target][i] == pytest.approx(p["value"], rel=1e-9), (i, target)
            assert batch[f"{target}_upper_90"][i] == pytest.approx(p["upper_90"], rel=1e-9), (i, target)


def test_batch_names_every_bad_cell_in_file_order_one_line_each(catalog, predictors_dir, tmp_path):
    bad, out = tmp_path / "bad.csv", tmp_path / "x.csv"
    bad.write_text("model,hardware,batch_size,input_tokens,output_tokens\n"
                   "qwen2-7b,amd-mi300x,1,512,128\n"
                   "qwen2-7b,amd-mi300x,1,0,128\n"        # line 3: non-positive size
                   "qwen2-7b,tpu-v9,two,512,128\n")       # line 4: a type error (and an unknown hardware)
    with pytest.raises(BatchInputError) as caught:
        predict_batch(catalog, predictors_dir, bad, out)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{bad}: line ") for line in lines)
    assert lines[0].endswith("line 3, column 'input_tokens': '0' is not allowed; expected an integer >= 1")
    assert lines[1].endswith("line 4, column 'batch_size': 'two' is not allowed; expected an integer >= 1 or 'max'")
    bad.write_text("model,hardware,batch_size,input_tokens,output_tokens\nqwen2-7b,,1,512,128\n")
    with pytest.raises(BatchInputError, match=r"line 2, column 'hardware': value is required"):
        predict_batch(catalog, predictors_dir, bad, out)
    assert not out.exists()


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
    explained = explain_prediction(catalog, tmp_path, "gpt2-medium", "local-cpu", work, "avg_power_w")
    assert explained["prediction"] is None and explained["contributions"] == [] and "no power basis" in explained["reason"]
    gpu = predict(catalog, tmp_path, "gpt2-medium", "nvidia-l4", work)["avg_power_w"]  # a TDP fact: grounded
    assert gpu["value"] is not None and "reason" not in gpu and gpu["value"] < 2 * catalog.hw("nvidia-l4").specs.tdp_w

    batch_in, batch_out = tmp_path / "in.csv", tmp_path / "out.csv"
    batch_in.write_text("model,hardware,batch_size,input_tokens,output_tokens\n"
                        "gpt2-medium,local-cpu,1,64,32\ngpt2-medium,nvidia-l4,1,64,32\n")
    predict_batch(catalog, tmp_path, batch_in, batch_out)
    out = pd.read_csv(batch_out)
    assert np.isnan(out.loc[0, "avg_power_w"]) and out.loc[1, "avg_power_w"] > 0


def test_an_engine_the_predictors_never_saw_is_flagged_not_guessed_silently(catalog, predictors_dir):
    seen = predict(catalog, predictors_dir, "qwen2-7b", "amd-mi300x",
                   workload(8, 512, 128, engine="vllm", dtype="bfloat16", device_count=2), allow_unpromoted=True)
    assert all("warnings" not in p for p in seen.values())
    unseen = predict(catalog, predictors_dir, "qwen2-7b", "amd-mi300x",
                     workload(8, 512, 128, engine="sglang", dtype="fp8", device_count=2), allow_unpromoted=True)
    warnings = unseen["e2e_latency_s"]["warnings"]
    assert any("engine 'sglang' was never measured" in w for w in warnings)
    assert any("dtype 'fp8' was never measured" in w for w in warnings)


def test_a_request_rate_is_solved_for_the_concurrency_in_flight_by_littles_law(catalog, predictors_dir):
    work = workload(None, 512, 128, engine="vllm", dtype="bfloat16", device_count=2, mode="serving",
                    request_rate_rps=2.0)
    answer = predict(catalog, predictors_dir, "llama-3.1-8b", "nvidia-h100-sxm-80gb", work, allow_unpromoted=True)
    e2e, c = answer["e2e_latency_s"]["value"], answer["e2e_latency_s"]["concurrency_in_flight"]
    assert c >= 1 and c == pytest.approx(2.0 * e2e, rel=0.05)  # Little: in flight = rate x time in system
    # a coherent answer at that concurrency: throughput = concurrency * out / e2e = rate * out
    assert answer["output_throughput_tok_s"]["value"] == pytest.approx(2.0 * 128, rel=0.05)


# ------------------------------------------------------------------ setups that cannot run, and what was answered
def test_a_model_that_does_not_fit_is_refused_naming_the_fewest_devices_that_would(catalog, predictors_dir):
    work = workload(1, 1024, 256, engine="vllm", dtype="bfloat16")
    with pytest.raises(SetupRefused, match=r"does not fit: deepseek-r1 in bfloat16 on 1 x nvidia-h100-sxm-80gb") as caught:
        predict(catalog, predictors_dir, "deepseek-r1", "H100", work)
    fewest = int(str(caught.value).rsplit(" are ", 1)[1])
    assert fewest > 8  # ~1.3 TB of weights
    setup = resolve_setup(catalog, "deepseek-r1", "H100", {**work, "device_count": fewest})
    assert setup.refusal is None and setup.memory.fits
    smaller = resolve_setup(catalog, "deepseek-r1", "H100", {**work, "device_count": fewest // 2})
    assert smaller.refusal and smaller.refusal.startswith("does not fit")


@pytest.mark.parametrize("model, hardware, kwargs, match", [
    ("llama-3.1-8b", "H100", {"input_tokens": 200_000}, "exceeds llama-3.1-8b's max_position_embeddings 131072"),
    ("xgboost-reg-200x8", "H100", {}, "is a tabular model"),
    ("llama-3.1-8b", "nvidia-v100-sxm2-32gb", {"dtype": "bf16"}, "no bfloat16 math"),
    ("llama-3.1-8b", "nvidia-t4", {"dtype": "fp8"}, "neither FP8 nor bfloat16 math"),
    ("llama-3.1-8b", "nvidia-v100-sxm2-32gb", {"dtype": "nvfp4"}, "neither FP4 nor bfloat16 math"),
])
def test_impossible_setups_are_refused_with_the_reason(catalog, predictors_dir, model, hardware, kwargs, match):
    args = {"batch_size": 1, "input_tokens": 512, "output_tokens": 128, **kwargs}
    with pytest.raises(SetupRefused, match=match):
        predict(catalog, predictors_dir, model, hardware, workload(**args))


@pytest.mark.parametrize("kwargs, match", [
    ({"device_count": 0}, "device_count must be >= 1"),
    ({"batch_size": 1.5}, "batch_size: 1.5 is not an integer"),
    ({"dtype": "banana"}, "dtype: 'banana' is not a known dtype"),
    ({"engine": "banana"}, "engine: 'banana' is not a known engine"),
    ({"mode": "batchy"}, "mode: 'batchy' is not a known mode"),
    ({"concurrency": 4}, "use mode 'serving'"),
    ({"batch_size": None}, "batch_size is required offline"),
])
def test_bad_workload_values_are_errors_naming_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        workload(**{"batch_size": 1, "input_tokens": 8, "output_tokens": 4, **kwargs})


def test_unknown_source_is_an_error_listing_the_known_ones(catalog, predictors_dir):
    with pytest.raises(ValueError, match=r"source: 'bogus' is not a source the predictors know; use one of local"):
        predict(catalog, predictors_dir, "llama-3.1-8b", "H100", workload(1, 512, 128, source="bogus"))


def test_synonyms_are_the_same_question_and_4_bit_is_not_16_bit(catalog, predictors_dir):
    def tpot(dtype, engine="vllm"):
        return predict(catalog, predictors_dir, "llama-3.1-8b", "H100", workload(1, 512, 128, engine=engine, dtype=dtype),
                       allow_unpromoted=True)["tpot_s"]["value"]

    assert tpot("bf16") == tpot("bfloat16") == tpot("BF16", engine="vLLM")
    assert tpot("awq") == tpot("int4") != tpot("bfloat16")


def test_defaults_fit_the_hardware_and_are_echoed(catalog):
    gpu = resolve_setup(catalog, "Llama-3.1-8B", "NVIDIA H100 80GB HBM3", workload(8, 512, 128)).echo()
    assert (gpu["model"], gpu["hardware"], gpu["engine"], gpu["dtype"], gpu["device_count"]) == \
        ("llama-3.1-8b", "nvidia-h100-sxm-80gb", "vllm", "bfloat16", 1)
    assert resolve_setup(catalog, "llama-3.1-8b", "nvidia-t4", workload(1, 512, 128)).echo()["dtype"] == "float16"
    cpu = resolve_setup(catalog, "gpt2-small", "local-cpu", workload(1, 16, 4)).echo()
    assert (cpu["engine"], cpu["dtype"]) == ("transformers", "float32")
    x8 = resolve_setup(catalog, "llama-3.1-70b", "nvidia-h100-sxm-80gb-x8", workload(1, 512, 128)).echo()
    assert x8["device_count"] == 8


def test_batch_size_max_is_the_largest_batch_whose_kv_cache_fits(catalog):
    setup = resolve_setup(catalog, "llama-3.1-8b", "nvidia-a100-sxm4-80gb", workload("max", 1024, 1024, engine="hf"))
    largest = setup.work["batch_size"]
    assert largest >= 1 and setup.refusal is None
    more = resolve_setup(catalog, "llama-3.1-8b", "nvidia-a100-sxm4-80gb",
                         workload(largest + 1, 1024, 1024, engine="transformers"))
    assert more.refusal and more.refusal.startswith("does not fit")
    paged = resolve_setup(catalog, "llama-3.1-8b", "H100", workload("max", 128, 128))
    assert paged.work["batch_size"] == 1024  # vLLM's max_num_seqs (on >= 70 GiB) caps what its cache would hold
    assert any("its sequence limit of 1024" in note for note in paged.notes)


def test_serving_questions_need_no_batch_size(catalog, predictors_dir):
    at_concurrency = workload(None, 512, 128, mode="serving", concurrency=16)
    setup = resolve_setup(catalog, "llama-3.1-8b", "H100", at_concurrency)
    assert setup.refusal is None and setup.work["batch_size"] == 16
    assert predict(catalog, predictors_dir, "llama-3.1-8b", "H100", at_concurrency)["tpot_s"]["value"] > 0
    at_rate = workload(None, 512, 128, mode="serving", request_rate_rps=4.0)
    assert predict(catalog, predictors_dir, "llama-3.1-8b", "H100", at_rate)["tpot_s"]["value"] > 0


def test_explain_factors_multiply_to_the_prediction(catalog, predictors_dir):
    work = workload(8, 512, 128, engine="vllm", dtype="bfloat16", device_count=2)
    ex = explain_prediction(catalog, predictors_dir, "llama-3.1-8b", "amd-mi300x", work, "tpot_s", top=3)
    product = ex["physics_baseline"] * ex["base_correction"] * ex["remainder"] * ex["hardware_correction_factor"]
    for c in ex["contributions"]:
        product *= c["factor"]
    assert product == pytest.approx(ex["prediction"], rel=1e-9)
    assert ex["prediction"] == pytest.approx(
        predict(catalog, predictors_dir, "llama-3.1-8b", "amd-mi300x", work)["tpot_s"]["value"], rel=1e-9)


def test_batch_refuses_rows_that_cannot_run_and_predicts_the_rest(catalog, predictors_dir, tmp_path):
    configs, out = tmp_path / "configs.csv", tmp_path / "out.csv"
    configs.write_text("model,hardware,batch_size,input_tokens,output_tokens,dtype,mode,concurrency\n"
                       "deepseek-r1,H100,1,1024,256,,,\n"
                       "llama-3.1-8b,H100,max,1024,256,bf16,,\n"
                       "xgboost-reg-200x8,H100,1,8,4,,,\n"
                       "llama-3.1-8b,nvidia-t4,,512,128,fp8,serving,8\n"
                       "llama-3.1-8b,H100,,512,128,,serving,8\n")
    assert predict_batch(catalog, predictors_dir, configs, out) == 5
    result = pd.read_csv(out, keep_default_na=False)
    single = resolve_setup(catalog, "deepseek-r1", "H100", workload(1, 1024, 256))
    assert result.loc[0, "refusal"] == single.refusal and result.loc[0, "tpot_s"] == ""
    assert result.loc[1, "refusal"] == "" and float(result.loc[1, "tpot_s"]) > 0
    assert int(result.loc[1, "resolved_batch_size"]) == resolve_setup(
        catalog, "llama-3.1-8b", "H100", workload("max", 1024, 256)).work["batch_size"]
    assert result.loc[1, ["resolved_model", "resolved_hardware", "resolved_engine", "resolved_dtype"]].tolist() == \
        ["llama-3.1-8b", "nvidia-h100-sxm-80gb", "vllm", "bfloat16"]
    assert "tabular model" in result.loc[2, "refusal"] and "neither FP8 nor bfloat16 math" in result.loc[3, "refusal"]
    # a serving row echoes its load, not a batch; its notes say which dtype was taken and why
    assert result.loc[4, "refusal"] == "" and result.loc[4, "resolved_batch_size"] == ""
    assert float(result.loc[4, "resolved_concurrency"]) == 8
    notes = result.loc[4, "notes"].split(" | ")
    assert notes[0] == "dtype bfloat16: the dtype llama-3.1-8b was released in (its catalog default_dtype)"
    assert any(n.startswith("mode 'serving' was never measured") for n in notes[1:])  # predict's warnings too
    # bf16 was asked for (no dtype note); batch 'max' says what it resolved to
    assert result.loc[1, "notes"].startswith("batch 'max' is vllm's saturation batch: ")
    assert float(result.loc[4, "tpot_s"]) == pytest.approx(predict(
        catalog, predictors_dir, "llama-3.1-8b", "H100", workload(None, 512, 128, mode="serving", concurrency=8)
    )["tpot_s"]["value"], rel=1e-9)


@pytest.mark.parametrize("content, match", [
    (None, "no such file"),
    ("", "the file is empty"),
    ("model,hardware,batch_size,input_tokens,output_tokens\n", "only a header, no configuration"),
    ("model,hardware,batch_size,input_tokens,output_tokens\nqwen2-7b,H100,1.5,512,128\n",
     r"line 2, column 'batch_size': '1.5' is not allowed; expected an integer >= 1 or 'max'"),
    ("model,hardware,batch_size,input_tokens,output_tokens,mode\nqwen2-7b,H100,,512,128,serving\n",
     r"line 2, column 'batch_size': batch_size is required offline"),
    ("model,hardware,batch_size,input_tokens,output_tokens,source\nqwen2-7b,H100,1,512,128,bogus\n",
     r"line 2, column 'source': 'bogus' is not a source the predictors know"),
])
def test_batch_file_errors_say_file_line_column_value_and_expected(catalog, predictors_dir, tmp_path, content, match):
    path, out = tmp_path / "in.csv", tmp_path / "out.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BatchInputError, match=match):
        predict_batch(catalog, predictors_dir, path, out)
    assert not out.exists()


def test_batch_reports_at_most_twenty_bad_cells_and_counts_the_rest(catalog, predictors_dir, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("model,hardware,batch_size,input_tokens,output_tokens\n" + "qwen2-7b,H100,x,512,128\n" * 30)
    with pytest.raises(BatchInputError) as caught:
        predict_batch(catalog, predictors_dir, path, tmp_path / "out.csv")
    lines = str(caught.value).splitlines()
    assert len(lines) == 21 and lines[19].endswith("line 21, column 'batch_size': 'x' is not allowed; "
                                                    "expected an integer >= 1 or 'max'")
    assert "10 more bad cell(s); 30 bad row(s)" in lines[20]


def test_recommend_searches_devices_and_batches_and_says_why_each_hardware_was_dropped(catalog, predictors_dir):
    rec = recommend(catalog, predictors_dir, "llama-3.1-70b", 1024, 256, allow_unpromoted=True)
    table, dropped = rec.table, rec.dropped.set_index("hardware")["reason"]
    assert "nvidia-h100-sxm-80gb-x8" not in set(table["hardware"]) | set(dropped.index)  # one H100, counted once
    assert table["hardware"].is_unique and len(table) > 0
    assert dropped["nvidia-t4"].startswith("does not fit: llama-3.1-70b in float16 on 8 x nvidia-t4")  # no bf16 there
    assert "the fewest nvidia-t4 devices that fit it at float16 are 16" in dropped["nvidia-t4"]
    h100 = table.set_index("hardware").loc["nvidia-h100-sxm-80gb"]
    assert h100["devices"] >= 2 and h100["dtype"] == "bfloat16"
    assert catalog.hw("nvidia-v100-sxm2-32gb").key not in set(table["hardware"]) or \
        table.set_index("hardware").loc["nvidia-v100-sxm2-32gb", "dtype"] == "float16"
    free = recommend(catalog, predictors_dir, "llama-3.1-8b", 1024, 256, allow_unpromoted=True).table
    limit = 1.5 * float(free["tpot_s"].min())  # within reach of the fastest devices only
    tight = recommend(catalog, predictors_dir, "llama-3.1-8b", 1024, 256, max_tpot_s=limit, allow_unpromoted=True)
    assert (tight.table["tpot_s"] <= limit).all()
    # a tighter limit drops hardware or needs more devices of it (which, depends on the catalog)
    devices = free.set_index("hardware")["devices"]
    assert len(tight.table) < len(free) or any(
        row.devices > devices[row.hardware] for row in tight.table.itertuples())
    missed = tight.dropped[tight.dropped["reason"].str.startswith("misses the limits")]
    assert len(missed) and missed["reason"].str.contains("TPOT .* ms > .* ms").all()
    tight_rows, free_rows = tight.table.set_index("hardware"), free.set_index("hardware")
    for hw in set(tight.table["hardware"]) & set(free["hardware"]):  # on as many devices, the SLO-limited batch is never larger
        if tight_rows.loc[hw, "devices"] == free_rows.loc[hw, "devices"]:
            assert tight_rows.loc[hw, "batch_size"] <= free_rows.loc[hw, "batch_size"]


def test_predict_says_how_many_measurements_of_the_hardware_and_model_it_has_seen(catalog, predictors_dir):
    work = workload(8, 512, 128, engine="vllm", dtype="bfloat16", device_count=2)
    seen = predict(catalog, predictors_dir, "qwen2-7b", "amd-mi300x", work, allow_unpromoted=True)
    assert seen["tpot_s"]["measurements_seen"] == {"hardware": 12, "model": 12}  # 4 models x 3 batches; 4 hw x 3
    unseen = predict(catalog, predictors_dir, "qwen2-7b", "nvidia-h200-sxm-141gb", work, allow_unpromoted=True)
    assert unseen["e2e_latency_s"]["measurements_seen"]["hardware"] == 0


def test_four_bit_weights_run_weight_only_on_gpus_without_fp4_math(catalog, predictors_dir):
    """gpt-oss-120b ships MXFP4 weights and runs on one 80 GB H100 (dequantised to 16-bit math)."""
    setup = resolve_setup(catalog, "openai/gpt-oss-120b", "H100", workload(1, 1024, 256, dtype="mxfp4"))
    assert setup.refusal is None and setup.work["dtype"] == "fp4" and setup.work["device_count"] == 1



def test_batch_rows_get_the_same_layout_refusals_and_node_notes_as_single_questions(catalog, predictors_dir, tmp_path):
    configs, out = tmp_path / "configs.csv", tmp_path / "out.csv"
    configs.write_text("model,hardware,batch_size,input_tokens,output_tokens,dtype,device_count\n"
                       "llama-3.1-70b,H100,1,512,128,bf16,3\n"
                       "llama-3.1-70b,H100,1,512,128,bf16,16\n"
                       "llama-3.1-70b,nvidia-a100-sxm4-80gb,1,512,128,bf16,16\n")
    assert predict_batch(catalog, predictors_dir, configs, out, allow_unpromoted=True) == 3
    result = pd.read_csv(out, keep_default_na=False)
    for i, (hardware, devices) in enumerate([("H100", 3), ("H100", 16), ("nvidia-a100-sxm4-80gb", 16)]):
        single = resolve_setup(catalog, "llama-3.1-70b", hardware, workload(1, 512, 128, dtype="bf16", device_count=devices))
        assert result.loc[i, "refusal"] == (single.refusal or ""), i
    assert result.loc[1, "notes"].startswith("16 x nvidia-h100-sxm-80gb = 2 nodes of 8")
    assert float(result.loc[1, "tpot_s"]) == pytest.approx(predict(
        catalog, predictors_dir, "llama-3.1-70b", "H100", workload(1, 512, 128, dtype="bf16", device_count=16),
        allow_unpromoted=True)["tpot_s"]["value"], rel=1e-9)


def _with_cpu_only_memory_predictor(catalog, predictors_dir, tmp_path):
    """A copy of the predictors folder plus a peak-memory predictor trained on CPU rows only."""
    rows = [prediction_row(catalog.model(m), catalog.hw("local-cpu"), workload(b, i, 16))
            for m in ("gpt2-small", "llama-small-55m") for b in (1, 2, 4, 8) for i in (32, 64, 128)]
    feats = feature_frame(rows)
    frame = pd.concat([pd.DataFrame(rows)[["model_key", "hardware_key"]], feats], axis=1)
    frame["power_source"] = "none"
    frame["peak_memory_gb"] = 0.5 + feats["batch_size"].to_numpy(dtype=float) * 0.01
    folder = tmp_path / "predictors"
    shutil.copytree(predictors_dir, folder)
    save_predictor(train_predictor(frame, "peak_memory_gb", n_folds=2), folder / "peak_memory_gb")
    return folder


def test_a_gpu_answer_without_a_peak_memory_prediction_shows_the_memory_rules_estimate_labelled(
        catalog, predictors_dir, tmp_path):
    # a peak-memory predictor that has seen CPUs only: no transfer to a GPU's allocator
    folder = _with_cpu_only_memory_predictor(catalog, predictors_dir, tmp_path)
    result = predict(catalog, folder, "llama-3.1-8b", "nvidia-h100-sxm-80gb", workload(8, 512, 128),
                     allow_unpromoted=True)
    memory = result["peak_memory_gb"]
    assert memory["value"] is None and "no peak-memory measurement on cuda" in memory["reason"]
    estimate = memory["estimate"]
    assert 16.0 < estimate["value"] < 20.0  # 8B bf16 weights (16 GB) + the KV cache of 8 x 640 tokens
    assert estimate["basis"].startswith("memory rule, all devices: weights 16.")


def test_batch_hardware_names_with_a_count_are_that_many_devices_and_a_count_that_disagrees_is_a_row_error(
        catalog, predictors_dir, tmp_path):
    configs, out = tmp_path / "configs.csv", tmp_path / "out.csv"
    configs.write_text("model,hardware,batch_size,input_tokens,output_tokens,engine,dtype,device_count\n"
                       "llama-3.1-70b,8x H200,1,512,128,,,\n"
                       "llama-3.1-70b,4x H200,1,512,128,,,\n"             # any count of a one-device entry
                       "llama-3.1-70b,2xA100-80GB,1,512,128,,,2\n"       # the same count twice: fine
                       "llama-3.1-70b,8x H200,1,512,128,,,4\n"           # disagrees: this row only
                       "llama-3.1-70b,2xA100-80GB,1,512,128,warp-drive,fp6,\n")  # unknown names: this row only
    assert predict_batch(catalog, predictors_dir, configs, out, allow_unpromoted=True) == 5
    result = pd.read_csv(out, keep_default_na=False).drop(index=1).reset_index(drop=True)
    four = pd.read_csv(out, keep_default_na=False).loc[1]
    assert four["refusal"] == "" and int(four["resolved_device_count"]) == 4
    assert four["resolved_hardware"] == "nvidia-h200-sxm-141gb"
    for i, (hardware, devices) in enumerate([("8x H200", None), ("2xA100-80GB", 2)]):
        single = resolve_setup(catalog, "llama-3.1-70b", hardware, workload(1, 512, 128, device_count=devices))
        assert result.loc[i, "refusal"] == "" and int(result.loc[i, "resolved_device_count"]) == single.work["device_count"]
        assert result.loc[i, "resolved_hardware"] == single.hardware.key
        assert float(result.loc[i, "tpot_s"]) == pytest.approx(predict(
            catalog, predictors_dir, "llama-3.1-70b", hardware, workload(1, 512, 128, device_count=devices),
            allow_unpromoted=True)["tpot_s"]["value"], rel=1e-9)
    assert int(result.loc[0, "resolved_device_count"]) == 8
    assert result.loc[2, "refusal"] == ("device_count: hardware '8x H200' names 8 devices but the device count given "
                                        "is 4: give one of them (or the same count twice)")
    assert result.loc[2, "tpot_s"] == "" and result.loc[2, "resolved_hardware"] == ""
    assert "engine: 'warp-drive' is not a known engine" in result.loc[3, "refusal"]
    assert "dtype: 'fp6' is not a known dtype" in result.loc[3, "refusal"]


def test_batch_answers_on_random_rows_equal_the_single_questions(catalog, predictors_dir, tmp_path):
    rng = np.random.default_rng(11)
    n = 30
    rows = pd.DataFrame({
        "model": rng.choice(list(MODELS) + ["deepseek-r1", "llama-3.1-405b"], n),
        "hardware": rng.choice(list(HARDWARE) + ["8x H200", "nvidia-t4", "2xA100-80GB"], n),
        "batch_size": rng.choice(["1", "8", "64", "max"], n), "input_tokens": rng.choice([256, 4096], n),
        "output_tokens": rng.choice([32, 256], n), "engine": rng.choice(["", "vllm", "transformers"], n),
        "dtype": rng.choice(["", "bf16", "fp8"], n), "device_count": rng.choice(["", "1", "2", "8"], n)})
    rows.loc[rows["hardware"].str.contains("x"), "device_count"] = ""
    configs, out = tmp_path / "random.csv", tmp_path / "out.csv"
    rows.to_csv(configs, index=False)
    assert predict_batch(catalog, predictors_dir, configs, out, allow_unpromoted=True) == n
    batch = pd.read_csv(out, keep_default_na=False)
    answered = 0
    for i, row in rows.iterrows():
        work = workload("max" if row["batch_size"] == "max" else int(row["batch_size"]), int(row["input_tokens"]),
                        int(row["output_tokens"]), engine=row["engine"] or None, dtype=row["dtype"] or None,
                        device_count=int(row["device_count"]) if row["device_count"] else None)
        setup = resolve_setup(catalog, row["model"], row["hardware"], work)
        assert batch.loc[i, "refusal"] == (setup.refusal or ""), i
        if setup.refusal:
            continue
        assert batch.loc[i, "notes"].startswith(" | ".join(setup.notes)), i
        single = predict(catalog, predictors_dir, row["model"], row["hardware"], work, allow_unpromoted=True)
        assert float(batch.loc[i, "tpot_s"]) == pytest.approx(single["tpot_s"]["value"], rel=1e-9), i
        answered += 1
    assert 0 < answered < n


def test_a_serving_setup_built_without_a_batch_is_answered_like_the_same_question_asked(catalog, predictors_dir):
    setup = resolve_setup(catalog, "llama-3.1-70b", "8x H100",
                          workload(None, 512, 128, engine="vllm", mode="serving", concurrency=32))
    predictors = Predictors.load(predictors_dir, allow_unpromoted=True)
    asked = prediction_row(setup.model, setup.hardware, setup.work)
    built = prediction_row(setup.model, setup.hardware, {**setup.work, "batch_size": None})  # as recommend builds it
    _, answers = predictors.answer(pd.DataFrame([asked, built]))
    assert answers["tpot_s"].iloc[0] == answers["tpot_s"].iloc[1]


def test_a_memory_predictor_that_was_not_promoted_leaves_the_memory_rules_estimate_labelled(
        catalog, predictors_dir, tmp_path):
    # trained (on CPUs) but never promoted: the answer is the memory rule's, said as such
    folder = _with_cpu_only_memory_predictor(catalog, predictors_dir, tmp_path)
    work = workload(8, 512, 128, engine="vllm", dtype="bfloat16", device_count=2)
    memory = predict(catalog, folder, "llama-3.1-8b", "nvidia-h100-sxm-80gb", work)["peak_memory_gb"]
    assert memory["value"] is None and not memory["promoted"] and "was not promoted" in memory["reason"]
    assert memory["estimate"]["basis"].startswith("memory rule, all devices: weights 16.")
    # without any memory predictor, nothing is claimed about memory
    assert "peak_memory_gb" not in predict(catalog, predictors_dir, "llama-3.1-8b", "nvidia-h100-sxm-80gb", work)


def test_batch_model_names_with_a_quantisation_take_its_dtype_and_a_dtype_that_disagrees_is_a_row_error(
        catalog, predictors_dir, tmp_path):
    configs, out = tmp_path / "configs.csv", tmp_path / "out.csv"
    configs.write_text("model,hardware,batch_size,input_tokens,output_tokens,engine,dtype,device_count\n"
                       "meta-llama/Llama-3.1-8B-Instruct-FP8,H100,8,1000,500,,,\n"
                       "Llama-3.1-8B-Instruct-AWQ,4x A10G,8,1000,500,,int4,\n"        # the same dtype twice: fine
                       "meta-llama/Llama-3.1-8B-Instruct-FP8,H100,8,1000,500,,bf16,\n"  # disagrees: this row only
                       "Meta-Llama-3.1-8B-Instruct-Q5_K_M,H100,8,1000,500,,,\n"        # no dtype here: this row only
                       "Llama-3.1-8B-Instruct,H100,8,1000,500,,,\n")
    assert predict_batch(catalog, predictors_dir, configs, out, allow_unpromoted=True) == 5
    result = pd.read_csv(out, keep_default_na=False)
    assert list(result["resolved_model"]) == ["llama-3.1-8b", "llama-3.1-8b", "", "", "llama-3.1-8b"]
    assert list(result["resolved_dtype"]) == ["fp8", "int4", "", "", "bfloat16"]
    assert "dtype fp8: named by the model name 'meta-llama/Llama-3.1-8B-Instruct-FP8'" in result.loc[0, "notes"]
    assert int(result.loc[1, "resolved_device_count"]) == 4 and result.loc[1, "resolved_hardware"] == "nvidia-a10g"
    assert result.loc[2, "refusal"] == ("dtype: model 'meta-llama/Llama-3.1-8B-Instruct-FP8' names dtype fp8 but the "
                                        "dtype given is bfloat16: give one of them (or the same dtype twice)")
    assert "model: model 'Meta-Llama-3.1-8B-Instruct-Q5_K_M' names the quantisation 'q5_k_m'" in result.loc[3, "refusal"]
    single = predict(catalog, predictors_dir, "meta-llama/Llama-3.1-8B-Instruct-FP8", "H100",
                     workload(8, 1000, 500), allow_unpromoted=True)
    assert float(result.loc[0, "tpot_s"]) == pytest.approx(single["tpot_s"]["value"], rel=1e-9)


def test_recommend_asks_a_quantised_model_name_at_its_dtype_and_says_so(catalog, predictors_dir):
    name = "meta-llama/Llama-3.1-8B-Instruct-FP8"
    rec = recommend(catalog, predictors_dir, name, 512, 128, allow_unpromoted=True)
    assert rec.setup["model"] == "llama-3.1-8b" and rec.setup["dtype"] == f"fp8 (named by the model name {name!r})"
    assert set(rec.table["dtype"]) == {"fp8"}
    with pytest.raises(ValueError, match=r"names dtype fp8 but the dtype given is int4"):
        recommend(catalog, predictors_dir, name, 512, 128, dtype="awq", allow_unpromoted=True)
