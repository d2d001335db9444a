"""Faults on the benchmark machine: out of memory, timeouts, and absurd numbers.

Each runs one partition through the real chain -- the benchmark_runs asset, the local launcher,
Dagster Pipes, the harness CLI and runner, parquet, DuckDB and the checks -- in a home of its own.
"""

import math

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from inference_estimation.defs.benchmarks import checks
from inference_estimation.defs.benchmarks.assets import benchmark_runs
from inference_estimation.defs.resources import (
    CatalogResource,
    HarnessSecrets,
    HomeResource,
    PipesMessageStore,
)
from inference_estimation.lib.data import quality
from inference_estimation.lib.data.warehouse import ensure_raw_tables
from tests.ops.conftest import (
    check_evaluations,
    count_rows,
    launcher_overlay,
    materialize_partition,
    metadata,
    sweep_overlay,
)
from tests.ops.standins import OOM_POINT, absurd_rows_interpreter, harness_interpreter, noisy_rows_interpreter

RANGE_CHECKS = set(quality.RANGE_RULES)
BLOCKING_RANGE_CHECKS = RANGE_CHECKS - quality.WARNING_RULES


def _rows(home, run_id):
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        return con.execute("select batch_size, input_tokens, status, error, e2e_latency_s, measured_at "
                           "from raw.benchmark_runs where run_id = ? order by measured_at", [run_id]).fetchall()
    finally:
        con.close()


def test_a_point_that_runs_out_of_memory_becomes_an_oom_row_and_the_sweep_goes_on(isolated_home, tmp_path):
    python = harness_interpreter(tmp_path, "OomOnOnePointBackend")
    (isolated_home.catalog_dir / "ops.yaml").write_text(sweep_overlay() + launcher_overlay(python))

    result = materialize_partition(isolated_home, "gpt2-small")

    assert result.success
    meta = metadata(result)
    assert (meta["points"], meta["points_ok"], meta["points_failed"], meta["rows_landed"]) == (4, 3, 1, 4)
    rows = _rows(isolated_home, meta["run_id"])
    statuses = [(b, i, s) for b, i, s, *_ in rows]
    assert statuses == [(1, 8, "ok"), (*OOM_POINT, "oom"), (2, 8, "ok"), (2, 16, "ok")]  # measured after the OOM
    oom = rows[1]
    assert "MemoryError" in oom[3] and oom[4] is None  # metrics of a failed point are null, never 0
    assert all(e.passed for e in result.get_asset_check_evaluations())  # an oom row is data, not bad data


def test_a_point_past_its_timeout_becomes_a_timeout_row_with_the_real_harness(isolated_home):
    # The real transformers backend on a one-layer model, with a deadline no generation can meet.
    (isolated_home.catalog_dir / "ops.yaml").write_text(
        sweep_overlay(point_timeout_s=0.001)
        + "models:\n  - key: gpt2-small\n    architecture: {layers: 1, hidden_size: 64, heads: 2, kv_heads: 2, "
          "intermediate_size: 128, vocab_size: 1000}\n")

    result = materialize_partition(isolated_home, "gpt2-small")

    assert result.success
    meta = metadata(result)
    assert meta["points"] == meta["points_failed"] == meta["rows_landed"] == 4
    rows = _rows(isolated_home, meta["run_id"])
    assert {r[2] for r in rows} == {"timeout"}
    assert all("point_timeout_s=0.001" in r[3] and r[4] is None for r in rows)
    assert count_rows(isolated_home, "select count(*) from raw.benchmark_runs where status = 'ok'") == 0


@dg.asset(deps=[benchmark_runs], partitions_def=benchmark_runs.partitions_def)
def downstream_of_benchmarks() -> None:
    """Stands in for dbt and training: whatever runs after the benchmark in the same run."""


def test_absurd_numbers_are_landed_as_history_but_blocked_by_one_check_per_property(isolated_home, tmp_path):
    python = absurd_rows_interpreter(tmp_path)
    # five points for the stand-in's five rows: a job owes one row per point (else the launcher
    # refuses the run before any check sees it)
    five_points = sweep_overlay().replace("batch_sizes: [1, 2]", "batch_sizes: [1]").replace(
        "input_tokens: [8, 16]", "input_tokens: [8, 16, 32, 64, 128]")
    (isolated_home.catalog_dir / "ops.yaml").write_text(
        five_points + launcher_overlay(python)
        + "  - key: local-cpu\n    specs: {tdp_w: 65}\n")  # a TDP, so power can be bounded

    result = materialize_partition(isolated_home, "gpt2-small", extra_assets=[downstream_of_benchmarks])

    evaluations = check_evaluations(result)
    failed = {name for name, e in evaluations.items() if not e.passed}
    assert RANGE_CHECKS <= failed, failed
    assert all(evaluations[name].blocking for name in BLOCKING_RANGE_CHECKS)
    assert evaluations["latency_cv_stable"].severity == dg.AssetCheckSeverity.WARN

    def meta(name: str) -> dict:
        return {k: v.value for k, v in evaluations[name].metadata.items()}

    assert meta("latency_positive")["observed"] == 0.0 and meta("latency_positive")["violating_rows"] == 1
    assert meta("throughput_positive")["violating_rows"] == 1
    assert meta("power_within_tdp")["observed"] == pytest.approx(6500 / 65)
    assert "<= 1.5 x TDP" in meta("power_within_tdp")["expected"]
    assert meta("latency_cv_bounded")["observed"] == 3.0
    assert meta("grain_unique")["violating_rows"] == 1 and "x2" in meta("grain_unique")["examples"]
    # Blocked: nothing downstream of the benchmark ran in this run.
    assert not result.asset_materializations_for_node("downstream_of_benchmarks")
    assert not result.success
    assert count_rows(isolated_home) == 5  # raw keeps every run; the checks keep it from flowing on


