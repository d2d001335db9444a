"""The MLPerf Inference adapter against the real v4.1 and v5.1 summary files in shared/."""

import json
from collections import Counter

import pytest

from benchmark_jobs.schema import POINT_KEY_FIELDS
from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.data.external.adapters.mlperf import (
    BENCHMARK_MODELS,
    WORKLOADS,
    MLPerfInferenceAdapter,
    normalise_accelerator,
    normalise_processor,
    parse_engine,
)
from inference_estimation.lib.data.external.base import sha256_of
from inference_estimation.lib.data.external.canonical import to_records
from tests.conftest import EXTERNAL_DATA_DIR

EXTERNAL = EXTERNAL_DATA_DIR
ADAPTER = MLPerfInferenceAdapter()
FOLDER = EXTERNAL / ADAPTER.folder


@pytest.fixture(scope="module")
def raw_rows():
    if not FOLDER.is_dir():
        pytest.skip(f"dataset folder {FOLDER} is absent (shared/ data not checked out beside the repo)")
    return {r: json.loads((FOLDER / r / "summary_results.json").read_text()) for r in ("v4.1", "v5.1")}


@pytest.fixture(scope="module")
def output(raw_rows):
    return ADAPTER.read(FOLDER)


def _row(output, prompt_type):
    # Server/Interactive rows append their scenario's latency limits (";p99-limits:...").
    found = [r for r in output.rows if r["prompt_type"].split(";")[0] == prompt_type]
    assert len(found) == 1, f"expected one row {prompt_type}, got {len(found)}"
    return found[0]


def test_every_source_row_of_both_rounds_is_either_mapped_or_rejected_with_a_reason(raw_rows, output):
    total = sum(len(rows) for rows in raw_rows.values())
    assert total == 937 + 1448
    assert len(output.rows) + sum(output.rejected.values()) == total
    non_llm = sum(1 for rows in raw_rows.values() for r in rows if r["Model"] not in BENCHMARK_MODELS)
    assert output.rejected["not an LLM benchmark"] == non_llm == total - 753  # SOURCE.md: 753 LLM rows
    assert 450 <= len(output.rows) <= 600
    # One row per submission x benchmark x scenario: the workload point stays unique per run.
    assert len({r["prompt_type"] for r in output.rows}) == len(output.rows)
    assert any("v4.1/summary_results.json" in n for n in output.notes)
    assert any("v5.1/summary_results.json" in n for n in output.notes)


def test_rejection_reasons_cover_non_token_metrics_modified_models_mixed_clusters_and_accuracy_twins(output):
    rejected = output.rejected
    assert rejected["metric is Samples/s, not tokens/s"] == 3
    assert rejected["metric is Queries/s, not tokens/s"] == 10
    assert rejected["metric is Latency (ms), not tokens/s"] == 5
    assert rejected["open division: modified model (pruned, sparse or fine-tuned)"] == 5
    assert rejected["heterogeneous accelerators (mixed-GPU cluster)"] == 8
    assert 150 <= rejected["duplicate: same system and result under the -99 and -99.9 accuracy targets"] <= 260


def test_h200_maxq_llama2_offline_row_carries_whole_system_wall_power_and_output_tokens_per_second(output):
    row = _row(output, "mlperf/v4.1/llama2-70b-99/offline/v4.1-0049")
    assert row["model_key"] == "meta-llama/Llama-2-70b-chat-hf"
    assert row["hardware_key"] == "NVIDIA H200"
    assert row["device_name"] == "NVIDIA H200-SXM-141GB"
    assert row["device_count"] == 8
    assert row["mode"] == "offline"
    assert row["engine"] == "tensorrt-llm" and row["dtype"] == "float16"
    assert row["output_throughput_tok_s"] == pytest.approx(25262.1)
    assert row.get("total_throughput_tok_s") is None  # MLPerf counts generated tokens only
    assert row["avg_power_w"] == pytest.approx(6152.9844351733)  # Watts, whole system at the wall
    assert (row["power_source"], row["power_scope"]) == ("wall", "system")
    assert row["energy_per_output_token_j"] == pytest.approx(6152.9844351733 / 25262.1)
    # Offline: the dataset's mean lengths; batch null = the engine's own saturation batch.
    assert (row["input_tokens"], row["output_tokens"]) == (WORKLOADS["llama2-70b"].input_tokens, 294)
    assert (row["node_count"], row["throughput_scope"]) == (1, "system")
    for unknown in ("batch_size", "concurrency", "request_rate_rps"):
        assert row.get(unknown) is None
    # Its -99.9 twin carries the identical result and is counted as a duplicate, not emitted.
    assert not [r for r in output.rows if r["prompt_type"] == "mlperf/v4.1/llama2-70b-99.9/offline/v4.1-0049"]


