"""Run-time knobs of the calibration stage."""

import dagster as dg

from inference_estimation import constants


class CalibrationConfig(dg.Config):
    """How ``next_benchmarks`` plans a device's calibration.

    Attributes:
        points: how many points to plan (k).
        sweep: the sweep whose grid and settings to use (None: the default sweep if it covers the
            device, else the first sweep that does).
        uncertainty: ``distance`` (to the training data) or ``ensemble`` (bootstrap disagreement).
        estimator: the correction the plan is for: ``constant`` (what predictors serve) or ``local``.
        models: catalog model keys to plan points for (None: the sweep's models).
    """

    points: int = constants.CALIBRATION_POINTS
    sweep: str | None = None
    uncertainty: str = "distance"
    estimator: str = "constant"
    models: list[str] | None = None
