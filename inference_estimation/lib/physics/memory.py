"""The one memory-fit rule: does a model, at a dtype, with a batch and a context, fit on N devices.

Every caller -- the benchmark planner (:mod:`inference_estimation.lib.sweeps.planning`), ``predict``,
batch prediction, ``recommend`` and the ``memory_fit_ratio`` feature -- asks this module, so
``recommend`` never proposes what the planner would refuse.

The rule, per engine:

* **Paged engines** (vLLM, SGLang, TensorRT-LLM, TGI, LMDeploy, DeepSpeed-MII) reserve a share of
  each device up front (vLLM's ``gpu_memory_utilization``, default 0.9) and page the KV cache
  inside it: the weights, an activation/CUDA-graph reserve per device and the KV cache of the
  sequences *in flight* share that reservation. A batch larger than the cache holds is queued,
  not refused, so the setup runs when the weights plus one full-length sequence fit; the largest
  batch that runs at once is :attr:`MemoryFit.max_batch`.
* **Other engines** (transformers, llama.cpp, ...) hold the whole batch's KV cache at once, with
  an allocator/activation overhead factor on weights + KV, in a usable share of the memory
  (less a runtime reserve on CPUs).

Weights take the dtype's bytes (:data:`vocabulary.BYTES_PER_ELEMENT`, block scales included),
the KV cache :data:`vocabulary.KV_BYTES_PER_ELEMENT`. Everything is column-wise
(:func:`memory_fit_arrays`) so a 50k-row batch costs one numpy pass; :func:`memory_fit` is the
one-configuration form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from inference_estimation import constants
from inference_estimation.lib.catalog.vocabulary import BYTES_PER_ELEMENT, KV_BYTES_PER_ELEMENT

#: Engines that reserve device memory up front and page their KV cache.
PAGED_ENGINES = frozenset({"vllm", "sglang", "tensorrt-llm", "tensorrt-llm-pytorch", "atom", "tgi", "lmdeploy",
                           "deepspeed-mii"})
#: Device counts tried when looking for the fewest devices that fit (tensor parallel sizes).
DEVICE_COUNTS = (1, 2, 4, 8, 16, 32, 64)


def _kv_gb_per_token(layers: np.ndarray, kv_heads: np.ndarray, head_dim: np.ndarray, kv_bpe: np.ndarray,
                     kv_dim: np.ndarray) -> np.ndarray:
    """KV cache per token: K and V of every layer, or the layer's compressed (MLA) width where stated."""
    width = np.where(np.isnan(kv_dim) | (kv_dim <= 0), 2.0 * kv_heads * head_dim, kv_dim)
    return layers * width * kv_bpe / 1e9


def memory_fit_arrays(params: Any, layers: Any, kv_heads: Any, head_dim: Any, dtype: Any, engine: Any,
                      batch_size: Any, context_tokens: Any, memory_gb_per_device: Any, device_count: Any,
                      hardware_kind: Any, kv_cache_dim_per_layer: Any = None) -> dict[str, np.ndarray]:
    """The memory rule for many configurations at once (arrays or scalars, broadcast).

    Args:
        params: total parameters (all experts of a MoE: every weight is resident).
        layers: decoder layers.
        kv_heads: key/value heads.
        head_dim: head dimension.
        dtype: canonical dtype per row (an unknown one counts 2 bytes).
        engine: canonical engine per row.
        batch_size: sequences of the batch (NaN: unknown).
        context_tokens: prompt + generated tokens per sequence.
        memory_gb_per_device: memory of one device in GB (NaN: unknown).
        device_count: devices the model is spread over.
        hardware_kind: catalog kind per row (``cpu`` keeps a runtime reserve).
        kv_cache_dim_per_layer: values cached per token and layer (MLA's compressed latent); None
            or NaN: ``2 * kv_heads * head_dim`` (keys and values).

    Returns:
        Arrays (GB unless said): ``weights_gb``, ``kv_cache_gb`` (the whole batch),
        ``required_gb`` (what must fit for the setup to run at all: the whole batch, or for a
        paged engine one full-length sequence), ``usable_gb``, ``memory_fit_ratio``
        (required / usable; > 1 cannot run), ``batch_memory_ratio`` (the whole batch at once /
        usable; > 1 on a paged engine means part of the batch queues), ``max_batch`` (largest
        batch whose KV cache fits at once; 0 when not even one sequence fits) and ``paged``.
        NaN where a needed fact is unknown (no architecture, no memory size).
    """
    n = max(np.size(x) for x in (params, dtype, engine, batch_size, memory_gb_per_device, device_count))

    def num(x: Any) -> np.ndarray:
        if np.ndim(x) == 0:  # a scalar (the one-configuration path: no pandas)
            value = np.nan if x is None or isinstance(x, str) else float(x)
            return np.full(n, value)
        array = x.to_numpy() if isinstance(x, pd.Series) else np.asarray(x)
        if array.dtype.kind not in "fiub":
            array = pd.to_numeric(pd.Series(array, dtype=object), errors="coerce").to_numpy(
                dtype="float64", na_value=np.nan)
        return np.broadcast_to(array.astype("float64"), n)

    def text(x: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, dtype=object), n)

    def per_dtype(table: dict[str, float]) -> np.ndarray:
        if np.ndim(dtype) == 0:
            return np.full(n, table.get(dtype, 2.0))
        codes, names = pd.factorize(np.asarray(dtype, dtype=object))
        values = np.array([table.get(name, 2.0) for name in names] + [2.0], dtype="float64")
        return values[codes]  # code -1 (null) takes the last value

    engines, kinds = text(engine), text(hardware_kind)
    bpe, kv_bpe = per_dtype(BYTES_PER_ELEMENT), per_dtype(KV_BYTES_PER_ELEMENT)
    codes, names = pd.factorize(engines, use_na_sentinel=False) if n > 1 else (np.zeros(n, int), engines)
    paged = np.array([e in PAGED_ENGINES for e in names], dtype=bool)[codes]  # np.isin: ~35 us even for one row
    devices = num(device_count)
    devices = np.where(np.isnan(devices) | (devices < 1), 1.0, devices)
    batch, context = num(batch_size), num(context_tokens)
    weights = num(params) * bpe / 1e9
    kv_per_seq = _kv_gb_per_token(num(layers), num(kv_heads), num(head_dim), kv_bpe,
                                  num(kv_cache_dim_per_layer)) * context
    total_memory = num(memory_gb_per_device) * constants.CATALOG_GB_IN_GB * devices  # catalog GB are GiB
    cpu = kinds == "cpu"
    with np.errstate(invalid="ignore", divide="ignore"):
        usable = np.where(
            paged, total_memory * constants.PAGED_ENGINE_MEMORY_UTILIZATION,
            total_memory * constants.USABLE_MEMORY_FRACTION - np.where(cpu, constants.CPU_RUNTIME_MEMORY_GB, 0.0))
        reserve = np.where(paged, constants.PAGED_ENGINE_RESERVE_GB_PER_DEVICE * devices, 0.0)
        factor = np.where(paged, 1.0, constants.MEMORY_OVERHEAD_FACTOR)
        kv_batch = batch * kv_per_seq
        at_least_in_flight = np.where(paged, 1.0, batch)  # a paged engine queues what its cache cannot hold
        required = (weights + reserve / factor + at_least_in_flight * kv_per_seq) * factor
        whole_batch = (weights + reserve / factor + kv_batch) * factor
        free_for_kv = usable / factor - weights - reserve / factor
        max_batch = np.where(kv_per_seq > 0, np.floor(np.maximum(free_for_kv, 0.0) / kv_per_seq), np.nan)
        return {
            "weights_gb": weights, "kv_cache_gb": kv_batch, "required_gb": required, "usable_gb": usable,
            "memory_fit_ratio": required / usable, "batch_memory_ratio": whole_batch / usable,
            "max_batch": np.where(np.isnan(usable), np.nan, max_batch), "paged": paged,
        }


