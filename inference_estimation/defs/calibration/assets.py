"""Calibration stage: the next k benchmark points of one device, planned from the promoted predictors."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation.defs.calibration.config import CalibrationConfig
from inference_estimation.defs.conditions import refresh_after_new_data
from inference_estimation.defs.partitions import hardware_partitions
from inference_estimation.defs.resources import CatalogResource, HomeResource
from inference_estimation.defs.shared import PREDICTORS, TRAINING_FEATURES, read_training_features

#: The calibration plan asset (per benchmarkable hardware); the sensor and ``calibrate`` read its metadata.
NEXT_BENCHMARKS = "next_benchmarks"


def _training_frame(duckdb: DuckDBResource):
    """The training frame, or an empty one before the marts were ever built (a fresh home can plan)."""
    import duckdb as duckdb_module
    import pandas as pd

    try:
        return read_training_features(duckdb)
    except duckdb_module.CatalogException:
        return pd.DataFrame(columns=["hardware_key", "model_key"])


@dg.asset(
    name=NEXT_BENCHMARKS,
    group_name="calibration",
    kinds={"python", "catboost"},
    partitions_def=hardware_partitions,
    deps=[TRAINING_FEATURES, PREDICTORS],
    automation_condition=refresh_after_new_data(),
    description="The next k benchmark points of one device: from its sweep's grid (x the models that fit), "
    "the points that most reduce the predictor's expected error on the device per unit of cost (predicted "
    "run time x price per hour), with why (uncertainty, expected cost) and the expected error before and "
    "after measuring them. calibration_sensor launches them; `inference-estimation calibrate` prints them.",
)
def next_benchmarks(context: dg.AssetExecutionContext, config: CalibrationConfig, duckdb: DuckDBResource,
                    catalog: CatalogResource, home: HomeResource) -> dg.MaterializeResult:
    """Plans this hardware partition's calibration points (lib.ml.calibration.plan_for_hardware)."""
    from inference_estimation.lib.ml.calibration import plan_for_hardware

    hardware_key = context.partition_key
    result = plan_for_hardware(catalog.for_run(context.log), home.get().predictors_dir, _training_frame(duckdb),
                               hardware_key, config.points, sweep=config.sweep, method=config.uncertainty,
                               estimator=config.estimator, models=config.models)
    for note in result.notes:
        context.log.info(note)
    plan = result.plan
    metadata: dict = {
        "hardware": result.hardware_key, "sweep": result.sweep or "none", "k": result.k,
        "measured_rows": result.measured_rows,
        "measured_rows_by_model": dg.MetadataValue.json(result.measured_rows_by_model),
        "plan_id": result.plan_id or "none", "notes": "\n".join(result.notes) or "none",
        "points": dg.MetadataValue.json(result.points_by_model()),
        "serving_points": dg.MetadataValue.json(result.serving_points()),
    }
    if plan is not None:
        metadata.update({
            "planned_points": len(plan.points), "candidates": plan.candidates,
            "expected_error_before_pct": round(plan.expected_error_before_pct, 2),
            "expected_error_after_pct": round(plan.expected_error_after_pct, 2),
            "expected_cost_s": round(plan.expected_cost_s, 1),
            "expected_cost_usd": round(plan.expected_cost_usd, 4) if plan.expected_cost_usd is not None else "unknown",
            "uncertainty_method": plan.uncertainty_method, "estimator": plan.estimator,
            "planning_s": round(plan.planning_s, 4),
            "plan": dg.MetadataValue.md(plan.markdown()),
            "why": dg.MetadataValue.json([{"model": p.model_key, "batch_size": p.batch_size,
                                           "input_tokens": p.input_tokens, "output_tokens": p.output_tokens,
                                           "why": p.why} for p in plan.points]),
        })
    else:
        metadata["planned_points"] = 0
    return dg.MaterializeResult(metadata=metadata)
