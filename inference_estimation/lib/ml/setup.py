"""A question, resolved: names to catalog keys, defaults that fit the hardware, and why a setup cannot run.

``workload`` checks what a question states; ``resolve_setup`` resolves it against the catalog
(model and hardware names, the engine and dtype defaults, ``batch_size="max"``, the layout) and
checks it with :func:`inference_estimation.lib.physics.refusals.setup_refusal`: a setup that
cannot run is refused with the reason and gets no numbers. ``predict``, batch prediction and
``recommend`` all resolve questions here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inference_estimation.lib.catalog import Catalog, HardwareEntry, ModelEntry
from inference_estimation.lib.catalog.vocabulary import canonical_dtype, canonical_engine
from inference_estimation.lib.physics.features import model_facts
from inference_estimation.lib.physics.memory import MemoryFit, memory_fit
from inference_estimation.lib.physics.refusals import (
    default_engine_dtype_note,
    device_memory_gb,
    node_note,
    setup_refusal,
    weight_only_note,
)

#: Workload modes: ``offline`` (a fixed batch) and ``serving`` (a concurrency or a request rate).
MODES = ("offline", "serving")
#: The source whose conventions a prediction follows by default: this project's harness.
DEFAULT_SOURCE = "local"
#: Sequences a paged engine keeps in flight at most (vLLM's default ``max_num_seqs``): the cap
#: of ``batch_size="max"`` on such engines.
PAGED_MAX_SEQUENCES = 256


class SetupRefused(ValueError):
    """The setup cannot run (see :func:`inference_estimation.lib.physics.refusals.setup_refusal`); no numbers.

    Attributes:
        setup: the resolved setup, with its ``refusal``.
    """

    def __init__(self, setup: Setup):
        super().__init__(setup.refusal)
        self.setup = setup


def _positive_int(name: str, value: Any) -> int:
    """An integer >= 1, or a ValueError naming the field (1.5 is an error, never truncated)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)) or \
            (isinstance(value, (float, np.floating)) and not float(value).is_integer()):
        raise ValueError(f"{name}: {value!r} is not an integer; expected an integer >= 1")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


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
    if mode not in MODES:
        raise ValueError(f"mode: {mode!r} is not a known mode; use one of {', '.join(MODES)}")
    input_tokens, output_tokens = _positive_int("input_tokens", input_tokens), _positive_int("output_tokens", output_tokens)
    if concurrency is not None:
        concurrency = _positive_int("concurrency", concurrency)
    if request_rate_rps is not None and not (isinstance(request_rate_rps, (int, float)) and request_rate_rps > 0
                                             and math.isfinite(request_rate_rps)):
        raise ValueError(f"request_rate_rps must be > 0, got {request_rate_rps!r}")
    if mode == "offline" and (concurrency is not None or request_rate_rps is not None):
        raise ValueError("concurrency and request_rate_rps describe a serving load; use mode 'serving'")
    if mode == "serving" and batch_size is not None:
        raise ValueError(f"batch_size: a serving question is sized by its load, not by a batch ({batch_size!r} "
                         "given); use concurrency (requests in flight, --concurrency) or request_rate_rps "
                         "(--request-rate-rps) and leave batch_size out, or use mode 'offline' for a fixed batch")
    if batch_size is None:
        if mode != "serving" or (concurrency is None and request_rate_rps is None):
            raise ValueError("batch_size is required offline (a number or 'max'); a serving question "
                             "(mode 'serving') names a concurrency or a request rate instead")
    elif not (isinstance(batch_size, str) and batch_size.strip().lower() == "max"):
        batch_size = _positive_int("batch_size", batch_size)
    else:
        batch_size = "max"
    if device_count is not None:
        device_count = _positive_int("device_count", device_count)
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
               "device_count": w["device_count"], "batch_size": None if w["mode"] == "serving" else w["batch_size"], "input_tokens": w["input_tokens"],
               "output_tokens": w["output_tokens"], "mode": w["mode"], "concurrency": w["concurrency"],
               "request_rate_rps": w["request_rate_rps"], "source": w["source"],
               "weight_only": self.refusal is None and weight_only_note(self.hardware, w["dtype"]) is not None}
        if self.memory is not None and not math.isnan(self.memory.usable_gb):
            out["memory"] = {"required_gb": round(self.memory.required_gb, 2),
                             "usable_gb": round(self.memory.usable_gb, 2),
                             "weights_gb": round(self.memory.weights_gb, 2),
                             "max_batch": self.memory.max_batch}
        return out


