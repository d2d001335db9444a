"""The ML.ENERGY adapters (v3, v2, v1 legacy) against the real published files in shared/."""

import csv
import json
from collections import Counter

import pytest

from benchmark_jobs.schema import POINT_KEY_FIELDS
from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.data.external.adapters.mlenergy import (
    ADAPTERS,
    DIFFUSION_REASON,
    DUPLICATE_REASON,
    MLLM_TEXT_DECODER,
    MLEnergyV1Adapter,
    MLEnergyV2Adapter,
    MLEnergyV3Adapter,
)
from inference_estimation.lib.data.external.base import sha256_of
from inference_estimation.lib.data.external.canonical import to_records
from inference_estimation.lib.data.external.registry import all_adapters
from tests.conftest import EXTERNAL_DATA_DIR
from tests.lib.external.rows import one_row

EXTERNAL = EXTERNAL_DATA_DIR
V3, V2, V1 = MLEnergyV3Adapter(), MLEnergyV2Adapter(), MLEnergyV1Adapter()


def _folder(adapter):
    folder = EXTERNAL / adapter.folder
    if not folder.is_dir():
        pytest.skip(f"dataset folder {folder} is absent (shared/ data not checked out beside the repo)")
    return folder


@pytest.fixture(scope="module")
def v3():
    return V3.read(_folder(V3))


@pytest.fixture(scope="module")
def v2():
    return V2.read(_folder(V2))


@pytest.fixture(scope="module")
def v1():
    return V1.read(_folder(V1))


def _v3_configs(task):
    return json.loads((_folder(V3) / "public" / "data" / "tasks" / f"{task}.json").read_text())["configurations"]


# ------------------------------------------------------------------------------------------ v3
def test_v3_maps_835_llm_and_mllm_configurations_and_counts_every_diffusion_and_repeated_one(v3):
    # SOURCE.md: 838 LLM/MLLM configurations + 1020 diffusion configurations. Three LLM
    # configurations are published twice (a second seed): the repeats are duplicates.
    assert len(v3.rows) == 835
    assert v3.rejected[DIFFUSION_REASON] == 1020
    assert v3.rejected[DUPLICATE_REASON] == 3
    assert len(v3.rows) + sum(v3.rejected.values()) == 838 + 1020
    assert Counter(r["prompt_type"] for r in v3.rows) == {
        "gpqa": 186, "lm-arena-chat": 326, "sourcegraph-fim": 50, "image-chat": 173, "video-chat": 100}


def test_v3_first_gpqa_configuration_keeps_units_and_sums_power_over_all_gpus(v3):
    raw = _v3_configs("gpqa")[0]
    assert (raw["model_id"], raw["gpu_model"], raw["num_gpus"], raw["max_num_seqs"]) == ("Qwen/Qwen3-14B", "B200", 1, 8)
    row = one_row(v3.rows, prompt_type="gpqa", model_key="Qwen/Qwen3-14B", device_name="B200", device_count=1, concurrency=8)
    assert row["hardware_key"] == "NVIDIA B200"
    assert (row["mode"], row["engine"], row["dtype"]) == ("serving", "vllm", "bfloat16")
    assert row["concurrency"] == 8  # max_num_seqs, the swept knob
    assert row["batch_size"] == 8  # measured avg_batch_size 7.997 -> the running batch
    assert row["output_tokens"] == 7026  # avg_output_len 7026.24 (reasoning, not forced)
    assert row["input_tokens"] is None
    assert row["output_throughput_tok_s"] == pytest.approx(234.06050523961807)
    assert row["avg_power_w"] == pytest.approx(319.7883095908309)
    assert row["energy_per_output_token_j"] == pytest.approx(1.3662634337367148)
    assert row["itl_p50_s"] == pytest.approx(0.03362808651581872)  # 33.63 ms -> s
    assert row["itl_p90_s"] == pytest.approx(0.05168297459313183)
    assert row["itl_p99_s"] == pytest.approx(0.0686399259546306)
    # TPOT = the median ITL: the decode step at the running batch (a median: latency_statistic p50)
    assert row["tpot_s"] == row["itl_p50_s"] and row["latency_statistic"] == "p50"
    assert row.get("energy_j") is None
    assert (row["power_source"], row["power_scope"]) == ("nvml-energy", "all-devices")


