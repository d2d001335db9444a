"""``predict`` with a promoted step model: time targets from the step model and scheduler, the
identities exact, the saturation batch and the software year said, calibration served by default."""

import numpy as np
import pandas as pd
import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.ml.predict import predict, resolve_setup, workload
from inference_estimation.lib.ml.step_calibration import calibrate
from inference_estimation.lib.ml.step_fit import fit_step_model
from inference_estimation.lib.ml.step_model import StepModel
from inference_estimation.lib.ml.step_serving import step_model_path
from inference_estimation.lib.physics.features import prediction_row
from tests.lib.step_rows import synthetic_rows


@pytest.fixture(scope="module")
def predictors_dir(tmp_path_factory):
    frame = synthetic_rows({}, noise=0.02, seed=1)
    model = fit_step_model(frame, np.ones(len(frame), dtype=bool), max_evaluations=15)
    folder = tmp_path_factory.mktemp("predictors")
    model.save(step_model_path(folder, promoted=True))
    return folder


def test_predict_answers_time_targets_from_the_step_model_with_exact_identities(predictors_dir):
    catalog = load_catalog(strict=False)
    out = predict(catalog, predictors_dir, "llama-3.1-8b", "nvidia-h100-sxm-80gb",
                  workload(None, 1024, 512, mode="serving", concurrency=32))
    ttft, tpot, e2e = (out[t]["value"] for t in ("ttft_s", "tpot_s", "e2e_latency_s"))
    assert e2e == pytest.approx(ttft + 511 * tpot, rel=1e-12)
    assert out["output_throughput_tok_s"]["value"] == pytest.approx(32 * 512 / e2e, rel=1e-9)
    for target in ("ttft_s", "tpot_s", "e2e_latency_s", "output_throughput_tok_s"):
        assert out[target]["lower_90"] <= out[target]["value"] <= out[target]["upper_90"]
    assert "energy_per_output_token_j" not in out  # no power predictor in this folder: no energy


def test_batch_max_is_the_engines_saturation_batch_and_the_setup_says_so(predictors_dir):
    catalog = load_catalog(strict=False)
    setup = resolve_setup(catalog, "llama-3.1-8b", "nvidia-h100-sxm-80gb", workload("max", 1024, 1024))
    from inference_estimation.lib.ml.predict import predict_setup

    out = predict_setup(setup, predictors_dir)
    notes = " ".join(setup.notes)
    assert "saturation batch" in notes and "newest vllm software" in notes
    small = predict(catalog, predictors_dir, "llama-3.1-8b", "nvidia-h100-sxm-80gb", workload(8, 1024, 1024))
    assert out["output_throughput_tok_s"]["value"] > 4 * small["output_throughput_tok_s"]["value"]


def test_a_request_rate_is_served_below_capacity_and_flagged_above(predictors_dir):
    catalog = load_catalog(strict=False)
    low = predict(catalog, predictors_dir, "llama-3.1-8b", "nvidia-h100-sxm-80gb",
                  workload(None, 512, 256, mode="serving", request_rate_rps=2.0))
    assert low["output_throughput_tok_s"]["value"] == pytest.approx(2.0 * 256)
    assert "concurrency_in_flight" in low["ttft_s"]
    high = predict(catalog, predictors_dir, "llama-3.1-8b", "nvidia-h100-sxm-80gb",
                   workload(None, 512, 256, mode="serving", request_rate_rps=5000.0))
    assert any("saturates" in w for w in high["ttft_s"].get("warnings", []))


def test_a_calibrated_device_is_answered_with_its_calibration_without_naming_the_campaign(predictors_dir, tmp_path):
    model = StepModel.load(step_model_path(predictors_dir, promoted=True))
    mine = synthetic_rows({}, noise=0.0, seed=2)
    mine = mine[(mine["hardware_key"] == "nvidia-l40s") & (mine["model_key"] == "llama-3.1-8b")].head(5).copy()
    mine["source"] = "user-lab"
    mine[["ttft_s", "tpot_s"]] *= 2.0
    folder = tmp_path / "p"
    model.save(step_model_path(folder, promoted=True))
    cal = calibrate(model, mine)
    assert cal.u > 0.5 and cal.v > 0.5
    cal.save(folder)
    catalog = load_catalog(strict=False)
    work = workload(None, 1024, 512, mode="serving", concurrency=4)
    before = predict(catalog, predictors_dir, "llama-3.1-8b", "nvidia-l40s", work)
    after = predict(catalog, folder, "llama-3.1-8b", "nvidia-l40s", work)
    assert after["tpot_s"]["value"] / before["tpot_s"]["value"] > 1.6
    other_before = predict(catalog, predictors_dir, "llama-3.1-8b", "nvidia-h100-sxm-80gb", work)
    other_after = predict(catalog, folder, "llama-3.1-8b", "nvidia-h100-sxm-80gb", work)
    assert other_after["tpot_s"]["value"] == other_before["tpot_s"]["value"]


