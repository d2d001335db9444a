"""What a new user touches on the command line: refusals, echoed defaults, one-line errors,
recommend's search, help texts. Predictors are small ones trained on a physics-shaped frame."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.ml.modeling import save_predictor, train_predictor
from inference_estimation.lib.ml.predict import workload
from inference_estimation.lib.physics.features import feature_frame, prediction_row

MODELS = ("llama-3.1-8b", "llama-3.1-70b", "mistral-7b-v0.1", "qwen2-7b")
HARDWARE = ("nvidia-h100-sxm-80gb", "amd-mi300x", "nvidia-a100-sxm4-80gb", "nvidia-l40s")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A home whose promoted predictors (TTFT, TPOT, throughput) know the sources local and my-lab."""
    catalog = load_catalog(overlay_dirs=[])
    rng = np.random.default_rng(3)
    rows = [prediction_row(catalog.model(m), catalog.hw(h),
                           workload(b, 512, 128, engine="vllm", dtype="bfloat16", device_count=2, source=s))
            for m in MODELS for h in HARDWARE for b in (1, 8, 32) for s in ("local", "my-lab")]
    feats = feature_frame(rows)
    frame = pd.concat([pd.DataFrame(rows)[["model_key", "hardware_key"]], feats], axis=1)
    frame["power_source"] = "none"
    noise = np.exp(rng.normal(0, 0.03, len(frame)))
    frame["ttft_s"] = feats["roofline_prefill_s"] * 3.0 * noise
    frame["tpot_s"] = feats["roofline_decode_step_s"] * 2.0 * noise
    frame["output_throughput_tok_s"] = feats["roofline_output_throughput_tok_s"] * 0.5 * noise
    root = tmp_path_factory.mktemp("home")
    for target in ("ttft_s", "tpot_s"):  # throughput and e2e follow from them
        save_predictor(train_predictor(frame, target, n_folds=2), root / "predictors" / "promoted" / target)
    return root


def _cli(*args, home, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "INFERENCE_ESTIMATION_HOME"}
    return subprocess.run([sys.executable, "-m", "inference_estimation.cli", *args, "--home", str(home)],
                          capture_output=True, text=True, timeout=180, env=env, cwd=cwd)


def _one_error_line(out):
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and "error" in lines[0] and "Traceback" not in out.stderr, out.stderr
    return lines[0]


Q = ("--input-tokens", "1024", "--output-tokens", "256")


def test_a_setup_that_does_not_fit_is_refused_with_the_fewest_devices_not_answered(home):
    out = _cli("predict", "--model", "deepseek-r1", "--hardware", "H100", "--batch-size", "1", *Q, home=home)
    assert out.returncode == 3, out.stderr
    # in the dtype it was released in (fp8), which the H100 runs
    assert "refused: does not fit: deepseek-r1 in fp8 on 1 x nvidia-h100-sxm-80gb" in out.stdout
    assert "the fewest nvidia-h100-sxm-80gb devices that fit it at fp8 are 16" in out.stdout
    assert "tpot_s" not in out.stdout
    as_json = _cli("predict", "--model", "llama-3.1-70b", "--hardware", "H100", "--batch-size", "1", *Q,
                   "--format", "json", home=home)
    assert as_json.returncode == 3
    body = json.loads(as_json.stdout)
    assert body["setup"]["memory"]["max_batch"] == 0  # nothing fits: no sequence runs at all
    assert "at bfloat16 are 2; in fp8, which nvidia-h100-sxm-80gb computes natively, it fits on 1 (--dtype fp8)" \
        in body["refusal"] and "predictions" not in body
    assert body["setup"]["device_count"] == 1 and body["setup"]["hardware"] == "nvidia-h100-sxm-80gb"


@pytest.mark.parametrize("args, reason", [
    (("--model", "llama-3.1-8b", "--input-tokens", "200000"), "exceeds llama-3.1-8b's max_position_embeddings"),
    (("--model", "xgboost-reg-200x8"), "is a tabular model"),
    (("--model", "llama-3.1-8b", "--hardware", "nvidia-t4", "--dtype", "fp8"), "neither FP8 nor bfloat16 math"),
])
def test_impossible_setups_are_refused(home, args, reason):
    base = {"--model": "llama-3.1-8b", "--hardware": "H100", "--batch-size": "1", "--input-tokens": "512",
            "--output-tokens": "128"}
    base.update(dict(zip(args[::2], args[1::2], strict=False)))
    out = _cli("predict", *[x for kv in base.items() for x in kv], home=home)
    assert out.returncode == 3 and reason in out.stdout, out.stdout + out.stderr


