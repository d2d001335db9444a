"""Small statistics used to summarise trials (numpy only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def coefficient_of_variation(values: Sequence[float]) -> float | None:
    """Sample coefficient of variation: std with ddof=1 divided by the mean.

    The sample (not population) std is used because trials are a small sample of the latency
    distribution; with 2-5 trials the population std would understate the spread.

    Returns:
        The CV, or None with fewer than two values or a non-positive mean.
    """
    if len(values) < 2:
        return None
    mean = float(np.mean(values))
    if mean <= 0:
        return None
    return float(np.std(values, ddof=1)) / mean


def median(values: Sequence[float | None]) -> float | None:
    """Median of the non-null values; None if there are none."""
    present = [v for v in values if v is not None]
    return float(np.median(present)) if present else None


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 90, 99)) -> list[float | None]:
    """Percentiles (linear interpolation) of ``values``; Nones when there are no values."""
    if len(values) == 0:
        return [None for _ in qs]
    return [float(v) for v in np.percentile(np.asarray(values, dtype=float), qs)]
