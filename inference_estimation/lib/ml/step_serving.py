"""Serving the step-time model in ``predict``: the time targets from the step model and scheduler.

When a step model is stored (the promoted version, or the trained one with ``--allow-unpromoted``;
:mod:`inference_estimation.lib.ml.predictor_store`), TTFT, TPOT, median ITL, e2e and throughput come from it; power and
peak memory stay CatBoost primitives, and energy per output token is ``power / throughput`` (both
bounds from the opposite bounds), so every identity still holds exactly.

Which campaign an answer speaks for:

* a question naming ``source`` is answered "as that campaign measured it" when the step model
  knows a campaign of that source on this hardware and engine (the newest engine version), and
  with that source's typical effect otherwise; by default (``local``) this machine's own sweeps
  speak for the device they measured;
* otherwise, a device and engine the user calibrated (:mod:`inference_estimation.lib.ml.step_calibration`)
  is answered with its calibration by default (reproducing the user's points, interpolating
  between them);
* else as a new campaign (no effect; the interval includes the campaigns' spread).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inference_estimation.lib.catalog.vocabulary import normalize_engine
from inference_estimation.lib.ml import predictor_store
from inference_estimation.lib.ml.step_calibration import Calibration
from inference_estimation.lib.ml.step_model import STEP_TARGETS, Adjustment, StepModel
from inference_estimation.targets import REGISTRY

STEP_MODEL_FILE = predictor_store.STEP_MODEL_FILE
#: Targets the step model answers in ``predict`` (the CatBoost time primitives are not used then).
SERVED_STEP_TARGETS = ("ttft_s", "tpot_s", "e2e_latency_s", "output_throughput_tok_s")


def step_model_path(predictors_dir: Path, promoted: bool) -> Path:
    """Where the layout before the predictor store kept the (promoted) step model; still read."""
    return predictors_dir / ("promoted" if promoted else "step_model") / STEP_MODEL_FILE


def load_step_model(predictors_dir: Path, allow_unpromoted: bool) -> tuple[StepModel | None, bool]:
    """The promoted step model (or the trained one when allowed), and whether it is promoted."""
    pointer, promoted = predictor_store.resolve(predictors_dir, predictor_store.STEP_MODEL, allow_unpromoted)
    if pointer is None:
        return None, False
    return StepModel.load(pointer.folder / STEP_MODEL_FILE), promoted


def campaign_for(model: StepModel, source: str | None, hardware_key: str, engine: str | None) -> str | None:
    """The stored campaign a question naming ``source`` speaks for (the newest engine version), or None."""
    engine = normalize_engine(engine) or "unknown"
    if not source:
        return None
    keys = [k.split("|") for k in model.campaign_effects]
    named = [k for k in keys if k[0] == source and k[1] == hardware_key and k[2] == engine]
    return "|".join(max(named, key=lambda k: _version_key(k[3]))) if named else None


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit()) if text else ()


def derive_energy(answers: pd.DataFrame) -> None:
    """Energy per output token = power / throughput from ``answers``' own columns, in place (the
    lower bound from the lower power and the upper throughput, and the reverse); nothing without power."""
    if "avg_power_w" not in answers or "output_throughput_tok_s" not in answers:
        return
    ends = ("", "_lower_90", "_upper_90")
    power = {s: pd.to_numeric(answers[f"avg_power_w{s}"], errors="coerce").to_numpy(dtype=float) for s in ends}
    thr = {s: pd.to_numeric(answers[f"output_throughput_tok_s{s}"], errors="coerce").to_numpy(dtype=float)
           for s in ends}
    energy = REGISTRY["energy_per_output_token_j"].identity["closed"]
    with np.errstate(divide="ignore", invalid="ignore"):
        for suffix, other in (("", ""), ("_lower_90", "_upper_90"), ("_upper_90", "_lower_90")):
            answers[f"energy_per_output_token_j{suffix}"] = energy(
                {"avg_power_w": power[suffix], "output_throughput_tok_s": thr[other]})


def answer_with_step_model(model: StepModel, rows: pd.DataFrame, answers: pd.DataFrame,
                           saturation: np.ndarray | None = None,
                           calibrations: dict[tuple[str, str], Calibration] | None = None,
                           ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Replaces the time targets of ``answers`` with the step model's and re-derives energy.

    Args:
        model: the step model.
        rows: the question rows (catalog facts and workload, ``hardware_key``, ``source``).
        answers: the CatBoost answers of the same rows (power and memory are kept from them).
        saturation: rows asked at the engine's saturation batch (``--batch-size max``).
        calibrations: the user's calibrations by (hardware, engine).

    Returns:
        (answers with the step targets, extras: ``saturated``, ``running_batch``, ``in_flight``,
        ``campaign``).
    """
    rows = rows.reset_index(drop=True).copy()
    if saturation is not None and saturation.any():
        rows["batch_size"] = np.where(saturation, np.nan, pd.to_numeric(rows["batch_size"], errors="coerce"))
    sources = rows["source"].astype(str).to_numpy() if "source" in rows else np.full(len(rows), "local")
    engines = rows["engine"].astype(str).to_numpy() if "engine" in rows else np.full(len(rows), "unknown")
    hardware = rows["hardware_key"].astype(str).to_numpy()
    campaigns = np.array([campaign_for(model, s, h, e) or "" for s, h, e in zip(sources, hardware, engines, strict=True)],
                         dtype=object)
    # a new campaign of the default source (this machine's sweeps) takes no source-level effect:
    # that source measured one CPU, not the device asked about
    rows["source"] = np.where((sources == "local") & (campaigns == ""), "", sources)
    adjust = _calibrated(rows, hardware, engines, campaigns, calibrations or {})
    for i, (h, e) in enumerate(zip(hardware, engines, strict=True)):
        cal = (calibrations or {}).get((h, normalize_engine(e) or "unknown"))
        if cal is not None and adjust.active[i]:
            campaigns[i] = f"calibrated:{cal.campaign}"
    step = model.predict(rows, campaigns=campaigns, adjust=adjust)
    answers = answers.reset_index(drop=True).copy()
    for target in SERVED_STEP_TARGETS:
        for suffix in ("", "_lower_90", "_upper_90"):
            answers[f"{target}{suffix}"] = step[f"{target}{suffix}"]
    derive_energy(answers)
    extras = {"saturated": step["saturated"], "running_batch": step["running_batch"], "in_flight": step["in_flight"],
              "campaign": campaigns}
    return answers, extras