def test_v3_power_equals_energy_per_token_times_throughput_on_every_row(v3):
    for row in v3.rows:
        assert row["avg_power_w"] == pytest.approx(row["energy_per_output_token_j"] * row["output_throughput_tok_s"],
                                                   rel=1e-6)
        assert (row["power_source"], row["power_scope"], row["mode"]) == ("nvml-energy", "all-devices", "serving")


def test_v3_expert_parallel_runs_record_attention_tensor_parallel_degree(v3):
    # tensor_parallel=1, data_parallel=1, expert_parallel=8 on 8 GPUs: vLLM's EP group is TP x DP, so
    # attention is 8-way tensor parallel; data_parallel=8 ("DP for attention") means attention TP 1.
    fim = _v3_configs("sourcegraph-fim")
    ep = next(c for c in fim if (c["tensor_parallel"], c["data_parallel"], c["expert_parallel"], c["num_gpus"]) == (1, 1, 8, 8))
    dp = next(c for c in fim if (c["tensor_parallel"], c["data_parallel"], c["expert_parallel"], c["num_gpus"]) == (1, 8, 8, 8))
    for config, expected_tp in ((ep, 8), (dp, 1)):
        row = one_row(v3.rows, prompt_type="sourcegraph-fim", model_key=config["model_id"], device_count=8,
                   concurrency=config["max_num_seqs"], tensor_parallel=expected_tp,
                   output_throughput_tok_s=config["output_throughput_tokens_per_sec"])
        assert row["device_name"] == config["gpu_model"]


def test_v3_precisions_map_fp8_to_fp8_and_gpt_oss_mxfp4_to_fp4(v3):
    by_model = {(r["model_key"], r["dtype"], r["weight_dtype"]) for r in v3.rows}
    assert ("openai/gpt-oss-120b", "fp4", "mxfp4") in by_model
    assert ("meta-llama/Llama-3.1-405B-Instruct-FP8", "fp8", "fp8") in by_model
    assert {r["dtype"] for r in v3.rows} == {"bfloat16", "fp8", "fp4"}
    assert {r["hardware_key"] for r in v3.rows} == {"NVIDIA H100 80GB HBM3", "NVIDIA B200"}


def test_v3_vision_language_rows_are_mapped_only_for_models_with_a_known_text_decoder(v3):
    mllm = [r for r in v3.rows if r["prompt_type"] in ("image-chat", "video-chat")]
    assert len(mllm) == 273
    assert {r["model_key"] for r in mllm} <= set(MLLM_TEXT_DECODER)


# ------------------------------------------------------------------------------------------ v2
def test_v2_maps_314_llm_and_42_mllm_json_files_and_rejects_118_diffusion_files(v2):
    assert len(v2.rows) == 314 + 42  # SOURCE.md: 314 LLM + 42 MLLM + 118 diffusion
    assert dict(v2.rejected) == {DIFFUSION_REASON: 118}
    assert Counter(r["prompt_type"] for r in v2.rows) == {"chat": 191, "code": 123, "image-chat": 42}
    assert Counter(r["hardware_key"] for r in v2.rows) == {"NVIDIA A100-SXM4-40GB": 190, "NVIDIA H100 80GB HBM3": 166}
    assert not [n for n in v2.notes if "disagrees" in n]  # file names agree with contents (bs x PP)


