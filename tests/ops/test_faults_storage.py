"""Faults around storage: corrupt run files, a DuckDB file locked by another process, partitions
landing at once from concurrent runs, and re-running everything.
"""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from benchmark_jobs.schema import MeasurementRecord
from inference_estimation.defs.partitions import ensure_benchmark_partitions
from inference_estimation.defs.resources import CatalogResource, HomeResource
from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.data import warehouse
from inference_estimation.lib.home import HOME_ENV, Home
from tests.ops.conftest import (
    OPS_SWEEP,
    count_rows,
    launcher_overlay,
    materialize_partition,
    metadata,
    sweep_overlay,
)
from tests.ops.standins import harness_interpreter

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALL_MODELS = ("gpt2-small", "gpt2-medium", "llama-small-55m", "qwen2-small-130m")


def _standin_home(home: Home, folder, models=ALL_MODELS) -> None:
    python = harness_interpreter(folder, "SyntheticBackend")
    (home.catalog_dir / "ops.yaml").write_text(sweep_overlay(models=models) + launcher_overlay(python))


def test_corrupt_or_truncated_run_files_are_refused_by_name_and_lose_nothing(isolated_home, tmp_path):
    _standin_home(isolated_home, tmp_path)
    paths = [metadata(materialize_partition(isolated_home, m))["parquet_path"] for m in ALL_MODELS[:2]]
    before = count_rows(isolated_home)
    truncated, flipped = paths
    data = Path(truncated).read_bytes()
    Path(truncated).write_bytes(data[: len(data) // 2])  # a copy cut short
    data = bytearray(Path(flipped).read_bytes())
    data[len(data) // 3: len(data) // 3 + 64] = bytes(64)  # a damaged block in the middle
    Path(flipped).write_bytes(bytes(data))

    con = duckdb.connect(str(isolated_home.warehouse_path))
    try:
        for path in (truncated, flipped):
            with pytest.raises(warehouse.WarehouseError, match="not a readable parquet file") as error:
                warehouse.land_run(con, path)
            assert path in str(error.value)
        assert con.execute("select count(*) from raw.benchmark_runs").fetchone()[0] == before
        assert con.execute("select count(*) from raw.benchmark_runs where e2e_latency_s > 0").fetchone()[0] == before
    finally:
        con.close()
    # Rebuilding a warehouse from the files names each bad file and lands every good one.
    fresh, errors = duckdb.connect(str(tmp_path / "rebuilt.duckdb")), []
    try:
        for path in sorted(isolated_home.parquet_dir.rglob("*.parquet")):
            try:
                warehouse.land_run(fresh, path)
            except warehouse.WarehouseError as exc:
                errors.append(str(exc))
        assert len(errors) == 2 and all(any(p in e for e in errors) for p in paths)
    finally:
        fresh.close()
    # The next partition lands as usual.
    assert metadata(materialize_partition(isolated_home, ALL_MODELS[2]))["rows_landed"] == 4
    assert count_rows(isolated_home) == before + 4


LOCK_HOLDER = textwrap.dedent("""\
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("begin transaction")
    if sys.argv[2] == "write-then-die":
        con.execute("insert into raw.benchmark_runs select * from raw.benchmark_runs")  # uncommitted
    print("locked", flush=True)
    time.sleep(float(sys.argv[3]))
    if sys.argv[2] == "write-then-die":
        import os, signal
        os.kill(os.getpid(), signal.SIGKILL)  # dies mid-transaction, holding the lock
    con.execute("rollback")
    con.close()
""")


def _hold_lock(path, mode: str, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(path), mode, str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_duckdb_file_locked_by_another_process_gives_a_clear_error_or_a_wait_never_corruption(
        isolated_home, tmp_path):
    _standin_home(isolated_home, tmp_path)
    first = metadata(materialize_partition(isolated_home, "gpt2-small"))
    before = count_rows(isolated_home)
    second_file = warehouse.write_run_parquet(
        [MeasurementRecord.from_dict({**r.to_dict(), "run_id": "lock-test-run"})
         for r in warehouse.read_run_parquet(Path(first["parquet_path"]))],
        warehouse.run_parquet_path(isolated_home.parquet_dir, "local", "lock-test-run"))

    # 1. A plain connection fails at once, naming the file and the lock (what dbt-duckdb does).
    holder = _hold_lock(isolated_home.warehouse_path, "hold", 30)
    try:
        with pytest.raises(duckdb.IOException, match="lock") as error:
            duckdb.connect(str(isolated_home.warehouse_path))
        assert str(isolated_home.warehouse_path) in str(error.value)
    finally:
        holder.kill()
        holder.wait()

    # 2. The assets' resource waits (exponential backoff) while the other process finishes, then lands.
    holder = _hold_lock(isolated_home.warehouse_path, "hold", 1.0)
    with DuckDBResource(database=str(isolated_home.warehouse_path)).get_connection() as con:
        assert warehouse.land_run(con, second_file) == before
    holder.wait(timeout=30)

    # 3. A writer killed mid-transaction while holding the lock leaves the committed rows exactly as they were.
    holder = _hold_lock(isolated_home.warehouse_path, "write-then-die", 0.2)
    assert holder.wait(timeout=30) == -9
    con = duckdb.connect(str(isolated_home.warehouse_path))
    try:
        assert con.execute("select count(*), count(distinct run_id) from raw.benchmark_runs").fetchone() == (2 * before, 2)
        con.execute("checkpoint")  # the file is writable and consistent: every block reads back
        assert len(con.execute("select * from raw.benchmark_runs").fetchall()) == 2 * before
    finally:
        con.close()


@pytest.fixture(scope="module")
def concurrent_home(tmp_path_factory):
    """A home where the four partitions of a stand-in sweep were materialized by four runs started at
    once, each with the multiprocess executor, against one warehouse and one Dagster instance.
    """
    folder = tmp_path_factory.mktemp("concurrent")
    home = Home(folder / "home").ensure()
    _standin_home(home, folder)
    with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:  # create its storage once, not 4x at once
        ensure_benchmark_partitions(instance, load_catalog(overlay_dirs=[home.catalog_dir]))
    env = {**os.environ, HOME_ENV: str(home.root), "DAGSTER_HOME": str(home.dagster_home)}
    runs = [subprocess.Popen([sys.executable, "-m", "tests.ops.multiprocess_run", model, OPS_SWEEP], cwd=REPO_ROOT,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for model in ALL_MODELS]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    return home, [run.returncode for run in runs], outputs


@pytest.mark.slow
def test_four_partitions_materialized_concurrently_lose_and_duplicate_no_row(concurrent_home):
    home, codes, outputs = concurrent_home
    assert codes == [0, 0, 0, 0], "\n".join(o[-3000:] for o in outputs)
    files = sorted(home.parquet_dir.rglob("*.parquet"))
    assert len(files) == 4
    in_files = sum(len(warehouse.read_run_parquet(f)) for f in files)
    grain = "source, run_id, model_key, batch_size, input_tokens, output_tokens, dtype"
    assert count_rows(home) == in_files == 16
    assert count_rows(home, f"select count(*) from (select distinct {grain} from raw.benchmark_runs)") == 16
    assert count_rows(home, "select count(distinct run_id) from raw.benchmark_runs") == 4
    assert count_rows(home, "select count(distinct landed_from) from raw.benchmark_runs") == 4
    with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 4 and {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
        assert {r.tags["inference_estimation/host"] for r in runs} == {"localhost"}
        assert len(instance.get_materialized_partitions(dg.AssetKey("benchmark_runs"))) == 4


def _mart_counts(home) -> dict[str, int]:
    return {t: count_rows(home, f"select count(*) from marts.{t}") for t in ("measurements", "training_features")}


@pytest.mark.slow
def test_re_running_everything_gives_identical_mart_row_counts(concurrent_home, monkeypatch):
    from dagster_dbt import DbtCliResource

    from inference_estimation.defs.catalog.assets import hardware_specs, model_specs
    from inference_estimation.defs.training import checks as mart_checks
    from inference_estimation.defs.transform.assets import dbt_models
    from inference_estimation.defs.transform.project import dbt_executable, dbt_project

    home = concurrent_home[0]
    monkeypatch.setenv(HOME_ENV, str(home.root))  # dbt's profile and the assets read the home from here
    resources = {"duckdb": DuckDBResource(database=str(home.warehouse_path)),
                 "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
                 "catalog": CatalogResource(), "home": HomeResource()}

    def everything_downstream() -> dict[str, int]:
        assert dg.materialize([hardware_specs, model_specs], resources=resources,
                              run_config={"ops": {"hardware_specs": {"config": {"probe_max_seconds": 0.2}}}}).success
        result = dg.materialize([dbt_models, mart_checks.training_rows_in_range], resources=resources)
        assert result.success
        assert all(e.passed for e in result.get_asset_check_evaluations() if e.check_name in (
            "latency_positive", "throughput_positive", "power_within_tdp", "latency_cv_bounded", "grain_unique"))
        return _mart_counts(home)

    first = everything_downstream()
    assert first == {"measurements": 16, "training_features": 16}
    raw_before = count_rows(home)
    for model in ALL_MODELS:  # every benchmark again: new runs, kept as history
        assert metadata(materialize_partition(home, model))["rows_landed"] == 4
    con = duckdb.connect(str(home.warehouse_path))
    try:  # and every run file landed again: a no-op
        assert sum(warehouse.land_run(con, f) for f in home.parquet_dir.rglob("*.parquet")) == 0
    finally:
        con.close()
    assert count_rows(home) == 2 * raw_before
    assert everything_downstream() == first


def test_dbt_waits_for_a_locked_warehouse_and_fails_clearly_when_the_lock_stays(concurrent_home, monkeypatch):
    """dbt-duckdb retries its connect with exponential backoff (``retries.connect_attempts`` in the
    profile): a short lock held by another process is waited out; a lock that stays fails the dbt
    step naming the lock, and the warehouse keeps every row.
    """
    from dagster_dbt import DbtCliResource

    from inference_estimation.defs.catalog.assets import hardware_specs, model_specs
    from inference_estimation.defs.transform.assets import dbt_models
    from inference_estimation.defs.transform.project import dbt_executable, dbt_project

    home = concurrent_home[0]
    monkeypatch.setenv(HOME_ENV, str(home.root))
    resources = {"duckdb": DuckDBResource(database=str(home.warehouse_path)),
                 "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
                 "catalog": CatalogResource(), "home": HomeResource()}
    assert dg.materialize([hardware_specs, model_specs], resources=resources,
                          run_config={"ops": {"hardware_specs": {"config": {"probe_max_seconds": 0.2}}}}).success
    assert dg.materialize([dbt_models], resources=resources).success
    marts, raw = _mart_counts(home), count_rows(home)

    # Held for longer than dbt takes to start (a few seconds), released while it backs off.
    holder = _hold_lock(home.warehouse_path, "hold", 12.0)
    started = time.monotonic()
    result = dg.materialize([dbt_models], resources=resources, raise_on_error=False)
    holder.wait(timeout=30)
    assert result.success and time.monotonic() - started > 12.0  # it waited, then built
    assert _mart_counts(home) == marts and count_rows(home) == raw

    monkeypatch.setenv("INFERENCE_ESTIMATION_DBT_CONNECT_ATTEMPTS", "2")  # give up after ~3 s
    holder = _hold_lock(home.warehouse_path, "hold", 120)
    try:
        with pytest.raises(Exception) as error:
            dg.materialize([dbt_models], resources=resources)
    finally:
        holder.kill()
        holder.wait()
    assert "lock" in str(error.value).lower(), str(error.value)[-2000:]
    assert _mart_counts(home) == marts and count_rows(home) == raw  # nothing lost, file consistent
