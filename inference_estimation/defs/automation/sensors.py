"""Declarative automation of everything downstream of the measurements.

dbt models carry :func:`refresh_after_new_data` through the translator; the training assets,
``shap_reports``, ``dataset_report`` and ``performance_model_evaluation`` carry it on their definitions
(``next_benchmarks``, a device's calibration plan, is made by ``calibration_sensor`` and ``calibrate``:
its partitions are the dynamic hardware keys, which the automation evaluator does not follow here). ``feature_selection_reports``
carries none on purpose: it retrains every target once per feature group (minutes), so it runs
on demand (``feature_selection_job``), not after every new partition. The runs it launches carry the
local host tag, which ``dagster.yaml`` limits to one run per host: a refresh never overlaps a
benchmark on this machine (it queues behind it), and vice versa.
"""

import dagster as dg

from inference_estimation import constants
from inference_estimation.defs.jobs import LOCAL_HOST_TAGS

#: The derived assets the sensor keeps fresh (benchmarks and imports are scheduled, not eager).
REFRESHED_GROUPS = ("transform_staging", "transform_intermediate", "transform_marts", "training", "reports")
#: In those groups but refreshed on demand only (no automation condition): minutes per run.
ON_DEMAND_ASSETS = ("feature_selection_reports",)

refresh_sensor = dg.AutomationConditionSensorDefinition(
    "refresh_after_new_data",
    target=dg.AssetSelection.groups(*REFRESHED_GROUPS) - dg.AssetSelection.assets(*ON_DEMAND_ASSETS),
    use_user_code_server=True,
    run_tags=LOCAL_HOST_TAGS,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="dbt, training and SHAP refresh after new benchmark partitions or imports land (and their "
    f"blocking checks passed); runs are tagged {constants.HOST_TAG}=localhost so they never overlap a local benchmark.",
)