@dataclass(frozen=True)
class MemoryFit:
    """The memory rule for one configuration (see :func:`memory_fit_arrays` for the fields).

    ``fits`` is None when a needed fact (memory size, architecture) is unknown.
    """

    weights_gb: float
    kv_cache_gb: float
    required_gb: float
    usable_gb: float
    memory_fit_ratio: float
    batch_memory_ratio: float
    max_batch: int | None
    paged: bool

    @property
    def fits(self) -> bool | None:
        """Whether the setup runs at all; None when unknown."""
        return None if np.isnan(self.memory_fit_ratio) else bool(self.memory_fit_ratio <= 1.0)

    def describe(self) -> str:
        """'needs about X GB of Y GB usable' for messages."""
        return f"needs about {self.required_gb:.1f} GB of {self.usable_gb:.1f} GB usable"


def memory_fit(facts: Mapping[str, Any], memory_gb_per_device: float | None, hardware_kind: str, dtype: str,
               engine: str, batch_size: int | None, context_tokens: int, device_count: int) -> MemoryFit:
    """The memory rule for one configuration.

    Args:
        facts: the model's facts (:func:`inference_estimation.lib.physics.features.model_facts`).
        memory_gb_per_device: memory of one device (None: unknown).
        hardware_kind: the hardware's catalog kind.
        dtype: canonical dtype.
        engine: canonical engine.
        batch_size: sequences of the batch (None: one).
        context_tokens: prompt + generated tokens per sequence.
        device_count: devices the model is spread over.
    """
    a = memory_fit_arrays(facts.get("params"), facts.get("layers"), facts.get("kv_heads"), facts.get("head_dim"),
                          dtype, engine, 1 if batch_size is None else batch_size, context_tokens,
                          np.nan if memory_gb_per_device is None else memory_gb_per_device, device_count,
                          hardware_kind, facts.get("kv_cache_dim_per_layer"))
    v = {k: (bool(x[0]) if k == "paged" else float(x[0])) for k, x in a.items()}
    max_batch = None if np.isnan(v["max_batch"]) else int(v["max_batch"])
    return MemoryFit(**{**v, "max_batch": max_batch})


def fewest_devices(facts: Mapping[str, Any], memory_gb_per_device: float | None, hardware_kind: str, dtype: str,
                   engine: str, batch_size: int | None, context_tokens: int,
                   counts: tuple[int, ...] = DEVICE_COUNTS) -> int | None:
    """The fewest devices of ``counts`` on which the setup fits; None when none (or unknown)."""
    for count in counts:
        if memory_fit(facts, memory_gb_per_device, hardware_kind, dtype, engine, batch_size, context_tokens,
                      count).fits:
            return count
    return None
