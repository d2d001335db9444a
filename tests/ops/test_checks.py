"""The checks that watch data over time: the gate before training, prediction drift and the
freshness of imported sources.
"""

import math
import shutil
import time

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster_duckdb import DuckDBResource

from inference_estimation.defs.external.checks import MAX_SOURCE_AGE_DAYS, external_sources_fresh
from inference_estimation.defs.external.partitions import external_partitions
from inference_estimation.defs.resources import CatalogResource, HomeResource
from inference_estimation.defs.training import checks as mart_checks
from inference_estimation.lib.data import quality
from inference_estimation.lib.data.external.importer import USER_CSV_SOURCE
from inference_estimation.lib.ml import drift
from inference_estimation.lib.ml.modeling import load_predictor, save_predictor, select_rows, train_predictor
from inference_estimation.lib.ml.predict import predictor_folders


def _training_frame(home):
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        return con.execute("select * from marts.training_features").df()
    finally:
        con.close()


def _copy_marts(session_home, isolated_home) -> None:
    """The session's marts and predictors in a home of the test's own."""
    con = duckdb.connect(str(isolated_home.warehouse_path))
    try:
        con.execute(f"attach '{session_home.warehouse_path}' as session (read_only)")
        con.execute("create schema marts")
        for table in ("measurements", "training_features"):
            con.execute(f"create table marts.{table} as select * from session.marts.{table}")
        con.execute("detach session")
    finally:
        con.close()
    shutil.copytree(session_home.predictors_dir, isolated_home.predictors_dir, dirs_exist_ok=True)


def _run_checks(home, *checks) -> dict:
    result = dg.materialize(list(checks), selection=dg.AssetSelection.all_asset_checks(), raise_on_error=False,
                            resources={"duckdb": DuckDBResource(database=str(home.warehouse_path)),
                                       "catalog": CatalogResource(), "home": HomeResource()})
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_the_gate_before_training_passes_on_the_pipeline_and_blocks_absurd_rows(pipeline, session_home, isolated_home):
    _copy_marts(session_home, isolated_home)
    evaluations = _run_checks(isolated_home, mart_checks.training_rows_in_range)
    assert set(evaluations) == set(quality.RANGE_RULES)
    gate = {name: e for name, e in evaluations.items() if name not in quality.WARNING_RULES}
    assert all(e.passed and e.blocking for e in gate.values())  # (a noisy CPU may warn; it never blocks)
    assert not evaluations["latency_cv_stable"].blocking

    con = duckdb.connect(str(isolated_home.warehouse_path))
    try:
        con.execute("update marts.measurements set latency_cv = 4.0, avg_power_w = 900.0 where point_id = "
                    "(select min(point_id) from marts.training_features where hardware_key = 'local-cpu')")
    finally:
        con.close()
    (isolated_home.catalog_dir / "tdp.yaml").write_text("hardware:\n  - key: local-cpu\n    specs: {tdp_w: 65}\n")
    evaluations = _run_checks(isolated_home, mart_checks.training_rows_in_range)
    assert not evaluations["latency_cv_bounded"].passed and not evaluations["power_within_tdp"].passed
    assert evaluations["power_within_tdp"].metadata["observed"].value == pytest.approx(900 / 65, rel=1e-3)
    assert evaluations["latency_positive"].passed


def test_drift_is_flagged_when_new_measurements_leave_the_90_percent_interval_too_often(pipeline, session_home,
                                                                                        tmp_path):
    # A TPOT predictor trained here on the session's local points (other tests add public data, and a
    # fault test re-measures a partition, so the session's own predictor may be older than the marts),
    # and those very points dated a day before it was trained.
    frame = _training_frame(session_home)
    frame = frame[frame["source"] == "local"].reset_index(drop=True)
    save_predictor(train_predictor(frame, "tpot_s", n_folds=2), tmp_path / "tpot_s")
    model, card = load_predictor(tmp_path / "tpot_s")
    trained_at = pd.Timestamp(card["trained_at"]).tz_convert("UTC")
    frame = frame.assign(measured_at_ts=(trained_at - pd.Timedelta(days=1)).tz_localize(None))

    same = drift.prediction_drift(frame, model, card, since=None)
    assert same["new_rows"] == len(select_rows(frame, "tpot_s")) > 0
    assert not same["drifted"]  # the data it was trained on
    assert drift.prediction_drift(frame, model, card, since=card["trained_at"])["new_rows"] == 0
    later = frame.assign(measured_at_ts=(trained_at + pd.Timedelta(days=1)).tz_localize(None))
    assert drift.prediction_drift(later, model, card, since=card["trained_at"])["new_rows"] == same["new_rows"]

    factor = math.exp(2 * card["interval"]["log_halfwidth"] + 0.5)  # far outside the interval, whatever its width
    slower = frame.assign(tpot_s=frame["tpot_s"] * factor)  # e.g. a driver regression
    drifted = drift.prediction_drift(slower, model, card, since=None)
    assert drifted["drifted"] and drifted["share_outside"] > drifted["expected_share_outside"] == 0.1
    assert drifted["p_value"] < drift.DRIFT_ALPHA


