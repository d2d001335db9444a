"""Import of the new public sources end to end (adapter -> records -> parquet -> DuckDB), the
import's coverage summary, and the dataset report's per-source coverage tables."""

import time

import duckdb
import pandas as pd
import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.data.dataset_report import (
    coverage_table,
    rows_by_source_hardware_engine,
    source_additions,
)
from inference_estimation.lib.data.external.adapters import ibm_llm_pilot, inferencex
from inference_estimation.lib.data.external.importer import import_adapter
from tests.conftest import EXTERNAL_DATA_DIR

pytestmark = pytest.mark.skipif(
    not (EXTERNAL_DATA_DIR / "inferencex").is_dir() or not (EXTERNAL_DATA_DIR / "ibm_llm_pilot").is_dir(),
    reason=f"InferenceX / LLM-Pilot datasets not present under {EXTERNAL_DATA_DIR}")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("import")
    con = duckdb.connect(str(root / "w.duckdb"))
    catalog = load_catalog(overlay_dirs=[])
    results, seconds = {}, {}
    for adapter in (inferencex.InferenceXAdapter(), ibm_llm_pilot.IBMLLMPilotAdapter()):
        start = time.perf_counter()
        results[adapter.source] = import_adapter(adapter, EXTERNAL_DATA_DIR / adapter.folder, catalog, con,
                                                 root / "parquet", root / "canonical")
        seconds[adapter.source] = time.perf_counter() - start
    yield con, results, seconds, root
    con.close()


def test_inferencex_lands_one_run_per_sweep_run_and_importing_again_lands_nothing(imported):
    con, results, seconds, root = imported
    result = results["inferencex"]
    assert result.rows_landed == len(result.records) > 1500
    assert len(result.run_ids) == len({r.run_id for r in result.records}) > 20
    stored = con.execute("select count(*), count(distinct run_id), sum(disaggregated_prefill_decode::int), "
                         "max(node_count), count(*) filter (where speculative_decoding = 'mtp') "
                         "from raw.external_runs where source = 'inferencex'").fetchone()
    assert stored[0] == len(result.records) and stored[2] > 0 and stored[3] > 1 and stored[4] > 0
    again = import_adapter(inferencex.InferenceXAdapter(), EXTERNAL_DATA_DIR / "inferencex",
                           load_catalog(overlay_dirs=[]), con, root / "parquet", root / "canonical")
    assert again.rows_landed == 0


def test_the_import_summary_counts_rows_per_hardware_and_engine_and_the_coverage(imported):
    _, results, _, _ = imported
    summary = results["inferencex"].summary()
    assert sum(summary["by_hardware_engine"].values()) == len(results["inferencex"].records)
    assert summary["by_hardware_engine"]["amd-mi325x | sglang"] == sum(
        1 for r in results["inferencex"].records if r.hardware_key == "amd-mi325x" and r.engine == "sglang")
    assert {"sglang", "vllm", "tensorrt-llm"} <= set(summary["coverage"]["engines"])
    assert summary["coverage"]["concurrency_min"] == 1 and summary["coverage"]["concurrency_max"] > 1000
    assert summary["by_deployment"]["disaggregated_prefill_decode"] == sum(
        1 for r in results["inferencex"].records if r.disaggregated_prefill_decode)
    ibm = results["ibm_llm_pilot"].summary()
    assert ibm["coverage"]["engines"] == ["tgi"] and ibm["coverage"]["concurrency_max"] == 128
    assert ibm["by_deployment"] == {"disaggregated_prefill_decode": 0, "speculative_decoding": 0, "multi_node": 0}
    # reasons from the adapter and from name resolution are both counted
    assert results["ibm_llm_pilot"].rejected[ibm_llm_pilot.R_ENCODER_DECODER] == 240


def test_dataset_report_tables_show_what_each_source_adds(imported):
    con, _, _, _ = imported
    frame = con.execute("select source, hardware_key, model_key, engine, concurrency, batch_size, input_tokens, "
                        "output_tokens, mode, '' as roofline_violation, "
                        "(coalesce(disaggregated_prefill_decode, false) = false and "
                        " coalesce(speculative_decoding, 'none') = 'none' and coalesce(node_count, 1) = 1) "
                        "as plain_deployment from raw.external_runs").df()
    additions = source_additions(frame)
    assert "tgi" in additions.loc["ibm_llm_pilot", "new_engines"]
    assert "amd-mi325x" in additions.loc["inferencex", "new_devices"]
    assert additions.loc["inferencex", "concurrency_max"] > additions.loc["inferencex", "others_concurrency_max"]
    cross = rows_by_source_hardware_engine(frame)
    assert cross["rows"].sum() == len(frame)
    mi325x = cross.loc["inferencex"].set_index(["hardware_key", "engine"]).loc[("amd-mi325x", "sglang")]
    assert mi325x["rows"] == ((frame.hardware_key == "amd-mi325x") & (frame.engine == "sglang")).sum()
    table = coverage_table(frame)
    assert table.loc["inferencex", "non_plain_rows"] == int((~frame[frame.source == "inferencex"].plain_deployment).sum()) > 0
    assert table.loc["ibm_llm_pilot", "engines"] == 1 and table.loc["ibm_llm_pilot", "concurrency_max"] == 128


def test_source_additions_on_a_tiny_frame():
    frame = pd.DataFrame({"source": ["a", "a", "b"], "hardware_key": ["h1", "h2", "h1"], "engine": ["vllm", "tgi", "vllm"],
                          "concurrency": [1, 64, 8]})
    additions = source_additions(frame)
    assert additions.loc["a", "new_devices"] == "h2" and additions.loc["a", "new_engines"] == "tgi"
    assert additions.loc["b", "new_devices"] == "" and additions.loc["a", "others_concurrency_max"] == 8
    assert additions.loc["a", "new_device_engine_pairs"] == 1 and additions.loc["b", "new_device_engine_pairs"] == 0
