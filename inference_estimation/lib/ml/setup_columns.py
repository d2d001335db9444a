"""Questions resolved column-wise: the one path of ``predict``, batch prediction and ``recommend``.

A question is a row of columns (:data:`QUESTION_COLUMNS`); many questions are many rows. The
workload's rules (:func:`workload_problems`), the defaults that fit the hardware, ``batch_size
"max"``, the layout and the refusals (:func:`resolve_columns`) run over all rows at once: each
rule that depends only on a few facts of a row (the model and hardware, the hardware and dtype,
the model and device count) is asked once per distinct key
(:func:`inference_estimation.lib.physics.distinct.per_distinct`), and the memory rule is one
numpy pass. :func:`inference_estimation.lib.ml.setup.resolve_setup` is this path for one row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from inference_estimation.lib.catalog import HardwareEntry, ModelEntry
from inference_estimation.lib.catalog.vocabulary import engine_generation_note
from inference_estimation.lib.ml.scheduler import saturation_limits
from inference_estimation.lib.ml.step_model import deployment
from inference_estimation.lib.physics.distinct import per_distinct
from inference_estimation.lib.physics.features import hardware_facts, model_facts
from inference_estimation.lib.physics.layout import node_note
from inference_estimation.lib.physics.refusals import (
    default_engine_dtype_note,
    dtype_unsupported,
    memory_rule,
    setup_refusals,
    weight_only_note,
)

#: Workload modes: ``offline`` (a fixed batch) and ``serving`` (a concurrency or a request rate).
MODES = ("offline", "serving")
#: Requests in flight a paged engine holds at most where no step model sizes it (the CatBoost-only
#: request-rate solve); ``batch_size="max"`` is the engine's scheduler's own figure instead.
PAGED_MAX_SEQUENCES = 256
#: The columns of questions: text (``engine``/``dtype`` canonical, None = the hardware's default)
#: and numbers as floats (NaN = not given); ``batch_max`` marks ``batch_size="max"``.
QUESTION_COLUMNS = ("engine", "dtype", "mode", "source", "power_scope", "batch_size", "batch_max", "input_tokens",
                    "output_tokens", "device_count", "tensor_parallel", "concurrency", "request_rate_rps")
#: The numeric question columns.
NUMBER_COLUMNS = ("batch_size", "input_tokens", "output_tokens", "device_count", "tensor_parallel", "concurrency",
                  "request_rate_rps")


def shown(value: float) -> int | float:
    """A number as the question gave it: whole numbers without a decimal point."""
    return int(value) if np.isfinite(value) and float(value).is_integer() else float(value)


def integer_problems(name: str, v: np.ndarray) -> np.ndarray:
    """Why each value of ``name`` is not an integer >= 1 (None where it is, or where it is NaN: not given)."""
    out = np.full(len(v), None, dtype=object)
    with np.errstate(invalid="ignore"):
        fraction = ~np.isnan(v) & (~np.isfinite(v) | (v != np.floor(v)))
        small = ~np.isnan(v) & ~fraction & (v < 1)
    for i in np.flatnonzero(fraction):
        out[i] = f"{name}: {shown(v[i])!r} is not an integer; expected an integer >= 1"
    for i in np.flatnonzero(small):
        out[i] = f"{name} must be >= 1, got {shown(v[i])}"
    return out


def workload_problems(q: dict[str, np.ndarray]) -> np.ndarray:
    """The first thing wrong with each question's workload, as ``workload`` says it (None: fine).

    In order: the mode, the token counts, the concurrency and request rate (positive, not both), a
    load figure offline, a batch in serving mode (the load sets the batch), a missing batch, the batch
    and the device count (integers >= 1).
    """
    n = len(q["mode"])
    problem = np.full(n, None, dtype=object)

    def flag(bad: np.ndarray, message) -> None:
        for i in np.flatnonzero(bad & np.equal(problem, None)):
            problem[i] = message(i)

    def positive_int(name: str) -> None:
        wrong = integer_problems(name, q[name])
        flag(np.not_equal(wrong, None), lambda i: wrong[i])

    mode = q["mode"]
    flag(~np.isin(mode, MODES), lambda i: f"mode: {mode[i]!r} is not a known mode; use one of {', '.join(MODES)}")
    for name in ("input_tokens", "output_tokens", "concurrency"):
        positive_int(name)
    rate = q["request_rate_rps"]
    with np.errstate(invalid="ignore"):
        flag(~np.isnan(rate) & ~((rate > 0) & np.isfinite(rate)),
             lambda i: f"request_rate_rps must be > 0, got {shown(rate[i])!r}")
    load = ~np.isnan(q["concurrency"]) | ~np.isnan(rate)
    flag(~np.isnan(q["concurrency"]) & ~np.isnan(rate), lambda i: (
        f"concurrency ({shown(q['concurrency'][i])}) and request_rate_rps ({shown(rate[i])}) were both given; a "
        "serving load is one of them: requests in flight (closed loop) or arrivals per second (open loop)"))
    serving, batch_given = mode == "serving", q["batch_max"] | ~np.isnan(q["batch_size"])
    flag((mode == "offline") & load,
         lambda i: "concurrency and request_rate_rps describe a serving load; use mode 'serving'")
    flag(serving & batch_given, lambda i: (
        f"batch_size: a serving question is sized by its load, not by a batch "
        f"({'max' if q['batch_max'][i] else shown(q['batch_size'][i])!r} given); use concurrency (requests in "
        "flight, --concurrency) or request_rate_rps (--request-rate-rps) and leave batch_size out, or use mode "
        "'offline' for a fixed batch"))
    flag(~batch_given & ~(serving & load), lambda i: "batch_size is required offline (a number or 'max'); a serving "
         "question (mode 'serving') names a concurrency or a request rate instead")
    positive_int("batch_size")
    positive_int("device_count")
    return problem


@dataclass
class SetupColumns:
    """Questions resolved against the catalog, column-wise (see :class:`inference_estimation.lib.ml.setup.Setup`).

    Attributes:
        models, hardware: the catalog entries; ``model_codes``/``hardware_codes`` index them per row.
        work: the resolved workload columns (canonical engine and dtype, a numeric batch -- NaN
            where none --, the device count, ``batch_is_max``).
        memory: the memory rule's arrays for the resolved batches; ``has_memory`` says where they
            apply (an LLM with a batch).
        refusal: why each setup cannot run, or None.
        error: a question that is wrong as asked (a device count the hardware name contradicts, a
            dtype the model name contradicts), or None; it starts with the field it is about
            (``device_count: ``, ``dtype: ``).
        notes: things the user should know, per row.
        interconnect_gb_s: the bandwidth collectives are costed at where it is not the hardware's
            own (past one node: the network between nodes), else NaN.
    """

    models: Sequence[ModelEntry]
    model_codes: np.ndarray
    hardware: Sequence[HardwareEntry]
    hardware_codes: np.ndarray
    work: dict[str, np.ndarray]
    memory: dict[str, np.ndarray]
    has_memory: np.ndarray
    refusal: np.ndarray
    error: np.ndarray
    notes: list[list[str]]
    interconnect_gb_s: np.ndarray

    def facts_frame(self, rows: np.ndarray) -> pd.DataFrame:
        """:func:`inference_estimation.lib.physics.features.prediction_row` of ``rows``, column-wise."""
        frame = _fact_rows(self.models, self.model_codes, self.hardware, self.hardware_codes, self.work, rows)
        own = frame["interconnect_bandwidth_gb_s"].to_numpy(dtype="float64", na_value=np.nan)
        override = self.interconnect_gb_s[rows]
        frame["interconnect_bandwidth_gb_s"] = np.where(np.isnan(override), own, override)
        return frame


def _defaults(models: Sequence[ModelEntry], model_codes: np.ndarray, hardware: Sequence[HardwareEntry],
              hardware_codes: np.ndarray, q: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """The engine and dtype of each row (the hardware's defaults where none is named) and the dtype notes."""
    remembered: dict[tuple[str, str], str | None] = {}

    def unsupported(hw: HardwareEntry, dtype: str) -> str | None:
        if (hw.key, dtype) not in remembered:
            remembered[(hw.key, dtype)] = dtype_unsupported(hw, dtype)
        return remembered[(hw.key, dtype)]

    no_engine, no_dtype = np.equal(q["engine"], None), np.equal(q["dtype"], None)
    defaults = per_distinct(no_engine | no_dtype, (model_codes, hardware_codes),
                            lambda m, h: default_engine_dtype_note(hardware[h], models[m], unsupported))
    engine, dtype = q["engine"].astype(object), q["dtype"].astype(object)
    engine[no_engine] = [d[0] for d in defaults[no_engine]]
    dtype[no_dtype] = [d[1] for d in defaults[no_dtype]]
    notes: list[list[str]] = [[] for _ in range(len(model_codes))]
    for i in np.flatnonzero(no_dtype):
        notes[i].append(defaults[i][2])
    return engine, dtype, notes


def _fact_rows(models: Sequence[ModelEntry], model_codes: np.ndarray, hardware: Sequence[HardwareEntry],
               hardware_codes: np.ndarray, work: dict[str, np.ndarray], rows: np.ndarray) -> pd.DataFrame:
    """The catalog facts and the workload of ``rows``, one frame (``prediction_row``'s columns)."""
    model_rows = pd.DataFrame([model_facts(m) for m in models]).take(model_codes[rows])
    hardware_rows = pd.DataFrame([hardware_facts(h) for h in hardware]).take(hardware_codes[rows])
    work_rows = pd.DataFrame({name: column[rows] for name, column in work.items()})
    return pd.concat([model_rows.reset_index(drop=True), hardware_rows.reset_index(drop=True), work_rows], axis=1)


def _engine_capacity(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """:func:`inference_estimation.lib.ml.scheduler.saturation_limits` of rows, for the whole system
    (every data-parallel replica), with the engine defaults it used."""
    facts, eng = deployment(frame)
    n_in = np.nan_to_num(frame["input_tokens"].to_numpy(dtype="float64"))
    n_out = np.maximum(np.nan_to_num(frame["output_tokens"].to_numpy(dtype="float64"), nan=1.0), 1.0)
    out = saturation_limits(facts, eng, n_in, n_out)
    ok = facts.valid & np.isfinite(facts.memory_bytes_per_replica)
    for name in ("kv", "kv_whole", "cap", "running"):
        out[name] = np.where(ok, out[name] * facts.replicas, np.nan)
    return {**out, "replicas": facts.replicas, "max_seqs": eng.max_seqs, "token_budget": eng.token_budget,
            "whole_length": eng.reserve_full_length.astype(bool)}


def _batch_notes(notes: list[list[str]], engine: np.ndarray, batch: np.ndarray, memory: dict[str, np.ndarray],
                 rows: np.ndarray, mode: np.ndarray) -> None:
    """Adds what an offline batch on a paged engine means to ``notes`` (of ``rows``, numeric batches
    that run): waves where its KV cache holds only part of the batch, else one batch arriving at once."""
    with np.errstate(invalid="ignore"):
        queued = rows & memory["paged"] & (batch > memory["max_batch"])
    for i in np.flatnonzero(queued):
        held, waves = int(memory["max_batch"][i]), int(np.ceil(batch[i] / memory["max_batch"][i]))
        notes[i].append(f"{engine[i]}'s KV cache holds {held} of the {int(batch[i])} sequences at once; the rest "
                        f"queue, so the batch runs in {waves} waves: TTFT (queueing behind its wave's prefill included), "
                        f"TPOT and e2e are one wave's (a sequence "
                        f"of a later wave also waits for the waves before it), throughput holds for the whole "
                        f"batch, which takes about {waves} x e2e")
    with np.errstate(invalid="ignore"):
        at_once = rows & memory["paged"] & (mode == "offline") & (batch > 1) & ~queued
    for i in np.flatnonzero(at_once):
        notes[i].append(f"batch {int(batch[i])}: all {int(batch[i])} requests arrive at once and run as one batch, "
                        "so TTFT is the whole batch's prefill (the last request's first token; one early in "
                        "the batch waits less), which keeps throughput = batch x output / e2e; --batch-size max "
                        "is the steady state at saturation instead")


def _saturation_note(engine: str, c: dict[str, np.ndarray], i: int, n_in: float, n_out: float) -> str:
    """What ``batch_size="max"`` resolved to on a paged engine, and what limits it."""
    running, replicas = int(c["running"][i]), int(c["replicas"][i])
    per = f" ({running // replicas} on each of {replicas} replicas)" if replicas > 1 else ""
    if c["whole_length"][i]:
        kv = f"its KV cache holds {int(c['kv'][i])}, each reserving its whole {n_in + n_out:g} tokens"
    else:
        kv = (f"its KV cache holds {int(c['kv'][i])} at their mean {n_in + n_out / 2:g} tokens mid-generation "
              f"({int(c['kv_whole'][i])} whole contexts of {n_in + n_out:g})")
    why = {0: "all", 1: f"its sequence limit of {c['max_seqs'][i]:g} per replica;",
           2: f"what its token budget of {c['token_budget'][i]:g} tokens a step sustains at {n_in:g} in and "
              f"{n_out:g} out per request;"}[int(c["limit"][i])]
    return (f"batch 'max' is {engine}'s saturation batch: {running} sequences running at once{per}, in the steady "
            f"state (a finished request is replaced at once, as in MLPerf Offline; TTFT is one request's): {why} {kv}")


def _largest_batches(fit, llm: np.ndarray, q: dict[str, np.ndarray], hardware: Sequence[HardwareEntry],
                     hardware_codes: np.ndarray, devices: np.ndarray,
                     fact_rows) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str | None]]:
    """Each row's batch, whether it was ``max``, the refusal of a ``max`` without a memory size, the
    sequences a paged engine holds at once (NaN elsewhere) and the note of each ``max``.

    ``max`` on a paged engine is its saturation batch as its scheduler runs it
    (:func:`inference_estimation.lib.ml.scheduler.saturation_limits`: the engine's sequence limit and
    token budget, capped by its KV cache), the figure the step model answers at; on an engine of
    static batches the largest batch whose whole KV cache fits (the memory rule), run as one batch.
    A serving row's batch is its concurrency, else one. ``fact_rows(rows)`` gives rows' facts.
    """
    batch, is_max = q["batch_size"].astype("float64"), q["batch_max"] & llm
    n = len(batch)
    refusal = np.full(n, None, dtype=object)
    held = np.full(n, np.nan)
    notes: list[str | None] = [None] * n
    at_one = fit(1.0, devices)
    paged = llm & at_one["paged"] & np.isfinite(at_one["max_batch"])
    if paged.any():
        rows = np.flatnonzero(paged)
        frame = fact_rows(rows)
        capacity = _engine_capacity(frame)
        held[rows] = capacity["cap"]
        for j in np.flatnonzero(is_max[rows] & ~np.isnan(capacity["running"])):
            i = rows[j]
            batch[i] = capacity["running"][j]
            notes[i] = _saturation_note(frame["engine"].iloc[j], capacity, j, float(q["input_tokens"][i]),
                                        float(q["output_tokens"][i]))
    static = is_max & ~paged
    if static.any():
        largest = at_one["max_batch"]
        unknown = static & np.isnan(largest)
        refusal[unknown] = per_distinct(unknown, (hardware_codes,), lambda h: (
            f"batch_size 'max' needs {hardware[h].key}'s memory size (its catalog entry has none)"))[unknown]
        largest = np.where(largest < 1, 1.0, largest)  # setup_refusals says why one sequence does not fit
        batch = np.where(static, largest, batch)
        for i in np.flatnonzero(static & ~unknown):
            notes[i] = (f"batch 'max' is the largest batch whose whole KV cache fits at once ({int(batch[i])}), run "
                        "as one static batch")
    concurrency = q["concurrency"]
    unsized = np.isnan(batch) & ~q["batch_max"]
    batch = np.where(unsized, np.where(np.isnan(concurrency), 1.0, concurrency), batch)
    return batch, is_max, refusal, held, notes


