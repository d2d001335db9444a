"""The calibration planner: deterministic, cost-aware, covering, fast; the grid and explicit points."""


import numpy as np
import pandas as pd
import pytest

from inference_estimation.lib.catalog import CatalogError, load_catalog
from inference_estimation.lib.ml import calibration as cal


def grid(n_models: int = 2, batches=(1, 2, 4, 8), inputs=(32, 128, 512), outputs=(8, 64)) -> pd.DataFrame:
    """A synthetic candidate grid with the features the planner reads (log-spaced workloads)."""
    rows = []
    for m in range(n_models):
        params = 1e8 * 10 ** m
        for b in batches:
            for i in inputs:
                for o in outputs:
                    rows.append({"model_key": f"m{m}", "batch_size": b, "input_tokens": i, "output_tokens": o,
                                 "dtype": "float32", "effective_batch": b, "params": params,
                                 "weights_gb": params * 4 / 1e9, "kv_cache_gb": b * (i + o) * 1e-5,
                                 "prefill_arithmetic_intensity": b * i, "decode_arithmetic_intensity": b,
                                 "roofline_ttft_s": params * b * i * 1e-15, "roofline_tpot_s": params * 1e-12,
                                 "memory_fit_ratio": 0.1})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("estimator", cal.ESTIMATORS)
def test_the_same_inputs_give_the_same_plan_and_a_shorter_plan_is_the_start_of_a_longer(estimator):
    g = grid()
    u = np.linspace(0.5, 2.0, len(g))
    cost = cal.point_cost_s(np.full(len(g), 1.0))
    five = cal.plan_points(g, u, cost, 5, estimator=estimator)
    again = cal.plan_points(g, u, cost, 5, estimator=estimator)
    three = cal.plan_points(g, u, cost, 3, estimator=estimator)
    assert five.order == again.order and len(set(five.order)) == 5
    assert three.order == five.order[:3]
    afters = [p.expected_error_after_pct for p in five.points]
    assert five.expected_error_before_pct > afters[0] and all(a >= b - 1e-9 for a, b in zip(afters, afters[1:], strict=False))
    assert five.expected_error_after_pct == pytest.approx(afters[-1])


@pytest.mark.parametrize("estimator", cal.ESTIMATORS)
def test_of_two_identical_points_the_planner_buys_the_cheaper(estimator):
    g = grid(n_models=1)
    twin = pd.concat([g, g], ignore_index=True)
    u = np.ones(len(twin))
    cost = np.concatenate([np.full(len(g), 100.0), np.full(len(g), 10.0)])
    plan = cal.plan_points(twin, u, cost, 4, estimator=estimator)
    assert all(i >= len(g) for i in plan.order)
    assert plan.expected_cost_s == pytest.approx(40.0)


def test_the_local_plan_covers_both_models_before_repeating_one():
    g = grid(n_models=2)
    plan = cal.plan_points(g, np.ones(len(g)), np.ones(len(g)), 2, estimator="local")
    assert {p.model_key for p in plan.points} == {"m0", "m1"}


def test_with_equal_cost_and_a_small_device_offset_the_local_plan_prefers_the_more_uncertain_region():
    g = grid(n_models=2)
    u = np.where(g["model_key"] == "m1", 3.0, 0.3)
    plan = cal.plan_points(g, u, np.ones(len(g)), 1, estimator="local", offset_std=0.05)
    assert plan.points[0].model_key == "m1" and plan.points[0].uncertainty == 3.0


def test_measurements_already_made_lower_the_error_expected_before_planning():
    g = grid()
    u = np.ones(len(g))
    fresh = cal.plan_points(g, u, np.ones(len(g)), 2)
    seen = cal.plan_points(g, u, np.ones(len(g)), 2, measured=g.iloc[:6])
    assert seen.measured_before == 6 and seen.expected_error_before_pct < fresh.expected_error_before_pct


