"""The llama.cpp GPU-benchmark adapter against the real (README-derived) CSV in shared/."""

import csv
from collections import Counter

import pytest

from benchmark_jobs.schema import POINT_KEY_FIELDS
from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.data.external.adapters import llamacpp
from inference_estimation.lib.data.external.adapters.llamacpp import (
    CSV_FILE,
    PROMPT_TYPES,
    LlamaCppGpuBenchAdapter,
)
from inference_estimation.lib.data.external.canonical import to_records
from tests.conftest import EXTERNAL_DATA_DIR

EXTERNAL = EXTERNAL_DATA_DIR
ADAPTER = LlamaCppGpuBenchAdapter()
FOLDER = EXTERNAL / ADAPTER.folder


@pytest.fixture(scope="module")
def raw_rows():
    if not FOLDER.is_dir():
        pytest.skip(f"dataset folder {FOLDER} is absent (shared/ data not checked out beside the repo)")
    with (FOLDER / CSV_FILE).open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def output(raw_rows):
    return ADAPTER.read(FOLDER)


def _row(output, device_name, count, model, dtype, prompt_type, tokens):
    test = prompt_type.removeprefix("llama-bench-")
    length = "output_tokens" if test == "tg" else "input_tokens"
    found = [r for r in output.rows if r["device_name"] == device_name and r["device_count"] == count
             and r["model_key"] == model and r["dtype"] == dtype and r["prompt_type"] == PROMPT_TYPES[test]
             and r.get(length) == tokens]
    assert len(found) == 1
    return found[0]


def test_all_800_table_cells_are_mapped_and_none_rejected(raw_rows, output):
    assert len(raw_rows) == 800  # SOURCE.md: 800 rows, 35 GPU x count configurations
    assert len(output.rows) + sum(output.rejected.values()) == len(raw_rows)
    assert len(output.rows) == 800 and not output.rejected
    assert len({(r["device_name"], r["device_count"]) for r in output.rows}) == 35
    assert any("derived" in n and CSV_FILE in n for n in output.notes)


def test_every_row_is_single_stream_llama_cpp_offline_without_power(output):
    assert {r["batch_size"] for r in output.rows} == {1}
    assert {r["engine"] for r in output.rows} == {"llama.cpp"}
    assert {r["mode"] for r in output.rows} == {"offline"}
    assert {r["tensor_parallel"] for r in output.rows} == {1}  # layer split, not tensor parallel
    assert {r["power_source"] for r in output.rows} == {"none"}
    assert {r["dtype"] for r in output.rows} == {"int4", "float16"}


def test_text_generation_row_becomes_decode_throughput_and_time_per_output_token(output):
    # README: "4090 24GB | 8B Q4_K_M | tg 512 = 130.58"
    row = _row(output, "4090 24GB", 1, "meta-llama/Meta-Llama-3-8B", "int4", "llama-bench-tg", 512)
    assert row["hardware_key"] == "NVIDIA GeForce RTX 4090"
    assert row["output_throughput_tok_s"] == pytest.approx(130.58)
    assert row["tpot_s"] == pytest.approx(1 / 130.58)
    assert row["input_tokens"] == 0 and row["output_tokens"] == 512  # tg decodes from an empty prompt
    assert row["prompt_type"].startswith("llama-bench-tg: decode from an empty prompt")
    assert row.get("ttft_s") is None and row.get("total_throughput_tok_s") is None


def test_prompt_processing_row_becomes_prefill_time_of_the_prompt(output):
    # README: "4090 24GB * 8 | 70B F16 | pp 4096 = 2311.43"
    row = _row(output, "4090 24GB", 8, "meta-llama/Meta-Llama-3-70B", "float16", "llama-bench-pp", 4096)
    assert row["ttft_s"] == pytest.approx(4096 / 2311.43)
    assert row["output_tokens"] == 1  # a prefill yields one token: e2e = ttft
    assert row["e2e_latency_s"] == row["ttft_s"]
    assert row.get("tpot_s") is None and row.get("output_throughput_tok_s") is None


def test_apple_silicon_keeps_the_readme_spelling_that_names_the_gpu_variant(output):
    row = _row(output, "M2 Ultra 76-Core GPU 192GB", 1, "meta-llama/Meta-Llama-3-70B", "float16",
               "llama-bench-tg", 1024)
    assert row["hardware_key"] == "M2 Ultra 76-Core GPU 192GB"
    assert row["output_throughput_tok_s"] == pytest.approx(4.71)  # README overview: M2 Ultra 70B F16 = 4.71


def test_oom_cells_become_oom_rows_with_an_error_and_no_metrics(output):
    oom = [r for r in output.rows if r["status"] == "oom"]
    assert len(oom) == 4
    assert all(r["error"] and r.get("tpot_s") is None and r.get("ttft_s") is None for r in oom)
    assert {(r["device_name"], r["device_count"]) for r in oom} == {("4080 16GB", 1), ("M1 7-Core GPU 8GB", 1)}


def test_rows_become_valid_records_with_unique_workload_points(output):
    records, rejected = to_records(output.rows, load_catalog(overlay_dirs=[]), origin=ADAPTER.source, strict=False,
                                   measured_at=ADAPTER.measured_at)
    print(f"\n{ADAPTER.source}: {len(records)} records, rejected on resolution now: {dict(rejected)}")
    assert len(records) + sum(rejected.values()) == len(output.rows)
    assert sum(rejected.values()) < len(output.rows)
    # OOM rows carry no metric but their error; they land as status=oom records
    assert sum(r.status == "oom" for r in records) == 4 and "no metric" not in rejected
    points = Counter(tuple(getattr(r, f) for f in POINT_KEY_FIELDS) for r in records)
    assert max(points.values()) == 1


def test_the_original_readme_is_the_pinned_remote_file():
    # the README is parsed directly (tests/lib/data/external/test_llamacpp_readme.py); the derived CSV
    # read here is the fallback for folders without it
    assert [r.path for r in ADAPTER.remote_files] == ["README.md"]
    assert "aa72e0ec86c356c41f8281c9733e9a13c3675800/README.md" in ADAPTER.remote_files[0].url
    assert "aa72e0ec86c356c41f8281c9733e9a13c3675800/README.md" in llamacpp.__doc__


def test_adapter_is_discovered_by_the_registry():
    from inference_estimation.lib.data.external.registry import all_adapters

    assert isinstance(all_adapters()["llamacpp-gpu-bench"], LlamaCppGpuBenchAdapter)
