"""Public datasets through the graph: import (partition per source) -> dbt -> flagged features.

Reads the real datasets from ../shared/data/external (skipped only where that folder is absent).
"""

import dagster as dg
import duckdb
import pytest

from inference_estimation.definitions import defs
from inference_estimation.lib.home import get_home
from tests.conftest import EXTERNAL_DATA_DIR

EXTERNAL_DIR = EXTERNAL_DATA_DIR
SOURCES = ("argonne-llm-bench", "splitwise")

pytestmark = pytest.mark.skipif(not EXTERNAL_DIR.is_dir(), reason=f"public datasets not at {EXTERNAL_DIR}")


def _query(sql: str):
    con = duckdb.connect(str(get_home().warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _import(source: str) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("import_job").execute_in_process(
        instance=dg.DagsterInstance.get(), partition_key=source,
        run_config={"ops": {"external_benchmarks": {"config": {"from_path": str(EXTERNAL_DIR)}}}})


@pytest.fixture(scope="module")
def imported(pipeline):
    """Imports two public sources into the session home after the local pipeline, then builds dbt."""
    results = {source: _import(source) for source in SOURCES}
    results["again"] = _import(SOURCES[0])
    results["dbt"] = defs.resolve_job_def("transform_job").execute_in_process(instance=dg.DagsterInstance.get())
    return results


def _meta(result, key="external_benchmarks"):
    return {k: v.value for k, v in result.asset_materializations_for_node(key)[-1].metadata.items()}


def test_each_source_lands_its_mapped_rows_and_counts_rejects_by_reason(imported):
    for source in SOURCES:
        meta = _meta(imported[source])
        assert meta["rows_landed"] == meta["rows_mapped"] > 100
        assert meta["rows_read"] == meta["rows_mapped"] + meta["rows_rejected"]
        assert "| reason | rows |" in meta["rejected_by_reason"]
        (landed,) = _query(f"select count(*) from raw.external_runs where source = '{source}'")[0]
        assert landed == meta["rows_landed"]


def test_importing_unchanged_data_again_lands_nothing(imported):
    again = _meta(imported["again"])
    assert again["rows_landed"] == 0 and again["run_ids"] == _meta(imported[SOURCES[0]])["run_ids"]


def test_dbt_unifies_public_rows_with_our_sweeps_keeping_the_source(imported):
    assert imported["dbt"].success
    sources = {s for (s,) in _query("select distinct source from marts.training_features")}
    assert {"local", *SOURCES} <= sources


def test_rows_faster_than_the_roofline_are_flagged_and_kept_out_of_training(imported):
    flagged = _query("select hardware_key, count(*) from marts.training_features "
                     "where roofline_violation <> '' group by 1 order by 2 desc")
    assert flagged, "some public rows beat their hardware's roofline bound"
    assert all(n > 0 for _, n in flagged)
    from inference_estimation.lib.ml.modeling import select_rows

    con = duckdb.connect(str(get_home().warehouse_path), read_only=True)
    try:
        frame = con.execute("select * from marts.training_features").df()
    finally:
        con.close()
    usable = select_rows(frame, "e2e_latency_s")
    assert (usable["roofline_violation"] == "").all()
    assert len(usable) < frame["e2e_latency_s"].notna().sum()
