"""The predictor store in Dagster runs: trained models reach their dependents as inputs, a failed
blocking check stops promotion, a passing one moves the promoted pointer (no copy).

The promotion assets are the code location's own; their upstream assets are stand-ins with the
same keys, partitions and store role, so each case decides whether the blocking check passes.
"""

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from catboost import CatBoostRegressor

from inference_estimation.cli.sweep import gate_refusal
from inference_estimation.defs.resources import PredictorStore, predictor_store_role
from inference_estimation.defs.shared import PREDICTOR_EVALUATION, PREDICTORS, target_partitions
from inference_estimation.defs.step_model.assets import promoted_step_model
from inference_estimation.defs.training.assets import NOTHING_TRAINED, promoted_predictors
from inference_estimation.lib.ml import predictor_store as store
from inference_estimation.lib.ml.modeling import TrainedPredictor
from inference_estimation.lib.ml.predict import stored_primitives
from inference_estimation.lib.ml.predictor_store import PROMOTED, STEP_MODEL, TRAINED, StoredPredictor
from inference_estimation.lib.ml.step_fit import fit_step_model
from inference_estimation.lib.ml.step_serving import load_step_model
from tests.lib.step_rows import synthetic_rows


def _trained(data_version: str, seed: int = 0) -> TrainedPredictor:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x": rng.normal(size=30)})
    model = CatBoostRegressor(iterations=5, depth=2, verbose=False, random_seed=seed).fit(X, X["x"])
    return TrainedPredictor("tpot_s", model, {"target": "tpot_s", "data_version": data_version}, pd.DataFrame())


