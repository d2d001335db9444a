"""Argonne LLM-Inference-Bench adapter, against the real published CSVs (shared data folder)."""

import csv
import io
from collections import Counter

import pytest

from benchmark_jobs.schema import POINT_KEY_FIELDS
from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.data.external.adapters import argonne
from inference_estimation.lib.data.external.base import sha256_of
from inference_estimation.lib.data.external.canonical import to_records
from tests.conftest import EXTERNAL_DATA_DIR

DATASET = EXTERNAL_DATA_DIR / "argonne_llm_inference_bench"
ADAPTER = argonne.ArgonneLLMInferenceBenchAdapter()

pytestmark = pytest.mark.skipif(not DATASET.is_dir(), reason=f"Argonne dataset not present at {DATASET}")


@pytest.fixture(scope="module")
def output():
    return ADAPTER.read(DATASET)


def _find(rows, **fields):
    return [r for r in rows if all(r.get(k) == v for k, v in fields.items())]


def _one(rows, **fields):
    found = _find(rows, **fields)
    assert len(found) == 1, f"expected one row for {fields}, found {len(found)}"
    return found[0]


def _data_lines(relative: str) -> int:
    """Data rows of a (possibly stacked) CSV: not blank, not a header, not a sub-table label."""
    text = (DATASET / relative).read_text(encoding="utf-8-sig")
    count = 0
    for cells in csv.reader(io.StringIO(text)):
        cells = [c.strip() for c in cells]
        if not any(cells) or cells[0].lower() in ("hardware", "model name") or cells == ["GH200:"]:
            continue
        count += 1
    return count


def test_remote_files_pin_the_source_commits_and_match_the_local_copies_sha256():
    assert len(ADAPTER.remote_files) == 8
    for remote in ADAPTER.remote_files:
        assert sha256_of(DATASET / remote.path) == remote.sha256, remote.path
        assert remote.url.startswith("https://raw.githubusercontent.com/argonne-lcf/LLM-Inference-Bench/")
    urls = {r.path: r.url for r in ADAPTER.remote_files}
    assert "/4211f5d4e9bc0145ed541b6d372d5d8223b44235/Plots/All_results.csv" in urls["Plots/All_results.csv"]
    assert "/ae7e7a41173badc99f7b59da1657a0172813e5e5/" in urls["Plots/Fig_16_a_b/all_power_results.csv"]
    assert urls["gh-pages/docs/data/Power/All_results.csv"].endswith(
        "/88c6378c07000618ee8a4716294198c80c4a0299/docs/data/Power/All_results.csv"
    )
    assert ADAPTER.license == "BSD-3-Clause" and ADAPTER.source == "argonne-llm-bench"


def test_every_source_row_is_mapped_or_rejected_with_a_reason(output):
    files = [argonne.MAIN_FILE, *argonne.POWER_FILES, *argonne.TTFT_FILES]
    source_rows = {f: _data_lines(f) for f in files}
    assert source_rows[argonne.MAIN_FILE] == 4772  # SOURCE.md
    assert source_rows["Plots/Fig_16_a_b/power_results.csv"] == 48
    assert source_rows["gh-pages/docs/data/Power/All_results.csv"] == 60
    assert source_rows["Plots/Fig_16_a_b/all_power_results.csv"] == 72  # six stacked sub-tables of 12
    assert source_rows["Plots/Fig_22/all_results_TTFT_ITL.csv"] == 30
    assert len(output.rows) + sum(output.rejected.values()) == sum(source_rows.values())
    assert 3400 <= len(output.rows) <= 3700
    assert output.rejected[argonne.R_NBATCH] == 1161  # 1570 llama.cpp rows -> 409 single-stream points
    assert output.rejected[argonne.R_SAME_DEVICE] == 24
    assert output.rejected[argonne.R_REPEAT] == 56
    assert output.rejected[argonne.R_DUPLICATE] > 0 and output.rejected[argonne.R_OTHER_RUN] > 0
    assert set(output.rejected) <= {
        argonne.R_NBATCH,
        argonne.R_SAME_DEVICE,
        argonne.R_REPEAT,
        argonne.R_DUPLICATE,
        argonne.R_OTHER_RUN,
    }
    assert any(n.startswith(f"read {argonne.MAIN_FILE}: 4772 rows") for n in output.notes)