def test_the_drift_check_warns_on_marts_measured_after_the_predictor(pipeline, session_home, isolated_home):
    _copy_marts(session_home, isolated_home)
    con = duckdb.connect(str(isolated_home.warehouse_path))
    try:  # the local rows, all measured before any predictor was trained
        con.execute("delete from marts.training_features where source <> 'local'")
        con.execute("update marts.training_features set measured_at_ts = timestamp '2000-01-01'")
    finally:
        con.close()
    evaluation = _run_checks(isolated_home, mart_checks.prediction_drift)["prediction_drift"]
    assert evaluation.passed and evaluation.metadata["tpot_s/new_rows"].value == 0
    widest = max(load_predictor(f)[1]["interval"]["log_halfwidth"]
                 for f in predictor_folders(isolated_home.predictors_dir, allow_unpromoted=True).values())
    factor = math.exp(2 * widest + 0.5)
    con = duckdb.connect(str(isolated_home.warehouse_path))
    try:  # a week later every latency is far slower: new rows, far outside every interval
        con.execute("update marts.training_features set measured_at_ts = now()::timestamp + interval 7 day, "
                    f"e2e_latency_s = e2e_latency_s * {factor}, tpot_s = tpot_s * {factor}, ttft_s = ttft_s * {factor}")
    finally:
        con.close()
    evaluation = _run_checks(isolated_home, mart_checks.prediction_drift)["prediction_drift"]
    assert not evaluation.passed and not evaluation.blocking
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    meta = {k: v.value for k, v in evaluation.metadata.items()}
    assert "tpot_s" in meta["drifted_targets"] and meta["tpot_s/share_outside"] > 0.5
    assert meta["tpot_s/new_rows"] > 0 and meta["tpot_s/p_value"] < drift.DRIFT_ALPHA


def test_sources_older_than_the_bound_or_never_imported_are_stale():
    now = time.time()
    day = 86400.0
    result = quality.stale_sources({"a": now - 2 * day, "b": now - 40 * day, "c": None}, now, 35)
    assert not result.passed and result.violating_rows == 2 and result.observed == pytest.approx(40, abs=1e-3)
    assert result.metadata()["age_days/c"] == "never" and "b: 40.0 days" in result.metadata()["examples"]
    assert quality.stale_sources({"a": now - day}, now, 35).passed


def test_the_freshness_check_reads_each_sources_latest_import_from_the_instance():
    sources = [s for s in external_partitions.get_partition_keys() if s != USER_CSV_SOURCE]
    with dg.DagsterInstance.ephemeral() as instance:
        for source in sources[1:]:
            instance.report_runless_asset_event(dg.AssetMaterialization("external_benchmarks", partition=source))
        context = dg.build_asset_check_context(instance=instance)
        stale = external_sources_fresh(context)
        assert not stale.passed and stale.severity == dg.AssetCheckSeverity.WARN
        assert stale.metadata[f"age_days/{sources[0]}"].value == "never"
        instance.report_runless_asset_event(dg.AssetMaterialization("external_benchmarks", partition=sources[0]))
        fresh = external_sources_fresh(dg.build_asset_check_context(instance=instance))
        assert fresh.passed and fresh.metadata["observed"].value < MAX_SOURCE_AGE_DAYS


def test_a_training_run_stops_at_the_blocking_gate_and_keeps_the_model(pipeline, session_home, isolated_home):
    """The gate's checks run in the same run as training (training_job selects them): Dagster's own
    blocking semantics stop ``predictors`` on absurd rows, whoever started the run."""
    from inference_estimation.defs.resources import PredictorStore, TrainingResource
    from inference_estimation.defs.training.assets import predictors
    from inference_estimation.lib.ml import predictor_store as store

    _copy_marts(session_home, isolated_home)
    pointer = isolated_home.predictors_dir / "pointers" / "trained" / "tpot_s.json"
    before = pointer.read_bytes()
    con = duckdb.connect(str(isolated_home.warehouse_path))
    try:
        con.execute("update marts.measurements set avg_power_w = 900.0 where point_id = "
                    "(select min(point_id) from marts.training_features where hardware_key = 'local-cpu')")
    finally:
        con.close()
    (isolated_home.catalog_dir / "tdp.yaml").write_text("hardware:\n  - key: local-cpu\n    specs: {tdp_w: 65}\n")
    result = dg.materialize(
        [predictors, mart_checks.training_rows_in_range], partition_key="tpot_s", raise_on_error=False,
        selection=dg.AssetSelection.assets(predictors) | dg.AssetSelection.checks(
            *mart_checks.training_rows_in_range.check_keys),
        resources={"duckdb": DuckDBResource(database=str(isolated_home.warehouse_path)), "catalog": CatalogResource(),
                   "home": HomeResource(), "predictor_store": PredictorStore(), "training": TrainingResource()})
    assert not result.success
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert "power_within_tdp" in failed
    assert not result.asset_materializations_for_node("predictors")  # Dagster never ran it
    assert pointer.read_bytes() == before  # the trained version was not touched
    assert store.read_pointer(isolated_home.predictors_dir, store.TRAINED, "tpot_s").folder.exists()