def _calibrated(rows: pd.DataFrame, hardware: np.ndarray, engines: np.ndarray, campaigns: np.ndarray,
                calibrations: dict[tuple[str, str], Calibration]) -> Adjustment:
    """The calibration adjustments of rows of calibrated devices that name no public campaign."""
    adjust = Adjustment.none(len(rows))
    if not calibrations:
        return adjust
    keys = [(h, normalize_engine(e) or "unknown") for h, e in zip(hardware, engines, strict=True)]
    for key, cal in calibrations.items():
        idx = np.array([i for i, k in enumerate(keys) if k == key and not campaigns[i]], dtype=int)
        if not len(idx):
            continue
        part = cal.adjustment(rows.iloc[idx])
        adjust.active[idx] = True
        adjust.u, adjust.v = adjust.u.copy(), adjust.v.copy()
        adjust.u[idx], adjust.v[idx] = cal.u, cal.v
        for target, values in part.local_log.items():
            adjust.local_log.setdefault(target, np.zeros(len(rows)))[idx] = values
            adjust.local_weight.setdefault(target, np.zeros(len(rows)))[idx] = part.local_weight[target]
        adjust.noise_sd = part.noise_sd
    return adjust


__all__ = ["STEP_TARGETS", "answer_with_step_model", "campaign_for", "load_step_model", "step_model_path"]