def test_power_rows_are_the_eighteen_llm_rows_with_watts_less_their_accuracy_twins(raw_rows, output):
    with_watts = [r for rows in raw_rows.values() for r in rows
                  if r["Model"] in BENCHMARK_MODELS and r.get("Power_Units") == "Watts"]
    assert len(with_watts) == 18
    powered = [r for r in output.rows if r["power_source"] == "wall"]
    assert 9 <= len(powered) <= 18
    assert all(r["power_scope"] == "system" and r["avg_power_w"] > 1000 for r in powered)
    assert all(r.get("avg_power_w") is None for r in output.rows if r["power_source"] == "none")


def test_mi300x_vendor_string_is_normalised_and_vllm_version_parsed(output):
    row = _row(output, "mlperf/v4.1/llama2-70b-99/offline/v4.1-0001")
    assert row["hardware_key"] == "AMD Instinct MI300X"
    assert row["device_name"] == "AMD Instinct MI300X-NPS1-SPX-192GB-750W"
    assert row["device_count"] == 1
    assert (row["engine"], row["engine_version"]) == ("vllm", "0.4.3+rocm614")
    assert row["dtype"] == "fp8"
    assert row["output_throughput_tok_s"] == pytest.approx(3062.72)
    assert row["power_source"] == "none"


def test_multi_node_gb200_nvl72_counts_all_72_gpus_and_fp4_is_fp4(output):
    row = _row(output, "mlperf/v5.1/deepseek-r1/offline/5.1-0071")
    assert row["model_key"] == "deepseek-ai/DeepSeek-R1"
    assert row["hardware_key"] == "NVIDIA GB200"
    assert row["device_count"] == 72  # a# = 4 per node x 18 nodes
    assert row["node_count"] == 18  # several nodes: not a plain deployment
    assert (row["dtype"], row["weight_dtype"]) == ("fp4", "fp4")
    assert row["output_throughput_tok_s"] == pytest.approx(289712.0)


def test_server_and_interactive_scenarios_are_serving_mode(output):
    server = _row(output, "mlperf/v5.1/llama2-70b-99/server/5.1-0070")
    interactive = _row(output, "mlperf/v5.1/llama2-70b-99/interactive/5.1-0070")
    assert server["mode"] == interactive["mode"] == "serving"
    assert interactive["output_throughput_tok_s"] == pytest.approx(29745.6)
    # request rate = output tokens/s / mean output tokens per sample; limits named, not measured
    assert interactive["request_rate_rps"] == pytest.approx(29745.6 / 294)
    assert server["prompt_type"].endswith(";p99-limits:ttft=2s,tpot=0.2s")
    assert interactive["prompt_type"].endswith(";p99-limits:ttft=0.45s,tpot=0.04s")
    assert interactive.get("ttft_p99_s") is None and interactive.get("tpot_p99_s") is None
    assert Counter(r["mode"] for r in output.rows).keys() == {"offline", "serving"}


def test_cpu_only_system_uses_the_host_cpu_counted_in_sockets(output):
    row = _row(output, "mlperf/v4.1/gptj-99/offline/v4.1-0006")
    assert row["hardware_key"] == "Intel Xeon Platinum 8592+"
    assert row["device_name"] == "INTEL(R) XEON(R) PLATINUM 8592+"
    assert row["device_count"] == 2
    assert (row["engine"], row["dtype"]) == ("pytorch", "int4")
    assert row["model_key"] == "EleutherAI/gpt-j-6b"


def test_open_division_runs_of_another_model_are_attributed_to_the_model_actually_run(output):
    row = _row(output, "mlperf/v5.1/llama2-70b-99.9/offline/5.1-0382")
    assert row["model_key"] == "meta-llama/Llama-3.1-70B-Instruct"
    assert row["dtype"] == "fp8"  # weight_data_types is UNSET; the model name says fp8
    assert (row["engine"], row["engine_version"]) == ("vllm", "0.9.2")


