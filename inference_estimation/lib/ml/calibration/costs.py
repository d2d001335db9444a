"""What measuring a candidate point costs: its predicted run time on the device."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Run time one point costs besides its generations (model load, warm-up set-up), seconds.
POINT_OVERHEAD_S = 5.0
#: Generations one point runs (1 warm-up + up to 3 trials) when the sweep does not say.
RUNS_PER_POINT = 4




def point_cost_s(e2e_latency_s: np.ndarray, runs_per_point: int = RUNS_PER_POINT,
                 overhead_s: float = POINT_OVERHEAD_S) -> np.ndarray:
    """Seconds of device time one point takes: its generations plus a fixed overhead.

    An unknown latency (NaN) costs the most expensive known point (never 0: a point with no
    prediction is not free).
    """
    e2e = np.asarray(e2e_latency_s, dtype=float)
    known = np.isfinite(e2e) & (e2e > 0)
    fill = float(np.max(e2e[known])) if known.any() else 60.0
    return overhead_s + runs_per_point * np.where(known, e2e, fill)


def run_time_s(rows: pd.DataFrame, e2e_latency_s: np.ndarray, tpot_s: np.ndarray) -> np.ndarray:
    """One generation's run time: the e2e latency, else (decode-only rows) output tokens x TPOT."""
    e2e = np.asarray(e2e_latency_s, dtype=float)
    out = pd.to_numeric(rows["output_tokens"], errors="coerce").to_numpy(dtype=float) if "output_tokens" in rows \
        else np.full(len(rows), np.nan)
    return np.where(np.isfinite(e2e), e2e, out * np.asarray(tpot_s, dtype=float))
