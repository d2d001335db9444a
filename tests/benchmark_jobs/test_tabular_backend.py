"""Tabular models (XGBoost, CatBoost, scikit-learn) trained in-process, timed on predict."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmark_jobs.backends.tabular_backend import TabularArchitecture, synthetic_data
from benchmark_jobs.runner import BenchmarkSetupError, run_spec
from benchmark_jobs.spec import ModelSpec, tabular_points

ENGINES = {"xgboost": "xgboost", "catboost": "catboost", "sklearn": "scikit-learn"}


def _tabular_spec(make_spec, family: str, rows=(1, 64), **architecture):
    model = ModelSpec(
        key=f"{family}-tiny",
        hf_id=None,
        family=family,
        architecture={"n_features": 8, "n_trees": 10, "max_depth": 3, **architecture},
    )
    spec = make_spec(list(tabular_points(list(rows))), model=model, min_energy_window_s=0.05)
    return dataclasses.replace(spec, backend="tabular", backend_options={"train_rows": 300})


@pytest.mark.parametrize("family", ["xgboost", "catboost", "sklearn"])
def test_each_tabular_library_is_trained_in_process_and_timed_per_batch_of_rows(make_spec, family):
    library = {"sklearn": "sklearn"}.get(family, family)
    module = pytest.importorskip(library)
    records = run_spec(_tabular_spec(make_spec, family), lambda r: None, lambda m: None)
    assert [r.status for r in records] == ["ok", "ok"], [r.error for r in records]
    for record, rows in zip(records, (1, 64), strict=False):
        assert (record.engine, record.engine_version) == (ENGINES[family], module.__version__)
        assert (record.batch_size, record.input_tokens, record.output_tokens, record.prompt_type) == (rows, None, None, None)
        assert record.row_throughput_rows_s == pytest.approx(rows / record.e2e_latency_s)
        assert record.e2e_p50_s <= record.e2e_p90_s <= record.e2e_p99_s
        assert record.output_throughput_tok_s is None and record.ttft_s is None and record.tpot_s is None
        assert record.energy_j > 0 and record.energy_per_output_token_j is None
        assert record.peak_memory_gb > 0 and record.n_trials >= 2


def test_a_classifier_and_a_sklearn_histogram_booster_run_too(make_spec):
    spec = _tabular_spec(make_spec, "sklearn", rows=(16,), task="classification", n_classes=3, estimator="hist_gradient_boosting")
    (record,) = run_spec(spec, lambda r: None, lambda m: None)
    assert record.status == "ok", record.error


def test_synthetic_classes_are_balanced_and_the_regression_target_depends_on_the_features():
    arch = TabularArchitecture(family="catboost", n_features=4, n_trees=1, max_depth=1, task="classification", n_classes=4)
    x, y = synthetic_data(np.random.default_rng(0), 4000, arch)
    assert x.shape == (4000, 4) and x.dtype == np.float32
    assert np.bincount(y).tolist() == pytest.approx([1000] * 4, abs=2)
    x, y = synthetic_data(np.random.default_rng(0), 4000, dataclasses.replace(arch, task="regression"))
    assert abs(np.corrcoef(np.sin(x[:, 0]), y)[0, 1]) > 0.05


@pytest.mark.parametrize(
    ("family", "architecture", "message"),
    [
        ("lightgbm", {}, "tabular family 'lightgbm' is not supported"),
        ("sklearn", {"n_leaves": 3}, "unknown tabular architecture field"),
        ("sklearn", {"n_trees": 0}, "'n_trees' must be a positive integer"),
    ],
)
def test_an_invalid_tabular_model_is_fatal_before_anything_is_measured(make_spec, family, architecture, message):
    with pytest.raises(BenchmarkSetupError, match=message):
        run_spec(_tabular_spec(make_spec, family, **architecture), lambda r: None, lambda m: None)


def test_tabular_models_refuse_features_other_than_float32_before_measuring(make_spec):
    spec = _tabular_spec(make_spec, "sklearn", rows=(4,))
    spec = dataclasses.replace(spec, points=(dataclasses.replace(spec.points[0], dtype="bfloat16"),))
    with pytest.raises(BenchmarkSetupError, match="float32 features"):
        run_spec(spec, lambda r: None, lambda m: None)


def test_sub_millisecond_calls_are_timed_as_loops_of_calls_reporting_the_mean_per_call():
    from benchmark_jobs.backends.tabular_backend import MAX_CALLS_PER_TRIAL, TabularBackend, calls_per_trial

    assert calls_per_trial(0.0002, 0.01) == 50 and calls_per_trial(0.5, 0.01) == 1
    assert calls_per_trial(0.0, 0.01) == MAX_CALLS_PER_TRIAL and calls_per_trial(1e-9, 0.01) == MAX_CALLS_PER_TRIAL
    pytest.importorskip("catboost")
    backend = TabularBackend()
    model = ModelSpec(key="cb", hf_id=None, family="catboost",
                      architecture={"n_features": 8, "n_trees": 10, "max_depth": 3})
    backend.train_rows, backend.min_trial_s = 300, 0.02
    backend.load(model, "float32", "cpu", "random", threads=1)
    (point,) = tabular_points([1])
    timing = backend.run(point)
    assert timing.calls > 1  # a 10-tree model predicts one row in far less than 20 ms
    assert timing.duration_s >= 0.02 * 0.5  # about min_trial_s (a trial can run faster than the calibration)
    assert timing.e2e_latency_s == pytest.approx(timing.duration_s / timing.calls)