def test_every_answer_names_what_was_answered_and_gpu_defaults_are_vllm_bfloat16(home):
    out = _cli("predict", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--hardware", "NVIDIA H100 80GB HBM3",
               "--batch-size", "8", *Q, home=home)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == (
        "setup: llama-3.1-8b on 1 x nvidia-h100-sxm-80gb, vllm, bfloat16, batch 8, 1024+256 tokens, offline, "
        "source local (defaults: engine, dtype, device count)")
    body = json.loads(_cli("predict", "--model", "llama-3.1-8b", "--hardware", "H100", "--batch-size", "8", *Q,
                           "--dtype", "bf16", "--engine", "trt-llm", "--format", "json", home=home).stdout)
    assert {k: body["setup"][k] for k in ("model", "hardware", "engine", "dtype", "device_count")} == {
        "model": "llama-3.1-8b", "hardware": "nvidia-h100-sxm-80gb", "engine": "tensorrt-llm", "dtype": "bfloat16",
        "device_count": 1}
    assert set(body["predictions"]) == {"ttft_s", "tpot_s", "e2e_latency_s", "output_throughput_tok_s"}


@pytest.mark.parametrize("flag, value, expected", [
    ("--dtype", "banana", "--dtype: 'banana' is not a known dtype; use one of float32"),
    ("--engine", "banana", "--engine: 'banana' is not a known engine; use one of transformers"),
    ("--batch-size", "1.5", "--batch-size: '1.5' is not an integer >= 1 or 'max'"),
    ("--device-count", "0", "device_count must be >= 1, got 0"),
    ("--source", "bogus", "source: 'bogus' is not a source the predictors know; use one of local, my-lab"),
    ("--mode", "batchy", "--mode: invalid choice: 'batchy'"),
])
def test_unknown_or_invalid_values_are_one_line_errors(home, flag, value, expected):
    args = {"--model": "llama-3.1-8b", "--hardware": "H100", "--batch-size": "1", "--input-tokens": "512",
            "--output-tokens": "128", flag: value}
    assert expected in _one_error_line(_cli("predict", *[x for kv in args.items() for x in kv], home=home))


def test_batch_size_max_and_serving_questions_without_a_batch(home):
    body = json.loads(_cli("predict", "--model", "llama-3.1-8b", "--hardware", "nvidia-l40s", "--batch-size", "max",
                           "--engine", "transformers", *Q, "--format", "json", home=home).stdout)
    assert body["setup"]["batch_size"] == body["setup"]["memory"]["max_batch"] > 1
    over = _cli("predict", "--model", "llama-3.1-8b", "--hardware", "nvidia-l40s", "--engine", "transformers",
                "--batch-size", str(body["setup"]["batch_size"] + 1), *Q, home=home)
    assert over.returncode == 3 and "does not fit" in over.stdout
    serving = _cli("predict", "--model", "llama-3.1-8b", "--hardware", "H100", "--mode", "serving",
                   "--concurrency", "16", *Q, "--format", "json", home=home)
    assert serving.returncode == 0, serving.stderr
    answer = json.loads(serving.stdout)
    assert answer["setup"]["batch_size"] is None and answer["setup"]["concurrency"] == 16  # a load, not a batch
    rate = _cli("predict", "--model", "llama-3.1-8b", "--hardware", "H100", "--mode", "serving",
                "--request-rate-rps", "2.5", *Q, home=home)
    assert rate.returncode == 0 and "2.5 req/s" in rate.stdout
    assert "requests in flight at that rate (Little's law" in rate.stdout and "(= in_flight * output_tokens / e2e_latency_s)" in rate.stdout
    offline = _cli("predict", "--model", "llama-3.1-8b", "--hardware", "H100", *Q, home=home)
    assert "missing --batch-size" in _one_error_line(offline)


