"""Training stage: one CatBoost predictor per target, scored on models it never saw."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation.defs.training.config import TrainingConfig
from inference_estimation.defs.training.partitions import target_partitions
from inference_estimation.lib.home import get_home
from inference_estimation.lib.modeling import save_predictor, train_predictor


def read_training_features(duckdb: DuckDBResource):
    """The training_features mart as a DataFrame (short read; the connection is closed at once)."""
    with duckdb.get_connection() as con:
        return con.execute("select * from marts.training_features").df()


@dg.asset(
    group_name="training",
    kinds={"catboost"},
    partitions_def=target_partitions,
    deps=[dg.AssetKey(["marts", "training_features"])],
    description="CatBoost predictor of log(target) with a grouped-by-model held-out score and a "
    "90% split-conformal interval; saved as model.cbm + card.json.",
)
def predictors(context: dg.AssetExecutionContext, config: TrainingConfig, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Trains the predictor of this partition's target."""
    target = context.partition_key
    frame = read_training_features(duckdb)
    trained = train_predictor(frame, target, n_folds=config.cv_folds, seed=config.seed)
    paths = save_predictor(trained, get_home().models_dir / target)
    metrics = trained.card["metrics"]
    return dg.MaterializeResult(metadata={
        "rows": trained.card["n_rows"],
        "models": ", ".join(trained.card["models"]),
        "data_version": trained.card["data_version"],
        "model_path": dg.MetadataValue.path(str(paths["model"])),
        "card_path": dg.MetadataValue.path(str(paths["card"])),
        **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()},
        "top_features": dg.MetadataValue.json(trained.card["top_features"]),
    })