def test_calibration_reproduces_the_given_points_and_fades_far_from_them(predictors_dir):
    model = StepModel.load(step_model_path(predictors_dir, promoted=True))
    rows = synthetic_rows({}, noise=0.0, seed=3)
    mine = rows[(rows["hardware_key"] == "amd-mi300x") & (rows["model_key"] == "llama-3.1-8b")
                & (rows["mode"] == "offline")].head(4).copy()
    rng = np.random.default_rng(0)
    mine["tpot_s"] *= np.exp(rng.normal(0.3, 0.15, len(mine)))  # a setup slower, and unevenly so
    mine["ttft_s"] *= np.exp(rng.normal(-0.2, 0.15, len(mine)))
    cal = calibrate(model, mine)
    answers = model.predict(mine, adjust=cal.adjustment(mine))
    for target in ("tpot_s", "ttft_s"):
        error = np.abs(answers[target] / mine[target].to_numpy() - 1)
        assert np.median(error) < 0.03
    far = mine.head(1).copy()
    far["batch_size"], far["input_tokens"] = 1024, 16
    local = cal.adjustment(far).local_log["tpot_s"]
    assert abs(local[0]) < 0.01  # far from every point only the campaign effect remains


def test_fp4_weights_on_h100_predict_no_faster_prefill_than_fp8_there_while_b200_gains(predictors_dir):
    """Hopper has no FP4 math: 4-bit weights compute in bfloat16 there (weight-only), FP8 at the FP8 peak."""
    catalog = load_catalog(strict=False)

    def ttft(hardware: str, dtype: str) -> float:
        out = predict(catalog, predictors_dir, "llama-3.1-70b", hardware, workload(8, 4096, 16, dtype=dtype,
                                                                                   device_count=8))
        return out["ttft_s"]["value"]

    assert ttft("nvidia-h100-sxm-80gb", "fp4") >= ttft("nvidia-h100-sxm-80gb", "fp8")
    assert ttft("nvidia-b200", "fp4") < ttft("nvidia-b200", "fp8")


@pytest.mark.parametrize(("engine", "dtype", "devices"), [("tensorrt-llm", "fp8", 1), ("vllm", "bfloat16", 1),
                                                          ("sglang", "bfloat16", 1), ("vllm", "bfloat16", 2)])
def test_batch_max_is_one_number_the_setup_the_memory_line_and_the_running_batch(predictors_dir, engine, dtype,
                                                                                 devices):
    from inference_estimation.lib.ml.predict import Predictors
    from inference_estimation.lib.physics.features import prediction_row

    catalog = load_catalog(strict=False)
    setup = resolve_setup(catalog, "llama-3.1-8b", "nvidia-h100-sxm-80gb",
                          workload("max", 1000, 1000, engine=engine, dtype=dtype, device_count=devices))
    batch = setup.work["batch_size"]
    assert setup.memory.max_batch == batch  # the engine runs that many at once, by the same KV rule
    note = next(n for n in setup.notes if n.startswith("batch 'max'"))
    assert f"saturation batch: {batch} sequences running at once" in note
    _, answers = Predictors.load(predictors_dir).answer(
        __import__("pandas").DataFrame([prediction_row(setup.model, setup.hardware, setup.work)]))
    assert answers["running_batch"].iloc[0] == batch  # one replica (tensor parallel over the devices given)


