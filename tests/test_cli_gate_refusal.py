"""`sweep` tells a designed refusal of the promotion gate (one line, its reason) from a real failure."""

import dagster as dg
import pytest

from inference_estimation.cli.sweep import gate_refusal


def _run(check_passes: bool, evaluation_raises: bool = False, nothing_trained: bool = False):
    @dg.asset
    def predictor_evaluation() -> None:
        if evaluation_raises:
            raise RuntimeError("a real failure")

    @dg.asset_check(asset=predictor_evaluation, blocking=True)
    def beats_baselines() -> dg.AssetCheckResult:
        if nothing_trained:  # too little data: the check warns, which never blocks
            return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                                       metadata={"reason": "nothing to promote (no trained predictor)"})
        return dg.AssetCheckResult(passed=check_passes, metadata={"reason": "MdAPE 31% > physics 30%"})

    @dg.asset(deps=[predictor_evaluation])
    def promoted_predictors() -> dg.MaterializeResult:
        if nothing_trained:
            return dg.MaterializeResult(metadata={"promoted": False, "trained": False, "reason": "nothing to promote"})
        return dg.MaterializeResult(metadata={"promoted": True})

    return dg.materialize([predictor_evaluation, promoted_predictors, beats_baselines],
                          raise_on_error=False, instance=dg.DagsterInstance.ephemeral())


@pytest.mark.parametrize("kwargs, expected", [
    ({"check_passes": False}, "MdAPE 31% > physics 30%"),          # the blocking check refused: designed
    ({"check_passes": False, "nothing_trained": True}, None),      # too little data: a successful run
    ({"check_passes": True}, None),                                 # promoted
    ({"check_passes": False, "evaluation_raises": True}, None),     # a real failure keeps its trace
])
def test_the_gate_refusal_is_told_from_a_real_failure(kwargs, expected):
    result = _run(**kwargs)
    assert gate_refusal(result) == expected
    if kwargs.get("nothing_trained"):
        assert result.success and result.asset_materializations_for_node("promoted_predictors")
