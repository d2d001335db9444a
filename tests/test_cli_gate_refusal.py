"""`sweep` tells a designed refusal of the promotion gate (one line, its reason) from a real failure."""

import dagster as dg
import pytest

from inference_estimation.cli.sweep import gate_refusal


def _run(check_passes: bool, evaluation_raises: bool = False, promoted_false: bool = False):
    @dg.asset
    def predictor_evaluation() -> None:
        if evaluation_raises:
            raise RuntimeError("a real failure")

    @dg.asset_check(asset=predictor_evaluation, blocking=True)
    def beats_baselines() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=check_passes, metadata={"reason": "MdAPE 31% > physics 30%"})

    @dg.asset(deps=[predictor_evaluation])
    def promoted_predictors() -> dg.MaterializeResult:
        if promoted_false:
            return dg.MaterializeResult(metadata={"promoted": False, "reason": "loses to CatBoost without physics"})
        return dg.MaterializeResult(metadata={"promoted": True})

    return dg.materialize([predictor_evaluation, promoted_predictors, beats_baselines],
                          raise_on_error=False, instance=dg.DagsterInstance.ephemeral())


@pytest.mark.parametrize("kwargs, expected", [
    ({"check_passes": False}, "MdAPE 31% > physics 30%"),          # the blocking check refused: designed
    ({"check_passes": True, "promoted_false": True}, "loses to CatBoost without physics"),  # refusal as data
    ({"check_passes": True}, None),                                 # promoted
    ({"check_passes": False, "evaluation_raises": True}, None),     # a real failure keeps its trace
])
def test_the_gate_refusal_is_told_from_a_real_failure(kwargs, expected):
    assert gate_refusal(_run(**kwargs)) == expected
