"""One pass through the whole graph on sweep test-tiny (the session fixture ``pipeline``).

Real components throughout: the harness runs as a subprocess speaking Dagster Pipes, rows land
in a real DuckDB file, dbt builds the real project, CatBoost trains and SHAP plots are drawn.
"""

import math
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from inference_estimation.cli.sweep import gate_refusal
from inference_estimation.definitions import defs
from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.data.warehouse import land_run
from inference_estimation.lib.home import get_home
from inference_estimation.lib.ml import predictor_store as store
from inference_estimation.lib.physics.features import FEATURE_COLUMNS, feature_frame, prediction_row
from tests.conftest import MODELS, SWEEP
from tests.conftest import bench_config as _bench_config
from tests.conftest import partition as _partition


def _query(sql: str):
    con = duckdb.connect(str(get_home().warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    mats = result.asset_materializations_for_node(key)
    assert mats, f"no materialization of {key}"
    return {k: v.value for k, v in mats[-1].metadata.items()}


def test_one_partition_materializes_and_lands_every_grid_point(pipeline, session_home):
    sweep = load_catalog().sweep(SWEEP)
    points = len(sweep.batch_sizes) * len(sweep.input_tokens) * len(sweep.output_tokens) * len(sweep.dtypes)
    meta = _metadata(pipeline["gpt2-small"], "benchmark_runs")
    assert meta["status"] == "measured" and meta["rows_landed"] == points == meta["points_ok"]
    assert meta["power_sources"] in ("estimate", "rapl")
    rows = _query(f"select count(*), count(distinct model_key) from raw.benchmark_runs where run_id = '{meta['run_id']}'")
    assert rows == [(points, 1)]


def test_landed_rows_carry_forced_lengths_timings_and_labelled_power(pipeline):
    requested = load_catalog().sweep(SWEEP)
    rows = _query("select status, error, batch_size, output_tokens, n_trials, e2e_latency_s, ttft_s, tpot_s, "
                  "output_throughput_tok_s, power_source, power_scope, energy_j, partition_key, sweep "
                  "from raw.benchmark_runs")
    assert rows
    for (status, error, batch, out_tokens, n_trials, e2e, ttft, tpot, out_tput, source, scope, energy,
         partition, sweep) in rows:
        # The record holds no separate generated-token count: the harness checks each generation made
        # exactly the requested tokens and lands the point as 'error' ("generation was not forced to
        # ...") otherwise. So every landed row is ok and its length is one the sweep asked for.
        assert status == "ok" and error is None, error
        assert out_tokens in requested.output_tokens
        # ...and the timings agree with that many generated steps: per trial, TTFT plus (tokens - 1)
        # decode steps of TPOT ends at the last token, inside the batch latency (medians of at most two
        # trials are means, so this holds for the medians too); a shorter generation overstates it.
        assert 1 <= n_trials <= min(requested.max_trials, 2), "the identity below needs medians of <= 2 trials"
        assert ttft + (out_tokens - 1) * tpot <= e2e * (1 + 1e-9)
        assert out_tput == pytest.approx(batch * out_tokens / e2e, rel=1e-9)
        assert 0 < ttft < e2e and tpot > 0
        assert source in ("estimate", "rapl") and scope == "cpu-package" and energy > 0
        assert sweep == SWEEP and "local-cpu" in partition


def test_blocking_row_check_passed_for_each_partition(pipeline):
    for model in MODELS:
        evaluations = pipeline[model].get_asset_check_evaluations()
        assert {"ttft_exceeds_e2e", "latency_positive", "grain_unique"} <= {e.check_name for e in evaluations}
        # warnings (e.g. a noisy latency CV on a busy machine) may fail; blocking errors may not
        assert all(e.passed for e in evaluations if e.severity == dg.AssetCheckSeverity.ERROR)


def test_landing_a_run_file_again_is_a_no_op(pipeline, session_home):
    parquet = _metadata(pipeline["gpt2-small"], "benchmark_runs")["parquet_path"]
    assert parquet.startswith(str(session_home.parquet_dir / "local"))
    before = _query("select count(*) from raw.benchmark_runs")
    con = duckdb.connect(str(session_home.warehouse_path))
    try:
        assert land_run(con, Path(parquet)) == 0
    finally:
        con.close()
    assert _query("select count(*) from raw.benchmark_runs") == before


def test_partition_outside_the_sweep_is_skipped_without_launching(pipeline, session_home):
    before = _query("select count(*) from raw.benchmark_runs")
    result = defs.resolve_job_def("benchmark_job").execute_in_process(
        instance=dg.DagsterInstance.get(), partition_key=_partition("gpt2-medium"), run_config=_bench_config())
    meta = _metadata(result, "benchmark_runs")
    assert meta["status"] == "skipped" and "not in sweep" in meta["skip_reason"] and meta["rows_landed"] == 0
    assert _query("select count(*) from raw.benchmark_runs") == before


def test_dbt_build_passes_and_marts_hold_one_row_per_point(pipeline):
    assert pipeline["dbt"].success
    assert _query("select count(*) from marts.measurements where source = 'local'") == _query(
        "select count(distinct point_id) from staging.stg_benchmark_runs where status = 'ok'")
    (n,) = _query("select count(*) from marts.training_features where source = 'local'")[0]
    assert n == 8
    report = _metadata(pipeline["dbt"], "dataset_report")
    assert "| local |" in report["report"] and "data:image/png;base64," in report["report"]


def test_training_features_row_equals_the_row_predict_builds_for_the_same_config(pipeline):
    con = duckdb.connect(str(get_home().warehouse_path), read_only=True)
    try:
        trained = con.execute("select * from marts.training_features where model_key = 'gpt2-small' "
                              "and batch_size = 2 and input_tokens = 16").df()
    finally:
        con.close()
    assert len(trained) == 1
    catalog = load_catalog()
    workload = dict(engine="transformers", dtype="float32", mode="offline", batch_size=2, input_tokens=16,
                    output_tokens=4, device_count=1, tensor_parallel=1, source="local", power_scope="cpu-package")
    predicted = feature_frame([prediction_row(catalog.model("gpt2-small"), catalog.hw("local-cpu"), workload)])
    for col in FEATURE_COLUMNS:
        a, b = trained.loc[0, col], predicted.loc[0, col]
        if isinstance(b, float) and math.isnan(b):
            assert math.isnan(a), col
        else:
            assert a == pytest.approx(b, rel=1e-12) if isinstance(b, float) else a == b, col
    assert predicted.loc[0, "roofline_e2e_s"] > 0  # the probe's peak and bandwidth reached both


def test_predictors_and_shap_reports_materialize_per_target(pipeline, session_home):
    for target in ("ttft_s", "tpot_s", "peak_memory_gb"):
        # the blocking promotion gate may stop the run (a designed refusal); nothing else may
        assert pipeline[target].success or gate_refusal(pipeline[target]), target
        meta = _metadata(pipeline[target], "predictors")
        assert meta["status"] == "trained" and meta["rows"] == 8 and "holdout_mdape_pct" in meta, target
        assert "data:image/png;base64," in meta["plot"]  # held-out predicted vs measured, on the asset's page
        report = _metadata(pipeline[target], "shap_reports")
        assert "data:image/png;base64," in report["report"]
        assert (session_home.reports_dir / target / "beeswarm.png").stat().st_size > 5000
        trained = store.read_pointer(session_home.predictors_dir, store.TRAINED, target)
        assert trained.data_version == meta["data_version"] and (trained.folder / "model.cbm").exists()


def test_power_targets_are_not_trained_on_estimated_power(pipeline, session_home):
    for target in ("avg_power_w",):
        meta = _metadata(pipeline[target], "predictors")
        assert meta["status"] == "not trained" and "0 usable rows" in meta["reason"]
        assert store.read_pointer(session_home.predictors_dir, store.TRAINED, target) is None
        # too little data is no refusal: the gate warns, the run succeeds, the promoted pointer stays
        assert pipeline[target].success and gate_refusal(pipeline[target]) is None
        (check,) = [e for e in pipeline[target].get_asset_check_evaluations() if e.check_name == "beats_baselines"]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        assert check.metadata["trained"].value is False
        decision = _metadata(pipeline[target], "promoted_predictors")
        assert decision["promoted"] is False and decision["trained"] is False
        assert store.read_pointer(session_home.predictors_dir, store.PROMOTED, target) is None


def test_evaluation_scores_every_split_the_data_allows_and_gates_promotion(pipeline, session_home):
    meta = _metadata(pipeline["tpot_s"], "predictor_evaluation")
    table = meta["table"]
    assert "| random | catboost |" in table and "| leave_one_model_out | physics_calibrated |" in table
    assert "leave_one_hardware_out | (skipped)" in table  # test-tiny has one hardware
    check = [e for e in pipeline["tpot_s"].get_asset_check_evaluations() if e.check_name == "beats_baselines"]
    assert len(check) == 1
    trained = store.read_pointer(session_home.predictors_dir, store.TRAINED, "tpot_s")
    promoted = store.read_pointer(session_home.predictors_dir, store.PROMOTED, "tpot_s")
    assert (promoted is not None and promoted.version == trained.version) == check[0].passed  # exactly when it passed
    assert check[0].blocking and check[0].metadata["trained_version"].value == trained.version
    if check[0].passed:  # exactly the version that was trained and scored, by pointer
        decision = _metadata(pipeline["tpot_s"], "promoted_predictors")
        assert decision["promoted"] and decision["version"] == trained.version
        assert decision["data_version"] == _metadata(pipeline["tpot_s"], "predictors")["data_version"] \
            == meta["scored_data_version"]
    else:  # Dagster stopped the run before promotion; `sweep` reads the reason as a refusal
        assert not pipeline["tpot_s"].asset_materializations_for_node("promoted_predictors")
        assert gate_refusal(pipeline["tpot_s"]) == check[0].metadata["reason"].value
        assert check[0].severity == dg.AssetCheckSeverity.ERROR
