"""Run-time knobs of the training stage."""

import dagster as dg

from inference_estimation import constants


class TrainingConfig(dg.Config):
    """How predictors are trained (the held-out folds are one value for every run: ``TrainingResource``).

    Attributes:
        seed: CatBoost random seed.
    """

    seed: int = 0


class EvaluationConfig(dg.Config):
    """How predictors are evaluated.

    Attributes:
        folds: folds per split (groups are spread over at most this many folds).
        iterations: CatBoost rounds per fold.
        seed: seed for the random split and CatBoost.
    """

    folds: int = 5
    iterations: int = constants.EVALUATION_ITERATIONS
    seed: int = 0
