"""Automation: a stopped weekly schedule per sweep, sensors that tag their runs with the host, and
refresh conditions that follow new partitions but stop at a failed blocking check."""

import contextlib
import datetime
import logging
import time

import dagster as dg
import yaml

from inference_estimation import constants
from inference_estimation.definitions import defs
from inference_estimation.defs.automation.sensors import refresh_sensor
from inference_estimation.defs.benchmark_requests import sweep_from_run_config
from inference_estimation.defs.benchmarks.sensors import new_partitions_sensor
from inference_estimation.defs.resources import CatalogResource
from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.home import REPO_ROOT
from tests.ops.conftest import launcher_overlay, materialize_partition, sweep_overlay
from tests.ops.standins import absurd_rows_interpreter, harness_interpreter


def test_every_sweep_has_a_stopped_weekly_schedule_launching_each_pair_with_its_config_and_host_tag():
    with contextlib.ExitStack() as stack:
        _check_sweep_schedules(stack)


def _check_sweep_schedules(stack: contextlib.ExitStack) -> None:
    from inference_estimation.defs.partitions import benchmark_partition_keys

    catalog = load_catalog()
    repository = defs.get_repository_def()
    instance = stack.enter_context(dg.instance_for_test())  # a schedule context needs a persistent instance
    for sweep in catalog.sweeps.values():
        schedule = defs.resolve_schedule_def(f"sweep_{sweep.name.replace('-', '_')}_weekly")
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
        assert schedule.cron_schedule == "0 3 * * 0" and schedule.job_name == "benchmark_job"
        # A context with resources is a context manager: leaving it tears the resources down.
        with dg.build_schedule_context(instance=instance, resources={"catalog": CatalogResource()},
                                       repository_def=repository,
                                       scheduled_execution_time=datetime.datetime(2026, 1, 4, 3)) as context:
            tick = schedule.evaluate_tick(context)
        assert len(tick.run_requests) == len(sweep.models) * len(sweep.hardware)
        # the tick added its pairs' keys before requesting them (no sync tick needed first)
        assert {str(r.partition_key) for r in tick.run_requests} <= {str(k) for k in benchmark_partition_keys(instance)}
        for request in tick.run_requests:
            assert sweep_from_run_config(request.run_config) == sweep.name
            hardware = catalog.hw(str(request.partition_key).split("|")[0])  # keys: hardware|model
            assert request.tags[constants.HOST_TAG] == hardware.host and request.tags["sweep"] == sweep.name
    for name in ("import_external_monthly", "external_freshness_daily"):
        assert defs.resolve_schedule_def(name).default_status == dg.DefaultScheduleStatus.STOPPED


def test_refresh_runs_carry_the_host_tag_that_the_instance_limits_to_one_run_per_host():
    assert refresh_sensor.run_tags == {constants.HOST_TAG: "localhost"}
    assert refresh_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert new_partitions_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    graph = defs.resolve_asset_graph()
    targets = {k.to_user_string() for k in refresh_sensor.asset_selection.resolve(graph)}
    assert {"marts/training_features", "predictors", "shap_reports"} <= targets
    assert not {"benchmark_runs", "external_benchmarks", "hardware_specs"} & targets  # scheduled, never eager
    dbt_conditions = {graph.get(dg.AssetKey.from_user_string(k)).automation_condition.get_label()
                      for k in targets if k.startswith(("staging/", "intermediate/", "marts/"))}
    assert dbt_conditions == {"refresh_after_new_data"}
    for job in ("catalog_job", "import_job", "transform_job", "training_job", "feature_selection_job"):
        assert defs.resolve_job_def(job).tags.get(constants.HOST_TAG) == "localhost", job  # local work queues too
    limits = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": constants.HOST_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


