"""What more than one stage refers to: asset keys, the training partitions, and reading what a run recorded.

Stages reach each other's assets by key, never by importing each other's modules
(``tests/defs/test_stage_imports.py``).
"""

from typing import Any

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from inference_estimation import constants

TRAINING_FEATURES = dg.AssetKey(["marts", "training_features"])
PREDICTORS = dg.AssetKey("predictors")
PREDICTOR_EVALUATION = dg.AssetKey("predictor_evaluation")

#: One predictor per learned primitive; every other answer target is derived from them.
target_partitions = dg.StaticPartitionsDefinition(list(constants.PRIMITIVES))


def read_training_features(duckdb: DuckDBResource) -> pd.DataFrame:
    """The training_features mart as a DataFrame (short read; the connection is closed at once)."""
    with duckdb.get_connection() as con:
        return con.execute("select * from marts.training_features").df()


def latest_metadata(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None) -> dict[str, Any] | None:
    """The metadata (plain values) of an asset partition's latest materialization, or None.

    This is how a downstream asset reads what its upstream *recorded* (a model file's path, the
    data version it was trained or scored on) instead of guessing a path on disk.
    """
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None), limit=1).records
    if not records or records[0].asset_materialization is None:
        return None
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}