def test_a_noisy_point_is_a_warning_that_blocks_nothing(isolated_home, tmp_path):
    (isolated_home.catalog_dir / "ops.yaml").write_text(
        sweep_overlay() + launcher_overlay(noisy_rows_interpreter(tmp_path)))

    result = materialize_partition(isolated_home, "gpt2-small", extra_assets=[downstream_of_benchmarks])

    assert result.success and result.asset_materializations_for_node("downstream_of_benchmarks")
    evaluations = check_evaluations(result)
    noisy = evaluations["latency_cv_stable"]
    assert not noisy.passed and noisy.severity == dg.AssetCheckSeverity.WARN and not noisy.blocking
    assert noisy.metadata["observed"].value == 0.8 and "over 2 trials" in noisy.metadata["examples"].value
    assert all(e.passed for name, e in evaluations.items() if name != "latency_cv_stable")


def test_nan_and_negative_values_written_around_the_harness_fail_the_checks(isolated_home, tmp_path):
    # The record refuses NaN and negatives, so only a writer that bypasses it (a hand-edited table,
    # an old harness) can put them there; the checks still catch them.
    con = duckdb.connect(str(isolated_home.warehouse_path))
    try:
        ensure_raw_tables(con)
        con.execute("insert into raw.benchmark_runs (source, run_id, sweep, partition_key, model_key, hardware_key, "
                    "measured_at, mode, batch_size, input_tokens, output_tokens, e2e_latency_s, ttft_s, "
                    "output_throughput_tok_s, latency_cv, power_source, power_scope, avg_power_w, status, "
                    "device_count, tensor_parallel) values "
                    "('local', 'manual-1', 'x', 'local-cpu|gpt2-small', 'gpt2-small', 'local-cpu', "
                    "'2026-01-01T00:00:00+00:00', 'offline', 1, 8, 4, 'nan', 0.1, -3.0, 'nan', 'rapl', 'cpu-package', "
                    "'nan', 'ok', 1, 1)")
    finally:
        con.close()
    (isolated_home.catalog_dir / "tdp.yaml").write_text("hardware:\n  - key: local-cpu\n    specs: {tdp_w: 65}\n")

    result = dg.materialize([benchmark_runs, checks.benchmark_rows_in_range],
                            selection=dg.AssetSelection.checks(checks.benchmark_rows_in_range),
                            resources={"duckdb": DuckDBResource(database=str(isolated_home.warehouse_path)),
                                       "harness_secrets": HarnessSecrets(),
                                       "pipes_message_store": PipesMessageStore(),
                                       "catalog": CatalogResource(), "home": HomeResource()},
                            raise_on_error=False)

    evaluations = check_evaluations(result)
    for name in ("latency_positive", "throughput_positive", "power_within_tdp", "latency_cv_bounded"):
        assert not evaluations[name].passed, name
    observed = {n: evaluations[n].metadata["observed"].value for n in evaluations}
    assert observed["latency_positive"] == "nan" and observed["throughput_positive"] == -3.0
    assert observed["power_within_tdp"] == "nan" and observed["latency_cv_bounded"] == "nan"
    assert math.isnan(float(observed["latency_cv_bounded"]))
    assert "latest run of each partition" in evaluations["latency_positive"].metadata["scope"].value


def test_a_job_that_reports_fewer_rows_than_points_lands_nothing(isolated_home, tmp_path):
    """A harness that loses a row (here: reports 3 of the sweep's 4 points) is an incomplete run."""
    from tests.ops.standins import rows_interpreter

    python = rows_interpreter(tmp_path, "lossy", "[dict(base, batch_size=1, input_tokens=i) for i in (8, 16, 32)]")
    (isolated_home.catalog_dir / "ops.yaml").write_text(sweep_overlay() + launcher_overlay(python))
    result = materialize_partition(isolated_home, "gpt2-small")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
    assert "reported 3 rows for 4 workload points" in failure.message + (failure.cause.message if failure.cause else "")
    assert not isolated_home.warehouse_path.exists() or count_rows(isolated_home) == 0
    assert not list(isolated_home.parquet_dir.rglob("*.parquet"))
