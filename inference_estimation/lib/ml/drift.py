"""Has a predictor drifted? Measurements newer than it, against its 90% interval."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom

from inference_estimation.lib.ml.modeling import card_matrix, predict_log, select_rows

#: A predictor has drifted when this improbable a share of new rows falls outside its interval
#: (one-sided binomial test against the interval's nominal miss rate).
DRIFT_ALPHA = 0.01
#: Fewer new rows than this cannot show drift (one miss in three is not evidence).
DRIFT_MIN_ROWS = 5


def prediction_drift(frame, model, card: dict[str, Any], since: str | None) -> dict[str, Any]:
    """Compares measurements newer than a predictor with its 90% interval.

    Args:
        frame: rows of ``marts.training_features`` (identity, targets and feature columns).
        model: the loaded CatBoost model.
        card: its card (target, features, offset, interval, trained_at).
        since: only rows measured after this ISO time count as new (default: the card's
            ``trained_at``); None means every row.

    Returns:
        ``new_rows``, ``outside_interval``, ``share_outside``, ``expected_share_outside``,
        ``p_value`` and ``drifted`` (True when the share outside is improbably high).
    """
    target = card["target"]
    interval = card.get("interval") or {}
    expected = round(1.0 - float(interval.get("level", 0.9)), 6)
    rows = select_rows(frame, target)
    if since is not None and len(rows):
        measured = pd.to_datetime(rows["measured_at_ts"], utc=True)
        rows = rows[(measured > pd.Timestamp(since).tz_convert("UTC")).to_numpy()]
    out: dict[str, Any] = {"target": target, "new_rows": len(rows), "outside_interval": 0,
                           "share_outside": 0.0, "expected_share_outside": expected, "p_value": 1.0,
                           "drifted": False}
    halfwidth = interval.get("log_halfwidth")
    if not len(rows) or halfwidth is None:
        return out
    X, offset = card_matrix(card, rows)
    residual = np.abs(np.log(rows[target].to_numpy(dtype=float)) - predict_log(model, X, offset))
    k = int((residual > halfwidth).sum())
    p_value = float(binom.sf(k - 1, len(rows), expected))
    out.update(outside_interval=k, share_outside=round(k / len(rows), 4), p_value=round(p_value, 6),
               drifted=bool(len(rows) >= DRIFT_MIN_ROWS and p_value < DRIFT_ALPHA))
    return out
