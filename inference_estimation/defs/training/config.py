"""Run-time knobs of the training stage."""

import dagster as dg


class TrainingConfig(dg.Config):
    """How predictors are trained and scored.

    Attributes:
        cv_folds: grouped (by model) folds for the held-out score.
        seed: CatBoost random seed.
    """

    cv_folds: int = 4
    seed: int = 0
