"""Reports on a warehouse whose marts hold no LLM rows yet (e.g. only tabular sweeps ran)."""

import duckdb
from dagster_duckdb import DuckDBResource

from inference_estimation.defs.reports.assets import dataset_report
from inference_estimation.defs.resources import HomeResource


def test_dataset_report_on_an_empty_training_mart_says_so_instead_of_failing(pipeline, isolated_home, session_home):
    # the real mart's columns, no rows (the session's pipeline built it)
    con = duckdb.connect(str(isolated_home.warehouse_path))
    try:
        con.execute(f"attach '{session_home.warehouse_path}' as session (read_only)")
        con.execute("create schema marts")
        con.execute("create table marts.training_features as select * from session.marts.training_features limit 0")
        con.execute("detach session")
    finally:
        con.close()
    result = dataset_report(duckdb=DuckDBResource(database=str(isolated_home.warehouse_path)),
                            home=HomeResource(root=str(isolated_home.root)))
    assert result.metadata["rows"] == 0 and result.metadata["models"] == 0
    assert "No training rows yet" in (isolated_home.reports_dir / "dataset" / "report.md").read_text()
