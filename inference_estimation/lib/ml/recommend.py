"""Which hardware runs a model best under service-level limits: a search over devices, counts and batches.

Every candidate is answered by the coherent model (:mod:`inference_estimation.lib.ml.predict`) and
checked by the one memory rule; each device left out says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inference_estimation.lib.catalog import Catalog, HardwareEntry
from inference_estimation.lib.ml.predict import (
    DEFAULT_SOURCE,
    Predictors,
    Setup,
    SetupRefused,
    check_source,
    resolve_setup,
    workload,
)
from inference_estimation.lib.physics.features import (
    feature_frame,
    prediction_row,
)


@dataclass
class Recommendation:
    """What ``recommend`` found.

    Attributes:
        table: one row per hardware that runs the model within the limits, best first.
        dropped: one row per hardware left out, with the ``reason``.
        setup: the question as answered (model key, engine, dtype, workload, limits).
    """

    table: pd.DataFrame
    dropped: pd.DataFrame
    setup: dict[str, Any]


#: Batch sizes ``recommend`` tries (each up to the largest whose KV cache fits, which is tried too).
RECOMMEND_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
#: Device counts ``recommend`` tries.
RECOMMEND_DEVICE_COUNTS = (1, 2, 4, 8)
#: Concurrencies per deployment ``recommend`` tries when serving (the step model's scheduler).
RECOMMEND_CONCURRENCIES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


#: How ``recommend`` may rank: on facts every device has, or cost per token first.
RANK_BY = ("devices", "cost")


def _rank_order(rank_by: str, with_rate: bool) -> tuple[str, ...]:
    """The columns the ranking sorts on, most significant first (missing ones are skipped).

    ``devices``: devices needed, joules per token, tokens/s per device, then cost as a tie-break: no
    key that only priced devices have decides before the facts all devices have. ``cost``: cost per
    token first (unpriced devices, NaN, sort after every priced one), then the same keys.
    """
    devices = "devices_for_rps" if with_rate else "devices"
    facts = (devices, "energy_per_output_token_j", "_tok_s_per_device_desc")
    if rank_by == "cost":
        return ("usd_per_million_tokens", *facts)
    return (*facts, "usd_per_million_tokens")


def price_source_text(hw: HardwareEntry) -> str:
    """Where a device's $/h comes from, for an answer: the cited page and date, or why there is none."""
    if hw.specs.price_per_hour_usd is None:
        return "no cited on-demand price (ranked by devices and energy)"
    if hw.price_source is None:
        return f"{hw.source_of('price_per_hour_usd')} figure with no cited page (an overlay's)"
    return hw.price_source.describe()


def _distinct_devices(catalog: Catalog) -> list[HardwareEntry]:
    """Accelerators once each: an entry that only multiplies another's devices (same kind, vendor and
    per-device specs, more devices, e.g. ``nvidia-h100-sxm-80gb-x8``) is the same device; recommend
    searches device counts itself."""
    seen: dict[tuple, HardwareEntry] = {}
    for hw in sorted(catalog.hardware.values(), key=lambda h: (h.device_count, h.key)):
        identity = (hw.kind, hw.vendor, tuple(sorted(hw.specs.model_dump().items())))
        seen.setdefault(identity, hw)
    return [h for h in catalog.hardware.values() if h in seen.values()]


