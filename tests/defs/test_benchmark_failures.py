"""A failed or killed benchmark process leaves no partial rows, and a rerun succeeds."""

import stat
import sys
import textwrap

import dagster as dg
import duckdb
import pytest

from inference_estimation.definitions import defs
from tests.conftest import bench_config, partition
from tests.ops.standins import SEND_ONE_ROW

KILLED_HARNESS = textwrap.dedent("""\
    #!{python}
    # Stands in for the harness interpreter: speaks real Dagster Pipes, sends one valid
    # measurement row, then is killed (SIGKILL) before the run completes.
    import os, signal, sys
    from datetime import datetime, timezone
    from dagster_pipes import open_dagster_pipes
    with open_dagster_pipes() as pipes:
        spec = pipes.extras["spec"]
    {send_one_row}
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
""")


def _count(home) -> int:
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        return con.execute("select count(*) from raw.benchmark_runs").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def killed_harness_overlay(session_home, tmp_path):
    script = tmp_path / "killed_python"
    script.write_text(KILLED_HARNESS.format(python=sys.executable, send_one_row=SEND_ONE_ROW))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    overlay = session_home.catalog_dir / "zz-test-killed-launcher.yaml"
    overlay.write_text(f"hardware:\n  - key: local-cpu\n    launcher: {{type: local, python: '{script}'}}\n")
    yield
    overlay.unlink(missing_ok=True)


def test_killed_benchmark_process_fails_the_run_and_lands_zero_rows_then_rerun_succeeds(
        pipeline, session_home, killed_harness_overlay):
    before = _count(session_home)
    files_before = set((session_home.parquet_dir / "local").glob("*"))
    result = defs.resolve_job_def("benchmark_job").execute_in_process(
        instance=dg.DagsterInstance.get(), partition_key=partition("gpt2-small"), run_config=bench_config(),
        raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
    message = failure.message + (failure.cause.message if failure.cause else "")
    assert "LauncherError" in message and "nothing landed" in message and "-9" in message
    assert _count(session_home) == before
    assert set((session_home.parquet_dir / "local").glob("*")) == files_before  # no partial file either
    (session_home.catalog_dir / "zz-test-killed-launcher.yaml").unlink()  # back to the real harness
    rerun = defs.resolve_job_def("benchmark_job").execute_in_process(
        instance=dg.DagsterInstance.get(), partition_key=partition("gpt2-small"), run_config=bench_config())
    assert rerun.success
    landed = rerun.asset_materializations_for_node("benchmark_runs")[-1].metadata["rows_landed"].value
    assert landed > 0 and _count(session_home) == before + landed
