"""One row per measured LLM point: identity, targets, deployment shape and the feature frame.

The features come from inference_estimation.lib.physics.features.feature_frame -- the same function predict
calls -- so the frame a predictor is trained on and the frame it is asked about are built by one
code. The physics is not written in SQL: that would be a second copy predict could not call, since
predict loads model files only, without the warehouse (models/overview.md says more).
"""

import pandas as pd

IDENTITY_COLUMNS = ["point_id", "measurement_id", "source", "run_id", "measured_at_ts", "model_key",
                    "hardware_key", "power_source", "power_scope"]
#: Deployment shape (schema 1.2), carried so training can keep disaggregated, speculative and
#: multi-node rows apart from plain ones (``plain_deployment``).
DEPLOYMENT_COLUMNS = ["plain_deployment", "disaggregated_prefill_decode", "prefill_device_count",
                      "decode_device_count", "node_count", "expert_parallel", "attention_data_parallel",
                      "speculative_decoding", "throughput_scope", "latency_statistic"]


def model(dbt, session):
    """The dbt Python model: training rows joined to the single-source feature frame."""
    dbt.config(materialized="table")
    from inference_estimation.constants import TARGETS
    from inference_estimation.lib.ml.step_model import STEP_INPUT_COLUMNS
    from inference_estimation.lib.physics.features import FEATURE_COLUMNS, feature_frame, roofline_violations

    rows = dbt.ref("int_training_rows").df()
    features = feature_frame(rows)
    # Columns that are features too (source, power_scope) come from the feature frame, exactly as
    # predict builds them.
    identity = [c for c in IDENTITY_COLUMNS if c not in FEATURE_COLUMNS]
    deployment = [c for c in DEPLOYMENT_COLUMNS if c not in FEATURE_COLUMNS]
    # the step model's inputs that are not features already (facts, engine version, ITL)
    seen = set(identity) | set(TARGETS) | set(deployment) | set(FEATURE_COLUMNS)
    step_inputs = [c for c in STEP_INPUT_COLUMNS if c not in seen and c in rows.columns]
    out = pd.concat([rows[identity + list(TARGETS) + deployment + step_inputs], features], axis=1)
    # Physically impossible rows (faster than the hardware's roofline bound) stay visible here,
    # flagged, and the predictors never train on them.
    out["roofline_violation"] = roofline_violations(rows, features)
    return out