def test_plan_reports_cost_in_dollars_when_the_price_is_known_and_says_why():
    g = grid(n_models=1)
    plan = cal.plan_points(g, np.ones(len(g)), np.full(len(g), 3600.0), 2, price_per_hour_usd=2.0)
    assert plan.expected_cost_usd == pytest.approx(4.0)
    assert all(p.expected_cost_usd == pytest.approx(2.0) and "uncertainty" in p.why for p in plan.points)
    assert "expected cost (USD)" in plan.markdown()
    assert cal.plan_points(g, np.ones(len(g)), np.ones(len(g)), 1).expected_cost_usd is None


def test_bad_arguments_are_refused_naming_them():
    g = grid(n_models=1)
    with pytest.raises(ValueError, match="k must be"):
        cal.plan_points(g, np.ones(len(g)), np.ones(len(g)), 0)
    with pytest.raises(ValueError, match="cost_s"):
        cal.plan_points(g, np.ones(len(g)), np.ones(3), 1)
    with pytest.raises(ValueError, match="estimator"):
        cal.plan_points(g, np.ones(len(g)), np.ones(len(g)), 1, estimator="oracle")


@pytest.mark.parametrize("estimator", cal.ESTIMATORS)
def test_five_points_from_ten_thousand_candidates_plan_within_five_seconds(estimator):
    g = grid(n_models=12, batches=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), inputs=(16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192),
             outputs=(1, 8, 16, 32, 64, 128, 256, 512, 1024))
    assert len(g) >= 10_000
    u = np.random.default_rng(0).uniform(0.2, 2.0, len(g))
    plan = cal.plan_points(g, u, cal.point_cost_s(np.random.default_rng(1).uniform(0.1, 30, len(g))), 5,
                           estimator=estimator)
    assert len(plan.points) == 5  # its time: benchmarks/calibration_speed.py


def test_unknown_latency_is_never_free():
    cost = cal.point_cost_s(np.array([1.0, np.nan, 10.0]))
    assert cost[1] == cost.max() > cost[0]


def test_distance_uncertainty_grows_away_from_the_training_rows():
    g = grid(n_models=1, batches=(1, 2), inputs=(32,), outputs=(8,))
    far = grid(n_models=1, batches=(512,), inputs=(8192,), outputs=(1024,))
    near = g.iloc[:1]
    u = cal.distance_uncertainty(g, pd.concat([near, far], ignore_index=True), neighbours=1)
    assert u[0] == pytest.approx(0.0) and u[1] > 1.0


def test_local_correction_is_zero_without_measurements_and_follows_a_constant_offset():
    g = grid(n_models=1)
    model = cal.DeviceErrorModel.fit(g, np.ones(len(g)))
    assert np.all(cal.local_correction(model, g.iloc[:0], np.array([]), g) == 0)
    measured = g.iloc[::3]
    precise = cal.DeviceErrorModel.fit(g, np.ones(len(g)), noise_std=0.02)
    corr = cal.local_correction(precise, measured, np.full(len(measured), 0.2), g)
    assert np.all(np.abs(corr[::3] - 0.2) < 0.02)  # at the measured points: what they measured
    assert np.all((corr > 0.1) & (corr < 0.22))  # elsewhere: towards it, less far from them
    shrunk = cal.local_correction(model, measured, np.full(len(measured), 0.2), g)  # noisier: shrunk towards 0
    assert np.all((shrunk > 0.05) & (shrunk < 0.22)) and shrunk.mean() < corr.mean()


def test_corners_design_starts_at_the_low_and_high_corners():
    g = grid(n_models=1)
    order = cal.corner_order(g, 2)
    assert g.iloc[order[0]][["batch_size", "input_tokens", "output_tokens"]].tolist() == [1, 32, 8]
    assert g.iloc[order[1]][["batch_size", "input_tokens", "output_tokens"]].tolist() == [8, 512, 64]
    assert len(set(cal.corner_order(g, 20))) == 20


