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
from inference_estimation.lib.catalog.vocabulary import canonical_dtype
from inference_estimation.lib.ml.predict import (
    DEFAULT_SOURCE,
    Predictors,
    Setup,
    SetupRefused,
    check_source,
    resolve_setup,
    workload,
)
from inference_estimation.lib.ml.setup_columns import dtype_clash
from inference_estimation.lib.physics.features import (
    feature_frame,
    prediction_row,
)


@dataclass
class Recommendation:
    """What ``recommend`` found.

    Every accelerator searched is in ``table`` or in ``dropped``, once (CPUs are not searched).

    Attributes:
        table: one row per hardware that runs the model within the limits, best first.
        dropped: one row per hardware left out, with the ``reason``.
        setup: the question as answered (model key, engine, dtype, workload, limits).
    """

    table: pd.DataFrame
    dropped: pd.DataFrame
    setup: dict[str, Any]

    def rank_keys(self) -> list[str]:
        """The columns the ranking sorts on, most significant first (those the table has)."""
        order = _rank_order(self.setup.get("rank_by", "devices"), bool(self.setup.get("rps")))
        return [c for c in order if c in self.table]

    def shown(self, top: int) -> pd.DataFrame:
        """The first ``top`` rows, extended to the end of a true tie: a cut never shows one of several
        devices that rank equal on every rank key and hides the others. Rows that share only the
        first key (one device each) are ordered by the next keys, so they are not a tie."""
        n = min(max(top, 0), len(self.table))
        keys = self.rank_keys()
        if 0 < n < len(self.table) and keys:
            values = self.table[keys].to_numpy(dtype="float64", na_value=np.nan)

            def same(a: np.ndarray, b: np.ndarray) -> bool:
                return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))

            while n < len(values) and same(values[n], values[n - 1]):
                n += 1
        return self.table.head(n)


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


#: Providers whose list prices are hyperscaler on-demand rates; every other provider is a GPU cloud
#: (Lambda, Hyperstack, ...), whose list price for the same device is usually lower.
HYPERSCALERS = ("AWS", "Azure", "Google Cloud", "GCP", "Oracle", "OCI")


