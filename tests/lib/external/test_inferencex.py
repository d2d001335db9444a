"""InferenceX adapter, against the real API fixtures and CI artifacts of the shared folder.

The expected values below were read by hand from the source files (``jq``-style lookups of the
named rows in ``app_api_fixtures/*.shared.json`` and ``ci_agg_bmk/run_*/agg_bmk*.json``).
"""

import json
import math

import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.data.external.adapters import inferencex
from inference_estimation.lib.data.external.base import sha256_of
from inference_estimation.lib.data.external.canonical import to_records
from tests.conftest import EXTERNAL_DATA_DIR
from tests.lib.external.rows import one_row

DATASET = EXTERNAL_DATA_DIR / "inferencex"
ADAPTER = inferencex.InferenceXAdapter()

pytestmark = pytest.mark.skipif(not DATASET.is_dir(), reason=f"InferenceX dataset not present at {DATASET}")


@pytest.fixture(scope="module")
def output():
    return ADAPTER.read(DATASET)


def test_every_source_row_is_mapped_or_rejected_with_a_reason(output):
    # SOURCE.md: 205 latest + 831 history fixture rows + 974 CI rows = 2,010
    assert len(output.rows) + sum(output.rejected.values()) == 2010
    # 9 of the 10 runs present in both a fixture and CI repeat the same measurements
    overlap = output.rejected["same measurement in another file (fixture/CI overlap or repeated row)"]
    assert overlap > 100 and set(output.rejected) == {
        "same measurement in another file (fixture/CI overlap or repeated row)"}


def test_a_single_node_latest_row_is_converted_from_per_gpu_to_system_throughput_with_means(output):
    # benchmarks.shared.json: b200 trt fp8, tp 8 ep 1, 1024/1024, conc 4, run 26016874169 (2026-05-18)
    row = one_row(output.rows, run_id="inferencex-26016874169", hardware_key="b200", concurrency=4, input_tokens=1024,
               output_tokens=1024, expert_parallel=1, speculative_decoding="none")
    assert row["engine"] == "tensorrt-llm" and row["dtype"] == "fp8" and row["mode"] == "serving"
    assert row["device_count"] == 8 and row["tensor_parallel"] == 8 and row["node_count"] == 1
    assert row["disaggregated_prefill_decode"] is False and row["prefill_device_count"] is None
    assert row["total_throughput_tok_s"] == pytest.approx(109.4242924304037 * 8)
    assert row["output_throughput_tok_s"] == pytest.approx(54.445916082623164 * 8)
    assert row["throughput_scope"] == "per-device" and row["latency_statistic"] == "mean"
    assert row["ttft_s"] == pytest.approx(0.1899082841584459)
    assert row["tpot_s"] == pytest.approx(0.008689942316597076)
    assert row["e2e_latency_s"] == pytest.approx(8.158019682427403)
    assert row["ttft_p50_s"] == pytest.approx(0.18229299713857472)
    assert row["ttft_p90_s"] == pytest.approx(0.20419323584064855)
    assert row["itl_p99_s"] == pytest.approx(0.23474511355161665)
    assert row["engine_version"] == "nvcr.io/nvidia/tensorrt-llm/release:1.3.0rc14"
    assert row["measured_at"].startswith("2026-05-18") and row["model_key"] == "deepseek-ai/DeepSeek-R1-0528"


def test_a_disaggregated_multinode_row_counts_prefill_and_decode_pools_and_output_over_decode_gpus(output):
    # benchmarks.shared.json: h200 dynamo-trt fp8, 1 prefill worker (tp 8) + 7 decode workers (tp 8), 8192/1024, conc 9
    row = one_row(output.rows, run_id="inferencex-23438524239", hardware_key="h200", concurrency=9, input_tokens=8192,
               output_tokens=1024, disaggregated_prefill_decode=True)
    assert row["engine"] == "tensorrt-llm" and row["speculative_decoding"] == "none"
    assert (row["prefill_device_count"], row["decode_device_count"], row["device_count"]) == (8, 56, 64)
    assert row["node_count"] == 8 and row["tensor_parallel"] == 8 and row["expert_parallel"] == 8
    assert row["output_throughput_tok_s"] == pytest.approx(10.930062 * 56, rel=1e-6)
    assert row["total_throughput_tok_s"] == pytest.approx(85.531401 * 64, rel=1e-6)
    assert row["ttft_s"] == pytest.approx(3.011131, rel=1e-6) and row["ttft_p50_s"] == pytest.approx(1.689753, rel=1e-6)
    assert "dynamo" in row["engine_version"]


def test_history_rows_without_means_carry_medians_marked_p50(output):
    # benchmarks-history.shared.json: b200 trt fp8, tp 8 ep 8, 1024/1024, conc 4, run 20082986826 (2025-12-10)
    row = one_row(output.rows, run_id="inferencex-20082986826", hardware_key="b200", engine="tensorrt-llm",
               concurrency=4, input_tokens=1024, output_tokens=1024, expert_parallel=8, speculative_decoding="none")
    assert row["latency_statistic"] == "p50"
    assert row["ttft_s"] == pytest.approx(0.13348290650174022) == row["ttft_p50_s"]
    assert row["tpot_s"] == pytest.approx(0.01463445153967418)
    assert row["e2e_latency_s"] == pytest.approx(13.667594546917826)
    assert row["total_throughput_tok_s"] == pytest.approx(65.87432373228607 * 8)
    assert row["measured_at"].startswith("2025-12-10")


