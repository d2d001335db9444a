"""Run-time knobs of the step-model stage."""

import dagster as dg

from inference_estimation.lib.ml.step_fit import MAX_EVALUATIONS


class StepModelConfig(dg.Config):
    """How the step-time model is fitted.

    Attributes:
        max_evaluations: least-squares budget (each evaluation simulates every training row).
        evaluation_folds: folds of the held-out-hardware score (hardware spread over them).
    """

    max_evaluations: int = MAX_EVALUATIONS
    evaluation_folds: int = 5
