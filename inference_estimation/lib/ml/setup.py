"""A question, resolved: names to catalog keys, defaults that fit the hardware, and why a setup cannot run.

``workload`` checks what a question states; ``resolve_setup`` resolves it against the catalog
(model and hardware names, the engine and dtype defaults, ``batch_size="max"``, the layout) and
checks it with :func:`inference_estimation.lib.physics.refusals.setup_refusals`: a setup that
cannot run is refused with the reason and gets no numbers. Both are one row of the column-wise
path in :mod:`inference_estimation.lib.ml.setup_columns`, which batch prediction runs over all its
rows, so ``predict``, batch prediction and ``recommend`` resolve questions with the same code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inference_estimation.lib.catalog import Catalog, HardwareEntry, ModelEntry
from inference_estimation.lib.catalog.vocabulary import canonical_dtype, canonical_engine
from inference_estimation.lib.ml.setup_columns import (  # noqa: F401  (MODES, PAGED_MAX_SEQUENCES re-exported)
    MODES,
    PAGED_MAX_SEQUENCES,
    SetupColumns,
    integer_problems,
    one_question,
    resolve_columns,
    workload_problems,
)
from inference_estimation.lib.physics.memory import MemoryFit
from inference_estimation.lib.physics.refusals import weight_only_note

#: The source whose conventions a prediction follows by default: this project's harness.
DEFAULT_SOURCE = "local"


class SetupRefused(ValueError):
    """The setup cannot run (see :func:`inference_estimation.lib.physics.refusals.setup_refusal`); no numbers.

    Attributes:
        setup: the resolved setup, with its ``refusal``.
    """

    def __init__(self, setup: Setup):
        super().__init__(setup.refusal)
        self.setup = setup


def _number(name: str, value: Any) -> np.ndarray:
    """A workload figure as a one-row column (NaN: not given), or the ValueError of a value that is no number."""
    if value is None:
        return np.array([np.nan])
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)):
        if name == "request_rate_rps":
            raise ValueError(f"request_rate_rps must be > 0, got {value!r}")
        raise ValueError(f"{name}: {value!r} is not an integer; expected an integer >= 1")
    return np.array([float(value)])


def workload(batch_size: int | str | None, input_tokens: int, output_tokens: int, engine: str | None = None,
             dtype: str | None = None, device_count: int | None = None, mode: str = "offline",
             source: str = DEFAULT_SOURCE, power_scope: str = "all-devices", concurrency: int | None = None,
             request_rate_rps: float | None = None) -> dict[str, Any]:
    """A workload dict in the training frame's column names, every value checked.

    Args:
        batch_size: sequences per batch; ``"max"`` for the largest batch whose KV cache fits (resolved
            per hardware by :func:`resolve_setup`); None in ``serving`` mode with a concurrency or a
            request rate (the load sets the batch).
        input_tokens: prompt tokens per sequence.
        output_tokens: generated tokens per sequence.
        engine: engine in any accepted spelling; None = the hardware's default (:func:`resolve_setup`).
        dtype: dtype in any accepted spelling; None = the model's released dtype where the hardware
            can run it (:func:`inference_estimation.lib.physics.refusals.default_engine_dtype`).
        device_count: devices the model is spread over (None: the hardware entry's).
        mode: ``offline`` or ``serving``.
        source: whose measurement conventions the prediction follows (default ``local``: this
            project's harness -- offline, generation forced to ``output_tokens``).
        power_scope: ``all-devices`` means power summed over the devices used.
        concurrency: requests in flight (serving).
        request_rate_rps: requests per second (serving).

    Raises:
        ValueError: naming the field, for a non-positive or non-integer size, an unknown engine,
            dtype or mode (:class:`VocabularyError`), a load figure without serving mode, or a
            batch size in serving mode (the load sets the batch).
    """
    batch_max = isinstance(batch_size, str) and batch_size.strip().lower() == "max"
    q = {"mode": np.array([mode], dtype=object), "batch_max": np.array([batch_max]),
         "batch_size": _number("batch_size", None if batch_max else batch_size),
         "input_tokens": _number("input_tokens", input_tokens), "output_tokens": _number("output_tokens", output_tokens),
         "concurrency": _number("concurrency", concurrency), "device_count": _number("device_count", device_count),
         "request_rate_rps": _number("request_rate_rps", request_rate_rps)}
    problem = workload_problems(q)[0]
    if problem is not None:
        raise ValueError(problem)
    input_tokens, output_tokens = int(input_tokens), int(output_tokens)
    concurrency = None if concurrency is None else int(concurrency)
    device_count = None if device_count is None else int(device_count)
    batch_size = "max" if batch_max else (None if batch_size is None else int(batch_size))
    out: dict[str, Any] = {
        "engine": None if engine is None else canonical_engine(engine),
        "dtype": None if dtype is None else canonical_dtype(dtype), "mode": mode, "batch_size": batch_size,
        "input_tokens": input_tokens, "output_tokens": output_tokens, "source": source, "power_scope": power_scope,
        "concurrency": concurrency, "request_rate_rps": request_rate_rps,
    }
    if device_count is not None:
        out["device_count"] = device_count
        out["tensor_parallel"] = device_count
    return out


@dataclass
class Setup:
    """A question resolved against the catalog: what is actually asked, and whether it can run.

    Attributes:
        model: the catalog model.
        hardware: the catalog hardware.
        work: the resolved workload (canonical engine and dtype, a numeric batch, the device count).
        memory: the memory rule's verdict (None for a model without an architecture).
        refusal: why the setup cannot run, or None.
        notes: things the user should know (defaults taken, part of a batch queued, ...).
    """

    model: ModelEntry
    hardware: HardwareEntry
    work: dict[str, Any]
    memory: MemoryFit | None
    refusal: str | None = None
    notes: list[str] = field(default_factory=list)

    def echo(self) -> dict[str, Any]:
        """What was answered: resolved keys, engine, dtype, device count, workload and memory."""
        w = self.work
        out = {"model": self.model.key, "hardware": self.hardware.key, "engine": w["engine"], "dtype": w["dtype"],
               "device_count": w["device_count"], "devices": self.hardware.devices(w["device_count"]), "batch_size": None if w["mode"] == "serving" else w["batch_size"], "input_tokens": w["input_tokens"],
               "output_tokens": w["output_tokens"], "mode": w["mode"], "concurrency": w["concurrency"],
               "request_rate_rps": w["request_rate_rps"], "source": w["source"],
               "weight_only": self.refusal is None and weight_only_note(self.hardware, w["dtype"]) is not None}
        if self.memory is not None and not math.isnan(self.memory.usable_gb):
            out["memory"] = {"required_gb": round(self.memory.required_gb, 2),
                             "usable_gb": round(self.memory.usable_gb, 2),
                             "weights_gb": round(self.memory.weights_gb, 2),
                             # a setup whose weights and one sequence do not fit holds no sequence at all
                             "max_batch": 0 if self.memory.memory_fit_ratio > 1 else self.memory.max_batch,
                             "paged": self.memory.paged}
        return out


def resolve_setup(catalog: Catalog, model_key: str, hardware_key: str, work: dict[str, Any]) -> Setup:
    """Resolves a question (names, defaults, ``batch_size="max"``) and checks that it can run.

    The question is one row of :func:`inference_estimation.lib.ml.setup_columns.resolve_columns`,
    the path batch prediction takes for many. A hardware name may state its device count (``8x
    H200``, ``2xA100-80GB``): it is the question's device count, and a different
    ``work["device_count"]`` is an error naming both. So may a model name state its dtype
    (``Llama-3.1-8B-Instruct-FP8``, ``...-AWQ``): the question's dtype where none is given (with a
    note), and a different ``work["dtype"]`` is an error naming both.

    Raises:
        CatalogError: for an unknown model or hardware (listing the closest keys).
        ValueError: for an invalid workload (see :func:`workload`), or a device count or dtype that
            disagrees with the one the hardware or model name states.
    """
    model, named_dtype = catalog.model_and_dtype(model_key)
    hardware, named_count = catalog.hw_and_count(hardware_key)
    work = dict(work)
    for name, canonical in (("engine", canonical_engine), ("dtype", canonical_dtype)):
        if work.get(name) is not None:
            work[name] = canonical(work[name])
    if work.get("device_count"):
        wrong = integer_problems("device_count", _number("device_count", work["device_count"]))[0]
        if wrong is not None:
            raise ValueError(wrong)
    codes = np.zeros(1, dtype=int)
    resolved = resolve_columns([model], codes, [hardware], codes, one_question(work),
                               hardware_names=np.array([hardware_key], dtype=object),
                               named_count=np.array([np.nan if named_count is None else float(named_count)]),
                               model_names=np.array([model_key], dtype=object),
                               named_dtype=np.array([named_dtype], dtype=object))
    if resolved.error[0] is not None:
        raise ValueError(resolved.error[0])
    return setup_of(resolved, 0, work)


def setup_of(resolved: SetupColumns, i: int, asked: dict[str, Any]) -> Setup:
    """Row ``i`` of resolved questions as a :class:`Setup` (``asked``: its workload as given)."""
    w = resolved.work
    work = {**asked, "engine": w["engine"][i], "dtype": w["dtype"][i],
            "batch_size": None if np.isnan(w["batch_size"][i]) else int(w["batch_size"][i]),
            "device_count": int(w["device_count"][i]), "tensor_parallel": asked.get("tensor_parallel")}
    if w["batch_is_max"][i]:
        work["batch_is_max"] = True
    memory = None
    if resolved.has_memory[i]:
        v = {k: (bool(x[i]) if k == "paged" else float(x[i])) for k, x in resolved.memory.items()}
        memory = MemoryFit(**{**v, "max_batch": None if np.isnan(v["max_batch"]) else int(v["max_batch"])})
    hardware = resolved.hardware[resolved.hardware_codes[i]]
    if not np.isnan(resolved.interconnect_gb_s[i]):
        hardware = hardware.model_copy(update={"specs": hardware.specs.model_copy(
            update={"interconnect_bandwidth_gb_s": float(resolved.interconnect_gb_s[i])})})
    return Setup(model=resolved.models[resolved.model_codes[i]], hardware=hardware, work=work, memory=memory,
                 refusal=resolved.refusal[i], notes=list(resolved.notes[i]))


def memory_estimate_gb(weights_gb: np.ndarray, kv_cache_gb: np.ndarray, usable_gb: np.ndarray,
                       max_batch: np.ndarray, paged: np.ndarray, batch: np.ndarray,
                       in_flight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the memory rule says many setups hold, all devices together (GB; not a prediction from
    measurements).

    ``kv_cache_gb`` is the rule's KV cache of ``batch`` sequences. ``in_flight`` (NaN: none) is the
    requests a request rate keeps in flight, which then stand for the batch. A paged engine holds at
    most ``max_batch`` sequences at once (the rest queue) and at most its reservation, ``usable_gb``.

    Returns:
        (weights + KV cache held in GB, whether a paged engine holds only ``max_batch`` of the
        sequences, whether its reservation bounds what it holds).
    """
    held = np.asarray(batch, dtype="float64").copy()
    kv = np.asarray(kv_cache_gb, dtype="float64").copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.isfinite(in_flight) & (held > 0)
        kv = np.where(rate, kv * in_flight / held, kv)
        held = np.where(rate, in_flight, held)
        queued = paged & np.isfinite(max_batch) & (held > max_batch)
        kv = np.where(queued, kv * max_batch / held, kv)
        bounded = paged & (weights_gb + kv > usable_gb)
        kv = np.where(bounded, np.maximum(usable_gb - weights_gb, 0.0), kv)
    return weights_gb + kv, queued, bounded


def memory_estimate(setup: Setup, in_flight: float | None = None) -> dict[str, Any] | None:
    """What the memory rule says the setup holds (not a prediction from measurements), or None:
    :func:`memory_estimate_gb` of one setup, with its basis in words.

    ``in_flight``: the requests a request rate keeps in flight (solved by the step model), which
    then stand for the batch.
    """
    fit = setup.memory
    if fit is None or math.isnan(fit.weights_gb) or math.isnan(fit.kv_cache_gb):
        return None
    batch = setup.work.get("batch_size")
    batch = float(batch) if isinstance(batch, (int, float)) and batch > 0 else math.nan
    rate = in_flight is not None and math.isfinite(in_flight) and math.isfinite(batch)
    total, queued, bounded = memory_estimate_gb(
        np.array([fit.weights_gb]), np.array([fit.kv_cache_gb]), np.array([fit.usable_gb]),
        np.array([math.nan if fit.max_batch is None else float(fit.max_batch)]), np.array([fit.paged]),
        np.array([batch]), np.array([in_flight if rate else math.nan]))
    kv_gb = float(total[0]) - fit.weights_gb
    if queued[0]:
        what = f"the {fit.max_batch} sequences held at once"
    elif rate:
        what = f"the {in_flight:g} requests in flight"
    else:
        what = "the batch"
    bound = ", up to the reservation" if bounded[0] else ""
    basis = f"weights {fit.weights_gb:.1f} GB + KV cache of {what} {kv_gb:.1f} GB{bound}"
    if fit.paged:
        basis += f"; a paged engine reserves {fit.usable_gb:.1f} GB"
    return {"value": round(float(total[0]), 2), "unit": "GB", "basis": f"memory rule, all devices: {basis}"}
