"""Training stage: per primitive, a CatBoost predictor, its evaluation and promotion; the coherent model's score.

Models travel through the predictor store (:class:`~inference_estimation.defs.resources.PredictorStore`):
``predictors`` returns the trained model, which the store keeps as a content-addressed version;
``predictor_evaluation`` and ``promoted_predictors`` receive that version as their input, with its
data version. The gate before promotion is Dagster's own: ``beats_baselines`` is a *blocking*
check, so when the predictor does not beat its baselines (or was trained on another data version
than the one scored) the run stops there and ``promoted_predictors`` does not run; the promoted
version stays. A target with too little data to train is no refusal: the check only warns (a WARN
never blocks), ``promoted_predictors`` receives None and leaves the promoted pointer alone, and the
run succeeds. When it passes, ``promoted_predictors`` moves the store's ``promoted`` pointer to
exactly the version that was scored -- a pointer, not a copy.
"""

import json

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation.defs.conditions import refresh_after_new_data
from inference_estimation.defs.resources import HomeResource, TrainingResource, predictor_store_role
from inference_estimation.defs.shared import (
    PREDICTOR_EVALUATION,
    PREDICTORS,
    TRAINING_FEATURES,
    read_training_features,
    target_partitions,
)
from inference_estimation.defs.training.config import EvaluationConfig, TrainingConfig
from inference_estimation.lib.ml.evaluation import (
    coherent_markdown,
    comparison_summary,
    comparison_table,
    comparison_verdict,
    evaluate_coherent,
    evaluate_target,
    markdown_table,
    plot_holdout,
    plot_mdape,
    promotion_decision,
)
from inference_estimation.lib.ml.modeling import TrainingDataError, frame_data_version, train_predictor
from inference_estimation.lib.ml.predictor_store import PROMOTED, TRAINED, StoredPredictor

#: Why a partition promotes nothing when its predictor could not be trained (too little data);
#: ``sweep`` reads it as a note, not a refusal.
NOTHING_TRAINED = "nothing to promote (no trained predictor)"


def _round(metrics: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}


@dg.asset(
    automation_condition=refresh_after_new_data(),
    group_name="training",
    kinds={"catboost"},
    partitions_def=target_partitions,
    deps=[TRAINING_FEATURES],
    io_manager_key="predictor_store",
    metadata=predictor_store_role(TRAINED),
    description="CatBoost predictor of one primitive (TTFT, TPOT, power, memory): log(target) offset by its "
    "physics baseline, trained on every row that informs it (measured, exact identities, e2e split into "
    "phases), with a grouped-by-model held-out score, a 90% split-conformal interval and a per-device "
    "correction; kept by the predictor store as a content-addressed version (model.cbm + card.json) "
    "with its data version.",
)
def predictors(context: dg.AssetExecutionContext, config: TrainingConfig, duckdb: DuckDBResource,
               home: HomeResource, training: TrainingResource) -> dg.Output:
    """Trains the predictor of this partition's target (or records why there is too little data).

    Runs only past the gate: the blocking range checks on the training frame (in the same run, see
    ``training_job``) stop it when the frame holds absurd rows.
    """
    target = context.partition_key
    try:
        trained = train_predictor(read_training_features(duckdb), target, n_folds=training.cv_folds, seed=config.seed)
    except TrainingDataError as exc:
        # No model is better than a model of too little data: the store drops the trained pointer.
        context.log.warning(str(exc))
        return dg.Output(None, metadata={"status": "not trained", "reason": str(exc)})
    import base64

    plot = plot_holdout(trained.oof, target, home.get().reports_dir / target / "holdout.png")
    image = f"![held-out predictions](data:image/png;base64,{base64.b64encode(plot.read_bytes()).decode()})"
    return dg.Output(trained, data_version=dg.DataVersion(trained.card["data_version"]), metadata={
        "status": "trained",
        "rows": trained.card["n_rows"],
        "models": ", ".join(trained.card["models"]),
        "hardware": len(trained.card["hardware"]),
        "sources": ", ".join(trained.card["sources"]),
        "data_version": trained.card["data_version"],
        "cv_folds": training.cv_folds,
        "label_kinds": dg.MetadataValue.json(trained.card["label_kinds"]),
        **_round({k: v for k, v in trained.card["metrics"].items() if not isinstance(v, str)}),
        "top_features": dg.MetadataValue.json(trained.card["top_features"]),
        "plot": dg.MetadataValue.md(image),
    })