def test_an_offline_batch_larger_than_the_kv_cache_holds_says_it_runs_in_waves(predictors_dir):
    from inference_estimation.lib.ml.predict import predict_setup

    catalog = load_catalog(strict=False)
    setup = resolve_setup(catalog, "llama-3.1-8b", "nvidia-h100-sxm-80gb", workload(4096, 1000, 1000, engine="vllm"))
    held = setup.memory.max_batch
    assert held < 4096  # the memory rule's capacity: 2,000-token sequences of 8B on one H100
    result = predict_setup(setup, predictors_dir)
    waves = [n for n in setup.notes if "waves" in n]
    assert len(waves) == 1 and f"holds {held} of the 4096 sequences at once" in waves[0]
    assert f"runs in {-(-4096 // held)} waves" in waves[0]
    assert not any("run as one batch" in n for n in setup.notes)  # the note of a batch the cache holds whole
    assert result["output_throughput_tok_s"]["value"] > 0
    small = resolve_setup(catalog, "llama-3.1-8b", "nvidia-h100-sxm-80gb", workload(8, 1000, 1000, engine="vllm"))
    predict_setup(small, predictors_dir)
    assert not any("waves" in n for n in small.notes) and any("run as one batch" in n for n in small.notes)


def test_every_note_predict_prints_reaches_the_batch_notes_column(predictors_dir, tmp_path):
    import pandas as pd

    from inference_estimation.lib.ml.batch_predict import predict_batch
    from inference_estimation.lib.ml.predict import predict_setup

    catalog = load_catalog(strict=False)
    configs, out = tmp_path / "q.csv", tmp_path / "out.csv"
    configs.write_text("model,hardware,batch_size,input_tokens,output_tokens,engine,dtype,mode,request_rate_rps\n"
                       "llama-3.1-8b,H100,max,1000,1000,tensorrt-llm,fp8,,\n"
                       "llama-3.1-8b,H100,,512,256,vllm,,serving,2\n")
    predict_batch(catalog, predictors_dir, configs, out)
    batch = pd.read_csv(out, keep_default_na=False)
    for i, work in enumerate([workload("max", 1000, 1000, engine="tensorrt-llm", dtype="fp8"),
                              workload(None, 512, 256, engine="vllm", mode="serving", request_rate_rps=2.0)]):
        setup = resolve_setup(catalog, "llama-3.1-8b", "H100", work)
        result = predict_setup(setup, predictors_dir)
        printed = setup.notes + list(dict.fromkeys(w for p in result.values() for w in p.get("warnings", [])))
        assert batch.loc[i, "notes"] == " | ".join(printed)
    assert "saturation batch: " in batch.loc[0, "notes"] and "newest vllm software" in batch.loc[1, "notes"]
    assert int(batch.loc[0, "resolved_batch_size"]) == int(batch.loc[0, "running_batch"])
    assert "requests in flight at that rate" in batch.loc[1, "notes"]


def test_a_request_rate_draws_the_power_of_the_requests_it_keeps_in_flight(predictors_dir, tmp_path):
    import shutil

    from inference_estimation.lib.ml.modeling import save_predictor, train_predictor
    from inference_estimation.lib.physics.features import feature_frame

    catalog = load_catalog(strict=False)
    rows = [prediction_row(catalog.model(m), catalog.hw(h), workload(b, 512, 256, engine="vllm", dtype="bfloat16"))
            for m in ("llama-3.1-8b", "qwen2-7b", "mistral-7b-v0.1")
            for h in ("nvidia-h100-sxm-80gb", "nvidia-a100-sxm4-80gb") for b in (1, 2, 4, 8, 16, 32, 64, 128)]
    feats = feature_frame(rows)
    frame = pd.concat([pd.DataFrame(rows)[["model_key", "hardware_key"]], feats], axis=1)
    frame["power_source"] = "nvml-power"
    frame["avg_power_w"] = 200.0 + 3.0 * feats["batch_size"]  # power grows with the sequences running
    folder = tmp_path / "predictors"
    shutil.copytree(predictors_dir, folder)
    save_predictor(train_predictor(frame, "avg_power_w", n_folds=2), folder / "avg_power_w")

    def at(rate: float) -> dict:
        return predict(catalog, folder, "llama-3.1-8b", "nvidia-h100-sxm-80gb",
                       workload(None, 512, 256, mode="serving", request_rate_rps=rate), allow_unpromoted=True)

    low, high = at(1.0), at(40.0)
    assert high["ttft_s"]["concurrency_in_flight"] > 4 * low["ttft_s"]["concurrency_in_flight"]
    assert high["avg_power_w"]["value"] > low["avg_power_w"]["value"]  # not one request's power at every rate
    for out in (low, high):
        assert out["energy_per_output_token_j"]["value"] == pytest.approx(
            out["avg_power_w"]["value"] / out["output_throughput_tok_s"]["value"], rel=1e-9)