def test_candidate_grid_is_the_sweeps_points_for_each_model_that_runs():
    catalog = load_catalog(overlay_dirs=[])
    frame, notes = cal.candidate_grid(catalog, "local-cpu", "test-tiny")
    sweep = catalog.sweep("test-tiny")
    assert len(frame) == len(sweep.models) * 4 and not notes
    assert set(frame["model_key"]) == set(sweep.models)
    assert {"roofline_tpot_s", "hardware_key"} <= set(frame.columns)
    _, notes = cal.candidate_grid(catalog, "local-cpu", "test-tiny", models=["llama-3.1-70b"])
    assert notes and "llama-3.1-70b" in notes[0]


def test_plan_for_hardware_without_data_or_predictors_still_plans_by_coverage(tmp_path):
    catalog = load_catalog(overlay_dirs=[])
    result = cal.plan_for_hardware(catalog, tmp_path, pd.DataFrame(columns=["hardware_key", "model_key"]),
                                   "local-cpu", 3, sweep="test-tiny")
    assert result.plan is not None and len(result.plan.points) == 3 and result.measured_rows == 0
    assert sum(len(v) for v in result.points_by_model().values()) == 3
    assert any("no trained predictor" in n for n in result.notes) and len(result.plan_id) == 12
    nowhere = cal.plan_for_hardware(catalog, tmp_path, pd.DataFrame(columns=["hardware_key", "model_key"]),
                                    "nvidia-t4", 3)
    assert nowhere.plan is None and "no sweep covers" in nowhere.notes[0]


def test_explicit_points_are_validated_naming_point_and_field():
    from inference_estimation.lib.sweeps.planning import explicit_points

    assert explicit_points(None) is None
    points = explicit_points([{"batch_size": 2, "input_tokens": 8, "output_tokens": 4, "dtype": "float32"}])
    assert points[0].batch_size == 2
    with pytest.raises(CatalogError, match=r"points\[1\].*batch_size"):
        explicit_points([{"batch_size": 1, "input_tokens": 8, "output_tokens": 4},
                         {"batch_size": 0, "input_tokens": 8, "output_tokens": 4}])
    with pytest.raises(CatalogError, match="must not be empty"):
        explicit_points([])


def test_explicit_points_replace_the_grid_and_points_that_do_not_fit_are_left_out():
    from benchmark_jobs.spec import WorkloadPoint
    from inference_estimation.lib.sweeps.planning import build_job_spec, skip_reason

    catalog = load_catalog(overlay_dirs=[])
    model, hw, sweep = catalog.model("gpt2-small"), catalog.hw("local-cpu"), catalog.sweep("test-tiny")
    points = (WorkloadPoint(batch_size=2, input_tokens=16, output_tokens=4),)
    assert skip_reason(model, hw, sweep, points) is None
    spec = build_job_spec("r", model, hw, sweep, None, points)
    assert spec.points == points
    long = (WorkloadPoint(batch_size=1, input_tokens=100_000, output_tokens=4),)
    assert "exceeds" in skip_reason(model, hw, sweep, long)


def test_predict_reports_the_measurements_of_hardware_and_model_an_answer_was_trained_on():
    from inference_estimation.lib.ml.predict import measurements_seen

    ttft = {"rows_by_hardware": {"local-cpu": 7, "nvidia-a10": 40}, "rows_by_model": {"gpt2-small": 5}}
    tpot = {"rows_by_hardware": {"local-cpu": 9}, "rows_by_model": {"gpt2-small": 3}}
    assert measurements_seen([ttft], "local-cpu", "gpt2-small") == {"hardware": 7, "model": 5}
    # a derived answer is as well measured as its weakest primitive; an unseen device has 0
    assert measurements_seen([ttft, tpot], "local-cpu", "gpt2-small") == {"hardware": 7, "model": 3}
    assert measurements_seen([ttft, tpot], "nvidia-t4", "llama-3.1-8b") == {"hardware": 0, "model": 0}
    # a card written before the field existed: unknown, not 0
    assert measurements_seen([ttft, {"hardware": ["local-cpu"]}], "local-cpu", "gpt2-small") is None
