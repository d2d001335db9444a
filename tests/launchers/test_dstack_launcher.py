"""The dstack launcher against a REAL dstack server on 127.0.0.1 (no cloud, no Docker).

Without a fleet or backend the server accepts the task, then fails its job with "No matching
fleet found" (failed_to_start_due_to_no_capacity): exactly what a user without capacity sees.
"""

import dataclasses

import dagster as dg
import duckdb
import pytest

from inference_estimation.definitions import defs
from inference_estimation.launchers import LauncherError
from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.sweeps.planning import build_job_spec
from tests.conftest import bench_config, partition
from tests.launchers.conftest import wait_for

pytestmark = pytest.mark.slow

SWEEP = "zz-dstack-test"
HARDWARE = "nvidia-l4"


@pytest.fixture
def dstack_sweep_overlay(session_home):
    """A one-point sweep over gpt2-small x nvidia-l4, added to the session's catalog for one test."""
    overlay = session_home.catalog_dir / "zz-test-dstack-sweep.yaml"
    overlay.write_text(
        f"sweeps:\n  - name: {SWEEP}\n    models: [gpt2-small]\n    hardware: [{HARDWARE}]\n"
        "    batch_sizes: [1]\n    input_tokens: [8]\n    output_tokens: [4]\n")
    yield SWEEP
    overlay.unlink(missing_ok=True)


def _landed_rows(home, hardware_key: str) -> int:
    if not home.warehouse_path.exists():
        return 0
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        tables = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
        if "benchmark_runs" not in tables:
            return 0
        return con.execute("select count(*) from raw.benchmark_runs where hardware_key = ?",
                           [hardware_key]).fetchone()[0]
    finally:
        con.close()


def _runs_for(client, hardware_key: str):
    return [r for r in client.runs.list(all=True) if r.name.startswith("ie-") and r.name.endswith(hardware_key)]


def test_partition_on_a_gpu_without_fleet_fails_with_dstacks_reason_and_lands_nothing(
        dstack_server, dstack_sweep_overlay, session_home, monkeypatch):
    monkeypatch.setenv("DSTACK_SERVER_URL", dstack_server.url)
    monkeypatch.setenv("DSTACK_TOKEN", dstack_server.token)
    monkeypatch.setenv("DSTACK_PROJECT", dstack_server.project)
    parquet_before = set(session_home.parquet_dir.rglob("*.parquet"))

    result = defs.resolve_job_def("benchmark_job").execute_in_process(
        instance=dg.DagsterInstance.get(), partition_key=partition("gpt2-small", HARDWARE),
        run_config=bench_config(dstack_sweep_overlay), raise_on_error=False)

    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
    message = failure.message + (failure.cause.message if failure.cause else "")
    assert "LauncherError" in message and "nothing landed" in message
    assert "No matching fleet found" in message and "failed_to_start_due_to_no_capacity" in message
    # the submission reached the server: the run is there, with the harness's files and Pipes bootstrap
    runs = _runs_for(dstack_server.client(), HARDWARE)
    assert len(runs) == 1
    run_spec = runs[0]._run.run_spec
    assert run_spec.file_archives, "the benchmark_jobs folder was uploaded with the run"
    assert {"DAGSTER_PIPES_CONTEXT", "DAGSTER_PIPES_MESSAGES"} <= set(run_spec.configuration.env.as_dict())
    gpu = run_spec.configuration.resources.gpu
    assert gpu.name == ["L4"] and gpu.count.min == gpu.count.max == 1
    assert runs[0]._run.jobs[0].job_submissions[-1].termination_reason == "failed_to_start_due_to_no_capacity"
    # nothing landed, no file written; the dstack token never reached Dagster's event log
    assert _landed_rows(session_home, HARDWARE) == 0
    assert set(session_home.parquet_dir.rglob("*.parquet")) == parquet_before
    assert all(dstack_server.token not in (e.message or "") for e in result.all_events)
    # the dstack run is over on the server too (failed by dstack, or stopped by the launcher)
    assert wait_for(lambda: (runs[0].refresh(), runs[0].status.value in ("failed", "terminated"))[1], 40)