def test_dual_gpu_arc_boards_count_two_gpus_per_board(output):
    row = _row(output, "mlperf/v5.1/llama2-70b-99/offline/5.1-0056")
    assert row["hardware_key"] == "Intel Arc Pro B60"
    assert row["device_count"] == 8  # a# = 4 dual boards


@pytest.mark.parametrize("spelling, expected", [
    ("NVIDIA H100-SXM-80GB", "NVIDIA H100 80GB HBM3"),
    ("NVIDIA H100-PCIe-80GB", "NVIDIA H100 PCIe"),
    ("NVIDIA H100-NVL-94GB", "NVIDIA H100 NVL"),
    ("NVIDIA H200-SXM-141GB-CTS", "NVIDIA H200"),
    ("Virtualized NVIDIA H200-SXM-141GB", "NVIDIA H200"),
    ("NVIDIA H200-NVL-141GB", "NVIDIA H200 NVL"),
    ("NVIDIA GH200 Grace Hopper Superchip 144GB", "NVIDIA GH200 144G HBM3e"),
    ("NVIDIA GH200 Grace Hopper Superchip 96GB", "NVIDIA GH200 480GB"),
    ("NVIDIA B200-SXM-180GB", "NVIDIA B200"),
    ("NVIDIA GB200", "NVIDIA GB200"),
    ("AMD Instinct MI300X-NPS1-SPX-192GB-750W", "AMD Instinct MI300X"),
    ("AMD MI300X-NPS1-SPX-192GB-750W", "AMD Instinct MI300X"),
    ("AMD Instinct MI325X 256GB HBM3e", "AMD Instinct MI325X"),
    ("AMD Instinct MI355X 288GB HBM3e", "AMD Instinct MI355X"),
    ("[MAXSUN] MS-Intel Arc Pro B60 Dual 48G Turbo", "Intel Arc Pro B60"),
    ("NVIDIA Jetson AGX Orin 64G", "NVIDIA Jetson AGX Orin 64GB"),
])
def test_accelerator_spellings_normalise_to_vendor_product_names(spelling, expected):
    assert normalise_accelerator(spelling) == expected


def test_processor_and_software_strings_parse():
    assert normalise_processor("INTEL(R) XEON(R) 6980P") == "Intel Xeon 6980P"
    assert parse_engine("TensorRT 10.2.0, CUDA 12.4") == ("tensorrt-llm", None)
    assert parse_engine("vLLM v0.9.2") == ("vllm", "0.9.2")
    assert parse_engine("SGLang v0.4.9") == ("sglang", "0.4.9")
    assert parse_engine("Mango LLMBoost AI Enterprise Platform, ROCm 6.12.12") == ("llmboost", None)
    assert parse_engine("CUDA 12.2") == (None, None)


def test_remote_files_are_pinned_to_the_source_commits_and_match_local_checksums(raw_rows):
    assert len(ADAPTER.remote_files) == 2
    for remote in ADAPTER.remote_files:
        assert remote.url.startswith("https://raw.githubusercontent.com/mlcommons/inference_results_v")
        assert ("1e5a50f0619832da57f1425c19a8ec3607eee91d" in remote.url) or (
            "965182b03376a00fcae415c54e560e1c83937932" in remote.url)
        assert sha256_of(FOLDER / remote.path) == remote.sha256


def test_rows_become_valid_records_with_unique_workload_points(output):
    records, rejected = to_records(output.rows, load_catalog(overlay_dirs=[]), origin=ADAPTER.source, strict=False,
                                   measured_at=ADAPTER.measured_at)
    print(f"\n{ADAPTER.source}: {len(records)} records, rejected on resolution now: {dict(rejected)}")
    assert len(records) + sum(rejected.values()) == len(output.rows)
    assert sum(rejected.values()) < len(output.rows)
    assert all(not reason.startswith("invalid") for reason in rejected)  # only unknown names may fail
    points = Counter(tuple(getattr(r, f) for f in POINT_KEY_FIELDS) for r in records)
    assert max(points.values()) == 1
    assert {r.measured_at for r in records} <= {"2024-08-28", "2025-09-09"}


def test_adapter_is_discovered_by_the_registry():
    from inference_estimation.lib.data.external.registry import all_adapters

    assert isinstance(all_adapters()["mlperf-inference"], MLPerfInferenceAdapter)