def test_explain_factors_multiply_to_the_answer(home):
    body = json.loads(_cli("predict", "--model", "qwen2-7b", "--hardware", "amd-mi300x", "--batch-size", "8", *Q,
                           "--explain", "--format", "json", home=home).stdout)
    for target, p in body["predictions"].items():
        ex = p["explanation"]
        if "primitives" in ex:  # a derived answer is explained through the primitives it is made of
            assert set(ex["primitives"]) == set(p["derived_from"]) and ex["identity"]
            continue
        product = ex["physics_baseline"] * ex["base_correction"] * ex["remainder"] * ex["hardware_correction_factor"]
        product *= np.prod([c["factor"] for c in ex["contributions"]])
        assert product == pytest.approx(p["value"], rel=1e-6), target
    text = _cli("predict", "--model", "qwen2-7b", "--hardware", "amd-mi300x", "--batch-size", "8", *Q, "--explain",
                home=home).stdout
    assert "x base correction" in text and "x remainder" in text


def test_batch_files_refuse_rows_and_report_bad_rows_one_line_each(home, tmp_path):
    good, out = tmp_path / "in.csv", tmp_path / "out.csv"
    good.write_text("model,hardware,batch_size,input_tokens,output_tokens,mode,concurrency\n"
                    "deepseek-r1,H100,1,1024,256,,\nllama-3.1-8b,H100,max,1024,256,,\n"
                    "llama-3.1-8b,H100,,512,128,serving,8\n")
    run = _cli("predict", "--input", str(good), "--output", str(out), home=home)
    assert run.returncode == 0 and "1 refused (see the refusal column)" in run.stdout, run.stderr
    result = pd.read_csv(out, keep_default_na=False)
    assert result["refusal"].str.startswith("does not fit").tolist() == [True, False, False]
    assert result.loc[0, "tpot_s"] == "" and float(result.loc[2, "tpot_s"]) > 0
    # each model in the dtype it was released in (deepseek-r1: fp8), and the notes say so
    assert result["resolved_engine"].tolist() == ["vllm"] * 3
    assert result["resolved_dtype"].tolist() == ["fp8", "bfloat16", "bfloat16"]
    assert result["notes"].str.contains("its catalog default_dtype").all()
    bad = tmp_path / "bad.csv"
    bad.write_text("model,hardware,batch_size,input_tokens,output_tokens,dtype\n"
                   "llama-3.1-8b,H100,1.5,512,128,\nllama-3.1-8b,H100,1,512,128,banana\n")
    run = _cli("predict", "--input", str(bad), "--output", str(tmp_path / "never.csv"), home=home)
    lines = run.stderr.strip().splitlines()
    # a malformed cell fails the file (named, every one); an unknown dtype refuses its row only
    assert run.returncode == 2 and len(lines) == 1 and not (tmp_path / "never.csv").exists()
    assert lines[0] == f"error: {bad}: line 2, column 'batch_size': '1.5' is not allowed; expected an integer >= 1 or 'max'"
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("model,hardware,batch_size,input_tokens,output_tokens,dtype\n"
                       "llama-3.1-8b,H100,1,512,128,\nllama-3.1-8b,H100,1,512,128,banana\n")
    run = _cli("predict", "--input", str(unknown), "--output", str(tmp_path / "rows.csv"), home=home)
    assert run.returncode == 0, run.stderr
    rows = pd.read_csv(tmp_path / "rows.csv", keep_default_na=False)
    assert rows.loc[0, "refusal"] == "" and "'banana' is not a known dtype" in rows.loc[1, "refusal"]
    header_only = tmp_path / "header.csv"
    header_only.write_text("model,hardware,batch_size,input_tokens,output_tokens\n")
    line = _one_error_line(_cli("predict", "--input", str(header_only), "--output", str(out), home=home))
    assert "only a header, no configuration" in line
    assert "no such file" in _one_error_line(_cli("predict", "--input", "nope.csv", "--output", str(out), home=home))