def test_a_ttft_is_explained_by_prefill_and_a_tpot_by_the_decode_step(predictors_dir, capsys):
    from inference_estimation.cli.predict import _print_step_explanation
    from inference_estimation.lib.ml.step_serving import explain_step, load_step_model

    catalog = load_catalog(strict=False)
    model = load_step_model(predictors_dir, False)[0]
    setup = resolve_setup(catalog, "llama-3.1-8b", "nvidia-h100-sxm-80gb", workload(8, 2000, 256))
    rows = pd.DataFrame([{**prediction_row(setup.model, setup.hardware, setup.work),
                          "hardware_key": setup.hardware.key, "source": "local"}])
    ttft = explain_step(model, rows, "ttft_s")
    assert ttft["prompt_tokens"] == 2000 and 0 < ttft["prompt_alone_s"] <= ttft["prediction"]
    _print_step_explanation(ttft)
    text = capsys.readouterr().out
    assert "one 2000-token prompt alone prefills in" in text and "the batch's 8 prompts arrive at once" in text
    assert "decode step" not in text and "a server adds" not in text  # offline: no server
    _print_step_explanation(explain_step(model, rows, "tpot_s"))
    assert "decode step" in capsys.readouterr().out


def test_a_calibration_plan_costs_each_point_by_the_step_models_own_e2e(predictors_dir):
    import pandas as pd

    from inference_estimation.lib.ml.calibration import axes_sweep, plan_for_hardware, with_device_in_sweep

    catalog = load_catalog(strict=False)
    hardware = "nvidia-h100-pcie-80gb"  # no launcher and no sweep of its own: planned over the GPU axes
    sweep = axes_sweep(catalog, hardware)
    result = plan_for_hardware(with_device_in_sweep(catalog, hardware, sweep), predictors_dir, pd.DataFrame(),
                               hardware, 4, sweep=sweep, models=["llama-3.1-8b"])
    costs = [p.expected_cost_s for p in result.plan.points]
    # a folder with only the step model: its e2e prices each point (batch 1 and batch 32 differ),
    # not the flat cost of a point whose time is unknown
    assert len(costs) == 4 and len(set(round(c, 6) for c in costs)) > 1
    assert not any("unknown" in n for n in result.notes)


def test_the_batch_file_carries_the_memory_rules_estimate_that_predict_prints(predictors_dir, tmp_path):
    import pandas as pd

    from inference_estimation.lib.ml.batch_predict import predict_batch
    from inference_estimation.lib.ml.predict import Predictors
    from inference_estimation.lib.ml.setup import memory_estimate
    from inference_estimation.lib.physics.features import prediction_row

    catalog = load_catalog(strict=False)
    configs, out = tmp_path / "q.csv", tmp_path / "out.csv"
    configs.write_text("model,hardware,batch_size,input_tokens,output_tokens,engine,mode,concurrency,request_rate_rps\n"
                       "llama-3.1-8b,H100,8,1000,1000,vllm,,,\n"
                       "llama-3.1-8b,H100,4096,1000,1000,vllm,,,\n"
                       "llama-3.1-8b,H100,,512,256,vllm,serving,16,\n"
                       "llama-3.1-8b,H100,,512,256,vllm,serving,,5\n")
    predict_batch(catalog, predictors_dir, configs, out)
    batch = pd.read_csv(out)
    works = [workload(8, 1000, 1000, engine="vllm"), workload(4096, 1000, 1000, engine="vllm"),
             workload(None, 512, 256, engine="vllm", mode="serving", concurrency=16),
             workload(None, 512, 256, engine="vllm", mode="serving", request_rate_rps=5.0)]
    for i, work in enumerate(works):
        setup = resolve_setup(catalog, "llama-3.1-8b", "H100", work)
        features, _ = Predictors.load(predictors_dir).answer(pd.DataFrame([prediction_row(setup.model, setup.hardware,
                                                                                           setup.work)]))
        in_flight = float(features["concurrency"].iloc[0]) if i == 3 else None
        assert batch.loc[i, "memory_rule_gb"] == pytest.approx(memory_estimate(setup, in_flight)["value"], abs=0.006)
    assert batch.loc[1, "memory_rule_gb"] == pytest.approx(77.31, abs=0.05)  # capped at vLLM's reservation on H100
