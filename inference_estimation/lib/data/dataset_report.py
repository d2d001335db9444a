"""What the training data covers: rows per source, hardware, model and target, with plots.

Gaps matter as much as errors: a predictor is only as general as the hardware, models and
workloads its rows span, and this report shows where that is thin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from inference_estimation import constants


def coverage_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per source: rows, distinct hardware/models/workloads, and non-null count per target."""
    workload = ["batch_size", "input_tokens", "output_tokens", "concurrency", "mode"]
    grouped = frame.groupby("source", dropna=False)
    table = pd.DataFrame({
        "rows": grouped.size(),
        "hardware": grouped["hardware_key"].nunique(),
        "models": grouped["model_key"].nunique(),
        "workloads": grouped[workload].apply(lambda g: len(g.astype(str).drop_duplicates())),
        "roofline_violations": grouped["roofline_violation"].apply(lambda s: int((s.fillna("") != "").sum())),
    })
    if "engine" in frame:
        table["engines"] = grouped["engine"].nunique()
    if "concurrency" in frame:
        table["concurrency_min"] = grouped["concurrency"].min().astype("Int64")
        table["concurrency_max"] = grouped["concurrency"].max().astype("Int64")
    if "plain_deployment" in frame:  # disaggregated / speculative / multi-node rows (schema 1.2)
        table["non_plain_rows"] = grouped["plain_deployment"].apply(lambda s: int((s == False).sum()))  # noqa: E712
    for target in constants.TARGETS:
        if target in frame:
            table[target] = grouped[target].count()
    return table.sort_values("rows", ascending=False)


def rows_by_source_hardware_engine(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows per (source, hardware, engine), with the concurrency range of serving rows.

    Works on any frame with ``source``, ``hardware_key`` and ``engine`` (the training frame, or an
    import's records as a frame); a missing engine shows as "unknown".
    """
    data = frame.assign(engine=frame["engine"].fillna("unknown").replace("", "unknown"))
    if "concurrency" not in data:
        data = data.assign(concurrency=np.nan)
    grouped = data.groupby(["source", "hardware_key", "engine"], dropna=False)
    table = pd.DataFrame({
        "rows": grouped.size(),
        "concurrency_min": grouped["concurrency"].min().astype("Int64"),
        "concurrency_max": grouped["concurrency"].max().astype("Int64"),
    }).reset_index()
    return table.sort_values(["source", "rows"], ascending=[True, False]).set_index("source")


def source_additions(frame: pd.DataFrame) -> pd.DataFrame:
    """What each source adds to the coverage of all the OTHER sources together.

    One row per source: its devices and engines, those no other source has (``new_devices``,
    ``new_engines``, comma-separated; ``new_device_engine_pairs`` counts (device, engine) pairs
    only this source measures), and its concurrency range beside the others' (serving load the
    rest of the data does not reach shows as a higher ``concurrency_max``).
    """
    rows = []
    for source, own in frame.groupby("source", dropna=False):
        others = frame[frame["source"] != source]
        devices, other_devices = set(own["hardware_key"].dropna()), set(others["hardware_key"].dropna())
        engines = set(own["engine"].dropna()) if "engine" in own else set()
        other_engines = set(others["engine"].dropna()) if "engine" in others else set()
        pairs = set(zip(own["hardware_key"], own["engine"], strict=False)) if "engine" in own else set()
        other_pairs = set(zip(others["hardware_key"], others["engine"], strict=False)) if "engine" in others else set()
        conc = own["concurrency"].dropna() if "concurrency" in own else pd.Series(dtype=float)
        other_conc = others["concurrency"].dropna() if "concurrency" in others else pd.Series(dtype=float)
        rows.append({
            "source": source, "rows": len(own), "devices": len(devices),
            "new_devices": ", ".join(sorted(devices - other_devices)), "engines": ", ".join(sorted(engines)),
            "new_engines": ", ".join(sorted(engines - other_engines)),
            "new_device_engine_pairs": len(pairs - other_pairs),
            "concurrency_min": int(conc.min()) if len(conc) else None,
            "concurrency_max": int(conc.max()) if len(conc) else None,
            "others_concurrency_max": int(other_conc.max()) if len(other_conc) else None,
        })
    table = pd.DataFrame(rows).set_index("source").sort_values("rows", ascending=False)
    for column in ("concurrency_min", "concurrency_max", "others_concurrency_max"):
        table[column] = table[column].astype("Int64")
    return table


def to_markdown(table: pd.DataFrame) -> str:
    """A markdown table (no extra dependency)."""
    header = "| " + " | ".join([table.index.name or "", *map(str, table.columns)]) + " |"
    lines = [header, "|" + "---|" * (len(table.columns) + 1)]
    for index, row in table.iterrows():
        lines.append("| " + " | ".join([str(index), *(str(v) for v in row.to_numpy())]) + " |")
    return "\n".join(lines)


def plot_coverage(frame: pd.DataFrame, path: Path) -> Path:
    """Heatmap of rows per (source x hardware) and histograms of the log targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pivot = frame.pivot_table(index="hardware_key", columns="source", values="point_id", aggfunc="count", fill_value=0)
    targets = [t for t in constants.TARGETS if t in frame and frame[t].notna().any()]
    fig, axes = plt.subplots(1, 2, figsize=(12, max(4, 0.22 * len(pivot))),
                             gridspec_kw={"width_ratios": [2, 1]})
    im = axes[0].imshow(np.log10(pivot.to_numpy() + 1), aspect="auto", cmap="viridis")
    axes[0].set_yticks(range(len(pivot)), pivot.index, fontsize=7)
    axes[0].set_xticks(range(len(pivot.columns)), pivot.columns, rotation=45, ha="right", fontsize=7)
    axes[0].set_title("rows per hardware x source (log10)")
    fig.colorbar(im, ax=axes[0], fraction=0.03)
    for target in targets:
        values = frame[target].dropna()
        values = values[values > 0]
        axes[1].hist(np.log10(values), bins=30, alpha=0.5, label=target)
    axes[1].set_xlabel("log10(target)")
    axes[1].set_title("target distributions")
    axes[1].legend(fontsize=6)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def target_correlations(frame: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlations between the log targets (pairwise complete rows)."""
    targets = [t for t in constants.TARGETS if t in frame and frame[t].notna().sum() > 2]
    logs = np.log(frame[targets].where(frame[targets] > 0))
    return logs.corr(method="spearman").round(2)