def test_each_workload_point_appears_once_even_across_spellings_of_the_same_device(output):
    keys = Counter(
        tuple(
            argonne.SAME_DEVICE.get(r["hardware_key"], r["hardware_key"]) if f == "hardware_key" else r.get(f)
            for f in POINT_KEY_FIELDS
        )
        for r in output.rows
    )
    assert max(keys.values()) == 1
    # Intel PVC GPU and Intel Max 1550 are one device: the 24 Max 1550 vLLM points win
    assert len(_find(output.rows, hardware_key="Intel Max 1550")) == 24
    assert not _find(
        output.rows,
        hardware_key="Intel PVC GPU",
        engine="vllm",
        device_count=1,
        batch_size=16,
        input_tokens=128,
        model_key="meta-llama/Llama-2-7b-hf",
    )


def test_main_rows_map_latency_to_e2e_throughput_to_total_and_its_output_share(output):
    # raw: Nvidia GH200 GPU,1,TensorRT-LLM,mistralai/Mistral-7B-v0.1,128,16,
    #   0.8496496915817261,4820.8103181615925
    row = _one(
        output.rows,
        hardware_key="Nvidia GH200 GPU",
        engine="tensorrt-llm",
        device_count=1,
        model_key="mistralai/Mistral-7B-v0.1",
        batch_size=16,
        input_tokens=128,
        output_tokens=128,
    )
    assert row["e2e_latency_s"] == pytest.approx(0.8496496915817261)
    assert row["total_throughput_tok_s"] == pytest.approx(4820.8103181615925)
    assert row["dtype"] == "float16" and row["mode"] == "offline" and row["tensor_parallel"] == 1
    assert row["power_source"] == "none" and row.get("avg_power_w") is None
    assert row["output_throughput_tok_s"] == pytest.approx(16 * 128 / 0.8496496915817261)
    for r in output.rows:
        if r.get("e2e_latency_s"):  # the output share of the same run: batch x output / latency
            expected = r["batch_size"] * r["output_tokens"] / r["e2e_latency_s"]
            assert r["output_throughput_tok_s"] == pytest.approx(expected)
        assert r["input_tokens"] == r["output_tokens"] or r["output_tokens"] == 1  # "Input Output Length"
        if r["engine"] != "llama.cpp" and r["total_throughput_tok_s"] and r["e2e_latency_s"]:
            tokens = r["batch_size"] * (r["input_tokens"] + r["output_tokens"])
            assert r["total_throughput_tok_s"] * r["e2e_latency_s"] == pytest.approx(tokens, rel=1e-3)


def test_multi_device_vllm_rows_are_tensor_parallel_over_all_devices(output):
    row = _one(
        output.rows,
        hardware_key="AMD MI300X GPU",
        engine="vllm",
        device_count=8,
        model_key="meta-llama/Meta-Llama-3-70B",
        batch_size=64,
        input_tokens=1024,
    )
    assert row["tensor_parallel"] == 8


def test_llama_cpp_rows_are_single_stream_and_keep_the_largest_n_batch(output):
    # raw latencies at n_batch 1/16/32/64: 2.168549, 1.225929, 1.189460, 1.168506 s
    #   (throughput 219.083096 tok/s at n_batch 64)
    row = _one(
        output.rows,
        hardware_key="Nvidia H100 GPU",
        engine="llama.cpp",
        device_count=1,
        model_key="meta-llama/Llama-2-7b-hf",
        input_tokens=128,
    )
    assert row["batch_size"] == 1 and row["tensor_parallel"] == 1 and row["n_trials"] == 1
    assert row["e2e_latency_s"] == pytest.approx(1.168506)
    assert row["total_throughput_tok_s"] == pytest.approx(219.083096)
    llama = _find(output.rows, engine="llama.cpp")
    assert len(llama) == 409 and {r["batch_size"] for r in llama} == {1}
    assert {r["tensor_parallel"] for r in llama} == {1} and {r["device_count"] for r in llama} >= {1, 2, 4}