def test_recommend_finds_hardware_for_an_easy_request_in_100_columns_and_says_why_others_were_dropped(home):
    out = _cli("recommend", "--model", "llama-3.1-8b", *Q, "--max-ttft-ms", "500", "--max-tpot-ms", "50",
               "--show-dropped", "--top", "60", home=home)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100
    header = next(i for i, line in enumerate(lines) if line.startswith("hardware"))
    end = next(i for i, line in enumerate(lines) if line.startswith("dropped"))
    ranked = {line.split()[0]: line.split() for line in lines[header + 1:end]}
    assert "nvidia-h100-sxm-80gb" in ranked and "nvidia-h100-sxm-80gb-x8" not in out.stdout  # one H100, counted once
    assert all(float(row[5]) <= 500 and float(row[6]) <= 50 for row in ranked.values())  # TTFT, TPOT columns
    assert ranked["nvidia-v100-sxm2-16gb"][4] == "float16"  # no bfloat16 on V100: its default is float16
    dropped = "\n".join(lines[end:])
    assert "misses the limits at every setting tried; the closest, batch 1 on 1 device(s): TTFT" in dropped
    body = json.loads(_cli("recommend", "--model", "llama-3.1-70b", *Q, "--format", "json", "--top", "60",
                           home=home).stdout)
    h100 = [r for r in body["recommendations"] if r["hardware"] == "nvidia-h100-sxm-80gb"]
    assert h100 and h100[0]["devices"] >= 2 and {d["hardware"] for d in body["dropped"]} >= {"nvidia-t4"}


def test_help_shows_defaults_and_every_recommend_flag_has_help(home):
    predict_help = _cli("predict", "--help", home=home).stdout
    assert "(default: offline)" in predict_help and "GPU: vllm + bfloat16" in predict_help
    recommend_help = _cli("recommend", "--help", home=home).stdout
    flags = [line.split()[0] for line in recommend_help.splitlines() if line.strip().startswith("--")]
    assert len(flags) >= 12
    for line in recommend_help.split("options:")[1].split("\n  -")[1:]:
        assert len(line.split(None, 2)) >= 2, f"no help: {line!r}"
    assert "(default: 8)" in recommend_help and "(default: 10)" in recommend_help


def test_import_lists_its_sources_and_refuses_unknown_ones_and_missing_folders(home, tmp_path):
    listed = _cli("import", "--help", home=home).stdout
    assert "mlenergy-v3" in listed and "user-csv" in listed
    assert "known: argonne-llm-bench" in _one_error_line(_cli("import", "banana", home=home))
    assert "--from /nonexistent: no such folder" in _one_error_line(
        _cli("import", "user-csv", "--from", "/nonexistent", home=home))
    (tmp_path / "csvs").mkdir()
    (tmp_path / "csvs" / "mine.csv").write_text(
        "source,model_key,hardware_key,batch_size,tpot_s\nlab,llama-3.1-8b,H100,two,0.01\n"
        "lab,llama-3.1-8b,H100,1,-1\nlab,llama-3.1-8b,tpu-v9,1,0.01\n")
    out = _cli("import", "user-csv", "--from", str(tmp_path / "csvs"), home=home)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and "Traceback" not in out.stderr and "imported" not in out.stdout
    assert lines[0] == f"error: {tmp_path / 'csvs' / 'mine.csv'}: line 2, column 'batch_size': 'two' is not an integer"
    assert not (home / "warehouse.duckdb").exists()  # nothing written


def test_catalog_show_and_home_after_the_subcommand(home):
    out = _cli("catalog", "show", "H100", home=home)
    assert out.returncode == 0, out.stderr
    assert "# hardware nvidia-h100-sxm-80gb" in out.stdout and "memory_bandwidth_gb_s: 3350" in out.stdout
    assert "NVIDIA H100 80GB HBM3" in out.stdout and "price_per_hour_usd: public-table" in out.stdout
    assert "unknown hardware 'tpu-v9'" in _cli("catalog", "show", "tpu-v9", home=home).stderr
    before = subprocess.run([sys.executable, "-m", "inference_estimation.cli", "--home", str(home), "catalog", "show",
                             "llama-3.1-8b"], capture_output=True, text=True, timeout=120)
    assert before.returncode == 0 and "# model llama-3.1-8b" in before.stdout


@pytest.mark.parametrize("seen, expected", [
    ({"ttft_s": (925, 0), "tpot_s": (1436, 34)},
     "seen in training: TTFT from 925 measurements on this hardware, 0 of this model; "
     "TPOT from 1436 measurements on this hardware, 34 of this model"),
    ({"ttft_s": (40, 3), "tpot_s": (40, 3)}, "seen in training: 40 measurements on this hardware, 3 of this model"),
    ({"ttft_s": (0, 5), "tpot_s": (0, 5)},
     "seen in training: 0 measurements on this hardware, 5 of this model (new hardware: predicted from its spec sheet)"),
    ({"e2e_latency_s": (1, 1)}, None),
])
def test_the_seen_line_gives_each_time_primitive_its_own_counts_when_they_differ(seen, expected):
    from inference_estimation.cli.predict import seen_line

    result = {t: {"value": 1.0, "measurements_seen": {"hardware": h, "model": m}} for t, (h, m) in seen.items()}
    assert seen_line(result) == expected


