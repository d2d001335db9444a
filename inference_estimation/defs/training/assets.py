"""Training stage: per primitive, a CatBoost predictor, its evaluation and promotion; the coherent model's score.

Artifacts travel through Dagster: ``predictors`` records its model file, card and data version in
its materialization; ``predictor_evaluation`` records the data version it scored and its verdict
(the ``beats_baselines`` check); ``promoted_predictors`` promotes exactly that version when the
verdict passed, and otherwise materializes a *refusal* (``promoted: false`` and the reason,
logged as a warning) -- an expected outcome, not a failed run.
"""

import json
import shutil

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation.defs.conditions import refresh_after_new_data
from inference_estimation.defs.resources import HomeResource
from inference_estimation.defs.shared import (
    PREDICTOR_EVALUATION,
    PREDICTORS,
    TRAINING_FEATURES,
    latest_metadata,
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
from inference_estimation.lib.ml.modeling import (
    TrainingDataError,
    frame_data_version,
    save_predictor,
    train_predictor,
)


def failed_gate_checks(instance: dg.DagsterInstance) -> list[str]:
    """Names of the gate's blocking checks on the training frame whose latest evaluation failed
    with ERROR severity (what stops a run in Dagster; a WARN-severity failure does not).

    A blocking check stops only the rest of its own run; this carries the gate to training runs
    started later (by hand, a backfill). A check never evaluated (a fresh instance, marts not built
    through Dagster yet) does not block.
    """
    from inference_estimation.defs.training.checks import training_rows_in_range

    failed = []
    for spec in training_rows_in_range.check_specs:
        if not spec.blocking:
            continue
        # The newest *evaluated* execution: a later run that planned the check but never ran it
        # (dbt failed first) must not hide a failure.
        history = instance.event_log_storage.get_asset_check_execution_history(spec.key, limit=20)
        record = next((r for r in history if r.status.value in ("SUCCEEDED", "FAILED")), None)
        if record is None or record.status.value != "FAILED" or record.event is None:
            continue
        evaluation = record.event.dagster_event.event_specific_data  # the AssetCheckEvaluation
        if getattr(evaluation, "severity", dg.AssetCheckSeverity.ERROR) == dg.AssetCheckSeverity.ERROR:
            failed.append(spec.name)  # a WARN-severity failure (e.g. latency_cv_stable) never blocks
    return sorted(failed)


def _round(metrics: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}


@dg.asset(
    automation_condition=refresh_after_new_data(),
    group_name="training",
    kinds={"catboost"},
    partitions_def=target_partitions,
    deps=[TRAINING_FEATURES],
    description="CatBoost predictor of one primitive (TTFT, TPOT, power, memory): log(target) offset by its "
    "physics baseline, trained on every row that informs it (measured, exact identities, e2e split into "
    "phases), with a grouped-by-model held-out score, a 90% split-conformal interval and a per-device "
    "correction; saved as model.cbm + card.json, both recorded with the data version.",
)
def predictors(context: dg.AssetExecutionContext, config: TrainingConfig, duckdb: DuckDBResource,
               home: HomeResource) -> dg.MaterializeResult:
    """Trains the predictor of this partition's target (or records why there is too little data)."""
    target = context.partition_key
    failed = failed_gate_checks(context.instance)
    if failed:
        # Blocking checks stop their own run; a training run started later (by hand, a backfill)
        # must not train past a gate that failed on the current training frame either.
        raise dg.Failure(
            description=f"not training {target}: the latest evaluation of blocking check(s) "
            f"{', '.join(failed)} on {TRAINING_FEATURES.to_user_string()} failed; fix the data and rebuild "
            "the marts (transform_job), which re-runs the gate",
            metadata={"failed_gate_checks": failed})
    folder = home.get().predictors_dir / target
    try:
        trained = train_predictor(read_training_features(duckdb), target, n_folds=config.cv_folds, seed=config.seed)
    except TrainingDataError as exc:
        # No model is better than a model of too little data: remove any stale one.
        shutil.rmtree(folder, ignore_errors=True)
        context.log.warning(str(exc))
        return dg.MaterializeResult(metadata={"status": "not trained", "reason": str(exc)})
    paths = save_predictor(trained, folder)
    import base64

    plot = plot_holdout(trained.oof, target, home.get().reports_dir / target / "holdout.png")
    image = f"![held-out predictions](data:image/png;base64,{base64.b64encode(plot.read_bytes()).decode()})"
    return dg.MaterializeResult(data_version=dg.DataVersion(trained.card["data_version"]), metadata={
        "status": "trained",
        "rows": trained.card["n_rows"],
        "models": ", ".join(trained.card["models"]),
        "hardware": len(trained.card["hardware"]),
        "sources": ", ".join(trained.card["sources"]),
        "data_version": trained.card["data_version"],
        "label_kinds": dg.MetadataValue.json(trained.card["label_kinds"]),
        "model_path": dg.MetadataValue.path(str(paths["model"])),
        "card_path": dg.MetadataValue.path(str(paths["card"])),
        **_round({k: v for k, v in trained.card["metrics"].items() if not isinstance(v, str)}),
        "top_features": dg.MetadataValue.json(trained.card["top_features"]),
        "plot": dg.MetadataValue.md(image),
    })


@dg.asset(
    automation_condition=refresh_after_new_data(),
    group_name="training",
    kinds={"catboost"},
    partitions_def=target_partitions,
    deps=[predictors, TRAINING_FEATURES],
    check_specs=[dg.AssetCheckSpec(
        "beats_baselines", asset=PREDICTOR_EVALUATION,
        description="The predictor beats the calibrated physics baseline and CatBoost without physics on unseen "
        "hardware (else unseen models); promoted_predictors promotes the scored version only then.")],
    description="Random, leave-one-hardware-out, leave-one-model-out and leave-one-source-out scores of "
    "the primitive's predictor against a calibrated physics baseline, CatBoost without physics, "
    "HistGradientBoosting, a ridge on log features and a CatBoost + HistGradientBoosting ensemble (same folds); "
    "records the data version it scored and the promotion verdict.",
)
def predictor_evaluation(context: dg.AssetExecutionContext, config: EvaluationConfig, duckdb: DuckDBResource,
                         home: HomeResource) -> dg.MaterializeResult:
    """Evaluates this partition's primitive, writes the table and plot, and gives the promotion verdict."""
    target = context.partition_key
    frame = read_training_features(duckdb)
    scored_version = frame_data_version(frame)
    trained = latest_metadata(context.instance, PREDICTORS, target) or {}
    evaluation = evaluate_target(frame, target, n_folds=config.folds, seed=config.seed, iterations=config.iterations)
    folder = home.get().reports_dir / target
    folder.mkdir(parents=True, exist_ok=True)
    table = markdown_table(evaluation)
    verdict = comparison_verdict(evaluation)
    comparison = f"#### MdAPE % by learner (same folds)\n\n{comparison_table([evaluation])}\n\n{verdict}"
    passed, reason, observed = promotion_decision(evaluation)
    if trained.get("data_version") != scored_version:
        passed = False
        reason = (f"the predictor was trained on data version {trained.get('data_version')} but the training "
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
    # A refusal is a warning on the check, not a failed run: the previous promoted version stays.
    check = dg.AssetCheckResult(check_name="beats_baselines", passed=passed, severity=dg.AssetCheckSeverity.WARN,
                                metadata={"reason": reason, "scored_data_version": scored_version, **_round(observed)})
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


@dg.asset(
    automation_condition=refresh_after_new_data(),
    group_name="training",
    kinds={"catboost"},
    partitions_def=target_partitions,
    deps=[predictors, predictor_evaluation],
    description="The predictor that `predict` uses: the trained version that predictor_evaluation scored and "
    "found better than its baselines, copied atomically; otherwise a refusal (promoted: false, the reason) "
    "that keeps the previously promoted version.",
)
def promoted_predictors(context: dg.AssetExecutionContext, home: HomeResource) -> dg.MaterializeResult:
    """Promotes the evaluated version of this partition's predictor, or records why not."""
    target = context.partition_key
    trained = latest_metadata(context.instance, PREDICTORS, target) or {}
    evaluated = latest_metadata(context.instance, PREDICTOR_EVALUATION, target) or {}
    predictors_dir = home.get().predictors_dir
    source = predictors_dir / target
    dest = predictors_dir / "promoted" / target
    kept = json.loads((dest / "card.json").read_text())["data_version"] if (dest / "card.json").exists() else None
    on_disk = json.loads((source / "card.json").read_text())["data_version"] if (source / "card.json").exists() else None
    reason = None
    if trained.get("status") != "trained" or on_disk is None:
        reason = "nothing to promote (no trained predictor)"
    elif not evaluated.get("promotion_passed"):
        reason = str(evaluated.get("promotion_reason") or "not evaluated yet")
    elif not (on_disk == trained.get("data_version") == evaluated.get("scored_data_version")):
        reason = (f"versions differ: trained {trained.get('data_version')}, on disk {on_disk}, evaluated "
                  f"{evaluated.get('scored_data_version')}; the evaluated version is not the one on disk")
    if reason is not None:
        context.log.warning(f"{target} not promoted: {reason}" + (f" (keeping promoted version {kept})" if kept else ""))
        return dg.MaterializeResult(metadata={"promoted": False, "reason": reason,
                                              "kept_promoted_data_version": kept or "none"})
    staging = dest.with_name(f".{target}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    return dg.MaterializeResult(data_version=dg.DataVersion(on_disk), metadata={
        "promoted": True, "data_version": on_disk, "path": dg.MetadataValue.path(str(dest))})


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