def test_power_in_milliwatts_becomes_watts_and_energy_pairs_with_the_same_runs_latency(output):
    # raw (Fig_16_a_b/power_results.csv): Nvidia H100 GPU,1,vLLM,meta-llama/Llama-2-7b-hf,1024,16,
    #   13.168710388265511,2488.3226249093605,494784.64814814815   (avg_power in mW)
    row = _one(
        output.rows,
        hardware_key="Nvidia H100 GPU",
        engine="vllm",
        device_count=1,
        model_key="meta-llama/Llama-2-7b-hf",
        batch_size=16,
        input_tokens=1024,
        output_tokens=1024,
    )
    assert row["avg_power_w"] == pytest.approx(494.78464814814815)
    assert row["e2e_latency_s"] == pytest.approx(13.168710388265511)
    assert row["energy_j"] == pytest.approx(494.78464814814815 * 13.168710388265511)
    assert row["energy_per_output_token_j"] == pytest.approx(row["energy_j"] / (16 * 1024))
    assert (row["power_source"], row["power_scope"]) == ("nvml-power", "device")
    powered = [r for r in output.rows if r.get("avg_power_w") is not None]
    assert len(powered) == 80  # 48 HEAD + 20 dashboard (Mistral-7B) + 12 GH200 vLLM (earlier commit)
    for r in powered:
        assert 150 <= r["avg_power_w"] <= 700  # watts, not milliwatts
        assert r["device_count"] == 1 and r["energy_j"] == pytest.approx(
            r["avg_power_w"] * r["e2e_latency_s"]
        )


def test_dashboard_power_row_without_throughput_keeps_its_own_latency(output):
    # raw (gh-pages Power): Nvidia A100 GPU,1,TensorRT-LLM,mistralai/Mistral-7B-v0.1,1024,16,
    #   28.28823569905944,,
    #   197007.4954954955 -- another run than the main file's (19.286 s): latency and power stay together
    row = _one(
        output.rows,
        hardware_key="Nvidia A100 GPU",
        engine="tensorrt-llm",
        device_count=1,
        model_key="mistralai/Mistral-7B-v0.1",
        batch_size=16,
        input_tokens=1024,
        output_tokens=1024,
    )
    assert row["e2e_latency_s"] == pytest.approx(28.28823569905944)
    assert row["avg_power_w"] == pytest.approx(197.0074954954955)
    assert row["total_throughput_tok_s"] is None


def test_ttft_rows_are_one_token_points_and_feed_ttft_and_tpot_of_the_full_length_point(output):
    # raw (Fig_22): AMD MI300X GPU,1,vLLM,meta-llama/Llama-2-7b-hf,1024,1,16,
    #   2.2758256473345684,14.616763864003588
    short = _one(
        output.rows,
        hardware_key="AMD MI300X GPU",
        engine="vllm",
        device_count=1,
        model_key="meta-llama/Llama-2-7b-hf",
        batch_size=16,
        input_tokens=1024,
        output_tokens=1,
    )
    assert short["ttft_s"] == short["e2e_latency_s"] == pytest.approx(2.2758256473345684)
    full = _one(
        output.rows,
        hardware_key="AMD MI300X GPU",
        engine="vllm",
        device_count=1,
        model_key="meta-llama/Llama-2-7b-hf",
        batch_size=16,
        input_tokens=1024,
        output_tokens=1024,
    )
    assert full["e2e_latency_s"] == pytest.approx(14.616763864003588)
    assert full["ttft_s"] == pytest.approx(2.2758256473345684)
    assert full["tpot_s"] == pytest.approx((14.616763864003588 - 2.2758256473345684) / 1023)
    assert len(_find(output.rows, output_tokens=1)) == 30


def test_rows_become_valid_records_and_report_unresolved_names(output):
    records, rejected = to_records(
        output.rows,
        load_catalog(overlay_dirs=[]),
        origin=ADAPTER.source,
        strict=False,
        measured_at=ADAPTER.measured_at,
    )
    unknown = {reason: n for reason, n in rejected.items() if reason.startswith("unknown")}
    print(f"\nargonne: {len(records)} records, rejected by to_records: {dict(rejected)}")
    assert sum(unknown.values()) < len(output.rows)
    assert len(records) + sum(rejected.values()) == len(output.rows)
    assert not {r: n for r, n in rejected.items() if not r.startswith("unknown")}, "rows fail validation"
    assert all(r.source == "argonne-llm-bench" for r in records)


