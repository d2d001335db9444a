"""The step-time model's fit: known coefficients recovered through the scheduler, campaign effects,
pickle-free files, deterministic retraining, and calibration that pins one campaign only."""

import numpy as np
import pytest

from inference_estimation.lib.ml.step_fit import fit_campaign, fit_step_model
from inference_estimation.lib.ml.step_model import StepModel, campaign_keys
from tests.lib.step_rows import synthetic_rows


def _mdape(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.median(np.abs(pred / y - 1)) * 100)


@pytest.fixture(scope="module")
def synthetic():
    slow = {"lab-b|amd-mi300x|vllm|": 0.4}
    frame = synthetic_rows(slow, noise=0.02, seed=0)
    model = fit_step_model(frame, np.ones(len(frame), dtype=bool), max_evaluations=25)
    return frame, model, slow


def test_fit_reproduces_rows_generated_through_the_scheduler(synthetic):
    frame, model, _ = synthetic
    answers = model.predict(frame, campaigns=campaign_keys(frame), as_of_year=2025.4)
    assert _mdape(answers["tpot_s"], frame["tpot_s"].to_numpy()) < 5.0
    assert _mdape(answers["ttft_s"], frame["ttft_s"].to_numpy()) < 8.0


def test_a_slow_campaign_is_told_apart_from_the_other_campaign_on_the_same_device(synthetic):
    """Two labs measured the MI300X, one 1.5x slower: the effects differ by that factor (which of
    the two is "normal" the data cannot say, so the shared part splits the difference)."""
    frame, model, slow = synthetic
    (key, shift), = slow.items()
    slow_u = model.campaign_effects[key][0]
    other_u = model.campaign_effects["lab-a|amd-mi300x|vllm|"][0]
    assert slow_u - other_u == pytest.approx(shift, abs=0.08)
    # on a device both labs measured alike, their effects are the same
    a = model.campaign_effects["lab-a|nvidia-h100-sxm-80gb|vllm|"][0]
    b = model.campaign_effects["lab-b|nvidia-h100-sxm-80gb|vllm|"][0]
    assert a == pytest.approx(b, abs=0.03)


def test_model_files_are_json_and_round_trip_to_identical_answers(synthetic, tmp_path):
    frame, model, _ = synthetic
    path = model.save(tmp_path / "step_model.json")
    assert path.read_text().lstrip().startswith("{")
    again = StepModel.load(path)
    a, b = model.predict(frame), again.predict(frame)
    for target in ("ttft_s", "tpot_s", "e2e_latency_s", "output_throughput_tok_s"):
        assert np.array_equal(a[target], b[target], equal_nan=True)


def test_retraining_the_same_data_gives_the_same_answers(synthetic):
    frame, model, _ = synthetic
    again = fit_step_model(frame, np.ones(len(frame), dtype=bool), max_evaluations=25)
    a, b = model.predict(frame), again.predict(frame)
    assert np.allclose(a["tpot_s"], b["tpot_s"], rtol=1e-9)


def test_answers_keep_the_identities_after_campaign_effects(synthetic):
    frame, model, _ = synthetic
    answers = model.predict(frame, campaigns=campaign_keys(frame))
    n_out = frame["output_tokens"].to_numpy(dtype=float)
    assert np.allclose(answers["e2e_latency_s"], answers["ttft_s"] + (n_out - 1) * answers["tpot_s"], rtol=1e-12)
    for target in ("ttft_s", "tpot_s", "e2e_latency_s", "output_throughput_tok_s"):
        assert np.all(answers[f"{target}_lower_90"] <= answers[target])
        assert np.all(answers[target] <= answers[f"{target}_upper_90"])


def test_an_unseen_campaign_gets_no_effect_and_a_wider_interval(synthetic):
    frame, model, _ = synthetic
    known = model.predict(frame.iloc[:5], campaigns=campaign_keys(frame.iloc[:5]))
    unknown = model.predict(frame.iloc[:5])
    width = lambda a: np.log(a["tpot_s_upper_90"] / a["tpot_s_lower_90"])  # noqa: E731
    assert np.all(width(unknown) > width(known))


def test_calibrating_one_campaign_moves_no_other_answer(synthetic):
    frame, model, _ = synthetic
    before = model.predict(frame, campaigns=campaign_keys(frame))
    mine = frame[(frame["hardware_key"] == "nvidia-l40s") & (frame["source"] == "lab-a")].head(5).copy()
    mine["source"] = "user"
    mine["tpot_s"] *= 1.5
    mine["ttft_s"] *= 1.5
    u, _ = fit_campaign(model, mine)
    assert u > 0.2
    after = model.predict(frame, campaigns=campaign_keys(frame))
    assert np.array_equal(before["tpot_s"], after["tpot_s"])
    user_key = campaign_keys(mine)[0]
    calibrated = model.predict(mine, campaigns=np.array([user_key] * len(mine)))
    assert _mdape(calibrated["tpot_s"], mine["tpot_s"].to_numpy()) < 10.0