def recommend(catalog: Catalog, predictors_dir: Path, model_key: str, input_tokens: int, output_tokens: int,
              max_ttft_s: float | None = None, max_tpot_s: float | None = None, rps: float | None = None,
              engine: str | None = None, dtype: str | None = None, source: str = DEFAULT_SOURCE,
              allow_unpromoted: bool = False, max_devices: int = 8, rank_by: str = "devices") -> Recommendation:
    """Ranks hardware for serving a model: devices needed, then joules per token (or cost first).

    For every catalog accelerator (each device type once), every device count of
    :data:`RECOMMEND_DEVICE_COUNTS` up to ``max_devices`` on which the model fits, every offline
    batch of :data:`RECOMMEND_BATCHES` up to the largest whose KV cache fits (that largest batch
    too) and -- with the step model -- a server at every concurrency of
    :data:`RECOMMEND_CONCURRENCIES` (the engine's scheduler decides what runs at once):
    TTFT/TPOT/throughput are predicted (90% intervals), candidates that miss a limit are dropped,
    and each hardware keeps its best candidate -- usually the highest load within the limits on
    the fewest devices. With a request rate, the replicas it takes are sized. ``rank_by``
    ``"devices"`` (the default) ranks on facts every device has: fewest devices needed (for the
    rate, else per replica), then joules per output token, then output tokens/s per device, with
    cost per token only breaking ties -- so a device without a cited price is never ranked below a
    priced one for lacking it. ``"cost"`` ranks priced devices by cost per token first and puts
    the unpriced after them. Each row names the $/h it used and its source and date
    (``price_source``; see :class:`inference_estimation.lib.catalog.hardware.PriceSource`).
    ``engine``/``dtype`` None take each device's
    default (vLLM, bfloat16 or float16 where it has no bfloat16). The memory rule and the dtype
    support are :func:`inference_estimation.lib.physics.refusals.setup_refusal`'s.

    Returns:
        The ranked table, the dropped hardware with a reason each, and the setup echo.

    Raises:
        CatalogError: for an unknown model.
        ValueError: for an unknown engine or dtype, or non-positive sizes.
        SetupRefused: for a model that is not an LLM or a context beyond its maximum.
    """
    if rank_by not in RANK_BY:
        raise ValueError(f"rank_by {rank_by!r} is not one of {', '.join(RANK_BY)}")
    work = workload(1, input_tokens, output_tokens, engine=engine, dtype=dtype, source=source)
    model = catalog.model(model_key)
    setup = {"model": model.key, "engine": work["engine"] or "vllm (default)",
             "dtype": work["dtype"] or "bfloat16 (default; float16 without bfloat16 math)",
             "input_tokens": input_tokens, "output_tokens": output_tokens, "source": source,
             "max_ttft_s": max_ttft_s, "max_tpot_s": max_tpot_s, "rps": rps, "rank_by": rank_by}
    dropped: list[dict[str, Any]] = []
    candidates: list[tuple[HardwareEntry, Setup]] = []
    for hw in _distinct_devices(catalog):
        if hw.kind == "cpu":
            continue
        if not hw.specs.memory_gb or not hw.specs.memory_bandwidth_gb_s:
            dropped.append({"hardware": hw.key, "reason": "no memory or bandwidth fact in the catalog"})
            continue
        last_refusal = None
        for devices in (d for d in RECOMMEND_DEVICE_COUNTS if d <= max_devices):
            base = resolve_setup(catalog, model.key, hw.key, {**work, "batch_size": "max", "device_count": devices})
            if base.refusal:
                if model.kind != "llm" or "max_position_embeddings" in base.refusal:
                    raise SetupRefused(base)
                last_refusal = base.refusal  # on the most devices tried, naming the fewest that fit
                if not base.refusal.startswith("does not fit"):
                    break  # dtype support: more devices do not help
                continue
            largest = base.work["batch_size"]  # smaller batches fit too (the rule is monotone in the batch)
            for batch in sorted({b for b in RECOMMEND_BATCHES if b <= largest} | {largest}):
                candidates.append((hw, Setup(model=base.model, hardware=hw, memory=None,
                                             work={**base.work, "batch_size": batch, "batch_is_max": False})))
            # serving: a server at each concurrency (the engine queues what its KV cache cannot hold)
            for concurrency in RECOMMEND_CONCURRENCIES:
                candidates.append((hw, Setup(model=base.model, hardware=hw, memory=None, work={
                    **base.work, "mode": "serving", "batch_size": None, "batch_is_max": False,
                    "concurrency": concurrency})))
        if not any(c[0] is hw for c in candidates):
            dropped.append({"hardware": hw.key, "reason": last_refusal or "no candidate"})
    columns = ["hardware", "devices", "batch_size", "engine", "dtype", "price_per_hour_usd"]
    if not candidates:
        return Recommendation(pd.DataFrame(columns=columns), pd.DataFrame(dropped, columns=["hardware", "reason"]),
                              setup)
    predictors = Predictors.load(predictors_dir, allow_unpromoted)
    check_source(predictors, source)
    if predictors.step is None:  # the CatBoost primitives answer offline batches only
        candidates = [(hw, s) for hw, s in candidates if s.work.get("mode") != "serving"]
    rows = [prediction_row(s.model, s.hardware, s.work) for _, s in candidates]
    if predictors.step is not None:
        _, pred = predictors.answer(pd.DataFrame(rows))
        pred = pred[[c for c in pred.columns if c not in ("saturated", "running_batch", "campaign")]]
    else:
        pred = predictors.frame(feature_frame(rows), [r["hardware_key"] for r in rows])
    table = pd.DataFrame({
        "hardware": [hw.key for hw, _ in candidates], "devices": [s.work["device_count"] for _, s in candidates],
        "mode": [s.work.get("mode") or "offline" for _, s in candidates],
        "batch_size": [s.work["batch_size"] for _, s in candidates],
        "concurrency": [s.work.get("concurrency") for _, s in candidates],
        "engine": [s.work["engine"] for _, s in candidates], "dtype": [s.work["dtype"] for _, s in candidates],
        "price_per_hour_usd": [(hw.specs.price_per_hour_usd or np.nan) * s.work["device_count"]
                               for hw, s in candidates],
        "price_per_device_hour_usd": [hw.specs.price_per_hour_usd for hw, _ in candidates],
        "price_source": [price_source_text(hw) for hw, _ in candidates],
    })
    for column in pred.columns:
        table[column] = pred[column].to_numpy()
    if "output_throughput_tok_s" in table:
        table["usd_per_million_tokens"] = table["price_per_hour_usd"] / (table["output_throughput_tok_s"] * 3600) * 1e6
        if "energy_per_output_token_j" not in table and "avg_power_w" in table:
            table["energy_per_output_token_j"] = table["avg_power_w"] / table["output_throughput_tok_s"]
        if rps:
            per_replica_rps = table["output_throughput_tok_s"] / output_tokens
            table["replicas_for_rps"] = np.ceil(rps / per_replica_rps)
            table["devices_for_rps"] = table["replicas_for_rps"] * table["devices"]
            # cost of serving the rate: the replicas it takes, at their price
            table["usd_per_hour_for_rps"] = table["replicas_for_rps"] * table["price_per_hour_usd"]
    misses = pd.Series("", index=table.index, dtype=object)
    for limit, column, label in ((max_ttft_s, "ttft_s", "TTFT"), (max_tpot_s, "tpot_s", "TPOT")):
        if limit is None:
            continue
        if column not in table:
            misses[:] = misses + f"no promoted {column} predictor to check the {label} limit; "
            continue
        over = table[column].to_numpy() > limit
        misses[over] = misses[over] + [f"{label} {v * 1000:.4g} ms > {limit * 1000:.4g} ms; "
                                       for v in table.loc[over, column]]
    if "output_throughput_tok_s" in table:
        table["_tok_s_per_device_desc"] = -table["output_throughput_tok_s"] / table["devices"]
    sort = [c for c in _rank_order(rank_by, bool(rps)) if c in table]
    table["_miss"] = misses.str.rstrip("; ")
    kept = table[table["_miss"] == ""]
    for hw_key, group in table.groupby("hardware", sort=False):
        if (group["_miss"] == "").any():
            continue
        best = group.iloc[0]  # the smallest batch on the fewest devices: the easiest to meet
        load = (f"concurrency {best['concurrency']:g}" if best.get("mode") == "serving"
                else f"batch {best['batch_size']}")
        dropped.append({"hardware": hw_key, "reason": f"misses the limits even at {load} on "
                                                      f"{best['devices']} device(s): {best['_miss']}"})
    kept = kept.drop(columns="_miss")
    if sort:
        kept = kept.sort_values(sort, na_position="last", kind="stable")
    best_per_hw = kept.drop_duplicates("hardware", keep="first").reset_index(drop=True)
    best_per_hw = best_per_hw.drop(columns=[c for c in best_per_hw if c.startswith("_")])
    return Recommendation(best_per_hw, pd.DataFrame(dropped, columns=["hardware", "reason"]), setup)
