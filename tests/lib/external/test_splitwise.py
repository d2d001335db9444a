"""SplitwiseSim profiling database adapter, against the real published perf_model.csv."""

import csv
import statistics

import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.data.external.adapters import splitwise
from inference_estimation.lib.data.external.base import sha256_of
from inference_estimation.lib.data.external.canonical import to_records
from tests.conftest import EXTERNAL_DATA_DIR
from tests.lib.external.rows import one_row

DATASET = EXTERNAL_DATA_DIR / "splitwise_perf_model"
ADAPTER = splitwise.SplitwisePerfModelAdapter()

pytestmark = pytest.mark.skipif(not DATASET.is_dir(), reason=f"Splitwise dataset not present at {DATASET}")


@pytest.fixture(scope="module")
def output():
    return ADAPTER.read(DATASET)


@pytest.fixture(scope="module")
def raw_rows():
    with (DATASET / splitwise.DATA_FILE).open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_remote_file_is_pinned_to_the_commit_and_matches_the_local_sha256():
    (remote,) = ADAPTER.remote_files
    assert remote.path == "data/perf_model.csv"
    assert remote.url == (
        "https://raw.githubusercontent.com/Mutinifni/splitwise-sim/"
        "8f99e7dc9b407f4ce2488d03dd44c0b8b946dab0/data/perf_model.csv"
    )
    assert sha256_of(DATASET / remote.path) == remote.sha256
    assert ADAPTER.license == "MIT" and ADAPTER.source == "splitwise"


def test_repeats_are_averaged_duplicates_and_power_capped_rows_rejected_and_all_rows_accounted(
    output, raw_rows
):
    assert len(raw_rows) == 1260  # SOURCE.md
    assert output.rejected[splitwise.R_EXACT_DUPLICATE] == 120  # 1260 - 1140 unique rows
    assert output.rejected[splitwise.R_POWER_CAPPED] == 380
    assert set(output.rejected) == {splitwise.R_EXACT_DUPLICATE, splitwise.R_POWER_CAPPED}
    assert len(output.rows) == 152  # 8 (model, hardware, TP) groups x 19 configurations
    assert {r["n_trials"] for r in output.rows} == {5}
    # every source row is either one trial of an emitted point or rejected
    assert sum(r["n_trials"] for r in output.rows) + sum(output.rejected.values()) == len(raw_rows)
    assert any("380 of them are exactly an h100-80gb row with prompt_time x 1.3" in n for n in output.notes)


def test_power_capped_rows_really_are_h100_rows_with_prompt_time_scaled(raw_rows):
    base = {
        (
            r["model"],
            r["tensor_parallel"],
            r["prompt_size"],
            r["batch_size"],
            r["token_size"],
            r["token_time"],
        ): float(r["prompt_time"])
        for r in raw_rows
        if r["hardware"] == "h100-80gb"
    }
    capped = [r for r in raw_rows if r["hardware"] == "h100-80gb-pcap"]
    assert capped
    for r in capped:
        key = (
            r["model"],
            r["tensor_parallel"],
            r["prompt_size"],
            r["batch_size"],
            r["token_size"],
            r["token_time"],
        )
        assert float(r["prompt_time"]) == pytest.approx(1.3 * base[key], rel=1e-12)


def test_milliseconds_become_seconds_as_means_of_the_five_repeats(output, raw_rows):
    # the baseline point llama2-70b / a100-80gb / TP 2 / prompt 512 / batch 1 / 128 tokens; its first raw row:
    # 196.2532191537321 ms prefill, 54.87951193752838 ms per decode step, 7168.983697891235 ms end to end
    runs = {
        tuple(r.values())
        for r in raw_rows
        if (
            r["model"],
            r["hardware"],
            r["tensor_parallel"],
            r["prompt_size"],
            r["batch_size"],
            r["token_size"],
        )
        == ("llama2-70b", "a100-80gb", "2", "512", "1", "128")
    }
    assert len(runs) == 5  # 15 rows, 5 distinct
    columns = list(raw_rows[0].keys())
    mean_ms = {
        c: statistics.fmean(float(run[columns.index(c)]) for run in runs)
        for c in ("prompt_time", "token_time", "e2e_time")
    }
    row = one_row(
        output.rows,
        model_key="meta-llama/Llama-2-70b-hf",
        hardware_key="a100-80gb",
        tensor_parallel=2,
        input_tokens=512,
        batch_size=1,
        output_tokens=128,
    )
    assert row["ttft_s"] == pytest.approx(mean_ms["prompt_time"] / 1000)
    assert row["tpot_s"] == pytest.approx(mean_ms["token_time"] / 1000)
    assert row["e2e_latency_s"] == pytest.approx(mean_ms["e2e_time"] / 1000)
    assert 0.19 < row["ttft_s"] < 0.20 and 0.054 < row["tpot_s"] < 0.056 and 7.1 < row["e2e_latency_s"] < 7.2
    assert row["device_count"] == row["tensor_parallel"] == 2 and row["dtype"] == "float16"
    assert row["mode"] == "offline" and row["n_trials"] == 5 and 0 < row["latency_cv"] < 0.01


def test_end_to_end_time_is_dropped_where_it_contradicts_the_forced_output_length(output):
    # e2e_time saturates near 25 s for 1024 output tokens at ~44 ms per step (expected ~45 s)
    row = one_row(
        output.rows,
        model_key="meta-llama/Llama-2-70b-hf",
        hardware_key="a100-80gb",
        tensor_parallel=4,
        input_tokens=512,
        batch_size=1,
        output_tokens=1024,
    )
    assert row["e2e_latency_s"] is None and row["latency_cv"] is None
    assert row["ttft_s"] == pytest.approx(0.127, rel=0.01) and row["tpot_s"] == pytest.approx(
        0.0443, rel=0.01
    )
    kept = [r for r in output.rows if r["e2e_latency_s"] is not None]
    assert len(kept) == 111
    for r in kept:
        expected = r["ttft_s"] + (r["output_tokens"] - 1) * r["tpot_s"]
        assert abs(r["e2e_latency_s"] / expected - 1) <= splitwise.E2E_TOLERANCE


def test_normalised_power_columns_are_not_mapped_to_watts(output):
    for r in output.rows:
        assert r["power_source"] == "none"
        assert r.get("avg_power_w") is None and r.get("energy_j") is None
        assert r["device_name"] in ("a100-80gb", "h100-80gb")
        assert r["model_key"] in ("meta-llama/Llama-2-70b-hf", "bigscience/bloom")
    assert {r["tensor_parallel"] for r in output.rows if r["model_key"] == "bigscience/bloom"} == {8}


def test_rows_become_valid_records_and_report_unresolved_names(output):
    records, rejected = to_records(
        output.rows,
        load_catalog(overlay_dirs=[]),
        origin=ADAPTER.source,
        strict=False,
        measured_at=ADAPTER.measured_at,
    )
    print(f"\nsplitwise: {len(records)} records, rejected by to_records: {dict(rejected)}")
    assert sum(n for reason, n in rejected.items() if reason.startswith("unknown")) < len(output.rows)
    assert not {r: n for r, n in rejected.items() if not r.startswith("unknown")}, "rows fail validation"
    assert len(records) + sum(rejected.values()) == len(output.rows)


