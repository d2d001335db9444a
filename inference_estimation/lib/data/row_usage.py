"""The usage report: per source and target, rows present, usable, used, and why the rest are not.

The rule itself is :func:`inference_estimation.lib.physics.usability.unused_reasons` (the one
training, evaluation and the promotion gate call); this module counts it per source. Pure pandas;
reads ``marts.training_features``-shaped frames.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from inference_estimation.lib.physics.usability import (
    R_NO_INPUT,
    R_NO_OUTPUT,
    REASONS,
    REPORT_TARGETS,
    has_value,
    unused_reasons,
)

#: Reasons that make a present row unusable (the others are missing workload facts).
_WORKLOAD_REASONS = frozenset({R_NO_INPUT, R_NO_OUTPUT})


def usage_report(frame: pd.DataFrame, targets: tuple[str, ...] = REPORT_TARGETS) -> pd.DataFrame:
    """Per source x target: rows, rows with a measured value, usable, used in training, reasons.

    * ``present``: rows with a measured value of the target;
    * ``usable``: present rows that pass the deployment, roofline and power rules;
    * ``used``: usable rows whose workload is known enough (what training and the gate use);
    * ``reasons``: for every present row not used, the first reason of :func:`unused_reasons`,
      counted -- ``present - used == sum(reasons)`` holds on every line.

    Args:
        frame: ``marts.training_features``-shaped rows (needs ``source``).
        targets: the targets to report.

    Returns:
        One row per (source, target), sorted, with columns ``source``, ``target``, ``rows``,
        ``present``, ``usable``, ``used`` and ``reasons`` (a dict reason -> count).

    Raises:
        ValueError: when ``frame`` has no ``source`` column (names it).
    """
    if "source" not in frame:
        raise ValueError("usage_report: the frame has no 'source' column")
    lines: list[dict[str, Any]] = []
    sources = frame["source"].astype(str).to_numpy()
    for target in targets:
        present = has_value(frame, target)
        reason = unused_reasons(frame, target)
        for source in sorted(set(sources)):
            mine = sources == source
            here = mine & present
            counted = Counter(reason[here & (reason != "")])
            lines.append({
                "source": source,
                "target": target,
                "rows": int(mine.sum()),
                "present": int(here.sum()),
                "usable": int((here & ((reason == "") | np.isin(reason, list(_WORKLOAD_REASONS)))).sum()),
                "used": int((here & (reason == "")).sum()),
                "reasons": {r: counted[r] for r in REASONS if counted[r]},
            })
    return pd.DataFrame(lines, columns=["source", "target", "rows", "present", "usable", "used", "reasons"])


def usage_markdown(report: pd.DataFrame) -> str:
    """The report as a Markdown table (one line per source x target with any row present)."""
    head = ("| source | target | rows | present | usable | used | not used, by reason |\n"
            "|---|---|---:|---:|---:|---:|---|")
    body = []
    for line in report.itertuples(index=False):
        if not line.present:
            continue
        reasons = "; ".join(f"{r} {n:,}" for r, n in line.reasons.items()) or "--"
        body.append(f"| {line.source} | {line.target} | {line.rows:,} | {line.present:,} | {line.usable:,} "
                    f"| {line.used:,} | {reasons} |")
    return "\n".join([head, *body])


def usage_totals(report: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Target -> {present, usable, used} summed over sources (for metadata and CLI lines)."""
    grouped = report.groupby("target")[["present", "usable", "used"]].sum()
    return {target: {k: int(v) for k, v in row.items()} for target, row in grouped.iterrows()}