def test_cancelled_dagster_run_stops_the_dstack_run(dstack_server):
    """A Dagster run cancellation arrives as DagsterExecutionInterruptedError while the launcher
    waits; the launcher's ``finally`` must stop the dstack run (so no instance keeps billing)."""
    from inference_estimation.launchers.dstack import DstackLauncher

    catalog = load_catalog(overlay_dirs=[])
    hardware = catalog.hw("nvidia-h100-sxm-80gb-x8")
    spec = build_job_spec("cancel-test-run", catalog.model("gpt2-small"), hardware, catalog.sweep("test-tiny"), None)
    spec = dataclasses.replace(spec, points=spec.points[:1])
    client = dstack_server.client()

    def cancelled(_seconds: float) -> None:
        raise dg.DagsterExecutionInterruptedError()

    launcher = DstackLauncher(hardware, client=client, poll_interval_s=0.1, sleep=cancelled)

    @dg.asset
    def remote_benchmark(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        launcher.launch(context, spec)
        return dg.MaterializeResult()

    with pytest.raises(dg.DagsterExecutionInterruptedError):
        dg.materialize([remote_benchmark], instance=dg.DagsterInstance.ephemeral())

    runs = _runs_for(client, "nvidia-h100-sxm-80gb-x8")
    assert len(runs) == 1
    run = runs[0]
    assert run._run.termination_reason == "stopped_by_user"
    gpu = run._run.run_spec.configuration.resources.gpu
    assert gpu.name == ["H100"] and gpu.count.min == gpu.count.max == 8
    assert wait_for(lambda: (run.refresh(), run.status.value == "terminated")[1], 40), run.status


def test_submission_refused_by_dstack_is_a_launcher_error_with_its_message(dstack_server):
    from inference_estimation.launchers.dstack import DstackLauncher

    hardware = load_catalog(overlay_dirs=[]).hw("nvidia-l4")
    launcher = DstackLauncher(hardware, client=dstack_server.client())
    with pytest.raises(LauncherError, match="dstack refused the task"):
        launcher.submit("Not A Valid Run Name", {})


def test_with_object_storage_the_task_gets_the_bucket_endpoint_and_boto3_and_the_backends_packages(
        dstack_server, s3_endpoint):
    """VLLM sweep on an 8-GPU entry with the S3 transport: what reaches the dstack server."""
    from dagster_pipes import decode_param

    from inference_estimation.defs.resources import PipesMessageStore
    from inference_estimation.launchers.dstack import DstackLauncher
    from tests.conftest import S3_TEST_BUCKET, S3_TEST_CREDENTIALS

    catalog = load_catalog(overlay_dirs=[])
    hardware = catalog.hw("nvidia-h100-sxm-80gb-x8")
    sweep = catalog.sweep("gpu-vllm")
    spec = build_job_spec("s3-vllm-run", catalog.model("llama-3.1-70b"), hardware, sweep, None)
    store = PipesMessageStore(s3_bucket=S3_TEST_BUCKET, s3_endpoint_url=s3_endpoint, s3_region="us-east-1",
                              aws_access_key_id=S3_TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=S3_TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]).store()
    client = dstack_server.client()
    launcher = DstackLauncher(hardware, client=client, poll_interval_s=0.2)

    @dg.asset
    def remote_benchmark(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        launcher.launch(context, spec, message_store=store)
        return dg.MaterializeResult()

    result = dg.materialize([remote_benchmark], instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success  # no fleet: dstack's reason, nothing returned
    from inference_estimation.launchers.dstack import run_name_for

    run = next(r for r in client.runs.list(all=True) if r.name == run_name_for(spec))
    configuration = run._run.run_spec.configuration
    env = configuration.env.as_dict()
    messages = decode_param(env["DAGSTER_PIPES_MESSAGES"])
    assert messages["bucket"] == S3_TEST_BUCKET and messages["key_prefix"].startswith("inference-estimation/pipes/")
    assert env["AWS_ENDPOINT_URL_S3"] == s3_endpoint and env["AWS_ACCESS_KEY_ID"]
    install = configuration.commands[0]
    assert "boto3" in install and "vllm" in install and '"torch' not in install
    assert all(S3_TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in (e.message or "") for e in result.all_events)
    assert wait_for(lambda: (run.refresh(), run.status.value in ("failed", "terminated"))[1], 40)
