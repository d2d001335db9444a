"""The local proof of calibration: a few planned points of an unseen model lower its error on the rest.

Runs ``tests/ops/calibration_proof.py`` in a fresh process with its own home (real harness, real
Dagster runs, seconds-scale models): train on two models, plan <= 5 points of ``llama-small-55m``'s
grid, benchmark them through ``benchmark_job``, refresh (dbt + predictors), and compare the error on
the grid points that were not calibrated, before and after (the truth measured last).
"""

import json
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POINTS = 4
#: When any run's median repeat CV is above this, the machine was too busy for timings to say
#: anything: on a 2-core box shared with other CPU work, one point's repeats spread by up to 120%
#: and the same point measured 30x slower in one run than in the next, so "the error fell" would
#: measure the neighbours' load, not calibration. Alone on an idle 2-core machine the worst run's
#: median CV is 0.15-0.16 (2-3 repeats a point), while calibration lowers the error by 2-4x; a gate
#: at 0.15 skipped the proof about half the time, so it is 0.30.
MAX_MEDIAN_LATENCY_CV = 0.30


@pytest.mark.serial  # judged on CPU timings: run alone, not beside another test worker
def test_a_calibration_run_of_planned_points_lowers_the_error_on_the_rest_of_the_grid(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "INFERENCE_ESTIMATION_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
           "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tests", "ops", "calibration_proof.py"), str(POINTS)],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-4000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    plan = result["plan"]
    assert plan["sweep"] == "proof-calibrate" and 1 <= plan["planned_points"] <= 5
    assert set(plan["points"]) == {"llama-small-55m"}  # a model the predictor had not seen measured
    assert result["calibrated_points"] == plan["planned_points"]
    assert result["scored_points"] == 12 - plan["planned_points"]
    errors = result["mdape_pct"]
    assert all(e["points"] >= result["scored_points"] - 1 for e in errors.values())
    noise = result["worst_run_median_latency_cv"]
    if noise > MAX_MEDIAN_LATENCY_CV:
        pytest.skip(f"the machine was too busy to judge timings: a run's median repeat CV was {noise:.2f} > "
                    f"{MAX_MEDIAN_LATENCY_CV} (errors {errors})")
    # The error on the points that were not calibrated falls: on average over TPOT, throughput and e2e.
    before = sum(e["before"] for e in errors.values()) / len(errors)
    after = sum(e["after"] for e in errors.values()) / len(errors)
    assert after < before, errors
