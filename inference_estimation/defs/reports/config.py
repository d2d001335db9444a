"""Run-time knobs of the reports stage."""

import dagster as dg

from inference_estimation import constants


class FeatureSelectionConfig(dg.Config):
    """How the drop-group ablation is run.

    Attributes:
        folds: folds of the split (whole hardware per fold).
        iterations: CatBoost rounds per fold (every group costs one out-of-fold fit per fold).
        seed: CatBoost and random-split seed.
    """

    folds: int = 5
    iterations: int = constants.EVALUATION_ITERATIONS
    seed: int = 0