def test_a_ci_row_takes_the_date_of_the_newest_earlier_dated_run_and_its_own_topology(output):
    # ci_agg_bmk/run_20609406656/agg_bmk.filtered.json: mi325x sglang fp8, tp 8 ep 1, 1024/1024, conc 64
    row = one_row(output.rows, run_id="inferencex-20609406656", hardware_key="mi325x", concurrency=64,
               input_tokens=1024, output_tokens=1024)
    assert row["engine"] == "sglang" and row["attention_data_parallel"] is False and row["expert_parallel"] == 1
    assert row["total_throughput_tok_s"] == pytest.approx(342.5476231826731 * 8)
    assert row["output_throughput_tok_s"] == pytest.approx(171.23520856039292 * 8)
    assert row["ttft_s"] == pytest.approx(0.7198122771878843) and row["latency_statistic"] == "mean"
    assert row["e2e_p99_s"] == pytest.approx(52.21630728091114)
    # run 20609406656 is in no fixture; the newest dated run below it is 20216754736 (2025-12-15)
    assert row["measured_at"].startswith("2025-12-15")


def test_gpt_oss_rows_come_from_ci_artifacts_in_mxfp4(output):
    gpt = [r for r in output.rows if r["model_key"] == "openai/gpt-oss-120b"]
    assert gpt and {r["dtype"] for r in gpt} == {"fp4"}
    assert {r["hardware_key"] for r in gpt} <= {"h100", "h200", "b200", "mi300x", "mi325x"}


def test_throughputs_are_consistent_with_the_published_per_gpu_split(output):
    # output over decode GPUs + input over prefill GPUs = total over all GPUs (the source's convention)
    for row in output.rows:
        assert row["output_throughput_tok_s"] < row["total_throughput_tok_s"]
    concurrencies = [r["concurrency"] for r in output.rows]
    assert min(concurrencies) == 1 and max(concurrencies) > 1000


def test_all_rows_resolve_through_the_catalog_into_valid_records(output):
    records, rejected = to_records(output.rows, load_catalog(overlay_dirs=[]), origin="inferencex", strict=False)
    assert not rejected and len(records) == len(output.rows)
    keys = {r.hardware_key for r in records}
    assert {"nvidia-b200", "amd-mi325x", "amd-mi300x"} <= keys
    assert {r.run_id for r in records} >= {"inferencex-26016874169", "inferencex-20609406656"}


def test_held_out_hardware_in_an_upstream_file_is_rejected_and_undated_runs_are_counted(tmp_path):
    source = json.loads((DATASET / "ci_agg_bmk/run_20972034325/agg_bmk.json").read_text())
    held_out = dict(source[0], hw="mi355x-amd_0")
    fixture = [r for name in ("benchmarks", "benchmarks-history")
               for r in json.loads((DATASET / f"app_api_fixtures/{name}.shared.json").read_text())
               if "/runs/20972034325/" in r["run_url"]][:1]  # dates run 20972034325 (2026-01-13)
    (tmp_path / "app_api_fixtures").mkdir()
    (tmp_path / "app_api_fixtures/benchmarks.json").write_text(json.dumps(fixture))
    for run in ("20972034325", "10000000000"):
        (tmp_path / f"ci_agg_bmk/run_{run}").mkdir(parents=True)
        (tmp_path / f"ci_agg_bmk/run_{run}/agg_bmk.json").write_text(json.dumps([source[0], held_out]))
    out = ADAPTER.read(tmp_path)
    assert out.rejected["hardware held out for evaluation (b300, gb200, gb300, mi355x)"] == 2
    assert out.rejected["run date unknown"] == 1  # run 10000000000 is older than every dated fixture run
    ci_rows = [r for r in out.rows if r["run_id"] == "inferencex-20972034325" and r["hardware_key"] == "b200"
               and r["concurrency"] == source[0]["conc"] and r["output_tokens"] == source[0]["osl"]]
    assert len(ci_rows) == 1 and ci_rows[0]["measured_at"].startswith("2026-01-13")


def test_pinned_files_name_the_commits_and_the_unmodified_ci_files_match_their_sha256():
    ci = [f for f in ADAPTER.remote_files if f.path.startswith("ci_agg_bmk/")]
    assert len(ci) == 12 and all(inferencex.CI_COMMIT in f.url for f in ci)
    for remote in ci:
        assert sha256_of(DATASET / remote.path) == remote.sha256
    fixtures = [f for f in ADAPTER.remote_files if f.path.startswith("app_api_fixtures/")]
    assert [f.path for f in fixtures] == ["app_api_fixtures/benchmarks.json", "app_api_fixtures/benchmarks-history.json"]
    assert all(inferencex.APP_COMMIT in f.url for f in fixtures)


def test_node_count_rounds_partial_nodes_up():
    row = {"hardware": "h100", "framework": "dynamo-sglang", "model": "dsr1", "precision": "fp8", "spec_method": "mtp",
           "disagg": True, "is_multinode": True, "num_prefill_gpu": 4, "num_decode_gpu": 8, "decode_tp": 8,
           "decode_ep": 8, "decode_dp_attention": True, "isl": 1024, "osl": 1024, "conc": 2,
           "metrics": {"tput_per_gpu": 10.0, "output_tput_per_gpu": 5.0, "median_ttft": 0.5}}
    mapped = inferencex.row_to_canonical(row, kind="fixture", github_run="1", measured_at="2026-01-01")
    assert mapped["node_count"] == math.ceil(12 / 8) == 2 and mapped["device_count"] == 12
    assert mapped["output_throughput_tok_s"] == 40.0 and mapped["total_throughput_tok_s"] == 120.0
    assert mapped["engine"] == "sglang" and mapped["attention_data_parallel"] is True
