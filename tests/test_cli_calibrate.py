"""`inference-estimation calibrate`: the plan through Dagster, printed; --dry-run benchmarks nothing."""

import json
import os
import subprocess
import sys


def _cli(*args, home):
    env = {**os.environ, "INFERENCE_ESTIMATION_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    return subprocess.run([sys.executable, "-m", "inference_estimation.cli", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=240, env=env)


def test_calibrate_dry_run_prints_k_points_with_why_and_records_the_plan_without_benchmarking(tmp_path):
    home = tmp_path / "home"
    out = _cli("calibrate", "--hardware", "local-cpu", "--points", "3", "--sweep", "test-tiny", "--dry-run",
               "--format", "json", home=home)
    assert out.returncode == 0, out.stderr[-3000:]
    plan = json.loads(out.stdout)
    assert plan["hardware"] == "local-cpu" and plan["sweep"] == "test-tiny" and plan["planned_points"] == 3
    assert sum(len(points) for points in plan["points"].values()) == 3
    assert set(plan["points"]) <= {"gpt2-small", "llama-small-55m"}
    assert plan["expected_error_after_pct"] < plan["expected_error_before_pct"]
    assert len(plan["why"]) == 3 and all("uncertainty" in w["why"] for w in plan["why"])
    # planned through Dagster (the materialization is in the home's instance), nothing benchmarked
    assert (home / "dagster").is_dir()
    assert not list((home / "parquet").rglob("*.parquet"))

    text = _cli("calibrate", "--hardware", "localhost", "--points", "2", "--sweep", "test-tiny", "--dry-run",
                home=home)
    assert text.returncode == 0, text.stderr[-3000:]
    assert "calibration plan for local-cpu" in text.stdout and "Expected error on the grid" in text.stdout
    assert text.stdout.count("| float32 |") == 2


def test_calibrate_refuses_to_benchmark_hardware_without_a_launcher_pointing_at_dry_run(tmp_path):
    out = _cli("calibrate", "--hardware", "nvidia-t4", home=tmp_path / "home")
    assert out.returncode == 2 and "nvidia-t4" in out.stderr and "launcher" in out.stderr
    assert "--dry-run" in out.stderr and "Traceback" not in out.stderr


def test_calibrate_dry_run_plans_a_device_without_a_launcher_with_serving_points_and_the_next_step(tmp_path):
    home = tmp_path / "home"
    out = _cli("calibrate", "--hardware", "NVIDIA L40S", "--points", "3", "--dry-run", "--format", "json", home=home)
    assert out.returncode == 0, out.stderr[-3000:]
    plan = json.loads(out.stdout)
    assert plan["hardware"] == "nvidia-l40s" and plan["planned_points"] == 3
    assert {p["concurrency"] for p in plan["serving_points"]} == {1, 8, 32}
    assert {p["model"] for p in plan["serving_points"]} == set(plan["points"])
    # the offline points as harness specs, the exact commands and the CSV's columns, then the import
    assert len(plan["specs"]) == len(plan["points"]) and all(os.path.isfile(p) for p in plan["specs"])
    spec = json.loads(open(plan["specs"][0]).read())
    assert spec["hardware_key"] == "nvidia-l40s" and spec["points"]
    assert "python -m benchmark_jobs run --spec" in plan["next_step"] and "--out" in plan["next_step"]
    assert "import user-csv" in plan["next_step"] and "model_key, hardware_key" in plan["next_step"]
    assert not list(home.rglob("*.parquet"))  # nothing benchmarked
