"""Which features can be dropped without loss: drop-group ablation on unseen hardware.

Each group of related features (:data:`FEATURE_GROUPS`) is removed in turn and CatBoost is
retrained and scored out of fold on the same leave-one-hardware-out folds as the full model
(falling back to leave-one-model-out, then random, when the data has too few hardware). A group
whose removal raises MdAPE by at most :data:`DROP_TOLERANCE_PCT` percentage points -- and, on
unseen hardware, lowers the Kendall tau of the hardware ranking by at most
:data:`DROP_TOLERANCE_TAU` -- carries nothing the model cannot get elsewhere; removing it is
"without loss".

Removals that are harmless one at a time can hurt together (two groups may stand in for each
other), so the droppable groups are then removed *together*, greedily: most harmless first, each
kept out only while the model stays within the tolerance of the full one (scored on the same
folds). Drop-column ablation answers "can it go?"; permutation importance would answer the
different question "does the fitted model use it?".

The candidates are chosen and scored on the same folds, so a joint "no loss" is slightly
optimistic; treat it as a shortlist to confirm on new data, not as a free improvement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from inference_estimation import constants
from inference_estimation.lib.ml.holdout import error_metrics, kendall_tau_by_workload, split_folds
from inference_estimation.lib.ml.modeling import out_of_fold, select_rows
from inference_estimation.lib.physics.features import MODEL_FEATURES

#: Feature groups that are ablated together (every model feature belongs to exactly one group).
FEATURE_GROUPS: dict[str, list[str]] = {
    "workload sizes": ["batch_size", "input_tokens", "output_tokens", "effective_batch"],
    "serving load": ["concurrency", "request_rate_rps", "serving_prefill_load"],
    "parallelism": ["device_count", "tensor_parallel", "tp_comm_prefill_s", "tp_comm_decode_step_s"],
    "moe experts touched": ["moe_experts_touched_share"],
    "architecture": ["params", "active_params", "layers", "hidden_size", "heads", "kv_heads", "head_dim",
                     "vocab_size"],
    "flops and bytes": ["weights_gb", "kv_cache_gb", "activation_gb", "runtime_memory_gb", "prefill_gflop", "decode_gflop_per_step", "prefill_gb_moved",
                        "decode_gb_moved_per_step"],
    "arithmetic intensity": ["prefill_arithmetic_intensity", "decode_arithmetic_intensity"],
    "roofline times": ["roofline_prefill_s", "roofline_decode_step_s", "roofline_prefill_one_s",
                       "roofline_bound_prefill_one_s", "roofline_bound_decode_step_one_s", "roofline_ttft_s",
                       "roofline_tpot_s", "roofline_e2e_s", "roofline_output_throughput_tok_s"],
    "memory fit": ["memory_fit_ratio"],
    "hardware kind and vendor": ["hardware_kind", "vendor"],
    "engine": ["engine"],
    "dtype": ["dtype"],
    "model family": ["family"],
    "mode": ["mode"],
    "source": ["source"],
    "power scope": ["power_scope"],
}
#: A removal that raises MdAPE by at most this many percentage points is "without loss" ...
DROP_TOLERANCE_PCT = 0.5
#: ... provided it lowers the hardware-ranking Kendall tau by at most this much (when scored).
DROP_TOLERANCE_TAU = 0.02
SPLIT_PREFERENCE = ("leave_one_hardware_out", "leave_one_model_out", "random")


@dataclass
class FeatureSelection:
    """Drop-group ablation of one target.

    Attributes:
        target: the target column.
        split: the split the folds came from (leave-one-hardware-out when the data allows).
        rows: rows scored.
        full: metrics of the model with every feature (``mdape_pct``, ``kendall_tau``, ...).
        groups: per group, its features, the metrics without it and the change in MdAPE.
        droppable: groups whose removal alone stayed within the tolerances (:func:`within_tolerance`).
        droppable_together: the greedy subset of ``droppable`` that can go at once without loss.
        joint: metrics with ``droppable_together`` removed (empty if nothing can go).
        skipped: why no ablation was made (empty when one was).
    """

    target: str
    split: str = ""
    rows: int = 0
    full: dict[str, float] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    droppable: list[str] = field(default_factory=list)
    droppable_together: list[str] = field(default_factory=list)
    joint: dict[str, float] = field(default_factory=dict)
    skipped: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (for the report file and the asset metadata)."""
        return {"target": self.target, "split": self.split, "rows": self.rows, "full": self.full,
                "groups": self.groups, "droppable": self.droppable,
                "droppable_together": self.droppable_together, "joint": self.joint, "skipped": self.skipped,
                "tolerance_pct": DROP_TOLERANCE_PCT, "tolerance_tau": DROP_TOLERANCE_TAU}


def within_tolerance(full: dict[str, float], reduced: dict[str, float]) -> bool:
    """Whether a reduced model loses nothing: MdAPE up by at most :data:`DROP_TOLERANCE_PCT`
    points and (where both are scored) Kendall tau down by at most :data:`DROP_TOLERANCE_TAU`."""
    if reduced["mdape_pct"] - full["mdape_pct"] > DROP_TOLERANCE_PCT:
        return False
    tau_full, tau_reduced = full.get("kendall_tau", math.nan), reduced.get("kendall_tau", math.nan)
    return math.isnan(tau_full) or math.isnan(tau_reduced) or tau_full - tau_reduced <= DROP_TOLERANCE_TAU


