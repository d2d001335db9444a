"""Small, Dagster-free summaries of runs for materialization metadata."""

from __future__ import annotations

import statistics
from typing import Any, Sequence

from benchmark_jobs.schema import MeasurementRecord
from inference_estimation.constants import TARGETS


def run_summary(records: Sequence[MeasurementRecord]) -> dict[str, Any]:
    """Counts by status and medians of the main metrics of one run (units in the keys)."""
    ok = [r for r in records if r.status == "ok"]
    out: dict[str, Any] = {"points": len(records), "points_ok": len(ok),
                           "points_failed": len(records) - len(ok)}
    for name in (*TARGETS, "latency_cv"):
        values = [getattr(r, name) for r in ok if getattr(r, name) is not None]
        if values:
            out[f"median_{name}"] = round(statistics.median(values), 6)
    sources = sorted({r.power_source for r in records})
    out["power_sources"] = ", ".join(sources)
    if ok:
        out["device_name"] = ok[0].device_name or "unknown"
    return out
