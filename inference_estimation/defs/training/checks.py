"""The gate before training, and the drift watch after it, both on ``marts/training_features``.

The gate re-checks the rows training is about to read (every source, one row per point) with
the same rules as the raw tables, as *blocking* checks: a failed gate stops the rest of its run
and keeps ``predictors`` from refreshing on its own. The drift check compares measurements that
arrived after a predictor was trained with its 90% interval; it only warns, since the cure
(retraining) is what the next refresh does anyway.
"""

from collections.abc import Iterator

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation import constants
from inference_estimation.defs.range_checks import range_check_results, range_check_specs
from inference_estimation.defs.resources import CatalogResource, HomeResource
from inference_estimation.defs.shared import TRAINING_FEATURES
from inference_estimation.lib.data import quality
from inference_estimation.lib.ml import drift

_MEASUREMENTS = "marts.measurements"
_TRAINING = "marts.training_features"


@dg.multi_asset_check(
    specs=range_check_specs(TRAINING_FEATURES, blocking=True,
                            grain_description="One row per workload point (point_id) in the training frame."),
    can_subset=True,
    description="The gate before training: the training frame's measurements are in range (one check per property).",
)
def training_rows_in_range(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource,
                           catalog: CatalogResource) -> Iterator[dg.AssetCheckResult]:
    """Evaluates the marts.measurements rows of every point in the training frame."""
    with duckdb.get_connection() as con:
        if not (quality.relation_exists(con, _MEASUREMENTS) and quality.relation_exists(con, _TRAINING)):
            results = {rule: quality.RuleResult(rule, True, 0, 0, None, "the marts exist (dbt has not run yet)")
                       for rule in quality.RANGE_RULES}
        else:
            results = quality.range_results(con, _MEASUREMENTS, quality.tdp_by_hardware(catalog.load()),
                                            f"point_id in (select point_id from {_TRAINING})", grain=("point_id",))
            (n,) = con.execute(f"select count(*) - count(distinct point_id) from {_TRAINING}").fetchone()
            grain = results["grain_unique"]
            grain.violating_rows += int(n)
            grain.passed = grain.passed and not n
    yield from range_check_results(context, results, TRAINING_FEATURES, "rows of the training frame")


@dg.asset_check(asset=TRAINING_FEATURES, blocking=False,
                description="Measurements newer than each promoted (else trained) predictor fall inside its 90% interval about "
                "as often as promised (warns when the share outside is improbably high: one-sided binomial test).")
def prediction_drift(duckdb: DuckDBResource, home: HomeResource) -> dg.AssetCheckResult:
    """Per target: new rows, share outside the interval, expected share, p-value."""
    from inference_estimation.lib.ml.modeling import load_predictor
    from inference_estimation.lib.ml.predict import predictor_folders

    with duckdb.get_connection() as con:
        frame = con.execute(f"select * from {_TRAINING}").df() if quality.relation_exists(con, _TRAINING) else None
    metadata: dict = {"expected_share_outside": round(1 - constants.PREDICTION_INTERVAL, 4),
                      "alpha": drift.DRIFT_ALPHA, "min_new_rows": drift.DRIFT_MIN_ROWS}
    drifted = []
    # The promoted predictor of each target (what `predict` answers with), else the latest trained one.
    for folder in predictor_folders(home.get().predictors_dir, allow_unpromoted=True).values():
        if frame is None:
            break
        model, card = load_predictor(folder)
        result = drift.prediction_drift(frame, model, card, since=card.get("trained_at"))
        target = result["target"]
        for key in ("new_rows", "outside_interval", "share_outside", "p_value"):
            metadata[f"{target}/{key}"] = result[key]
        if result["drifted"]:
            drifted.append(target)
    metadata["drifted_targets"] = ", ".join(drifted) or "none"
    return dg.AssetCheckResult(passed=not drifted, severity=dg.AssetCheckSeverity.WARN, metadata=metadata)