def dtype_clash(model_name: str, named: str, given: str) -> str:
    """Why a dtype given is wrong where the model name states another (``...-FP8`` asked at int4)."""
    return f"model {model_name!r} names dtype {named} but the dtype given is {given}: give one of them (or the same dtype twice)"


def _named_dtypes(q: dict[str, np.ndarray], named_dtype: np.ndarray | None, model_names: np.ndarray | None,
                  error: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The questions with the dtype their model name states where they give none, and those rows.

    A different dtype given is the row's ``error`` (in place), naming both.
    """
    if named_dtype is None:
        return q, np.zeros(len(error), dtype=bool)
    given, named = q["dtype"], np.not_equal(named_dtype, None)
    clash = named & np.not_equal(given, None) & (given != named_dtype)
    for i in np.flatnonzero(clash):
        error[i] = "dtype: " + dtype_clash(model_names[i], named_dtype[i], given[i])
    taken = named & np.equal(given, None)
    return {**q, "dtype": np.where(taken, named_dtype, given)}, taken


def resolve_columns(models: Sequence[ModelEntry], model_codes: np.ndarray, hardware: Sequence[HardwareEntry],
                    hardware_codes: np.ndarray, q: dict[str, np.ndarray], hardware_names: np.ndarray | None = None,
                    named_count: np.ndarray | None = None, model_names: np.ndarray | None = None,
                    named_dtype: np.ndarray | None = None) -> SetupColumns:
    """Resolves questions (defaults, ``batch_size="max"``, the layout) and checks that each can run.

    Args:
        models: the catalog models.
        model_codes: the model of each row (an index into ``models``).
        hardware: the catalog hardware.
        hardware_codes: the hardware of each row (an index into ``hardware``).
        q: the question columns (:data:`QUESTION_COLUMNS`), their workload already checked.
        hardware_names: the hardware as each question named it (for the messages).
        named_count: the device count a hardware name states (``8x H200``), NaN where none; a
            different ``device_count`` is the row's ``error``, naming both.
        model_names: the model as each question named it (for the messages).
        named_dtype: the dtype a model name states (``Llama-3.1-8B-Instruct-FP8``: fp8), None where
            none; it is the question's dtype where none is given (with a note), and a different
            ``dtype`` is the row's ``error``, naming both.
    """
    n = len(model_codes)
    given, error = q["device_count"].astype("float64"), np.full(n, None, dtype=object)
    if named_count is not None:
        clash = ~np.isnan(named_count) & ~np.isnan(given) & (given != named_count)
        for i in np.flatnonzero(clash):
            error[i] = (f"device_count: hardware {hardware_names[i]!r} names {int(named_count[i])} devices but the device count "
                        f"given is {shown(given[i])}: give one of them (or the same count twice)")
        given = np.where(np.isnan(named_count), given, named_count)
    q, taken = _named_dtypes(q, named_dtype, model_names, error)
    engine, dtype, notes = _defaults(models, model_codes, hardware, hardware_codes, q)
    for i in np.flatnonzero(taken):
        notes[i].append(f"dtype {dtype[i]}: named by the model name {model_names[i]!r}")
    devices = np.where(np.isnan(given), np.array([h.device_count for h in hardware], dtype="float64")[hardware_codes],
                       given)
    context = q["input_tokens"] + q["output_tokens"]
    fit = memory_rule(models, model_codes, hardware, hardware_codes, dtype, engine, context)
    llm = np.array([m.kind == "llm" for m in models], dtype=bool)[model_codes]
    asked = {"engine": engine, "dtype": dtype, "mode": q["mode"], "input_tokens": q["input_tokens"],
             "output_tokens": q["output_tokens"], "device_count": devices, "tensor_parallel": q["tensor_parallel"]}
    batch, is_max, refusal, held, max_notes = _largest_batches(
        fit, llm, q, hardware, hardware_codes, devices,
        lambda rows: _fact_rows(models, model_codes, hardware, hardware_codes, asked, rows))
    has_memory = llm & ~np.isnan(batch)
    memory = fit(batch, devices)
    memory["max_batch"] = np.where(np.isnan(held), memory["max_batch"], held)  # the engine's own KV rule
    for i in np.flatnonzero(np.not_equal(max_notes, None)):
        notes[i].append(max_notes[i])
    checked = setup_refusals(models, model_codes, hardware, hardware_codes, dtype, engine, batch, q["input_tokens"],
                             q["output_tokens"], devices, fit=memory)
    refusal = np.where(np.equal(refusal, None), checked, refusal)
    runs = np.equal(refusal, None) & np.equal(error, None)
    # fp8/fp4/int4 weights on a device without that math are computed in 16 bits: said, not silently slower
    weight_only = per_distinct(runs, (hardware_codes, dtype), lambda h, d: weight_only_note(hardware[h], d))
    for i in np.flatnonzero(np.not_equal(weight_only, None)):
        notes[i].append(weight_only[i])
    dropped = per_distinct(runs, (hardware_codes, engine),
                           lambda h, e: engine_generation_note(e, hardware[h].generation))
    for i in np.flatnonzero(np.not_equal(dropped, None)):
        notes[i].append(dropped[i])
    across = per_distinct(runs, (hardware_codes, devices), lambda h, d: node_note(hardware[h], int(d)))
    interconnect = np.full(n, np.nan)
    for i in np.flatnonzero(np.not_equal(across, None)):
        # past one node the collectives cross the network between nodes: cost them at its bandwidth
        notes[i].append(across[i])
        interconnect[i] = hardware[hardware_codes[i]].specs.scale_out_bandwidth_gb_s
    _batch_notes(notes, engine, batch, memory, runs & has_memory & ~is_max, q["mode"])
    work = {"engine": engine, "dtype": dtype, "mode": q["mode"], "batch_size": batch, "batch_is_max": is_max,
            "input_tokens": q["input_tokens"], "output_tokens": q["output_tokens"], "source": q["source"],
            "power_scope": q["power_scope"], "concurrency": q["concurrency"],
            "request_rate_rps": q["request_rate_rps"], "device_count": devices, "tensor_parallel": q["tensor_parallel"]}
    return SetupColumns(models, model_codes, hardware, hardware_codes, work, memory, has_memory, refusal, error, notes,
                        interconnect)


def one_question(work: dict[str, Any]) -> dict[str, np.ndarray]:
    """A workload dict (:func:`inference_estimation.lib.ml.setup.workload`'s) as one row of question columns."""
    batch = work.get("batch_size")
    is_max = isinstance(batch, str) and batch.strip().lower() == "max"
    q: dict[str, np.ndarray] = {
        name: np.array([work.get(name)], dtype=object) for name in ("engine", "dtype", "source", "power_scope")}
    q["mode"] = np.array([work.get("mode", "offline")], dtype=object)
    q["batch_max"] = np.array([is_max])
    for name in NUMBER_COLUMNS:
        value = None if (name == "batch_size" and is_max) else work.get(name)
        q[name] = np.array([np.nan if value is None else float(value)])
    return q
