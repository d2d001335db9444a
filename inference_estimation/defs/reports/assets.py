"""Reports stage: SHAP explanations of each predictor."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation import constants
from inference_estimation.defs.training.assets import predictors, read_training_features
from inference_estimation.defs.training.partitions import target_partitions
from inference_estimation.lib.explain import write_shap_report
from inference_estimation.lib.home import get_home
from inference_estimation.lib.modeling import load_predictor, select_rows


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
    model, card = load_predictor(home.models_dir / target)
    rows = select_rows(read_training_features(duckdb), target)
    if len(rows) > constants.SHAP_MAX_ROWS:
        rows = rows.sample(constants.SHAP_MAX_ROWS, random_state=0)
    report = write_shap_report(model, rows[card["features"]], target, home.reports_dir / target)
    top = list(report.mean_abs_shap.items())[:5]
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.md(report.markdown),
        "beeswarm_png": dg.MetadataValue.path(str(report.beeswarm_png)),
        "bar_png": dg.MetadataValue.path(str(report.bar_png)),
        "rows_explained": len(rows),
        "top_features": dg.MetadataValue.json({k: round(v, 4) for k, v in top}),
    })