class _Ticks:
    """Evaluates the refresh sensor's conditions as the daemon would (its selection and default
    condition) against one instance, tick after tick."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor

        self.instance, self.cursor = instance, AssetDaemonCursor.empty()
        self.graph = defs.resolve_asset_graph()
        self.keys = refresh_sensor.asset_selection.resolve(self.graph)

    def __call__(self) -> dict[str, int]:
        from dagster._core.definitions.declarative_automation.automation_condition_evaluator import (
            AutomationConditionEvaluator,
        )

        evaluator = AutomationConditionEvaluator(
            asset_graph=self.graph, instance=self.instance, entity_keys=self.keys, cursor=self.cursor,
            evaluation_id=self.cursor.evaluation_id, emit_backfills=False, logger=logging.getLogger(__name__),
            default_condition=refresh_sensor.default_condition)
        results, _ = evaluator.evaluate()
        self.cursor = self.cursor.with_updates(
            evaluation_timestamp=time.time(), newly_observe_requested_asset_keys=[],
            evaluation_id=self.cursor.evaluation_id + 1, condition_cursors=[r.get_new_cursor() for r in results],
            asset_graph=self.graph)
        return {r.key.to_user_string(): r.true_subset.size for r in results if r.true_subset.size}


def test_one_new_partition_refreshes_dbt_then_training_and_a_failed_blocking_check_holds_it_back(
        isolated_home, tmp_path):
    overlay = isolated_home.catalog_dir / "ops.yaml"
    instance = dg.DagsterInstance.ephemeral()
    tick = _Ticks(instance)
    assert tick() == {}  # nothing landed, nothing to refresh (eager would request every missing asset)

    overlay.write_text(sweep_overlay() + launcher_overlay(absurd_rows_interpreter(tmp_path)))
    assert not materialize_partition(isolated_home, "gpt2-small", instance=instance).success
    assert tick() == {}  # landed, but its blocking checks failed

    overlay.write_text(sweep_overlay() + launcher_overlay(harness_interpreter(tmp_path, "SyntheticBackend")))
    assert materialize_partition(isolated_home, "gpt2-small", instance=instance).success
    requested = tick()  # one partition of four is enough
    assert {"staging/stg_benchmark_runs", "marts/measurements", "marts/training_features"} <= set(requested)
    assert "predictors" not in requested  # not before the training frame itself was rebuilt
    assert tick() == {}

    features = dg.AssetKey(["marts", "training_features"])
    instance.report_runless_asset_event(dg.AssetMaterialization(features))
    instance.report_runless_asset_event(dg.AssetCheckEvaluation(asset_key=features, check_name="power_within_tdp",
                                                                passed=False))
    assert "predictors" not in tick()  # the gate before training failed
    instance.report_runless_asset_event(dg.AssetCheckEvaluation(asset_key=features, check_name="power_within_tdp",
                                                                passed=True))
    requested = tick()
    assert requested["predictors"] == requested["shap_reports"] == len(constants.PRIMITIVES)


def test_a_run_whose_worker_died_is_failed_by_run_monitoring_and_frees_its_host(tmp_path):
    """A run left STARTED by a dead worker would hold its host's only slot forever; the monitoring
    daemon (enabled in dagster.yaml) fails it once it is past its maximum runtime."""
    import shutil

    from dagster._core.events import DagsterEvent, DagsterEventType
    from dagster._core.test_utils import create_run_for_test
    from dagster._daemon.monitoring.run_monitoring import monitor_started_run

    shutil.copy(REPO_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled and instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_monitoring_max_runtime_seconds == 86400
        run = create_run_for_test(instance, job_name="benchmark_job",
                                  tags={constants.HOST_TAG: "localhost", "dagster/max_runtime": "1"})
        instance.report_dagster_event(DagsterEvent(event_type_value=DagsterEventType.RUN_START.value,
                                                   job_name="benchmark_job"), run_id=run.run_id)
        busy = dg.RunsFilter(tags={constants.HOST_TAG: "localhost"}, statuses=[dg.DagsterRunStatus.STARTED])
        assert len(instance.get_run_records(busy)) == 1  # the host's slot is taken
        time.sleep(1.5)  # no worker will ever finish it
        record = instance.get_run_records(dg.RunsFilter(run_ids=[run.run_id]))[0]
        monitor_started_run(instance, None, record, logging.getLogger(__name__))  # one daemon iteration
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_records(busy) == []  # the slot is free again
