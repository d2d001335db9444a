"""The LLMPerf leaderboard adapter against the real summary JSONs in shared/."""

import json

import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.data.external.adapters import llmperf
from inference_estimation.lib.data.external.adapters.llmperf import LLMPerfLeaderboardAdapter, summary_to_row
from inference_estimation.lib.data.external.base import sha256_of
from inference_estimation.lib.data.external.canonical import to_records
from tests.conftest import EXTERNAL_DATA_DIR

EXTERNAL = EXTERNAL_DATA_DIR
ADAPTER = LLMPerfLeaderboardAdapter()
FOLDER = EXTERNAL / ADAPTER.folder


@pytest.fixture(scope="module")
def summaries():
    if not FOLDER.is_dir():
        pytest.skip(f"dataset folder {FOLDER} is absent (shared/ data not checked out beside the repo)")
    return {p.stem: json.loads(p.read_text()) for p in sorted((FOLDER / "raw_data" / "summary").glob("*.json"))}


@pytest.fixture(scope="module")
def output(summaries):
    return ADAPTER.read(FOLDER)


def test_all_19_provider_summaries_are_counted_as_rejected_because_hardware_is_unknown(summaries, output):
    assert len(summaries) == 19  # SOURCE.md: 19 files, one per provider x model size
    assert output.rows == []
    assert sum(output.rejected.values()) == 19
    assert output.rejected["hardware unknown: hosted API"] == 18
    assert output.rejected["hardware unknown: hosted API (Groq LPU, device count unknown)"] == 1
    assert any("not read" in n and "llmperf_summary_flat.csv" in n for n in output.notes)


def test_groq_summary_converts_seconds_and_tokens_per_second_as_published(summaries):
    groq = summaries["groq_70b"]
    row = summary_to_row(groq, provider="groq", size="70b", hardware="NVIDIA A100-SXM4-80GB", device_count=1)
    assert row["model_key"] == "meta-llama/Llama-2-70b-chat-hf"
    assert (row["mode"], row["concurrency"], row["input_tokens"], row["output_tokens"]) == ("serving", 5, 550, 150)
    assert row["ttft_s"] == pytest.approx(0.22786034579078357)
    assert row["e2e_latency_s"] == pytest.approx(0.8151081097126007)
    assert row["tpot_s"] == pytest.approx(0.005384122478382455)
    assert row["ttft_p99_s"] == pytest.approx(0.3500269545800982)
    assert row["itl_p50_s"] == pytest.approx(0.005320808651546638)
    assert row["output_throughput_tok_s"] == pytest.approx(441.84737788500206)
    assert row["measured_at"].startswith("2024-01-10")
    assert row["power_source"] == "none"


def test_a_converted_summary_on_named_hardware_is_a_valid_serving_record(summaries):
    # The placeholder hardware only proves the conversion is record-valid; no provider is mapped.
    row = summary_to_row(summaries["anyscale_7b"], provider="anyscale", size="7b", hardware="NVIDIA A100-SXM4-80GB",
                         device_count=1, source=ADAPTER.source)
    records, rejected = to_records([row], load_catalog(overlay_dirs=[]), origin=ADAPTER.source, strict=False)
    print(f"\n{ADAPTER.source}: converted-row check, rejected on resolution now: {dict(rejected)}")
    assert len(records) + sum(rejected.values()) == 1
    assert all(reason.startswith("unknown model") for reason in rejected)  # never an invalid field
    if records:
        assert records[0].mode == "serving" and records[0].concurrency == 5


def test_adapter_rows_pass_to_records_trivially_while_no_provider_hardware_is_known(output):
    assert llmperf.PROVIDER_HARDWARE == {}
    records, rejected = to_records(output.rows, load_catalog(overlay_dirs=[]), origin=ADAPTER.source, strict=False)
    assert records == [] and not rejected


def test_remote_files_are_the_19_original_summaries_pinned_to_the_commit_with_local_checksums(summaries):
    assert len(ADAPTER.remote_files) == 19
    for remote in ADAPTER.remote_files:
        assert remote.url == ("https://raw.githubusercontent.com/ray-project/llmperf-leaderboard/"
                              f"27aa9b6a6c4282f6d5599b9199fbb57256a2dcd8/{remote.path}")
        assert sha256_of(FOLDER / remote.path) == remote.sha256


def test_adapter_is_discovered_by_the_registry():
    from inference_estimation.lib.data.external.registry import all_adapters

    assert isinstance(all_adapters()["llmperf"], LLMPerfLeaderboardAdapter)