@dg.asset(
    automation_condition=refresh_after_new_data(),
    group_name="training",
    kinds={"catboost"},
    partitions_def=target_partitions,
    ins={"trained": dg.AssetIn(PREDICTORS)},
    deps=[TRAINING_FEATURES],
    check_specs=[dg.AssetCheckSpec(
        "beats_baselines", asset=PREDICTOR_EVALUATION, blocking=True,
        description="The gate before promotion (blocking): the trained version was fitted on the frame scored "
        "here and beats the calibrated physics baseline and CatBoost without physics on unseen hardware (else "
        "unseen models). When it fails, promoted_predictors does not run and the promoted version stays. "
        "Only warns when there was too little data to train (nothing to promote).")],
    description="Random, leave-one-hardware-out, leave-one-model-out and leave-one-source-out scores of "
    "the primitive's predictor against a calibrated physics baseline, CatBoost without physics, "
    "HistGradientBoosting, a ridge on log features and a CatBoost + HistGradientBoosting ensemble (same folds); "
    "records the data version it scored and the promotion verdict.",
)
def predictor_evaluation(context: dg.AssetExecutionContext, config: EvaluationConfig, duckdb: DuckDBResource,
                         home: HomeResource, trained: StoredPredictor | None) -> dg.MaterializeResult:
    """Evaluates this partition's primitive, writes the table and plot, and gives the promotion verdict."""
    target = context.partition_key
    frame = read_training_features(duckdb)
    scored_version = frame_data_version(frame)
    evaluation = evaluate_target(frame, target, n_folds=config.folds, seed=config.seed, iterations=config.iterations)
    folder = home.get().reports_dir / target
    folder.mkdir(parents=True, exist_ok=True)
    table = markdown_table(evaluation)
    verdict = comparison_verdict(evaluation)
    comparison = f"#### MdAPE % by learner (same folds)\n\n{comparison_table([evaluation])}\n\n{verdict}"
    passed, reason, observed = promotion_decision(evaluation)
    # Too little data to train is a designed outcome, not a refusal: the check warns (WARN does not
    # block), promoted_predictors runs, receives None and leaves the promoted pointer where it was.
    severity = dg.AssetCheckSeverity.ERROR
    if trained is None:
        passed, reason, severity = False, NOTHING_TRAINED, dg.AssetCheckSeverity.WARN
    elif trained.data_version != scored_version:
        passed = False
        reason = (f"the predictor was trained on data version {trained.data_version} but the training "
                  f"frame is now {scored_version}; retrain first")
    payload = {"target": target, "rows": evaluation.rows, "splits": evaluation.splits, "skipped": evaluation.skipped,
               "scored_data_version": scored_version, "promotion": {"passed": passed, "reason": reason}}
    (folder / "evaluation.json").write_text(json.dumps(payload, indent=2, default=float))
    (folder / "evaluation.md").write_text(f"{table}\n\n{comparison}\n")
    metadata = {"rows": evaluation.rows, "table": dg.MetadataValue.md(table),
                "comparison": dg.MetadataValue.md(comparison), "comparison_verdict": verdict,
                "scored_data_version": scored_version, "promotion_passed": passed, "promotion_reason": reason,
                "evaluation_json": dg.MetadataValue.path(str(folder / "evaluation.json"))}
    loho = comparison_summary(evaluation).get("leave_one_hardware_out")
    if loho is not None:
        metadata["leave_one_hardware_out/best_learner"] = loho["best_learner"]
        metadata["leave_one_hardware_out/ensemble_beats_catboost"] = bool(loho["ensemble_beats_catboost"])
    if evaluation.splits:
        plot = plot_mdape(evaluation, folder / "evaluation.png")
        import base64

        metadata["plot"] = dg.MetadataValue.md(
            f"![evaluation](data:image/png;base64,{base64.b64encode(plot.read_bytes()).decode()})")
    for split, scores in evaluation.splits.items():
        for method, m in scores.items():
            for key in ("mdape_pct", "kendall_tau", "interval_coverage_90"):
                if key in m and m[key] == m[key]:
                    metadata[f"{split}/{method}/{key}"] = round(float(m[key]), 4)
    # A refusal of a trained predictor (ERROR severity, blocking) stops the run before
    # promoted_predictors; `sweep` reports it as a refusal with this reason, not as a failure.
    check = dg.AssetCheckResult(check_name="beats_baselines", passed=passed, severity=severity,
                                metadata={"reason": reason, "trained": trained is not None,
                                          "scored_data_version": scored_version,
                                          "trained_version": trained.version if trained else "none",
                                          **_round(observed)})
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