def _score(rows: pd.DataFrame, target: str, folds: list[np.ndarray], seed: int, features: list[str],
           iterations: int, with_tau: bool) -> dict[str, float]:
    y = rows[target].to_numpy(dtype=float)
    tested = np.concatenate(folds)
    pred = np.exp(out_of_fold(rows, target, folds, seed, features, iterations))
    metrics = error_metrics(y[tested], pred[tested])
    if with_tau:
        tau, _ = kendall_tau_by_workload(rows.iloc[tested], y[tested], pred[tested])
        metrics["kendall_tau"] = float("nan") if tau is None else tau
    return metrics


def feature_selection(frame: pd.DataFrame, target: str, n_folds: int = 5, seed: int = 0,
                      iterations: int = constants.EVALUATION_ITERATIONS,
                      groups: dict[str, list[str]] | None = None) -> FeatureSelection:
    """Drop-group ablation of one target's CatBoost predictor on held-out groups.

    Args:
        frame: the training_features mart.
        target: a target column.
        n_folds: folds of the split (whole hardware per fold).
        seed: CatBoost and random-split seed.
        iterations: CatBoost rounds per fold.
        groups: feature groups to ablate (default :data:`FEATURE_GROUPS`).

    Returns:
        The ablation; ``skipped`` says why when the data cannot support one.
    """
    groups = FEATURE_GROUPS if groups is None else groups
    rows = select_rows(frame, target)
    result = FeatureSelection(target=target, rows=len(rows))
    if len(rows) < 8:
        result.skipped = f"only {len(rows)} usable rows"
        return result
    for split in SPLIT_PREFERENCE:
        folds = split_folds(rows, split, n_folds, seed)
        if not isinstance(folds, str):
            break
    else:
        result.skipped = folds
        return result
    result.split = split
    with_tau = split == "leave_one_hardware_out"
    result.full = _score(rows, target, folds, seed, MODEL_FEATURES, iterations, with_tau)
    for name, members in groups.items():
        kept = [f for f in MODEL_FEATURES if f not in members]
        metrics = _score(rows, target, folds, seed, kept, iterations, with_tau)
        delta = metrics["mdape_pct"] - result.full["mdape_pct"]
        result.groups[name] = {"features": [f for f in members if f in MODEL_FEATURES], "metrics": metrics,
                               "delta_mdape_pct": delta, "droppable": within_tolerance(result.full, metrics)}
    result.droppable = [name for name, g in result.groups.items() if g["droppable"]]
    for name in sorted(result.droppable, key=lambda n: result.groups[n]["delta_mdape_pct"]):
        trial = result.droppable_together + [name]
        dropped = {f for group in trial for f in groups[group]}
        metrics = (dict(result.groups[name]["metrics"]) if len(trial) == 1 else
                   _score(rows, target, folds, seed, [f for f in MODEL_FEATURES if f not in dropped], iterations,
                          with_tau))
        if within_tolerance(result.full, metrics):
            result.droppable_together, result.joint = trial, metrics
    if result.joint:
        result.joint["delta_mdape_pct"] = result.joint["mdape_pct"] - result.full["mdape_pct"]
    return result


def _fmt(value: float | None, digits: int = 1) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def feature_selection_markdown(selection: FeatureSelection) -> str:
    """The ablation as markdown: one row per group (largest loss first), then the joint removal."""
    title = f"### Feature selection: {selection.target}"
    if selection.skipped:
        return f"{title}\n\nNo ablation: {selection.skipped}."
    full = selection.full
    lines = [title, "",
             f"Drop-group ablation of CatBoost on **{selection.split}** ({selection.rows} rows, same folds for every "
             f"variant). Full model: MdAPE {_fmt(full['mdape_pct'])}%"
             + (f", Kendall τ {_fmt(full.get('kendall_tau'), 2)}" if "kendall_tau" in full else "")
             + f". A group is droppable when removing it raises MdAPE by ≤ {DROP_TOLERANCE_PCT} points"
             + (f" and lowers τ by ≤ {DROP_TOLERANCE_TAU}" if "kendall_tau" in full else "") + ".", "",
             "| group | features | MdAPE % without | Δ MdAPE (points) | Δ Kendall τ | verdict |",
             "|---|---|---|---|---|---|"]
    order = sorted(selection.groups.items(), key=lambda kv: -kv[1]["delta_mdape_pct"])
    for name, g in order:
        tau = g["metrics"].get("kendall_tau")
        d_tau = None if tau is None or "kendall_tau" not in full else tau - full["kendall_tau"]
        verdict = "droppable" if g["droppable"] else "keep"
        lines.append(f"| {name} | {', '.join(g['features'])} | {_fmt(g['metrics']['mdape_pct'])} | "
                     f"{g['delta_mdape_pct']:+.1f} | {'' if d_tau is None else f'{d_tau:+.2f}'} | {verdict} |")
    lines.append("")
    if selection.joint:
        j = selection.joint
        lines.append(f"Can go together without loss (greedy, most harmless first): "
                     f"**{', '.join(selection.droppable_together)}** -> MdAPE {_fmt(j['mdape_pct'])}% "
                     f"({j['delta_mdape_pct']:+.1f} points)"
                     + (f", Kendall τ {_fmt(j.get('kendall_tau'), 2)}" if "kendall_tau" in j else "")
                     + ". Chosen and scored on the same folds: confirm on new data before dropping.")
    else:
        lines.append("No group can be dropped without loss.")
    return "\n".join(lines)
