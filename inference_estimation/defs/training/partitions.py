"""Predictors are partitioned by target: one CatBoost model per target."""

import dagster as dg

from inference_estimation import constants

target_partitions = dg.StaticPartitionsDefinition(list(constants.PRIMITIVES))
