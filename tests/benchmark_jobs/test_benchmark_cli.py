"""The command line: standalone JSON lines, the Pipes protocol (without an orchestrator), errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from benchmark_jobs import cli
from benchmark_jobs.schema import MeasurementRecord
from benchmark_jobs.spec import WorkloadPoint

POINTS = [
    WorkloadPoint(batch_size=1, input_tokens=16, output_tokens=4),
    WorkloadPoint(batch_size=2, input_tokens=16, output_tokens=4),
]


def _run_module(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmark_jobs", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_standalone_run_writes_one_valid_record_per_point_to_the_out_file_and_progress_to_stderr(
    tmp_path, make_spec, spec_as_dict
):
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec_as_dict(make_spec(POINTS, min_trials=1, max_trials=2))))
    out_path = tmp_path / "rows.jsonl"
    completed = _run_module(["run", "--spec", str(spec_path), "--out", str(out_path)])
    assert completed.returncode == 0, completed.stderr
    records = [MeasurementRecord.from_dict(json.loads(line)) for line in out_path.read_text().splitlines()]
    assert [(r.batch_size, r.status) for r in records] == [(1, "ok"), (2, "ok")]
    assert completed.stdout == ""
    assert "point 2/2" in completed.stderr


def test_pipes_run_sends_each_record_as_a_measurement_custom_message_and_closes_cleanly(
    tmp_path, make_spec, spec_as_dict
):
    from dagster_pipes import encode_param

    messages_path = tmp_path / "messages.jsonl"
    context = {
        "asset_keys": ["benchmark_runs"],
        "code_version_by_asset_key": None,
        "provenance_by_asset_key": None,
        "partition_key": "local-cpu|tiny",
        "partition_key_range": None,
        "partition_time_window": None,
        "run_id": "dagster-run",
        "job_name": None,
        "retry_number": 0,
        "extras": {"spec": spec_as_dict(make_spec(POINTS, min_trials=1, max_trials=2))},
    }
    env = {
        "DAGSTER_PIPES_CONTEXT": encode_param({"data": context}),
        "DAGSTER_PIPES_MESSAGES": encode_param({"path": str(messages_path)}),
    }
    completed = _run_module(["run", "--pipes"], env)
    assert completed.returncode == 0, completed.stderr
    messages = [json.loads(line) for line in messages_path.read_text().splitlines()]
    custom = [m["params"]["payload"] for m in messages if m["method"] == "report_custom_message"]
    assert [p["type"] for p in custom] == ["measurement", "measurement"]
    records = [MeasurementRecord.from_dict(p["record"]) for p in custom]
    assert [r.batch_size for r in records] == [1, 2]
    assert any(m["method"] == "log" and "point 1/2" in m["params"]["message"] for m in messages)
    assert messages[-1] == {
        "__dagster_pipes_version": messages[-1]["__dagster_pipes_version"],
        "method": "closed",
        "params": {},
    }


def test_pipes_run_with_an_invalid_spec_reports_the_exception_and_exits_non_zero(tmp_path):
    from dagster_pipes import encode_param

    messages_path = tmp_path / "messages.jsonl"
    context = {
        "asset_keys": None,
        "code_version_by_asset_key": None,
        "provenance_by_asset_key": None,
        "partition_key": None,
        "partition_key_range": None,
        "partition_time_window": None,
        "run_id": "dagster-run",
        "job_name": None,
        "retry_number": 0,
        "extras": {"spec": {"run_id": "r"}},
    }
    env = {
        "DAGSTER_PIPES_CONTEXT": encode_param({"data": context}),
        "DAGSTER_PIPES_MESSAGES": encode_param({"path": str(messages_path)}),
    }
    completed = _run_module(["run", "--pipes"], env)
    assert completed.returncode == cli.EXIT_FATAL
    assert "spec field 'model' is required" in completed.stderr
    closed = json.loads(messages_path.read_text().splitlines()[-1])
    assert closed["method"] == "closed" and closed["params"]["exception"]["name"] == "SpecError"


def test_pipes_mode_outside_a_dagster_launch_refuses_to_run(monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_PIPES_CONTEXT", raising=False)
    monkeypatch.delenv("DAGSTER_PIPES_MESSAGES", raising=False)
    assert cli.main(["run", "--pipes"]) == cli.EXIT_FATAL
    assert "not launched by Dagster Pipes" in capsys.readouterr().err


def test_standalone_run_with_an_invalid_spec_file_names_the_field_and_exits_non_zero(tmp_path, capsys):
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps({"run_id": "r"}))
    assert cli.main(["run", "--spec", str(spec_path)]) == cli.EXIT_FATAL
    assert "spec field 'model' is required" in capsys.readouterr().err


def test_standalone_run_of_a_model_that_cannot_be_built_exits_non_zero_without_rows(
    tmp_path, make_spec, spec_as_dict, capsys
):
    spec = spec_as_dict(make_spec(POINTS))
    spec["model"]["family"] = "not-a-family"
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    out_path = tmp_path / "rows.jsonl"
    assert cli.main(["run", "--spec", str(spec_path), "--out", str(out_path)]) == cli.EXIT_FATAL
    err = capsys.readouterr().err
    assert "cannot build model 'tiny-gpt2'" in err and "not-a-family" in err
    assert len(err) < 1000  # one readable line, not the list of every transformers model type
    assert out_path.read_text() == ""


def test_standalone_run_without_out_writes_only_json_records_to_stdout(
    make_spec, spec_as_dict, tmp_path, capsys
):
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(
        json.dumps(spec_as_dict(make_spec(POINTS[:1], min_trials=1, max_trials=1, warmup_runs=0)))
    )
    assert cli.main(["run", "--spec", str(spec_path)]) == cli.EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert MeasurementRecord.from_dict(json.loads(lines[0])).status == "ok"


def test_standalone_run_with_a_csv_out_writes_a_canonical_csv_that_import_user_csv_reads(
    make_spec, spec_as_dict, tmp_path
):
    from inference_estimation.lib.data.external.canonical import read_canonical_csv

    spec_path, out_path = tmp_path / "spec.json", tmp_path / "rows.csv"
    spec_path.write_text(
        json.dumps(spec_as_dict(make_spec(POINTS, min_trials=1, max_trials=1, warmup_runs=0)))
    )
    assert cli.main(["run", "--spec", str(spec_path), "--out", str(out_path)]) == cli.EXIT_OK
    rows = read_canonical_csv(out_path)  # every column a record field, every cell of its type
    assert [(r["batch_size"], r["status"]) for r in rows] == [(1, "ok"), (2, "ok")]
    assert all(r["e2e_latency_s"] > 0 and r["hardware_key"] for r in rows)
