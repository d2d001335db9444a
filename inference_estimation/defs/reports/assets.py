"""Reports stage: SHAP explanations of each predictor."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation import constants
from inference_estimation.defs.training.assets import predictors, read_training_features
from inference_estimation.defs.training.partitions import target_partitions
from inference_estimation.lib.explain import write_shap_report
from inference_estimation.lib.home import get_home
from inference_estimation.lib.modeling import card_matrix, load_predictor, select_rows


@dg.asset(
    group_name="reports",
    kinds={"shap"},
    partitions_def=target_partitions,
    deps=[predictors],
    description="SHAP beeswarm and bar plots of a predictor (PNG on disk and inline in the metadata).",
)
def shap_reports(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Explains the predictor of this partition's target on (a sample of) its training rows."""
    target = context.partition_key
    home = get_home()
    if not (home.models_dir / target / "card.json").exists():
        return dg.MaterializeResult(metadata={"status": "no predictor for this target (too little data)"})
    model, card = load_predictor(home.models_dir / target)
    rows = select_rows(read_training_features(duckdb), target)
    if len(rows) > constants.SHAP_MAX_ROWS:
        rows = rows.sample(constants.SHAP_MAX_ROWS, random_state=0)
    X, _ = card_matrix(card, rows)
    report = write_shap_report(model, X, target, home.reports_dir / target)
    top = list(report.mean_abs_shap.items())[:5]
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.md(report.markdown),
        "beeswarm_png": dg.MetadataValue.path(str(report.beeswarm_png)),
        "bar_png": dg.MetadataValue.path(str(report.bar_png)),
        "rows_explained": len(rows),
        "top_features": dg.MetadataValue.json({k: round(v, 4) for k, v in top}),
    })


@dg.asset(
    group_name="reports",
    kinds={"python"},
    deps=[dg.AssetKey(["marts", "training_features"])],
    description="Coverage of the training data: rows per source, hardware, model, workload and target, "
    "a source x hardware heatmap, target distributions and their correlations.",
)
def dataset_report(duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Writes the coverage table and plot of the current training frame."""
    import base64

    from inference_estimation.lib.dataset_report import (
        coverage_table, plot_coverage, target_correlations, to_markdown,
    )

    frame = read_training_features(duckdb)
    folder = get_home().reports_dir / "dataset"
    table = coverage_table(frame)
    plot = plot_coverage(frame, folder / "coverage.png")
    correlations = target_correlations(frame)
    markdown = (f"## Training data coverage\n\n{to_markdown(table)}\n\n### Log-target correlations (Spearman)\n\n"
                f"{to_markdown(correlations)}\n\n"
                f"![coverage](data:image/png;base64,{base64.b64encode(plot.read_bytes()).decode()})\n")
    (folder / "report.md").write_text(markdown.split("![coverage]")[0] + "![coverage](coverage.png)\n")
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.md(markdown), "rows": len(frame),
        "sources": int(frame["source"].nunique()), "hardware": int(frame["hardware_key"].nunique()),
        "models": int(frame["model_key"].nunique()), "plot": dg.MetadataValue.path(str(plot)),
    })
