"""Per-device corrections: what a device's own measurements say beyond its physics.

Hardware enters the trees only through its physics, so a device's driver, clocks or an optimistic
spec sheet stay in its residuals; each primitive keeps the shrunken median residual of each device
(and of each measurement campaign on it) and adds it to that device's predictions. The active
calibration planner plans with the same shrinkage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: A device needs this many rows of a primitive before they train its trees; below, they only
#: calibrate the device's correction (:func:`hardware_corrections`).
MIN_DEVICE_ROWS_FOR_TREES = 20
#: Shrinkage of the per-hardware correction: a device with n measurements gets n / (n + this) of
#: its median residual (1 measurement: a third; 10: 83%).
HARDWARE_CORRECTION_PRIOR_ROWS = 2.0
#: The spread (log) of devices' offsets from their physics that the shrinkage assumes: a device whose
#: rows scatter by this much gets ``n / (n + HARDWARE_CORRECTION_PRIOR_ROWS)`` of its median.
HARDWARE_CORRECTION_PRIOR_STD = 0.15


def hardware_corrections(hardware: pd.Series, residual_log: np.ndarray,
                         source: pd.Series | None = None) -> dict[str, float]:
    """Per-device log corrections: the shrunken median residual of the device's training rows.

    Hardware enters the trees only through its physics (spec columns would act as IDs and hurt
    unseen devices), so whatever a device's own measurements say beyond its physics -- a driver,
    a clock, a spec sheet that overstates -- stays in its residuals. A few measurements of a new
    device therefore calibrate it at once: ``n / (n + HARDWARE_CORRECTION_PRIOR_ROWS)`` of its
    median residual, shrunk towards 0 (no correction) when there are few. Unseen devices get 0.

    Returns:
        ``{hardware: correction}`` over all its rows, and ``{"hardware@source": correction}`` per
        measurement campaign on it (campaigns measure one device differently; a question in a
        campaign's conventions uses that campaign's correction first).
    """
    frame = pd.DataFrame({"hw": hardware.astype(str).to_numpy(), "r": residual_log})
    keys = [frame["hw"]]
    if source is not None:
        keys.append(frame["hw"] + "@" + source.astype(str).to_numpy())
    out: dict[str, float] = {}
    pooled_var = float(np.var(residual_log)) if len(residual_log) > 1 else HARDWARE_CORRECTION_PRIOR_STD ** 2
    for key in keys:
        stats = frame.assign(key=key.to_numpy()).groupby("key")["r"].agg(["median", "size", "var"])
        # empirical-Bayes shrinkage: a device whose own rows scatter widely needs more of them
        spread = stats["var"].where(stats["size"] >= 3, pooled_var).fillna(pooled_var)
        prior = HARDWARE_CORRECTION_PRIOR_ROWS * spread / HARDWARE_CORRECTION_PRIOR_STD ** 2
        shrink = stats["size"] / (stats["size"] + prior)
        out.update({str(k): float(v) for k, v in (stats["median"] * shrink).items()})
    return out


def correction_for(correction: dict[str, float], hardware: pd.Series | np.ndarray | list | None, n: int,
                   source: pd.Series | np.ndarray | list | None = None) -> np.ndarray:
    """The per-row log correction of :func:`hardware_corrections`: the device's correction in the
    row's campaign when there is one, else the device's, else 0 (unseen or unknown hardware)."""
    if hardware is None or not correction:
        return np.zeros(n)
    # looked up once per distinct device (and campaign), not per row
    hw_codes, hw_names = pd.factorize(np.asarray(hardware, dtype=object), use_na_sentinel=False)
    hw_names = [str(h) for h in hw_names]
    out = np.array([correction.get(h, np.nan) for h in hw_names], dtype=float)[hw_codes]
    if source is not None:
        src_codes, src_names = pd.factorize(np.asarray(source, dtype=object), use_na_sentinel=False)
        pair_codes, pairs = pd.factorize(hw_codes * (len(src_names) + 1) + src_codes)
        by_source = np.array([correction.get(f"{hw_names[p // (len(src_names) + 1)]}@{src_names[p % (len(src_names) + 1)]}",
                                             np.nan) for p in pairs], dtype=float)[pair_codes]
        out = np.where(np.isnan(by_source), out, by_source)
    return np.where(np.isnan(out), 0.0, out)