def test_output_piped_to_a_reader_that_stops_early_ends_quietly(home):
    # `inference-estimation catalog | head -1`: the reader is gone before the command writes
    read, write = os.pipe()
    os.close(read)
    env = {k: v for k, v in os.environ.items() if k != "INFERENCE_ESTIMATION_HOME"}
    run = subprocess.run([sys.executable, "-m", "inference_estimation.cli", "catalog", "--home", str(home)],
                         stdout=write, stderr=subprocess.PIPE, text=True, timeout=180, env=env)
    os.close(write)
    assert "Traceback" not in run.stderr and "BrokenPipeError" not in run.stderr, run.stderr
    assert run.returncode == 0


def test_recommend_says_which_dollars_per_hour_it_used_with_source_and_date_in_text_and_json(home):
    out = _cli("recommend", "--model", "llama-3.1-8b", *Q, "--top", "40", home=home)
    assert out.returncode == 0, out.stdout + out.stderr
    assert max(len(line) for line in out.stdout.splitlines()) <= 100
    assert "ranked by fewest devices, then energy per token (cost breaks ties)" in out.stdout
    prices = out.stdout.split("$/h used, per device")[1]
    assert "nvidia-h100-sxm-80gb: $3.99/h, Lambda 8x NVIDIA H100 SXM, on-demand list price read 2026-09-20" in prices
    assert "amd-mi300x: -, no cited on-demand price (ranked by devices and energy)" in prices
    body = json.loads(_cli("recommend", "--model", "llama-3.1-8b", *Q, "--rank-by", "cost", "--format", "json",
                           "--top", "40", home=home).stdout)
    assert body["setup"]["rank_by"] == "cost"
    rows = {r["hardware"]: r for r in body["recommendations"]}
    assert rows["nvidia-h100-sxm-80gb"]["price_per_device_hour_usd"] == 3.99
    assert "https://lambda.ai/instances" in rows["nvidia-h100-sxm-80gb"]["price_source"]
    priced = [r["price_per_device_hour_usd"] is not None for r in body["recommendations"]]
    assert priced == sorted(priced, reverse=True)  # by cost: every priced device before the unpriced


def test_a_hardware_name_with_a_count_is_answered_on_that_many_devices_and_a_second_count_must_agree(home):
    out = _cli("predict", "--model", "llama-3.1-70b", "--hardware", "8x H200", "--batch-size", "1", *Q, home=home)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "on 8 x nvidia-h200-sxm-141gb" in out.stdout and "device count" not in out.stdout.split("\n")[0]
    line = _one_error_line(_cli("predict", "--model", "llama-3.1-70b", "--hardware", "8x H200", "--device-count", "4",
                                "--batch-size", "1", *Q, home=home))
    assert "'8x H200' names 8 devices but the device count given is 4" in line


def test_a_quantised_model_name_is_answered_in_its_dtype_with_a_note_and_a_second_dtype_must_agree(home):
    name = "meta-llama/Llama-3.1-8B-Instruct-FP8"
    out = _cli("predict", "--model", name, "--hardware", "4x A10G", "--batch-size", "8", *Q, home=home)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[0] == (
        "setup: llama-3.1-8b on 4 x nvidia-a10g, vllm, fp8 weight-only, batch 8, 1024+256 tokens, offline, "
        "source local (defaults: engine)")
    assert f"dtype fp8: named by the model name {name!r}" in out.stdout
    line = _one_error_line(_cli("predict", "--model", name, "--hardware", "H100", "--dtype", "bf16",
                                "--batch-size", "8", *Q, home=home))
    assert f"model {name!r} names dtype fp8 but the dtype given is bfloat16" in line
    out = _cli("recommend", "--model", "Llama-3.1-8B-Instruct-AWQ", *Q, home=home)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "dtype int4 (named by the model name 'Llama-3.1-8B-Instruct-AWQ')" in " ".join(out.stdout.split())
