"""Step-model stage: fit the step-time model on every usable public and local row, check it, promote it.

``step_model`` fits the shared efficiencies and every campaign's effects through each engine's
scheduler (:mod:`inference_estimation.lib.ml.step_fit`) and records in its metadata what it learned
(efficiencies, overheads, campaign spread), how well it reproduces the warehouse's own rows and
how long the fit took; the predictor store keeps the model as a content-addressed version. Its
blocking check ``respects_physics`` asks the model for every catalog device x model at a few
workloads and fails if any answer is faster than the physical bound; ``promoted_step_model``
receives the stored version and moves the store's promoted pointer to it (Dagster does not run it
when the check failed in the same run); ``step_calibrations`` receives the promoted version. Too
little data to fit is no failure: the check only warns and the promoted pointer stays.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation.defs.resources import CatalogResource, HomeResource, predictor_store_role
from inference_estimation.defs.shared import TRAINING_FEATURES, read_training_features
from inference_estimation.defs.step_model.config import StepModelConfig
from inference_estimation.lib.data.external.registry import all_adapters
from inference_estimation.lib.ml.modeling import frame_data_version
from inference_estimation.lib.ml.predictor_store import PROMOTED, STEP_MODEL, TRAINED, StoredPredictor
from inference_estimation.lib.ml.step_calibration import calibrations_from_rows, describe, user_rows
from inference_estimation.lib.ml.step_evaluation import compare_designs, comparison_markdown, step_usable
from inference_estimation.lib.ml.step_fit import StepFitError, fit_step_model
from inference_estimation.lib.ml.step_report import coefficient_table, physics_violations, reproduction

STEP_MODEL_KEY = dg.AssetKey("step_model")
PROMOTED_STEP_MODEL_KEY = dg.AssetKey("promoted_step_model")


@dg.asset(
    group_name="step_model",
    kinds={"scipy"},
    deps=[TRAINING_FEATURES],
    io_manager_key="predictor_store",
    metadata=predictor_store_role(TRAINED, STEP_MODEL),
    check_specs=[dg.AssetCheckSpec(
        "respects_physics", asset=STEP_MODEL_KEY, blocking=True,
        description="Every answer of the model on the catalog's device x model grid is at least its "
        "physical bound (one prompt's prefill, one sequence's decode step at peak).")],
    description="The step-time model: per-step physics over a few learned efficiencies and overheads, each "
    "engine's scheduler, and a random effect per campaign (source x hardware x engine x version), fitted on "
    "every usable row; kept by the predictor store as step_model.json (no pickle).",
)
def step_model(context: dg.AssetExecutionContext, config: StepModelConfig, duckdb: DuckDBResource,
               catalog: CatalogResource):
    """Fits the step model (the store saves it) and checks it against physics on the catalog grid."""
    frame = read_training_features(duckdb)
    shared = step_usable(frame) & ~user_rows(frame, set(all_adapters()))  # users' rows calibrate their device only
    try:
        model = fit_step_model(frame, shared, max_evaluations=config.max_evaluations)
    except StepFitError as exc:
        context.log.warning(str(exc))  # the store drops the trained pointer; the promoted one stays
        yield dg.Output(None, metadata={"status": "not trained", "reason": str(exc)})
        # Too little data is no physics violation: warn (never blocks); promotion receives None.
        yield dg.AssetCheckResult(check_name="respects_physics", passed=False, severity=dg.AssetCheckSeverity.WARN,
                                  metadata={"trained": False, "reason": str(exc)})
        return
    version = frame_data_version(frame)
    model.card["data_version"] = version
    violations = physics_violations(model, catalog.load())
    reproduced = reproduction(model, frame)
    metadata = {
        "status": "trained", "data_version": version,
        "rows": model.card["rows"], "figures": model.card["figures"], "campaigns": model.card["campaigns"],
        "fit_seconds": model.card["fit_seconds"], "parameters": model.card["parameters"],
        "campaign_spread_decode_log": round(model.campaign_sd[0], 4),
        "campaign_spread_ttft_log": round(model.campaign_sd[1], 4),
        "coefficients": dg.MetadataValue.md(coefficient_table(model)),
        **{f"in_sample/{t}/mdape_pct": round(v, 2) for t, v in reproduced.items()},
    }
    check = dg.AssetCheckResult(
        check_name="respects_physics", passed=violations["count"] == 0,
        metadata={"answers_checked": violations["checked"], "faster_than_bound": violations["count"],
                  "worst_ratio_to_bound": violations["worst_ratio"]})
    yield dg.Output(model, data_version=dg.DataVersion(version), metadata=metadata)
    yield check


@dg.asset(
    group_name="step_model",
    kinds={"scipy"},
    ins={"trained": dg.AssetIn(STEP_MODEL_KEY)},
    io_manager_key="predictor_store",
    metadata=predictor_store_role(PROMOTED, STEP_MODEL),
    description="The step model `predict` uses: the store's promoted pointer, moved to the version step_model "
    "checked (no copy). Does not run when step_model's blocking physics check failed.",
)
def promoted_step_model(context: dg.AssetExecutionContext, trained: StoredPredictor | None) -> dg.Output:
    """Promotes the step model that was just checked (or records that there is none)."""
    if trained is None:
        context.log.warning("no trained step model to promote")
        return dg.Output(None, metadata={"promoted": False, "reason": "no trained step model"})
    return dg.Output(trained, data_version=dg.DataVersion(str(trained.data_version)), metadata={
        "promoted": True, "data_version": str(trained.data_version), "version": trained.version})


@dg.asset(
    group_name="step_model",
    kinds={"scipy"},
    ins={"promoted": dg.AssetIn(PROMOTED_STEP_MODEL_KEY)},
    deps=[TRAINING_FEATURES],
    description="Each device and engine a user measured (rows of their own source), calibrated on the promoted "
    "step model: campaign effects plus a local correction that reproduces their points; one JSON per device "
    "and engine under predictors/calibrations/. Other devices' answers do not move.",
)
def step_calibrations(context: dg.AssetExecutionContext, duckdb: DuckDBResource, home: HomeResource,
                      promoted: StoredPredictor | None) -> dg.MaterializeResult:
    """Calibrates every user-measured device and engine (seconds; the shared model is not refitted)."""
    if promoted is None:
        return dg.MaterializeResult(metadata={"calibrated": 0, "reason": "no step model yet"})
    model = promoted.model
    frame = read_training_features(duckdb)
    mine = frame[user_rows(frame, set(all_adapters())) & step_usable(frame)]
    calibrations, skipped = calibrations_from_rows(model, mine)
    for cal in calibrations:
        cal.save(home.get().predictors_dir)
    for line in skipped:
        context.log.warning(f"not calibrated: {line}")
    return dg.MaterializeResult(metadata={
        "calibrated": len(calibrations), "user_rows": len(mine), "step_model_version": promoted.version,
        "devices": dg.MetadataValue.json([describe(c) for c in calibrations]),
        "not_calibrated": dg.MetadataValue.json(skipped)})


@dg.asset(
    group_name="step_model",
    kinds={"scipy"},
    deps=[step_model, TRAINING_FEATURES],
    description="The step model on unseen hardware (leave-one-hardware-out, fully stated workloads): MdAPE, "
    "share within 10%, 90%-interval coverage and Kendall tau per time target. What the main job scores; the "
    "full comparison with the previous design on every split and the calibrated-campaign split is "
    "performance_model_job (weekly) and benchmarks/accuracy.py.",
)
def step_model_evaluation(context: dg.AssetExecutionContext, config: StepModelConfig, duckdb: DuckDBResource,
                          home: HomeResource) -> dg.MaterializeResult:
    """Scores the step model on held-out hardware and writes the table."""
    frame = read_training_features(duckdb)
    frame = frame[~user_rows(frame, set(all_adapters()))]
    result = compare_designs(frame, splits=("leave_one_hardware_out",), n_folds=config.evaluation_folds,
                             max_evaluations=config.max_evaluations, include_coherent=False)
    table = comparison_markdown(result)
    folder = home.get().reports_dir / "step_model"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evaluation.md").write_text(table + "\n")
    metadata: dict = {"table": dg.MetadataValue.md(table), "seconds": dg.MetadataValue.json(result.seconds),
                      "skipped": dg.MetadataValue.json(result.skipped)}
    for split, designs in result.splits.items():
        for target, m in designs.get("step_model", {}).items():
            for key in ("mdape_pct", "interval_coverage_90", "kendall_tau", "rows"):
                if key in m and m[key] == m[key]:
                    metadata[f"{split}/{target}/{key}"] = round(float(m[key]), 4)
    return dg.MaterializeResult(metadata=metadata)