def resolve_setup(catalog: Catalog, model_key: str, hardware_key: str, work: dict[str, Any]) -> Setup:
    """Resolves a question (names, defaults, ``batch_size="max"``) and checks that it can run.

    A hardware name may state its device count (``8x H200``, ``2xA100-80GB``): it is the
    question's device count, and a different ``work["device_count"]`` is an error naming both.

    Raises:
        CatalogError: for an unknown model or hardware (listing the closest keys).
        ValueError: for an invalid workload (see :func:`workload`), or a device count that
            disagrees with the one the hardware name states.
    """
    model = catalog.model(model_key)
    hardware, named_count = catalog.hw_and_count(hardware_key)
    work = dict(work)
    if named_count is not None:
        given = work.get("device_count")
        if given is not None and int(given) != named_count:
            raise ValueError(f"hardware {hardware_key!r} names {named_count} devices but the device count given "
                             f"is {given}: give one of them (or the same count twice)")
        work["device_count"] = named_count
    default_engine, default_dtype, dtype_note = default_engine_dtype_note(hardware, model)
    notes = []
    if work.get("engine") is None:
        work["engine"] = default_engine
    if work.get("dtype") is None:
        work["dtype"] = default_dtype
        notes.append(dtype_note)
    work["engine"], work["dtype"] = canonical_engine(work["engine"]), canonical_dtype(work["dtype"])
    devices = work.get("device_count") or hardware.device_count
    work["device_count"] = _positive_int("device_count", devices)
    work.setdefault("tensor_parallel", None)
    context = work["input_tokens"] + work["output_tokens"]
    facts = model_facts(model)
    memory_gb = device_memory_gb(hardware)
    refusal = None
    if work.get("batch_size") == "max" and model.kind == "llm":
        work["batch_is_max"] = True
        fit_at_one = memory_fit(facts, memory_gb, hardware.kind, work["dtype"], work["engine"], 1, context,
                                work["device_count"])
        largest = fit_at_one.max_batch
        if largest is None:
            refusal = f"batch_size 'max' needs {hardware.key}'s memory size (its catalog entry has none)"
        elif largest < 1:
            largest = 1  # setup_refusal says why one sequence does not fit
        if fit_at_one.paged and largest:
            largest = min(largest, PAGED_MAX_SEQUENCES)
        work["batch_size"] = largest
    elif work.get("batch_size") is None:
        work["batch_size"] = work.get("concurrency") or 1
    if not isinstance(work["batch_size"], int):
        work["batch_size"] = None if work["batch_size"] in (None, "max") else work["batch_size"]
    memory = None
    if model.kind == "llm" and work["batch_size"] is not None:
        memory = memory_fit(facts, memory_gb, hardware.kind, work["dtype"], work["engine"], work["batch_size"],
                            context, work["device_count"])
    refusal = refusal or setup_refusal(model, hardware, work["dtype"], work["engine"], work["batch_size"],
                                       work["input_tokens"], work["output_tokens"], work["device_count"], fit=memory)
    weight_only = weight_only_note(hardware, work["dtype"]) if refusal is None else None
    if weight_only:
        notes.append(weight_only)  # fp8/fp4/int4 weights computed in 16 bits: said, not silently slower
    across_nodes = node_note(hardware, work["device_count"]) if refusal is None else None
    if across_nodes:
        # past one node the collectives cross the network between nodes: cost them at its bandwidth
        notes.append(across_nodes)
        hardware = hardware.model_copy(update={"specs": hardware.specs.model_copy(
            update={"interconnect_bandwidth_gb_s": hardware.specs.scale_out_bandwidth_gb_s})})
    if refusal is None and memory is not None and memory.paged and memory.max_batch is not None \
            and work["batch_size"] > memory.max_batch:
        notes.append(f"{work['engine']}'s KV cache holds {memory.max_batch} of the {work['batch_size']} sequences "
                     "at once; the rest queue")
    return Setup(model=model, hardware=hardware, work=work, memory=memory, refusal=refusal, notes=notes)
