"""Reports stage: SHAP explanations of each predictor, feature selection, dataset coverage."""

import json

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation import constants
from inference_estimation.defs.conditions import refresh_after_new_data
from inference_estimation.defs.reports.config import FeatureSelectionConfig
from inference_estimation.defs.resources import HomeResource
from inference_estimation.defs.shared import (
    PREDICTORS,
    TRAINING_FEATURES,
    read_training_features,
    target_partitions,
)
from inference_estimation.lib.ml.modeling import card_matrix, select_rows
from inference_estimation.lib.ml.predictor_store import StoredPredictor
from inference_estimation.lib.ml.shap_report import write_shap_report


@dg.asset(
    automation_condition=refresh_after_new_data(),
    group_name="reports",
    kinds={"shap"},
    partitions_def=target_partitions,
    ins={"trained": dg.AssetIn(PREDICTORS)},
    deps=[TRAINING_FEATURES],
    description="SHAP beeswarm and bar plots of a primitive's predictor (PNG on disk and inline in the metadata); "
    "the derived targets are explained through these primitives.",
)
def shap_reports(context: dg.AssetExecutionContext, duckdb: DuckDBResource, home: HomeResource,
                 trained: StoredPredictor | None) -> dg.MaterializeResult:
    """Explains the trained version the predictor store hands over, on (a sample of) its training rows."""
    target = context.partition_key
    if trained is None:
        return dg.MaterializeResult(metadata={"status": "no predictor for this target (too little data)"})
    model, card = trained.model, trained.card
    rows = select_rows(read_training_features(duckdb), target)
    if len(rows) > constants.SHAP_MAX_ROWS:
        rows = rows.sample(constants.SHAP_MAX_ROWS, random_state=0)
    X, _ = card_matrix(card, rows)
    report = write_shap_report(model, X, target, home.get().reports_dir / target)
    top = list(report.mean_abs_shap.items())[:5]
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.md(report.markdown),
        "beeswarm_png": dg.MetadataValue.path(str(report.beeswarm_png)),
        "bar_png": dg.MetadataValue.path(str(report.bar_png)),
        "rows_explained": len(rows),
        "top_features": dg.MetadataValue.json({k: round(v, 4) for k, v in top}),
        "predictor_version": trained.version, "data_version": str(trained.data_version),
    })


@dg.asset(
    group_name="reports",
    kinds={"catboost"},
    partitions_def=target_partitions,
    deps=[TRAINING_FEATURES],
    description="Which feature groups can be dropped without loss: CatBoost retrained without each group on "
    "the leave-one-hardware-out folds, with the MdAPE change per group and a greedy joint removal.",
)
def feature_selection_reports(context: dg.AssetExecutionContext, config: FeatureSelectionConfig,
                              duckdb: DuckDBResource, home: HomeResource) -> dg.MaterializeResult:
    """Runs the drop-group ablation of this partition's target; writes feature_selection.md/.json."""
    from inference_estimation.lib.ml.feature_selection import feature_selection, feature_selection_markdown

    target = context.partition_key
    selection = feature_selection(read_training_features(duckdb), target, n_folds=config.folds, seed=config.seed,
                                  iterations=config.iterations)
    folder = home.get().reports_dir / target
    folder.mkdir(parents=True, exist_ok=True)
    markdown = feature_selection_markdown(selection)
    (folder / "feature_selection.md").write_text(markdown + "\n")
    (folder / "feature_selection.json").write_text(json.dumps(selection.to_json(), indent=2, default=float))
    metadata: dict = {"report": dg.MetadataValue.md(markdown), "rows": selection.rows,
                      "path": dg.MetadataValue.path(str(folder / "feature_selection.md"))}
    if selection.skipped:
        metadata["skipped"] = selection.skipped
    else:
        metadata.update({
            "split": selection.split, "full_mdape_pct": round(selection.full["mdape_pct"], 4),
            "droppable_groups": ", ".join(selection.droppable) or "none",
            "droppable_together": ", ".join(selection.droppable_together) or "none",
            "delta_mdape_pct_by_group": dg.MetadataValue.json(
                {name: round(g["delta_mdape_pct"], 3) for name, g in selection.groups.items()}),
        })
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    automation_condition=refresh_after_new_data(),
    group_name="reports",
    kinds={"python"},
    deps=[TRAINING_FEATURES],
    description="Coverage of the training data: rows per source, hardware, model, workload and target, "
    "a source x hardware heatmap, target distributions and their correlations.",
)
def dataset_report(duckdb: DuckDBResource, home: HomeResource) -> dg.MaterializeResult:
    """Writes the coverage table and plot of the current training frame."""
    import base64

    from inference_estimation.lib.data.dataset_report import (
        coverage_table,
        plot_coverage,
        rows_by_source_hardware_engine,
        source_additions,
        target_correlations,
        to_markdown,
    )
    from inference_estimation.lib.data.row_usage import (
        step_training_rows,
        usage_markdown,
        usage_report,
        usage_totals,
    )

    frame = read_training_features(duckdb)
    folder = home.get().reports_dir / "dataset"
    if frame.empty:  # e.g. only tabular sweeps so far: nothing an LLM predictor could train on
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.md").write_text("## Training data coverage\n\nNo training rows yet.\n")
        return dg.MaterializeResult(metadata={"report": dg.MetadataValue.md("No training rows yet."), "rows": 0,
                                              "sources": 0, "hardware": 0, "models": 0})
    table = coverage_table(frame)
    plot = plot_coverage(frame, folder / "coverage.png")
    correlations = target_correlations(frame)
    usage = usage_report(frame)
    step_rows = step_training_rows(frame)
    markdown = (f"## Training data coverage\n\n{to_markdown(table)}\n\n"
                f"### Rows used per source and target (and why the rest are not)\n\n{usage_markdown(usage)}\n\n"
                f"### Rows that train the step-time model, per source\n\n{to_markdown(step_rows.set_index('source'))}\n\n"
                f"### Rows per source, hardware and engine\n\n{to_markdown(rows_by_source_hardware_engine(frame))}\n\n"
                f"### What each source adds to the coverage\n\n{to_markdown(source_additions(frame))}\n\n"
                f"### Log-target correlations (Spearman)\n\n{to_markdown(correlations)}\n\n"
                f"![coverage](data:image/png;base64,{base64.b64encode(plot.read_bytes()).decode()})\n")
    (folder / "report.md").write_text(markdown.split("![coverage]")[0] + "![coverage](coverage.png)\n")
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.md(markdown), "rows": len(frame),
        "sources": int(frame["source"].nunique()), "hardware": int(frame["hardware_key"].nunique()),
        "models": int(frame["model_key"].nunique()), "plot": dg.MetadataValue.path(str(plot)),
        "usage": dg.MetadataValue.md(usage_markdown(usage)),
        "rows_used_by_target": dg.MetadataValue.json(usage_totals(usage)),
        "rows_training_step_model": int(step_rows.set_index("source").loc["all", "train"]),
    })
