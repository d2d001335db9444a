"""IBM LLM-Pilot adapter, against the real aggregates and feature tables of the shared folder.

Expected values were read by hand from ``llm_pilot_aggregates.csv`` (the lines named below).
"""

import csv

import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.data.external.adapters import ibm_llm_pilot
from inference_estimation.lib.data.external.base import DatasetError
from inference_estimation.lib.data.external.canonical import to_records
from tests.conftest import EXTERNAL_DATA_DIR
from tests.lib.external.rows import one_row

DATASET = EXTERNAL_DATA_DIR / "ibm_llm_pilot"
ADAPTER = ibm_llm_pilot.IBMLLMPilotAdapter()

pytestmark = pytest.mark.skipif(not DATASET.is_dir(), reason=f"LLM-Pilot dataset not present at {DATASET}")


@pytest.fixture(scope="module")
def output():
    return ADAPTER.read(DATASET)


def test_every_case_is_mapped_or_rejected_and_encoder_decoders_are_left_out_with_a_reason(output):
    assert len(output.rows) + sum(output.rejected.values()) == 528  # SOURCE.md: 66 pairs x 8 user levels
    # Flan-T5 XL (112) + XXL (72) + Flan-UL2 (40) + mT0-XXL (16) cases
    assert output.rejected[ibm_llm_pilot.R_ENCODER_DECODER] == 240
    assert output.rejected[ibm_llm_pilot.R_NO_RAW] == 2
    assert output.rejected[ibm_llm_pilot.R_FAILED] > 0
    assert not {r["model_key"] for r in output.rows} & {"google/flan-t5-xl", "google/flan-ul2", "bigscience/mt0-xxl"}


def test_a_single_gpu_case_maps_means_percentiles_and_system_throughput(output):
    # line 2: EleutherAI/gpt-neox-20b, 1 x H100, 1 user: 304 ok requests in 120 s
    row = one_row(output.rows, model_key="EleutherAI/gpt-neox-20b", hardware_key="H100-SXM5-80GB", device_count=1,
               concurrency=1)
    assert row["mode"] == "serving" and row["engine"] == "tgi" and row["dtype"] == "float16"
    assert (row["input_tokens"], row["output_tokens"]) == (112, 20)  # means 112.30 / 19.80, rounded
    assert row["ttft_s"] == pytest.approx(0.04613157894736842) and row["latency_statistic"] == "mean"
    assert row["tpot_s"] == pytest.approx(0.01895696386417287)
    assert row["ttft_p50_s"] == pytest.approx(0.044) and row["ttft_p90_s"] == pytest.approx(0.0755999999999998)
    assert row["itl_p50_s"] == pytest.approx(0.019) and row["itl_p99_s"] == pytest.approx(0.020)
    assert row["e2e_p50_s"] == pytest.approx(0.383) and row.get("e2e_latency_s") is None  # no mean e2e published
    assert row["output_throughput_tok_s"] == pytest.approx(50.166666666666664) and row["throughput_scope"] == "system"
    assert row["request_throughput_rps"] == pytest.approx(2.533333333333333)
    assert row["total_throughput_tok_s"] == pytest.approx(2.533333333333333 * (112.30263157894737 + 19.80263157894737))
    assert row["node_count"] == 1 and row["speculative_decoding"] == "none"


def test_a_multi_gpu_case_is_tensor_parallel_on_the_40gb_pcie_a100(output):
    # line 414: llama-13b, 2 x A100, 16 users: 1917 ok, 1 failed
    row = one_row(output.rows, model_key="llama-13b", hardware_key="A100-PCIE-40GB", device_count=2, concurrency=16)
    assert row["tensor_parallel"] == 2 and row["dtype"] == "float16"
    assert row["output_throughput_tok_s"] == pytest.approx(335.55)
    assert row["ttft_s"] == pytest.approx(0.20015858111632758) and row["ttft_p99_s"] == pytest.approx(0.41067999999999984)
    assert row["itl_p90_s"] == pytest.approx(0.090) and row["e2e_p90_s"] == pytest.approx(1.5528000000000002)


def test_cases_that_lost_many_requests_are_rejected_and_the_rest_kept(output):
    with (DATASET / ibm_llm_pilot.AGGREGATES_FILE).open(newline="") as handle:
        cases = list(csv.DictReader(handle))
    lossy = [c for c in cases if c["n_requests_ok"] and float(c["n_requests_failed"])
             / (float(c["n_requests_ok"]) + float(c["n_requests_failed"])) > ibm_llm_pilot.MAX_FAILED_SHARE]
    decoder_only_lossy = [c for c in lossy if not c["model"].startswith(("google/", "bigscience/"))]
    assert output.rejected[ibm_llm_pilot.R_FAILED] == len(decoder_only_lossy)


