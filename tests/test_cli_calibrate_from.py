"""``calibrate --from mine.csv``: a user's measurements calibrate their device in seconds, through the CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest

from inference_estimation.lib.ml.step_fit import fit_step_model
from inference_estimation.lib.ml.step_serving import step_model_path
from tests.lib.step_rows import synthetic_rows

MINE = """source,model_key,hardware_key,engine,dtype,mode,concurrency,input_tokens,output_tokens,ttft_s,tpot_s
my-lab,meta-llama/Llama-3.1-8B-Instruct,NVIDIA L40S,vllm,bf16,serving,1,1024,256,0.09,0.024
my-lab,meta-llama/Llama-3.1-8B-Instruct,NVIDIA L40S,vllm,bf16,serving,8,1024,256,0.21,0.029
my-lab,meta-llama/Llama-3.1-8B-Instruct,NVIDIA L40S,vllm,bf16,serving,32,1024,256,0.55,0.041
my-lab,meta-llama/Llama-3.1-8B-Instruct,NVIDIA L40S,vllm,bf16,serving,128,1024,256,2.60,0.060
"""


def _cli(*args, home):
    return subprocess.run([sys.executable, "-m", "inference_estimation.cli", *args, "--home", str(home)],
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    frame = synthetic_rows({}, noise=0.02, seed=5)
    root = tmp_path_factory.mktemp("home")
    fit_step_model(frame, np.ones(len(frame), dtype=bool), max_evaluations=15).save(
        step_model_path(root / "predictors", promoted=True))
    return root


def _predict(home, concurrency):
    out = _cli("predict", "--model", "llama-3.1-8b", "--hardware", "NVIDIA L40S", "--mode", "serving", "--concurrency",
               str(concurrency), "--input-tokens", "1024", "--output-tokens", "256", "--format", "json", home=home)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_calibrate_from_a_csv_reproduces_the_measured_points_and_interpolates_between(home, tmp_path):
    mine = tmp_path / "mine.csv"
    mine.write_text(MINE)
    out = _cli("calibrate", "--from", str(mine), "--format", "json", home=home)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert [d["hardware"] for d in body["calibrated"]] == ["nvidia-l40s"] and body["seconds"] < 10
    at_8, at_32, at_16 = _predict(home, 8), _predict(home, 32), _predict(home, 16)
    assert at_8["predictions"]["tpot_s"]["value"] == pytest.approx(0.029, rel=0.03)
    assert at_32["predictions"]["ttft_s"]["value"] == pytest.approx(0.55, rel=0.03)
    assert 0.029 < at_16["predictions"]["tpot_s"]["value"] < 0.041
    assert any("calibrated to your measurements" in n for n in at_16["notes"])


def test_calibrate_from_a_bad_csv_names_every_bad_cell_and_writes_nothing(home, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(MINE.replace("vllm,bf16,serving,8", "warp-drive,fp6,serving,8"))
    out = _cli("calibrate", "--from", str(bad), home=home)
    assert out.returncode == 2
    assert "'warp-drive'" in out.stderr and "'fp6'" in out.stderr and "line 3" in out.stderr
    assert not (home / "predictors" / "calibrations" / "nvidia-l40s__warp-drive.json").exists()