def test_v2_llama_3_1_8b_h100_batch_128_converts_energy_per_request_to_energy_per_token(v2):
    raw = json.loads((_folder(V2) / "data" / "llm_text_generation" / "chat" / "H100 80GB HBM3" / "meta-llama"
                      / "Meta-Llama-3.1-8B-Instruct" / "bs128+tp1+pp1.json").read_text())
    row = one_row(v2.rows, model_key="meta-llama/Llama-3.1-8B-Instruct", hardware_key="NVIDIA H100 80GB HBM3",
               prompt_type="chat", batch_size=128)
    assert (row["device_count"], row["tensor_parallel"], row["concurrency"]) == (1, 1, 128)
    assert (row["engine"], row["engine_version"], row["mode"], row["dtype"]) == ("vllm", "0.5.4", "serving", None)
    assert row["tpot_s"] == pytest.approx(raw["Avg TPOT (s)"]) == pytest.approx(0.056651204094629815)
    assert row["output_throughput_tok_s"] == pytest.approx(2152.5157219742528)
    assert row["output_tokens"] == 483
    assert row["energy_per_output_token_j"] == pytest.approx(63.122728432700505 / 483.135)
    assert row.get("avg_power_w") is None  # not published, not derived
    assert (row["power_source"], row["power_scope"]) == ("nvml-energy", "all-devices")


def test_v2_pipeline_parallel_runs_count_tp_times_pp_gpus_and_the_whole_server_batch(v2):
    row = one_row(v2.rows, model_key="mistralai/Mixtral-8x22B-Instruct-v0.1", hardware_key="NVIDIA A100-SXM4-40GB",
               batch_size=2048)  # file bs1024+tp8+pp2.json: max_num_seqs 1024 per pipeline stage
    assert (row["device_count"], row["tensor_parallel"]) == (16, 8)
    assert row["concurrency"] == 1994
    pp1 = [r for r in v2.rows if r["model_key"] == "mistralai/Mixtral-8x22B-Instruct-v0.1" and r["device_count"] == 8]
    assert sorted(r["batch_size"] for r in pp1 if r["hardware_key"] == "NVIDIA A100-SXM4-40GB") == [32, 64]


def test_v2_vision_language_files_map_with_their_own_model_ids(v2):
    mllm = {r["model_key"] for r in v2.rows if r["prompt_type"] == "image-chat"}
    assert mllm == {"llava-hf/llava-1.5-7b-hf", "llava-hf/llava-1.5-13b-hf", "llava-hf/llama3-llava-next-8b-hf",
                    "facebook/chameleon-7b", "facebook/chameleon-30b", "microsoft/Phi-3-vision-128k-instruct"}


# ------------------------------------------------------------------------------------------ v1
def test_v1_maps_every_row_of_the_twelve_legacy_csvs_at_batch_size_1(v1):
    files = sorted((_folder(V1) / "data" / "legacy").glob("*_benchmark.csv"))
    assert len(files) == 12
    source_rows = sum(len(list(csv.DictReader(p.open()))) for p in files)
    assert source_rows == 260  # 4 tasks x (21 A100 + 23 A40 + 21 V100)
    assert len(v1.rows) + sum(v1.rejected.values()) == source_rows
    assert len(v1.rows) == 260
    assert {(r["batch_size"], r["device_count"], r["mode"], r["engine"], r["dtype"]) for r in v1.rows} == {
        (1, 1, "offline", "transformers", "float16")}
    # the files say only "A100"/"V100", which the catalog asks about (two sizes each): the adapter
    # names the variant; "A40" has one
    assert {r["hardware_key"] for r in v1.rows} == {"nvidia-a100-sxm4-80gb", "A40", "nvidia-v100-sxm2-32gb"}
    assert {r["device_name"] for r in v1.rows} == {"A100", "A40", "V100"}
    assert {r["prompt_type"] for r in v1.rows} == {"chat", "chat-concise", "instruct", "instruct-concise"}