def test_gpu_names_resolve_to_catalog_devices_with_the_datasets_memory_size():
    catalog = load_catalog(overlay_dirs=[])
    with (DATASET / "predict_performance/gpu_features.csv").open(newline="") as handle:
        memory = {r["gpu"].split(" x ")[1]: float(r["gpu_memory_capacity_gb"]) for r in csv.DictReader(handle)}
    for gpu_type, name in ibm_llm_pilot.GPU_NAMES.items():
        assert catalog.hw(name).specs.memory_gb == memory[gpu_type], gpu_type


def test_rows_resolve_through_the_catalog_or_are_counted_as_unknown_models(output):
    records, rejected = to_records(output.rows, load_catalog(overlay_dirs=[]), origin="ibm_llm_pilot", strict=False)
    assert len(records) + sum(rejected.values()) == len(output.rows)
    assert all(reason.startswith("unknown model") for reason in rejected)  # GPT-NeoX, StarCoder, ... until catalogued
    llama = [r for r in records if r.model_key in ("llama-7b", "llama-13b")]
    assert len(llama) == sum(1 for r in output.rows if r["model_key"] in ("llama-7b", "llama-13b")) > 100
    assert {r.hardware_key for r in llama} >= {"nvidia-a100-pcie-40gb", "nvidia-h100-sxm-80gb", "nvidia-t4", "nvidia-a10"}


def test_a_folder_without_aggregates_or_raw_files_names_both(tmp_path):
    (tmp_path / "predict_performance").mkdir()
    (tmp_path / ibm_llm_pilot.LLM_FEATURES_FILE).write_text((DATASET / ibm_llm_pilot.LLM_FEATURES_FILE).read_text())
    with pytest.raises(DatasetError, match="llm_pilot_aggregates.csv.*results_"):
        ADAPTER.read(tmp_path)


def test_aggregating_the_unmodified_raw_files_reproduces_the_curators_aggregates():
    with (DATASET / ibm_llm_pilot.AGGREGATES_FILE).open(newline="") as handle:
        reference = {r["source_file"]: r for r in csv.DictReader(handle)}
    samples = sorted((DATASET / "raw_sample").glob("results_*.csv"))
    assert len(samples) == 8
    for path in samples:
        mine, theirs = ibm_llm_pilot.aggregate_requests(path), reference[path.name]
        for column, value in mine.items():
            if column in ("aggregate_source", "gpu", "model", "gpu_type", "source_file"):
                assert column == "aggregate_source" or value == theirs[column], (path.name, column)
                continue
            assert float(value) == pytest.approx(float(theirs[column]), rel=1e-12) if value else not theirs[column], \
                (path.name, column)


def test_without_aggregates_the_raw_files_are_read_and_map_to_the_same_rows(tmp_path, output):
    raw_dir = tmp_path / ibm_llm_pilot.RAW_DIR
    raw_dir.mkdir(parents=True)
    for path in (DATASET / "raw_sample").glob("results_*.csv"):
        (raw_dir / path.name).write_bytes(path.read_bytes())
    (tmp_path / "predict_performance").mkdir()
    (tmp_path / ibm_llm_pilot.LLM_FEATURES_FILE).write_bytes((DATASET / ibm_llm_pilot.LLM_FEATURES_FILE).read_bytes())
    from_raw = ADAPTER.read(tmp_path)
    assert "aggregated 8 raw files" in from_raw.notes[0]
    # gpt-neox-20b on 2 x A10: 8 user levels, minus those that lost over 10% of their requests
    expected = [r for r in output.rows if r["model_key"] == "EleutherAI/gpt-neox-20b" and r["hardware_key"] == "A10"]
    assert len(from_raw.rows) + from_raw.rejected[ibm_llm_pilot.R_FAILED] == 8 and len(from_raw.rows) == len(expected)
    by_users = {r["concurrency"]: r for r in expected}
    for row in from_raw.rows:
        for column, value in row.items():
            expected_value = by_users[row["concurrency"]][column]
            if isinstance(value, float):
                assert value == pytest.approx(expected_value, rel=1e-12), column
            else:
                assert value == expected_value, column


def test_the_raw_files_and_features_are_pinned_at_the_commit_and_the_samples_match_their_sha256():
    from inference_estimation.lib.data.external.base import sha256_of

    pinned = {f.path: f for f in ADAPTER.remote_files}
    assert len(pinned) == 527  # 526 obtainable raw files + llm_features.csv
    assert all(ibm_llm_pilot.COMMIT in f.url for f in pinned.values())
    assert sha256_of(DATASET / ibm_llm_pilot.LLM_FEATURES_FILE) == pinned[ibm_llm_pilot.LLM_FEATURES_FILE].sha256
    for path in (DATASET / "raw_sample").glob("results_*.csv"):
        assert sha256_of(path) == pinned[f"{ibm_llm_pilot.RAW_DIR}/{path.name}"].sha256
