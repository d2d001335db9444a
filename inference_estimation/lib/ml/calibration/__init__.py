"""Calibrating new hardware in a handful of measurements, chosen by the predictor's uncertainty.

Dagster-free. Three pieces:

* **Uncertainty per candidate point** (log space, ranks candidates):

  - ``ensemble``: the spread of the time primitives' log predictions over a few fits of
    :func:`lib.ml.modeling.fit_primitive` on bootstrap resamples of the training rows;
  - ``distance``: the mean distance of the point to its nearest training rows in standardised
    log workload, architecture and physics features (no model fit at all);
  - the 90% interval is no ranking: its log half-width is one number per primitive.

  ``benchmarks/active_calibration.py`` measures which ranks real errors best (Spearman between
  uncertainty and the absolute log error of leave-one-hardware-out predictions on the public data,
  29 devices): the ensemble (0.21 pooled, 0.15 within a device after removing its median) ranks
  better than the distance (0.06, 0.14); both are weak. The plans they lead to score alike and
  the distance needs no model fit, so it is the default.

* **The planner** (:func:`plan_points`): from a candidate grid, greedily the k points that most
  reduce the *expected* error on the device per unit of cost. The expected error follows a small
  Gaussian model of the predictor's log residual on the device,
  ``r_i = delta + g(x_i) + noise``: ``delta`` the device's offset from what the predictor says
  (the part its per-device correction learns), ``g`` a smooth function of the standardised
  features whose prior standard deviation at a point grows with its uncertainty (random Fourier
  features of an RBF kernel: nearby points are correlated, which is how coverage enters), and
  measurement noise. The predictor updates on a new device with the shrunken mean (median) of the
  measured residuals (:func:`lib.ml.hardware_correction.hardware_corrections`), so the expected squared error on
  the grid after measuring a set ``S`` is exact under that model for *that* estimator, not for
  an idealised one -- a point is worth measuring when its residual is likely to be representative
  of the grid's. Each point's cost is its predicted run time (warm-up + trials of the predicted
  e2e latency + a fixed overhead) times the device's price per hour.

* **The candidate grid** (:func:`candidate_grid`): a sweep's axes x the models that fit the device.

Modules: ``uncertainty``, ``costs``, ``planner``, ``grid`` and ``hardware_plan`` (one device's plan
put together).
"""

from __future__ import annotations

from inference_estimation.lib.ml.calibration.costs import (
    POINT_OVERHEAD_S,
    RUNS_PER_POINT,
    point_cost_s,
    run_time_s,
)
from inference_estimation.lib.ml.calibration.grid import candidate_grid, workload_grid
from inference_estimation.lib.ml.calibration.hardware_plan import (
    HardwarePlan,
    axes_sweep,
    covering_sweeps,
    plan_for_hardware,
    with_device_in_sweep,
)
from inference_estimation.lib.ml.calibration.planner import (
    DEVICE_OFFSET_STD,
    ESTIMATORS,
    KERNEL_FEATURES,
    KERNEL_LENGTH,
    MEASUREMENT_NOISE_STD,
    POINT_ERROR_STD,
    DeviceErrorModel,
    Plan,
    PlannedPoint,
    corner_order,
    local_correction,
    plan_points,
)
from inference_estimation.lib.ml.calibration.uncertainty import (
    DEFAULT_UNCERTAINTY,
    DISTANCE_FEATURES,
    DISTANCE_NEIGHBOURS,
    ENSEMBLE_ITERATIONS,
    ENSEMBLE_MEMBERS,
    UNCERTAINTY_METHODS,
    Standardizer,
    distance_uncertainty,
    ensemble_uncertainty,
    fit_ensemble,
    log_features,
    spearman,
    uncertainty,
)

__all__ = [
    "DEFAULT_UNCERTAINTY", "DEVICE_OFFSET_STD", "DISTANCE_FEATURES", "DISTANCE_NEIGHBOURS",
    "DeviceErrorModel", "ENSEMBLE_ITERATIONS", "ENSEMBLE_MEMBERS", "ESTIMATORS", "HardwarePlan",
    "KERNEL_FEATURES", "KERNEL_LENGTH", "MEASUREMENT_NOISE_STD", "POINT_ERROR_STD", "POINT_OVERHEAD_S",
    "Plan", "PlannedPoint", "RUNS_PER_POINT", "Standardizer", "UNCERTAINTY_METHODS", "axes_sweep", "candidate_grid",
    "corner_order", "covering_sweeps", "distance_uncertainty", "ensemble_uncertainty", "fit_ensemble",
    "local_correction", "log_features", "plan_for_hardware", "plan_points", "point_cost_s", "run_time_s",
    "spearman", "uncertainty", "with_device_in_sweep", "workload_grid",
]