def test_v1_koala_13b_on_a100_chat_keeps_seconds_and_joules_per_response_and_derives_power(v1):
    row = one_row(v1.rows, model_key="BAIR/koala-13b", hardware_key="nvidia-a100-sxm4-80gb",
                  prompt_type="chat")
    assert row["e2e_latency_s"] == pytest.approx(12.1433556952537)
    assert row["output_throughput_tok_s"] == pytest.approx(21.207721076321384)
    assert row["output_tokens"] == 266  # mean response_length 265.57
    assert row["energy_j"] == pytest.approx(2144.8338435191445)
    assert row["energy_per_output_token_j"] == pytest.approx(2144.8338435191445 / 265.5732034922767)
    assert row["avg_power_w"] == pytest.approx(2144.8338435191445 / 12.1433556952537)  # ~176.6 W
    assert (row["power_source"], row["power_scope"]) == ("nvml-energy", "device")


def test_v1_local_llama_conversions_are_named_by_their_hugging_face_ids(v1):
    models = {r["model_key"] for r in v1.rows}
    assert {"huggyllama/llama-7b", "huggyllama/llama-13b", "meta-llama/Llama-2-7b-chat-hf"} <= models
    assert not any(m.startswith("metaai/") for m in models)


# ------------------------------------------------------------------------------------ common
@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.source)
def test_pinned_remote_files_match_the_local_copies_and_point_at_the_named_commit(adapter):
    folder = _folder(adapter)
    commit = {"mlenergy-v3": "0cd52dab897c5d91a45f4d413038f3b8b4251b0f"}.get(
        adapter.source, "c3af7f31e231a2a7021c5f8e2a54dd712d02e6e2")
    assert adapter.remote_files
    for remote in adapter.remote_files:
        assert f"/{commit}/" in remote.url and remote.url.startswith("https://raw.githubusercontent.com/ml-energy/")
        assert " " not in remote.url
        assert sha256_of(folder / remote.path) == remote.sha256, remote.path


def test_v2_pins_cover_exactly_the_configuration_files_it_reads():
    data = _folder(V2) / "data"
    read = {str(p.relative_to(data.parent)) for kind in ("llm_text_generation", "mllm_text_generation", "diffusion")
            for p in (data / kind).rglob("*.json") if p.name != "models.json"}
    assert {r.path for r in V2.remote_files} == read
    assert len(read) == 474


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.source)
def test_rows_are_valid_records_and_unknown_names_are_only_counted(adapter, capsys):
    output = adapter.read(_folder(adapter))
    records, rejected = to_records(output.rows, load_catalog(overlay_dirs=[]), origin=adapter.source, strict=False,
                                   measured_at=adapter.measured_at)
    assert len(records) + sum(rejected.values()) == len(output.rows)
    # Fine-tunes that the catalog resolves to one architecture (v1's LLaMA-7B derivatives) can meet
    # at one workload point; the framework keeps the first. Anything else is a mapping bug.
    assert rejected.get("duplicate workload point after name resolution", 0) <= 2, rejected
    assert not [reason for reason in rejected if not reason.startswith(("unknown ", "duplicate workload point"))], rejected
    assert len(records) > 0 and sum(rejected.values()) < len(output.rows)
    with capsys.disabled():
        print(f"\n{adapter.source}: {len(records)}/{len(output.rows)} rows resolve against the catalog now; "
              f"unresolved: {dict(rejected)}")


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.source)
def test_every_emitted_row_is_a_distinct_workload_point(adapter):
    output = adapter.read(_folder(adapter))
    keys = Counter(tuple(row.get(f) for f in POINT_KEY_FIELDS) for row in output.rows)
    assert [k for k, n in keys.items() if n > 1] == []
    assert all(row["source"] == adapter.source and "run_id" not in row for row in output.rows)


def test_the_three_sources_are_discovered_by_the_adapter_registry():
    found = all_adapters()
    for source in ("mlenergy-v3", "mlenergy-v2", "mlenergy-v1"):
        assert source in found
    assert found["mlenergy-v1"].folder == found["mlenergy-v2"].folder == "mlenergy_leaderboard_v2"
