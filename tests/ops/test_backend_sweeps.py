"""Sweeps of the tabular and serving backends through Dagster, end to end on this machine.

A catalog overlay declares the sweep; the benchmark partition is materialized with the real
local launcher (the harness as a subprocess, rows back through Pipes) into an isolated home's
DuckDB file. The serving sweep loads a real server process on loopback that generates token by
token (``tests/benchmark_jobs/support/tiny_openai_server.py``).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import dagster as dg
import pytest

from tests.ops.conftest import count_rows, materialize_partition, metadata

SERVING_KEY = "serving-canary-7f3a"  # the server answers 401 without it
SUPPORT = Path(__file__).resolve().parents[1] / "benchmark_jobs" / "support" / "tiny_openai_server.py"

TABULAR_OVERLAY = """
# The package's tabular models (their keys are partitions), made tiny for the test by deep merge.
models:
  - {key: xgboost-reg-200x8, tabular: {n_features: 8, n_trees: 20, max_depth: 4}}
  - {key: sklearn-rf-100x10, tabular: {n_features: 8, n_trees: 10, max_depth: 4}}
sweeps:
  - name: tabular-tiny
    backend: tabular
    models: [xgboost-reg-200x8, sklearn-rf-100x10]
    hardware: [local-cpu]
    batch_sizes: [1, 256]
    backend_options: {train_rows: 300, min_trial_s: 0.005}
    threads: 1
    warmup_runs: 1
    min_trials: 3
    max_trials: 5
    target_cv: 0.5
    point_timeout_s: 60
"""


@pytest.mark.parametrize(("model", "engine"), [("xgboost-reg-200x8", "xgboost"), ("sklearn-rf-100x10", "scikit-learn")])
def test_tabular_sweep_lands_rows_per_batch_with_row_throughput_and_no_token_metrics(isolated_home, model, engine):
    (isolated_home.catalog_dir / "tabular.yaml").write_text(TABULAR_OVERLAY)
    result = materialize_partition(isolated_home, model, sweep="tabular-tiny")
    assert result.success, result.all_events
    meta = metadata(result)
    assert meta["status"] == "measured" and meta["rows_landed"] == 2
    rows = count_rows(isolated_home, "select list(struct_pack(engine, batch_size, row_throughput_rows_s, "
                                     "e2e_latency_s, output_throughput_tok_s, input_tokens, status) "
                                     "order by batch_size) from raw.benchmark_runs")
    assert [r["batch_size"] for r in rows] == [1, 256] and {r["status"] for r in rows} == {"ok"}
    assert {r["engine"] for r in rows} == {engine}
    for r in rows:
        assert r["row_throughput_rows_s"] == pytest.approx(r["batch_size"] / r["e2e_latency_s"], rel=0.05)
        assert r["output_throughput_tok_s"] is None and r["input_tokens"] is None


def test_an_llm_in_a_tabular_sweep_is_skipped_with_the_reason_and_nothing_launches(isolated_home):
    (isolated_home.catalog_dir / "tabular.yaml").write_text(TABULAR_OVERLAY.replace("[xgboost-reg-200x8, sklearn-rf-100x10]",
                                                                                    "[xgboost-reg-200x8, gpt2-small]"))
    result = materialize_partition(isolated_home, "gpt2-small", sweep="tabular-tiny")
    assert result.success
    meta = metadata(result)
    assert meta["status"] == "skipped" and "measures tabular models" in meta["skip_reason"]
    assert count_rows(isolated_home) == 0


@pytest.fixture(scope="module")
def tiny_server_url():
    spec = importlib.util.spec_from_file_location("tiny_openai_server", SUPPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with module.running_server("--max-requests", "200", "--max-seconds", "180", "--vocab-size", "50257",
                                 "--api-key", SERVING_KEY) as url:
        yield url


def test_serving_sweep_through_dagster_loads_a_real_loopback_server_with_the_secret_key(
        isolated_home, tiny_server_url, monkeypatch):
    monkeypatch.setenv("INFERENCE_ESTIMATION_SERVING_API_KEY", SERVING_KEY)
    (isolated_home.catalog_dir / "serving.yaml").write_text(f"""