def _training_run(predictors_dir, beats_baselines: bool, data_version: str = "frame-1", seed: int = 0,
                  seen: dict | None = None, trains: bool = True) -> dg.ExecuteInProcessResult:
    """A training run of one target: predictors, predictor_evaluation (blocking beats_baselines), promotion.

    ``trains=False``: too little data, so predictors returns None and the check only warns, as the
    real predictor_evaluation does.
    """

    @dg.asset(key=PREDICTORS, partitions_def=target_partitions, io_manager_key="predictor_store",
              metadata=predictor_store_role(TRAINED))
    def predictors() -> dg.Output:
        if not trains:
            return dg.Output(None, metadata={"status": "not trained"})
        return dg.Output(_trained(data_version, seed), data_version=dg.DataVersion(data_version))

    @dg.asset(key=PREDICTOR_EVALUATION, partitions_def=target_partitions, ins={"trained": dg.AssetIn(PREDICTORS)},
              check_specs=[dg.AssetCheckSpec("beats_baselines", asset=PREDICTOR_EVALUATION, blocking=True)])
    def predictor_evaluation(trained: StoredPredictor | None) -> dg.MaterializeResult:
        if seen is not None:
            seen["evaluated"] = trained
        if trained is None:
            return dg.MaterializeResult(check_results=[dg.AssetCheckResult(
                check_name="beats_baselines", passed=False, severity=dg.AssetCheckSeverity.WARN,
                metadata={"reason": NOTHING_TRAINED, "trained": False})])
        return dg.MaterializeResult(check_results=[dg.AssetCheckResult(
            check_name="beats_baselines", passed=beats_baselines, metadata={"reason": "MdAPE 31% > physics 30%"})])

    return dg.materialize([predictors, predictor_evaluation, promoted_predictors], partition_key="tpot_s",
                          resources={"predictor_store": PredictorStore(predictors_dir=str(predictors_dir))},
                          instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def test_the_trained_version_reaches_the_evaluation_as_an_input_with_its_data_version(tmp_path):
    seen: dict = {}
    result = _training_run(tmp_path, beats_baselines=True, seen=seen)
    assert result.success
    trained = store.read_pointer(tmp_path, TRAINED, "tpot_s")
    assert seen["evaluated"].version == trained.version and seen["evaluated"].data_version == "frame-1"
    assert seen["evaluated"].card["target"] == "tpot_s" and hasattr(seen["evaluated"].model, "predict")
    stored = result.asset_materializations_for_node("predictors")[0].metadata
    assert stored["store/version"].value == trained.version


def test_a_failing_blocking_check_stops_promotion_and_keeps_the_promoted_version(tmp_path):
    assert _training_run(tmp_path, beats_baselines=True).success
    promoted = store.read_pointer(tmp_path, PROMOTED, "tpot_s")

    result = _training_run(tmp_path, beats_baselines=False, data_version="frame-2", seed=1)
    assert not result.success and gate_refusal(result) == "MdAPE 31% > physics 30%"  # `sweep`: a note, not a failure
    assert not result.asset_materializations_for_node("promoted_predictors")  # Dagster never ran it
    assert store.read_pointer(tmp_path, TRAINED, "tpot_s").data_version == "frame-2"
    assert store.read_pointer(tmp_path, PROMOTED, "tpot_s") == promoted  # predict still serves frame-1
    assert stored_primitives(tmp_path) == {"tpot_s": (promoted.folder, True)}


def test_a_passing_blocking_check_promotes_exactly_the_trained_version_by_pointer(tmp_path):
    result = _training_run(tmp_path, beats_baselines=True)
    assert result.success and gate_refusal(result) is None
    trained = store.read_pointer(tmp_path, TRAINED, "tpot_s")
    promoted = store.read_pointer(tmp_path, PROMOTED, "tpot_s")
    assert promoted.version == trained.version and promoted.folder == trained.folder  # one folder, two pointers
    assert [p.name for p in (tmp_path / "store" / "tpot_s").iterdir()] == [trained.version]
    assert not (tmp_path / "promoted").exists()  # nothing copied into the old layout
    meta = result.asset_materializations_for_node("promoted_predictors")[0]
    assert meta.metadata["promoted"].value is True and meta.metadata["version"].value == trained.version
    assert meta.tags["dagster/data_version"] == "frame-1"


def test_nothing_trained_is_no_failed_run_and_keeps_the_promoted_version(tmp_path):
    assert _training_run(tmp_path, beats_baselines=True).success
    promoted = store.read_pointer(tmp_path, PROMOTED, "tpot_s")

    result = _training_run(tmp_path, beats_baselines=True, trains=False)
    assert result.success and gate_refusal(result) is None  # the UI shows no failed run; `sweep` no refusal
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    meta = result.asset_materializations_for_node("promoted_predictors")[0].metadata
    assert meta["promoted"].value is False and meta["trained"].value is False
    assert store.read_pointer(tmp_path, TRAINED, "tpot_s") is None  # no model of too little data
    assert store.read_pointer(tmp_path, PROMOTED, "tpot_s") == promoted  # the pointer did not move


@pytest.fixture(scope="module")
def step_model():
    frame = synthetic_rows({}, noise=0.02, seed=1)
    model = fit_step_model(frame, np.ones(len(frame), dtype=bool), max_evaluations=5)
    model.card["data_version"] = "frame-1"
    return model


@pytest.mark.parametrize("respects_physics", [True, False])
def test_the_step_model_is_promoted_only_past_its_blocking_physics_check(tmp_path, step_model, respects_physics):
    @dg.asset(key="step_model", io_manager_key="predictor_store", metadata=predictor_store_role(TRAINED, STEP_MODEL),
              check_specs=[dg.AssetCheckSpec("respects_physics", asset="step_model", blocking=True)])
    def stand_in_step_model():
        yield dg.Output(step_model, data_version=dg.DataVersion("frame-1"))
        yield dg.AssetCheckResult(check_name="respects_physics", passed=respects_physics)

    result = dg.materialize([stand_in_step_model, promoted_step_model], instance=dg.DagsterInstance.ephemeral(),
                            resources={"predictor_store": PredictorStore(predictors_dir=str(tmp_path))},
                            raise_on_error=False)
    assert result.success == respects_physics
    assert store.read_pointer(tmp_path, TRAINED, STEP_MODEL).data_version == "frame-1"
    model, promoted = load_step_model(tmp_path, allow_unpromoted=False)
    assert promoted == respects_physics and (model is not None) == respects_physics