def explain_step(model: StepModel, rows: pd.DataFrame, target: str,
                 calibrations: dict[tuple[str, str], Calibration] | None = None) -> dict:
    """How the step model got a time answer: the step's physical terms, the learned efficiencies and
    overheads that turn them into seconds, the scheduler's running batch, and the campaign factor.

    ``prediction`` is the answer; ``decode_step_s`` the engine step it is built from; each term's
    ``*_at_peak_s`` over its efficiency (plus the overheads) makes that step (the smooth maxima of
    :func:`inference_estimation.lib.physics.step.step_time` combine compute and memory terms).
    """
    from inference_estimation.lib.ml.step_model import (
        efficiencies_for,
        make_clock,
        prepare,
        simulate,
        softplus,
    )
    from inference_estimation.lib.physics.step import step_terms

    rows = rows.reset_index(drop=True).head(1)
    year = np.array([model.newest_year.get(normalize_engine(rows["engine"].iloc[0]) or "unknown", 2025.0)])
    prep = prepare(rows, year=year)
    z = efficiencies_for(model.coefficients, prep)
    sched = simulate(model.coefficients, prep)
    n_in = float(np.nan_to_num(prep.work.input_tokens[0]))
    n_out = float(np.nan_to_num(prep.work.output_tokens[0], nan=1.0))
    running = sched.running_batch[:1]
    terms = step_terms(prep.facts, np.zeros(1), np.zeros(1), np.zeros(1), running, np.array([n_in + n_out / 2]))
    clock = make_clock(model.coefficients, z)
    answered, _ = answer_with_step_model(model, rows, pd.DataFrame(index=rows.index), None, calibrations)
    eta = {k: float(np.exp(-softplus(z[k][0]))) for k in ("gemm", "memory", "kv_memory", "attention", "link")}
    overhead = {k: float(np.exp(z[k][0])) for k in ("step_overhead", "layer_overhead", "seq_overhead",
                                                      "collective_latency", "ttft_overhead")}
    simulated = float(getattr(sched, target)[0])
    value = float(answered[target].iloc[0])
    # a TTFT is made of prefill: one prompt alone at peak, and the scheduler's prefill step
    alone = step_terms(prep.facts, np.array([n_in]), np.ones(1), np.array([n_in / 2]), np.zeros(1), np.zeros(1))
    prefill = {"prompt_tokens": n_in, "prompt_alone_s": float(clock(alone)[0]),
               "prompt_terms_at_peak_s": {"gemm": float(alone.gemm_s[0]), "weights": float(alone.weight_s[0]),
                                          "attention": float(alone.attn_s[0]), "kv_cache": float(alone.kv_s[0]),
                                          "collectives": float(alone.comm_s[0])},
               "prefill_step_s": float(sched.prefill_step_s[0]),
               "serving": bool(str(rows["mode"].iloc[0]) == "serving") if "mode" in rows else False,
               "batch": float(pd.to_numeric(rows.get("batch_size"), errors="coerce").iloc[0])
               if "batch_size" in rows else float("nan")}
    return {**prefill,
        "target": target, "prediction": value, "model": "step model + scheduler",
        "running_batch": float(running[0]), "replicas": float(prep.facts.replicas[0]),
        "tensor_parallel": float(prep.facts.tp[0]),
        "decode_step_s": float(clock(terms)[0]),
        "terms_at_peak_s": {"gemm": float(terms.gemm_s[0]), "weights": float(terms.weight_s[0]),
                            "attention": float(terms.attn_s[0]), "kv_cache": float(terms.kv_s[0]),
                            "collectives": float(terms.comm_s[0]), "collective_calls": float(terms.comm_calls[0])},
        "efficiencies": eta, "overheads_s": overhead,
        "campaign_factor": value / simulated if simulated else None,
    }


def step_notes(step: StepModel, engines: np.ndarray, hardware_keys: np.ndarray, campaigns: np.ndarray) -> list[list[str]]:
    """What the step model assumed for each answered row: the campaign it speaks for, the software year."""
    out: list[list[str]] = []
    for engine, hardware_key, campaign in zip(engines, hardware_keys, campaigns, strict=True):
        notes = []
        campaign = "" if campaign is None or campaign != campaign else str(campaign)
        if campaign.startswith("calibrated:"):
            notes.append(f"time targets calibrated to your measurements of {hardware_key} with {engine} "
                         f"({campaign.removeprefix('calibrated:')}); name a public source to ask as it measured")
        elif campaign:
            notes.append(f"time targets as campaign {campaign} measured them")
        year = step.newest_year.get(engine)
        if year:
            notes.append(f"time targets for the newest {engine} software in the training data ({int(year)})")
        out.append(notes)
    return out


def answer_regime(work: dict[str, Any], saturated: bool) -> str:
    """Which identity a throughput answer follows (:data:`inference_estimation.targets.REGISTRY`)."""
    if work.get("batch_is_max") or saturated:
        return "saturation"
    if work.get("request_rate_rps") is not None and work.get("concurrency") is None:
        return "open_loop"
    return "closed"
