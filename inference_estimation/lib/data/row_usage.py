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
    R_MEAN_TPOT,
    R_NO_INPUT,
    R_NO_LOAD,
    R_NO_OUTPUT,
    R_NO_PROMPT,
    R_OPEN_LOOP,
    R_PINNED,
    R_REPEATS,
    REASONS,
    REPORT_TARGETS,
    STEP_FIGURES,
    has_value,
    step_label_reasons,
    unused_reasons,
)

#: Reasons about the workload or the label (the row itself is usable; the others make it unusable).
_WORKLOAD_REASONS = frozenset({R_NO_INPUT, R_NO_OUTPUT, R_NO_LOAD, R_NO_PROMPT, R_MEAN_TPOT, R_REPEATS, R_PINNED,
                               R_OPEN_LOOP})


def usage_report(frame: pd.DataFrame, targets: tuple[str, ...] = REPORT_TARGETS) -> pd.DataFrame:
    """Per source x target: rows, rows with a measured value, usable, used in training, reasons.

    * ``present``: rows with a measured value of the target;
    * ``usable``: present rows that pass the deployment, roofline, power and memory rules;
    * ``used``: rows whose figure trains: for the time figures (:data:`STEP_FIGURES`) the step
      model's label rule (:func:`step_label_reasons`), for power, energy and memory the CatBoost
      rule (:func:`unused_reasons`) -- the same functions training calls;
    * ``reasons``: for every present row not used, its first reason, counted --
      ``present - used == sum(reasons)`` holds on every line.

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
        # time figures train the step model (its label rule); power, energy and memory CatBoost
        reason = step_label_reasons(frame, target) if target in STEP_FIGURES else unused_reasons(frame, target)
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


def step_training_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Per source: rows, rows that train the step model (any time figure), and of those how many
    state a complete workload (prompt and output lengths) -- the headline of the usage report.

    Returns:
        One row per source plus ``all``, columns ``source``, ``rows``, ``train``,
        ``train_with_workload``.
    """
    from inference_estimation.lib.physics.usability import step_labels, step_usable

    labels = step_labels(frame, step_usable(frame))
    trains = np.logical_or.reduce(list(labels.values()))
    n_in = pd.to_numeric(frame.get("input_tokens"), errors="coerce").to_numpy(dtype=float) \
        if "input_tokens" in frame else np.full(len(frame), np.nan)
    n_out = pd.to_numeric(frame.get("output_tokens"), errors="coerce").to_numpy(dtype=float) \
        if "output_tokens" in frame else np.full(len(frame), np.nan)
    workload = np.isfinite(n_in) & np.isfinite(n_out)
    sources = frame["source"].astype(str).to_numpy()
    lines = []
    for source in [*sorted(set(sources)), "all"]:
        mine = np.ones(len(frame), dtype=bool) if source == "all" else sources == source
        lines.append({"source": source, "rows": int(mine.sum()), "train": int((mine & trains).sum()),
                      "train_with_workload": int((mine & trains & workload).sum())})
    return pd.DataFrame(lines, columns=["source", "rows", "train", "train_with_workload"])
