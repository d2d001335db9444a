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


def test_calibrate_refuses_hardware_without_a_launcher_naming_it(tmp_path):
    out = _cli("calibrate", "--hardware", "nvidia-t4", "--dry-run", home=tmp_path / "home")
    assert out.returncode == 2 and "nvidia-t4" in out.stderr and "launcher" in out.stderr
    assert "Traceback" not in out.stderr