sweeps:
  - name: serving-tiny
    backend: openai-server
    models: [gpt2-small]
    hardware: [local-cpu]
    input_tokens: [16]
    output_tokens: [6]
    serving: {{base_url: "{tiny_server_url}", num_requests: 6, request_rates_rps: [30.0], concurrencies: [null, 2],
               ttft_limit_s: 60.0, engine_name: tiny-server}}
    warmup_runs: 0
    min_trials: 1
    max_trials: 1
    point_timeout_s: 120
""")
    from inference_estimation.defs.resources import harness_secrets_from_env

    result = materialize_partition(isolated_home, "gpt2-small", sweep="serving-tiny",
                                   resources={"harness_secrets": harness_secrets_from_env()})
    assert result.success, result.all_events
    assert metadata(result)["rows_landed"] == 2
    rows = count_rows(isolated_home, "select list(struct_pack(mode, concurrency, request_rate_rps, engine, ttft_s, "
                                     "tpot_s, e2e_p99_s, goodput_rps, request_throughput_rps, status) "
                                     "order by concurrency nulls first) from raw.benchmark_runs")
    assert [r["concurrency"] for r in rows] == [None, 2] and {r["mode"] for r in rows} == {"serving"}
    assert {r["engine"] for r in rows} == {"tiny-server"} and {r["status"] for r in rows} == {"ok"}
    for r in rows:
        assert r["request_rate_rps"] == 30.0 and 0 < r["ttft_s"] and 0 < r["tpot_s"] and r["e2e_p99_s"] > r["ttft_s"]
        assert r["goodput_rps"] == pytest.approx(r["request_throughput_rps"])  # a generous limit: every request good
    logs = " ".join(str(e) for e in result.all_events)
    assert SERVING_KEY not in logs


def test_serving_sweep_without_the_key_fails_with_the_servers_answer_and_lands_nothing(
        isolated_home, tiny_server_url, monkeypatch):
    monkeypatch.delenv("INFERENCE_ESTIMATION_SERVING_API_KEY", raising=False)
    (isolated_home.catalog_dir / "serving.yaml").write_text(
        "sweeps:\n  - {name: serving-nokey, backend: openai-server, models: [gpt2-small], hardware: [local-cpu], "
        f"input_tokens: [16], output_tokens: [6], serving: {{base_url: '{tiny_server_url}', num_requests: 2}}, "
        "warmup_runs: 0, min_trials: 1, max_trials: 1}\n")
    instance = dg.DagsterInstance.ephemeral()
    start = time.monotonic()
    result = materialize_partition(isolated_home, "gpt2-small", sweep="serving-nokey", instance=instance)
    assert not result.success
    assert time.monotonic() - start < 50  # a 401 is an answer: no waiting for the server to come up
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("HTTP 401" in m and "missing or wrong API key" in m for m in messages)  # the reason, in the run log
    assert not isolated_home.warehouse_path.exists() or count_rows(isolated_home) == 0


def test_rows_of_a_partition_can_travel_through_object_storage_and_leave_no_objects(isolated_home, s3_endpoint):
    """The launcher with the pipes_message_store resource set: the harness writes its messages to
    the bucket (moto's S3 server on loopback stands in for the cloud's object storage)."""
    from inference_estimation.defs.resources import PipesMessageStore
    from tests.conftest import S3_TEST_BUCKET, S3_TEST_CREDENTIALS

    (isolated_home.catalog_dir / "tabular.yaml").write_text(TABULAR_OVERLAY)
    store = PipesMessageStore(s3_bucket=S3_TEST_BUCKET, s3_endpoint_url=s3_endpoint, s3_region="us-east-1",
                              s3_prefix="ops-test", upload_interval_s=0.2,
                              aws_access_key_id=S3_TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=S3_TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    result = materialize_partition(isolated_home, "sklearn-rf-100x10", sweep="tabular-tiny",
                                   resources={"pipes_message_store": store})
    assert result.success
    meta = metadata(result)
    assert meta["pipes_transport"] == "s3" and meta["rows_landed"] == 2 == count_rows(isolated_home)
    client = store.store().client()
    assert client.list_objects_v2(Bucket=S3_TEST_BUCKET, Prefix="ops-test/").get("KeyCount", 0) == 0
    assert S3_TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in " ".join(str(e) for e in result.all_events)
    assert S3_TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in str(meta)
