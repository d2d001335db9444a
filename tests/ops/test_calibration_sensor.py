"""Calibration in Dagster: hardware that gains a launcher gets a plan, then its planned points as benchmark runs."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation.defs.benchmark_requests import points_from_run_config, sweep_from_run_config
from inference_estimation.defs.calibration.assets import next_benchmarks
from inference_estimation.defs.calibration.sensors import calibration_requests, calibration_sensor
from inference_estimation.defs.resources import CatalogResource, HomeResource
from inference_estimation.lib.catalog import load_catalog

NEW_BOX = """\
hardware:
  - key: calib-box-cpu
    kind: cpu
    vendor: host
    spec_source: user
    specs: {memory_gb: 16, peak_tflops_fp32: 0.5, memory_bandwidth_gb_s: 20, price_per_hour_usd: 0.10}
    launcher: {type: local, host: calib-box}
sweeps:
  - name: calib-tiny
    models: [gpt2-small, llama-small-55m]
    hardware: [calib-box-cpu]
    batch_sizes: [1, 2]
    input_tokens: [8, 16]
    output_tokens: [4]
"""


def test_calibration_sensor_is_stopped_by_default_because_it_launches_benchmarks():
    from inference_estimation.definitions import defs

    sensor = defs.resolve_sensor_def("calibration_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert {job.name for job in sensor.jobs} == {"benchmark_job", "calibration_job"}


def test_a_device_with_its_k_measurements_is_left_alone():
    catalog = load_catalog(overlay_dirs=[])
    done = {"measured_rows": 5, "k": 5, "plan_id": "x", "sweep": "test-tiny",
            "points": {"gpt2-small": [{"batch_size": 1, "input_tokens": 8, "output_tokens": 4, "dtype": "float32"}]}}
    plans = {hw: done for hw in catalog.partition_hardware}
    assert calibration_requests(catalog, plans) == []
    plans["local-cpu"] = {**done, "measured_rows": 4}
    [request] = calibration_requests(catalog, plans)
    assert request.job_name == "benchmark_job" and points_from_run_config(request.run_config) == done["points"]["gpt2-small"]


def test_a_new_launcher_entry_gets_a_plan_and_then_a_run_request_with_the_planned_points(isolated_home):
    (isolated_home.catalog_dir / "calib-box.yaml").write_text(NEW_BOX)
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(instance=instance, resources={"catalog": CatalogResource()}) as context:
            first = calibration_sensor(context)
        for add in first.dynamic_partitions_requests:  # what the daemon does with the sensor's result
            instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
        assert "calib-box-cpu" in instance.get_dynamic_partitions("benchmark_hardware")
        [plan_request] = [r for r in first.run_requests if r.partition_key == "calib-box-cpu"]
        assert plan_request.job_name == "calibration_job"
        assert not [r for r in first.run_requests if r.job_name == "benchmark_job"]  # nothing planned yet

        planned = dg.materialize(  # the plan run the request launches
            [next_benchmarks], partition_key="calib-box-cpu", instance=instance,
            run_config={"ops": plan_request.run_config["ops"]},
            resources={"duckdb": DuckDBResource(database=str(isolated_home.warehouse_path)),
                       "catalog": CatalogResource(), "home": HomeResource()})
        meta = {k: v.value for k, v in planned.asset_materializations_for_node("next_benchmarks")[-1].metadata.items()}
        assert meta["sweep"] == "calib-tiny" and meta["planned_points"] == 5 and meta["measured_rows"] == 0
        assert meta["expected_error_after_pct"] < meta["expected_error_before_pct"]
        assert meta["expected_cost_usd"] != "unknown"  # the entry has a price

        with dg.build_sensor_context(instance=instance, resources={"catalog": CatalogResource()}) as context:
            second = calibration_sensor(context)
        bench = [r for r in second.run_requests if r.job_name == "benchmark_job"]
        assert {r.partition_key.keys_by_dimension["hardware"] for r in bench} == {"calib-box-cpu"}
        assert {r.partition_key.keys_by_dimension["model"]: points_from_run_config(r.run_config) for r in bench} \
            == meta["points"]
        from inference_estimation.definitions import defs

        job = defs.resolve_job_def("benchmark_job")
        for request in bench:
            assert sweep_from_run_config(request.run_config) == "calib-tiny"
            assert request.tags["inference_estimation/host"] == "calib-box"
            assert request.run_key.startswith(f"calibration:calib-box-cpu:{meta['plan_id']}:")
            assert dg.validate_run_config(job, request.run_config)  # the job accepts the points
        assert not [r for r in second.run_requests if r.partition_key == "calib-box-cpu"
                    and r.job_name == "calibration_job"]  # planned once


def test_explicit_points_reach_the_launch_op_and_an_invalid_one_fails_naming_point_and_field(isolated_home):
    from inference_estimation.defs.benchmark_requests import benchmark_run_config
    from inference_estimation.defs.benchmarks.assets import benchmark_runs
    from inference_estimation.defs.benchmarks.config import BENCHMARK_ASSET, LAUNCH_OP
    from inference_estimation.defs.partitions import ensure_benchmark_partitions
    from inference_estimation.defs.resources import HarnessSecrets, PipesMessageStore

    points = [{"batch_size": 2, "input_tokens": 8, "output_tokens": 4, "dtype": "float32"}]
    config = benchmark_run_config("test-tiny", points)
    inner = benchmark_runs.node_def.config_mapping.resolve_from_unvalidated_config(config["ops"][BENCHMARK_ASSET]["config"])
    assert inner == {LAUNCH_OP: {"config": {"sweep": "test-tiny", "points": points}}}

    bad = benchmark_run_config("test-tiny", [{**points[0], "batch_size": 0}])
    instance = dg.DagsterInstance.ephemeral()
    ensure_benchmark_partitions(instance, load_catalog(strict=False))
    result = dg.materialize(
        [benchmark_runs], partition_key=dg.MultiPartitionKey({"model": "gpt2-small", "hardware": "local-cpu"}),
        run_config=bad, instance=instance, raise_on_error=False,
        resources={"duckdb": DuckDBResource(database=str(isolated_home.warehouse_path)),
                   "harness_secrets": HarnessSecrets(), "pipes_message_store": PipesMessageStore(),
                   "catalog": CatalogResource(), "home": HomeResource()})
    assert not result.success
    message = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error.message
    assert "points[0]" in message and "batch_size" in message
    assert not list(isolated_home.parquet_dir.rglob("*.parquet"))  # nothing launched