def provider_kind(hw: HardwareEntry) -> str | None:
    """``hyperscaler`` or ``GPU cloud``: the kind of provider a device's cited price is from (None: no cited price)."""
    if hw.specs.price_per_hour_usd is None or hw.price_source is None:
        return None
    return "hyperscaler" if hw.price_source.provider in HYPERSCALERS else "GPU cloud"


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
    :data:`RECOMMEND_CONCURRENCIES` up to the requests its KV cache holds at once, and at that
    capacity (past it the engine only queues: the same throughput at a longer TTFT):
    TTFT/TPOT/throughput are predicted (90% intervals), candidates that miss a limit or have no
    figure are dropped, and each hardware keeps its best candidate -- usually the highest load within the limits on
    the fewest devices. With a request rate, the replicas it takes are sized. ``rank_by``
    ``"devices"`` (the default) ranks on facts every device has: fewest devices needed (for the
    rate, else per replica), then joules per output token, then output tokens/s per device, with
    cost per token only breaking ties -- so a device without a cited price is never ranked below a
    priced one for lacking it. ``"cost"`` ranks priced devices by cost per token first and puts
    the unpriced after them. Each row names the $/h it used and its source and date
    (``price_source``; see :class:`inference_estimation.lib.catalog.hardware.PriceSource`).
    ``engine``/``dtype`` None take each device's
    default (vLLM, bfloat16 or float16 where it has no bfloat16); a model name that states a
    dtype (``Llama-3.1-8B-Instruct-FP8``, ``...-AWQ``) is asked at it, and a different ``dtype`` is an error. The memory rule and the dtype
    support are :func:`inference_estimation.lib.physics.refusals.setup_refusal`'s.

    Returns:
        The ranked table, the dropped hardware with a reason each (a device whose every candidate
        misses a limit quotes the closest one), and the setup echo; every accelerator searched is
        in one of the two.

    Raises:
        CatalogError: for an unknown model.
        ValueError: for an unknown engine or dtype, a dtype the model name contradicts, or non-positive sizes.
        SetupRefused: for a model that is not an LLM or a context beyond its maximum.
    """
    if rank_by not in RANK_BY:
        raise ValueError(f"rank_by {rank_by!r} is not one of {', '.join(RANK_BY)}")
    work = workload(1, input_tokens, output_tokens, engine=engine, dtype=dtype, source=source)
    model, named_dtype = catalog.model_and_dtype(model_key)
    taken = _named_dtype(model_key, named_dtype, work)
    released = canonical_dtype(model.default_dtype)
    fallback = "" if released == "bfloat16" else f"{released} where the device runs it, else "
    setup = {"model": model.key, "engine": work["engine"] or "vllm (default; sambaflow on SambaNova RDUs)",
             "dtype": taken or work["dtype"] or (
                 f"{fallback}bfloat16 (default: the dtype {model.key} was released in; float16 without bfloat16 "
                 "math)" if fallback else "bfloat16 (default; float16 without bfloat16 math)"),
             "input_tokens": input_tokens, "output_tokens": output_tokens, "source": source,
             "max_ttft_s": max_ttft_s, "max_tpot_s": max_tpot_s, "rps": rps, "rank_by": rank_by}
    dropped: list[dict[str, Any]] = []
    candidates = _candidates(catalog, model, work, max_devices, dropped)
    columns = ["hardware", "devices", "batch_size", "engine", "dtype", "price_per_hour_usd"]
    if not candidates:
        return Recommendation(pd.DataFrame(columns=columns), pd.DataFrame(dropped, columns=["hardware", "reason"]),
                              setup)
    predictors = Predictors.load(predictors_dir, allow_unpromoted)
    check_source(predictors, source)
    table = _predicted_table(predictors, candidates, output_tokens, rps)
    table["_miss"] = _misses(table, max_ttft_s, max_tpot_s, rps).str.rstrip("; ")
    dropped.extend(_closest_misses(table, max_ttft_s, max_tpot_s))
    kept = table[table["_miss"] == ""].drop(columns="_miss")
    sort = [c for c in _rank_order(rank_by, bool(rps)) if c in kept]
    if sort:
        kept = kept.sort_values(sort, na_position="last", kind="stable")
    best_per_hw = kept.drop_duplicates("hardware", keep="first").reset_index(drop=True)
    best_per_hw = best_per_hw.drop(columns=[c for c in best_per_hw if c.startswith("_")])
    return Recommendation(best_per_hw, pd.DataFrame(dropped, columns=["hardware", "reason"]), setup)


def _named_dtype(model_name: str, named: str | None, work: dict[str, Any]) -> str | None:
    """The dtype the model name states (``Llama-3.1-8B-Instruct-FP8``), taken into ``work`` where it
    names none, as the header shows it; None where the name states none.

    Raises:
        ValueError: for a different dtype given, naming both (as ``predict`` does).
    """
    if named is None:
        return None
    if work["dtype"] is not None and work["dtype"] != named:
        raise ValueError(dtype_clash(model_name, named, work["dtype"]))
    work["dtype"] = named
    return f"{named} (named by the model name {model_name!r})"


def _candidates(catalog: Catalog, model: Any, work: dict[str, Any], max_devices: int,
                dropped: list[dict[str, Any]]) -> list[tuple[HardwareEntry, Setup]]:
    """Every setup ``recommend`` predicts: per accelerator, each device count the model fits on, each
    batch up to the largest that fits and each serving concurrency; a device with none goes to
    ``dropped`` with the refusal that stopped it."""
    candidates: list[tuple[HardwareEntry, Setup]] = []
    for hw in _distinct_devices(catalog):
        if hw.kind == "cpu":
            continue
        if not hw.specs.memory_gb or not hw.specs.memory_bandwidth_gb_s:
            dropped.append({"hardware": hw.key, "reason": "no memory or bandwidth fact in the catalog"})
            continue
        last_refusal, found = None, False
        for devices in (d for d in RECOMMEND_DEVICE_COUNTS if d <= max_devices):
            base = resolve_setup(catalog, model.key, hw.key, {**work, "batch_size": "max", "device_count": devices})
            if base.refusal:
                if model.kind != "llm" or "max_position_embeddings" in base.refusal:
                    raise SetupRefused(base)
                if not base.refusal.startswith("does not fit"):
                    # dtype support or layout: more devices do not help; a memory refusal on fewer
                    # devices already names the fewest that fit (or that the device cannot join others)
                    last_refusal = last_refusal or base.refusal
                    break
                last_refusal = base.refusal  # on the most devices tried, naming the fewest that fit
                continue
            found = True
            largest = base.work["batch_size"]  # smaller batches fit too (the rule is monotone in the batch)
            for batch in sorted({b for b in RECOMMEND_BATCHES if b <= largest} | {largest}):
                candidates.append((hw, Setup(model=base.model, hardware=hw, memory=None,
                                             work={**base.work, "batch_size": batch, "batch_is_max": False})))
            # serving: a server at each concurrency up to what its KV cache holds at once, and at that
            # capacity itself; past it the engine only queues (same throughput, a longer TTFT)
            for concurrency in sorted({c for c in RECOMMEND_CONCURRENCIES if c <= largest} | {largest}):
                candidates.append((hw, Setup(model=base.model, hardware=hw, memory=None, work={
                    **base.work, "mode": "serving", "batch_size": None, "batch_is_max": False,
                    "concurrency": concurrency})))
        if not found:
            dropped.append({"hardware": hw.key, "reason": last_refusal or "no candidate"})
    return candidates


def _predicted_table(predictors: Predictors, candidates: list[tuple[HardwareEntry, Setup]], output_tokens: int,
                     rps: float | None) -> pd.DataFrame:
    """One row per candidate: its setup, price, predictions, cost and energy per token and the fleet for ``rps``."""
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
        "price_provider_kind": [provider_kind(hw) for hw, _ in candidates],
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
        table["_tok_s_per_device_desc"] = -table["output_throughput_tok_s"] / table["devices"]
    return table


#: The predicted columns a ranked row needs at least one figure of.
FIGURES = ("ttft_s", "tpot_s", "output_throughput_tok_s")


def _misses(table: pd.DataFrame, max_ttft_s: float | None, max_tpot_s: float | None,
            rps: float | None) -> pd.Series:
    """Why each candidate is not ranked ("" where it is): a limit it misses, or a figure it has none of."""
    misses = pd.Series("", index=table.index, dtype=object)
    figures = [c for c in FIGURES if c in table]
    blank = table[figures].isna().all(axis=1).to_numpy() if figures else np.ones(len(table), dtype=bool)
    misses[blank] = "no prediction for this setup (the predictors gave no figure); "
    for limit, column, label in ((max_ttft_s, "ttft_s", "TTFT"), (max_tpot_s, "tpot_s", "TPOT")):
        if limit is None:
            continue
        if column not in table:
            misses[:] = misses + f"no promoted {column} predictor to check the {label} limit; "
            continue
        values = table[column].to_numpy(dtype="float64")
        over = values > limit
        misses[over] = misses[over] + [f"{label} {v * 1000:.4g} ms > {limit * 1000:.4g} ms; " for v in values[over]]
        unknown = np.isnan(values) & ~blank
        misses[unknown] = misses[unknown] + f"no {label} prediction to check the limit; "
    if rps and "devices_for_rps" in table:
        unsized = table["devices_for_rps"].isna().to_numpy() & ~blank
        misses[unsized] = misses[unsized] + "no throughput prediction to size the fleet for the rate; "
    return misses


def _closest_misses(table: pd.DataFrame, max_ttft_s: float | None, max_tpot_s: float | None) -> list[dict[str, Any]]:
    """The drop reason of each hardware none of whose candidates is ranked, quoting its closest setting:
    the one whose worst limit is exceeded by the least (predicted value / limit), fewest devices first."""
    worst = pd.Series(0.0, index=table.index)
    for limit, column in ((max_ttft_s, "ttft_s"), (max_tpot_s, "tpot_s")):
        if limit is not None and column in table:
            worst = np.maximum(worst, (table[column] / limit).fillna(np.inf))
    reasons = []
    for hw_key, group in table.assign(_worst=worst).groupby("hardware", sort=False):
        if (group["_miss"] == "").any():
            continue
        best = group.sort_values(["_worst", "devices"], kind="stable").iloc[0]
        if not np.isfinite(best["_worst"]) or best["_miss"].startswith("no prediction"):
            reasons.append({"hardware": hw_key, "reason": f"no figure at any setting tried: {best['_miss']}"})
            continue
        load = (f"concurrency {int(best['concurrency'])}" if best.get("mode") == "serving"
                else f"batch {int(best['batch_size'])}")
        reasons.append({"hardware": hw_key, "reason": f"misses the limits at every setting tried; the closest, "
                                                      f"{load} on {int(best['devices'])} device(s): {best['_miss']}"})
    return reasons
