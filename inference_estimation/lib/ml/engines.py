"""Each engine's documented scheduler defaults: what decides the batch an engine actually runs.

The values are the engines' own defaults, read from their code at the releases named (newest
first wins by default; older releases where a row's ``engine_version`` says so):

* **vLLM** (V1, 0.8.5+; ``vllm/engine/arg_utils.py``): continuous batching, chunked prefill always
  on, prefill and decode mixed in one step from one token budget. ``max_num_seqs`` 1024 on a
  device of >= 70 GiB (256 below); ``max_num_batched_tokens`` offline (``LLM``) 16384 / serving
  8192 at >= 70 GiB, 8192 / 2048 below; 16384 for both at >= 160 GiB (0.34). ``gpu_memory_utilization``
  0.9. **V0** (< 0.8): ``max_num_seqs`` 256, no chunking below 32k context, and a step with any
  prefill runs no decodes (prefill-first, separate passes), prefill budget max(context, 2048).
* **SGLang** (0.5.5 ``server_args.py``): ``chunked_prefill_size`` 2048 (< 35 GiB), 4096 (< 60),
  8192 (< 160), 16384 above; ``max_prefill_tokens`` 16384; a new prefill batch runs *in preference
  to* decode as a separate pass (no mixing by default); ``max_running_requests`` from the token pool
  (``min(max_total_tokens // 2, pool)``, pool 2048..4096); ``mem_fraction_static`` about 0.85.
* **TensorRT-LLM** (``trtllm-bench``/``trtllm-serve``): in-flight batching mixes context and
  generation in one step, no chunking by default, ``guaranteed_no_evict`` (a request reserves KV
  for its whole length); offline max batch from KV capacity up to 4096; serving BuildConfig
  ``max_batch_size`` 2048, ``max_num_tokens`` 8192; KV fraction 0.9.
* **TGI** v3: chunked prefill on, ``max_batch_prefill_tokens`` 4096, ``max_concurrent_requests``
  128 (the router's admission limit), memory fraction 0.95. A TGI row that names no release is read
  as before v3 (prefill passes first): the public TGI measurements predate v3.
* **llama.cpp**: ``llama-bench`` runs one sequence (static); the server runs 4 slots with a
  unified batch of 2048 logical / 512 physical tokens.
* **transformers** and plain PyTorch: static batches (the whole batch prefills, then decodes
  together until the longest finishes).
Engines without documented defaults here use vLLM's (continuous batching is what they do).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from inference_estimation.lib.catalog.vocabulary import normalize_engine

GIB = 1024.0**3


@dataclass(frozen=True)
class EngineDefaults:
    """One engine's scheduling rule at one device size (numbers per replica).

    Attributes:
        continuous: continuous (in-flight) batching; False = static batches.
        mixed: prefill tokens and decodes share one forward pass (chunked prefill or in-flight
            batching); False = a step with prefill runs no decodes (prefill first).
        max_seqs: most sequences running at once.
        token_budget: most tokens (prefill chunk + decodes) one step runs.
        memory_fraction: share of device memory the engine takes for weights and KV cache.
        reserve_full_length: a request reserves KV for input + output at admission (no eviction).
        fraction_of_free: ``memory_fraction`` is of the memory left after the weights (TensorRT-LLM's
            ``free_gpu_memory_fraction``), not of the whole device (vLLM's ``gpu_memory_utilization``).
    """

    continuous: bool
    mixed: bool
    max_seqs: float
    token_budget: float
    memory_fraction: float
    reserve_full_length: bool
    fraction_of_free: bool = False


STATIC_ENGINES = {"transformers", "pytorch", "deepspeed", "llama.cpp-bench"}


def _version_tuple(text: object) -> tuple[int, ...] | None:
    if text is None or (isinstance(text, float) and text != text):
        return None
    parts = []
    for piece in str(text).split(":")[-1].lstrip("vV").split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) or None


def engine_defaults(engine: str | None, memory_gib: float, serving: bool, engine_version: object = None,
                    mode_batch_static: bool = False) -> EngineDefaults:
    """The scheduler defaults of ``engine`` on a device of ``memory_gib`` (see the module docstring).

    Args:
        engine: canonical engine name (None: vLLM's defaults).
        memory_gib: memory of one device, GiB (NaN: the small tier).
        serving: the engine runs as a server (vLLM's serving budget is smaller than offline).
        engine_version: the release, when known (older vLLM releases schedule differently).
        mode_batch_static: a ``llama.cpp`` benchmark row (``llama-bench``: one static sequence).
    """
    engine = normalize_engine(engine) or "vllm"
    mem = 0.0 if memory_gib != memory_gib else float(memory_gib)
    if engine in ("transformers", "pytorch", "deepspeed") or (engine == "llama.cpp" and mode_batch_static):
        return EngineDefaults(False, False, 1e9, 1e12, 0.9, True)
    if engine == "llama.cpp":
        return EngineDefaults(True, True, 4.0, 2048.0, 0.95, True)
    if engine == "sglang":
        chunk = 2048.0 if mem < 35 else 4096.0 if mem < 60 else 8192.0 if mem < 160 else 16384.0
        # max_running_requests = min(tokens // 2, pool), the pool 2048..4096 requests: usually 2048
        return EngineDefaults(True, False, 2048.0, max(chunk, 2048.0), 0.85, False)
    if engine == "tensorrt-llm":
        return EngineDefaults(True, True, 4096.0 if not serving else 2048.0, 16384.0 if not serving else 8192.0,
                              0.9, True, fraction_of_free=True)
    version = _version_tuple(engine_version)
    if engine == "tgi":
        # chunked prefill (mixing) arrived with v3; earlier releases run a prefill pass first
        mixed = version is not None and version >= (3,)
        return EngineDefaults(True, mixed, 128.0 if serving else 1024.0, 4096.0, 0.95, False)
    if engine == "vllm" and version is not None and version < (0, 8):
        return EngineDefaults(True, False, 256.0, 2048.0, 0.9, False)
    big = mem >= 70
    seqs = 1024.0 if big else 256.0
    if mem >= 160:
        budget = 16384.0
    elif big:
        budget = 8192.0 if serving else 16384.0
    else:
        budget = 2048.0 if serving else 8192.0
    return EngineDefaults(True, True, seqs, budget, 0.9, False)


@dataclass
class EngineColumns:
    """:class:`EngineDefaults` for many rows at once (float/bool arrays)."""

    continuous: np.ndarray
    mixed: np.ndarray
    max_seqs: np.ndarray
    token_budget: np.ndarray
    memory_fraction: np.ndarray
    reserve_full_length: np.ndarray
    fraction_of_free: np.ndarray


def engine_columns(engine: np.ndarray, memory_gib: np.ndarray, serving: np.ndarray, engine_version: np.ndarray,
                   llamacpp_bench: np.ndarray) -> EngineColumns:
    """:func:`engine_defaults` per row, computed once per distinct combination."""
    keys = pd.DataFrame({"e": engine, "m": np.round(np.nan_to_num(memory_gib, nan=-1.0), 1), "s": serving,
                         "v": pd.Series(engine_version, dtype=object).astype(str).to_numpy(), "b": llamacpp_bench})
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(keys))
    table = [engine_defaults(e, m if m >= 0 else float("nan"), bool(s), None if v in ("None", "nan") else v, bool(b))
             for e, m, s, v, b in uniques]
    pick = lambda name: np.array([getattr(d, name) for d in table])[codes]  # noqa: E731
    return EngineColumns(*(pick(n) for n in ("continuous", "mixed", "max_seqs", "token_budget", "memory_fraction",
                                             "reserve_full_length", "fraction_of_free")))
