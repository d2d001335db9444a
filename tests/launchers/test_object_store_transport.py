"""Object storage as the Pipes transport, against a real S3 API server on loopback.

``moto``'s server stands in for the cloud's object storage (AWS S3, MinIO, R2): it speaks the S3
HTTP API on 127.0.0.1, so boto3 on both sides, Dagster's ``PipesS3MessageReader`` and the
harness's ``PipesS3MessageWriter`` run unmodified. The harness is a real child process.
"""


import json
import sys

import dagster as dg
import pytest

pytest.importorskip("dagster_aws", reason="the `cloud` extra is not installed")
pytest.importorskip("moto", reason="the `cloud-test` extra is not installed")

from benchmark_jobs.spec import JobSpec, MeasurementSettings, ModelSpec, tabular_points
from inference_estimation.launchers.base import records_from_messages
from inference_estimation.launchers.object_store import S3MessageStore
from tests.conftest import S3_TEST_BUCKET, S3_TEST_CREDENTIALS

BUCKET, CREDENTIALS = S3_TEST_BUCKET, S3_TEST_CREDENTIALS


def _spec(run_id: str) -> JobSpec:
    return JobSpec(
        run_id=run_id, source="local", sweep="t", partition_key=None, hardware_key="local-cpu", device="cpu",
        backend="tabular", weight_source="random",
        model=ModelSpec(key="cb", hf_id=None, family="catboost",
                        architecture={"n_features": 4, "n_trees": 5, "max_depth": 2}),
        points=tabular_points([1, 32]),
        settings=MeasurementSettings(warmup_runs=0, min_trials=2, max_trials=2, target_cv=1.0,
                                     point_timeout_s=60, min_energy_window_s=0),
        backend_options={"train_rows": 50, "min_trial_s": 0.001},
    )


def _run_harness(store: S3MessageStore, spec: JobSpec, extra_env: dict[str, str] | None = None):
    """Materializes an asset that runs the harness as a child process with the S3 transport."""
    seen: dict = {}

    @dg.asset
    def harness_over_s3(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        reader = store.reader(spec.run_id)
        env = {**store.job_env(), **(extra_env or {})}
        client = dg.PipesSubprocessClient(env=env, message_reader=reader, forward_stdio=True)
        try:
            invocation = client.run(context=context, command=[sys.executable, "-m", "benchmark_jobs", "run", "--pipes"],
                                    extras={"spec": spec.to_dict()})
            seen["records"] = records_from_messages(list(invocation.get_custom_messages()), spec.run_id)
        finally:
            seen["prefix"] = reader.key_prefix
            seen["objects"] = [o["Key"] for o in reader.client.list_objects_v2(
                Bucket=BUCKET, Prefix=reader.key_prefix + "/").get("Contents", [])]
            seen["deleted"] = reader.cleanup()
        return dg.MaterializeResult(metadata={"rows": len(seen["records"])})

    result = dg.materialize([harness_over_s3], raise_on_error=False)
    return result, seen


def test_rows_travel_through_the_bucket_under_the_runs_prefix_and_are_cleaned_up(s3_endpoint, capfd):
    store = S3MessageStore(bucket=BUCKET, endpoint_url=s3_endpoint, region="us-east-1", upload_interval_s=0.2,
                           credentials=CREDENTIALS)
    result, seen = _run_harness(store, _spec("s3-run-1"))
    assert result.success
    records = seen["records"]
    assert [r.batch_size for r in records] == [1, 32] and {r.status for r in records} == {"ok"}
    assert seen["prefix"].startswith("inference-estimation/pipes/s3-run-1-")
    assert seen["objects"] and all(k.endswith(".json") for k in seen["objects"])  # numbered chunks
    assert seen["deleted"] == len(seen["objects"])
    left = store.client().list_objects_v2(Bucket=BUCKET, Prefix=seen["prefix"]).get("KeyCount", 0)
    assert left == 0
    stderr = capfd.readouterr().err
    assert '"__dagster_pipes_version"' not in stderr  # nothing travelled on the log stream
    logs = " ".join(str(e) for e in result.all_events)
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in logs


def test_chunks_can_be_kept_and_hold_the_pipes_messages(s3_endpoint):
    store = S3MessageStore(bucket=BUCKET, endpoint_url=s3_endpoint, region="us-east-1", upload_interval_s=0.2,
                           keep_objects=True, credentials=CREDENTIALS)
    result, seen = _run_harness(store, _spec("s3-run-2"))
    assert result.success and seen["deleted"] == 0
    client = store.client()
    lines = []
    for key in sorted(seen["objects"]):
        lines += client.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()
    methods = [json.loads(line)["method"] for line in lines if line.strip()]
    assert methods.count("report_custom_message") == 2 and methods[-1] == "closed"


def test_an_unreachable_bucket_fails_the_job_before_it_measures_and_returns_no_rows(s3_endpoint, capfd):
    store = S3MessageStore(bucket=BUCKET, endpoint_url=s3_endpoint, region="us-east-1", upload_interval_s=0.2,
                           credentials=CREDENTIALS)
    # the job is pointed at another bucket than the orchestrator reads (a misconfigured job role)
    result, seen = _run_harness(store, _spec("s3-run-3"), extra_env={"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9"})
    assert not result.success and "records" not in seen
    err = capfd.readouterr().err
    assert f"cannot write Pipes messages to s3://{BUCKET}" in err
    assert "point 1/2" not in err  # nothing was measured