@dg.asset(
    automation_condition=refresh_after_new_data(),
    group_name="training",
    kinds={"catboost"},
    partitions_def=target_partitions,
    ins={"trained": dg.AssetIn(PREDICTORS)},
    deps=[predictor_evaluation],
    io_manager_key="predictor_store",
    metadata=predictor_store_role(PROMOTED),
    description="The predictor that `predict` uses: the store's promoted pointer, moved to the trained version "
    "predictor_evaluation scored. Runs unless its blocking beats_baselines check failed with ERROR in the same "
    "run; then, or when nothing was trained, the previously promoted version stays.",
)
def promoted_predictors(context: dg.AssetExecutionContext, trained: StoredPredictor | None) -> dg.Output:
    """Promotes the trained version of this partition's predictor (the store moves the pointer)."""
    if trained is None:  # too little data to train: the promoted pointer stays where it was
        context.log.warning(f"{context.partition_key} not promoted: {NOTHING_TRAINED}")
        return dg.Output(None, metadata={"promoted": False, "trained": False, "reason": NOTHING_TRAINED})
    return dg.Output(trained, data_version=dg.DataVersion(str(trained.data_version)), metadata={
        "promoted": True, "data_version": str(trained.data_version), "version": trained.version})


@dg.asset(
    automation_condition=refresh_after_new_data(),
    group_name="training",
    kinds={"catboost"},
    deps=[predictors, TRAINING_FEATURES],
    description="The coherent model as users get it: every answer target derived from the primitives, "
    "scored on random, leave-one-hardware-out, -model-out and -source-out splits against one regressor per "
    "target and the calibrated roofline; the k-shot curve (k measurements of an unseen device); identity "
    "residuals (0 = the answers never contradict each other).",
)
def performance_model_evaluation(context: dg.AssetExecutionContext, config: EvaluationConfig,
                                 duckdb: DuckDBResource, home: HomeResource) -> dg.MaterializeResult:
    """Evaluates the primitives + identities on every answer target and writes the tables."""
    evaluation = evaluate_coherent(read_training_features(duckdb), n_folds=config.folds, seed=config.seed,
                                   iterations=config.iterations)
    folder = home.get().reports_dir / "performance_model"
    folder.mkdir(parents=True, exist_ok=True)
    table = coherent_markdown(evaluation)
    payload = {"rows": evaluation.rows, "splits": evaluation.splits, "skipped": evaluation.skipped,
               "k_shot": {str(k): v for k, v in evaluation.k_shot.items()}, "identities": evaluation.identities,
               "labels": evaluation.labels}
    (folder / "evaluation.json").write_text(json.dumps(payload, indent=2, default=float))
    (folder / "evaluation.md").write_text(table + "\n")
    metadata: dict = {"rows": evaluation.rows, "table": dg.MetadataValue.md(table),
                      "max_identity_residual": max(evaluation.identities.values(), default=0.0),
                      "evaluation_json": dg.MetadataValue.path(str(folder / "evaluation.json"))}
    for target, methods in evaluation.splits.get("leave_one_hardware_out", {}).items():
        coherent = methods.get("coherent", {})
        for key in ("mdape_pct", "kendall_tau", "interval_coverage_90"):
            if key in coherent and coherent[key] == coherent[key]:
                metadata[f"leave_one_hardware_out/{target}/{key}"] = round(float(coherent[key]), 4)
    for k, targets in evaluation.k_shot.items():
        for target, m in targets.items():
            metadata[f"k_shot/{k}/{target}/mdape_pct"] = round(float(m["mdape_pct"]), 4)
    return dg.MaterializeResult(metadata=metadata)
