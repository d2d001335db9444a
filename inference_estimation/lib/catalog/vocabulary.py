"""One vocabulary for the choices a user or a dataset names: dtypes and engines, with synonyms.

Everything that reads a dtype or an engine -- the CLI, batch prediction, the importers, the
feature frame -- resolves it here, so ``bf16`` and ``bfloat16`` are the same question, ``nvfp4``
is 4-bit (not silently 16-bit), and an unknown value is an error that lists the choices.

Bytes per element are *effective* storage bytes including block scales: NVFP4 keeps one FP8
scale per 16 values (4.5 bits), MXFP4 one E8M0 scale per 32 (4.25 bits), AWQ/GPTQ int4 one
16-bit scale (and zero) per group of 128 (~4.25 bits), llama.cpp's Q4_K_M ~4.85 bits. The
canonical ``fp4`` and ``int4`` use 0.53 bytes; the difference between the variants (<7%) is
below what the spec sheets resolve.
"""

from __future__ import annotations

import re
from typing import Any

#: Canonical dtype -> effective bytes per weight element.
BYTES_PER_ELEMENT: dict[str, float] = {
    "float32": 4.0, "bfloat16": 2.0, "float16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 0.53, "int4": 0.53,
}
#: Canonical dtype -> bytes per KV-cache element. Engines keep the KV cache in 16 bits for 4-bit
#: weight formats (FP8 KV is opt-in there); FP8/INT8 deployments usually run an FP8 KV cache.
KV_BYTES_PER_ELEMENT: dict[str, float] = {
    "float32": 4.0, "bfloat16": 2.0, "float16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 2.0, "int4": 2.0,
}
#: Canonical dtype -> peak-TFLOP/s spec columns tried in order. FP8 and FP4 run on FP8/FP4 tensor
#: cores where the device has them (FP8: Ada, Hopper, CDNA3 and later; FP4: Blackwell, MI355X);
#: elsewhere they run *weight-only*: the weights are stored in 8 or 4 bits (memory and bandwidth
#: at that size) and dequantised in the matmul, which computes in 16 bits at the 16-bit peak --
#: no FP8/FP4 speed-up on a device without that math (FP4 on H100 computes at the bf16 peak).
#: Weight-only int4 (AWQ/GPTQ/GGUF) always computes in 16 bits.
PEAK_COLUMNS_BY_DTYPE: dict[str, list[str]] = {
    "float32": ["peak_tflops_fp32"],
    "bfloat16": ["peak_tflops_bf16", "peak_tflops_fp16"],
    "float16": ["peak_tflops_fp16", "peak_tflops_bf16"],
    "fp8": ["peak_tflops_fp8", "peak_tflops_bf16", "peak_tflops_fp16"],
    "int8": ["peak_tflops_fp8", "peak_tflops_bf16", "peak_tflops_fp16"],
    "fp4": ["peak_tflops_fp4", "peak_tflops_bf16", "peak_tflops_fp16"],
    "int4": ["peak_tflops_bf16", "peak_tflops_fp16"],
}
DTYPE_SYNONYMS: dict[str, str] = {
    "fp32": "float32", "f32": "float32", "float": "float32", "torch.float32": "float32",
    "bf16": "bfloat16", "torch.bfloat16": "bfloat16",
    "fp16": "float16", "f16": "float16", "half": "float16", "torch.float16": "float16",
    "float8": "fp8", "fp8_e4m3": "fp8", "fp8-e4m3": "fp8", "e4m3": "fp8", "fp8_e5m2": "fp8", "w8a8-fp8": "fp8",
    "fp8-dynamic": "fp8", "float8_e4m3fn": "fp8",
    "w8a8": "int8", "int8-w8a8": "int8", "q8_0": "int8", "smoothquant": "int8",
    "nvfp4": "fp4", "mxfp4": "fp4", "fp4_e2m1": "fp4", "float4": "fp4", "w4a4": "fp4",
    "awq": "int4", "gptq": "int4", "w4a16": "int4", "q4_0": "int4", "q4_k_m": "int4", "q4_k_s": "int4",
    "q4_k": "int4", "int4-awq": "int4", "int4_awq": "int4", "awq-int4": "int4", "gptq-int4": "int4",
    "iq4_xs": "int4", "iq4_nl": "int4", "nf4": "int4", "bnb-4bit": "int4", "4bit": "int4", "w8a16": "int8", "bnb-8bit": "int8", "8bit": "int8",
}
DEFAULT_GPU_DTYPE = "bfloat16"
DEFAULT_CPU_DTYPE = "float32"

#: Canonical engine names (what the predictors see). Tabular engines are the tree libraries.
ENGINES: tuple[str, ...] = (
    "transformers", "vllm", "sglang", "tensorrt-llm", "llama.cpp", "tgi", "deepspeed-mii", "deepspeed",
    "mlc-llm", "lmdeploy", "sambaflow", "llmboost", "pytorch", "atom", "tensorrt-llm-pytorch",
    "xgboost", "catboost", "sklearn",
)
ENGINE_SYNONYMS: dict[str, str] = {
    "hf": "transformers", "huggingface": "transformers", "hf-transformers": "transformers",
    "vllm-openai": "vllm", "vllm-serve": "vllm",
    "sgl": "sglang",
    "trt-llm": "tensorrt-llm", "trtllm": "tensorrt-llm", "tensorrt_llm": "tensorrt-llm", "trt": "tensorrt-llm",
    "tensorrtllm": "tensorrt-llm", "nvidia-tensorrt-llm": "tensorrt-llm",
    # TensorRT-LLM's PyTorch backend (`trtllm-serve --backend pytorch`, the default from 1.0)
    "trtllm-pytorch": "tensorrt-llm-pytorch", "trt-llm-pytorch": "tensorrt-llm-pytorch",
    "tensorrt-llm-pyt": "tensorrt-llm-pytorch", "tensorrt_llm_pytorch": "tensorrt-llm-pytorch",
    "tensorrt-llm-(pytorch)": "tensorrt-llm-pytorch", "trtllm-pyt": "tensorrt-llm-pytorch",
    # AMD's ATOM inference engine (ROCm/ATOM)
    "amd-atom": "atom", "rocm-atom": "atom",
    "llamacpp": "llama.cpp", "llama-cpp": "llama.cpp", "llama_cpp": "llama.cpp", "ggml": "llama.cpp",
    "text-generation-inference": "tgi", "hf-tgi": "tgi",
    "mii": "deepspeed-mii", "deepspeed_mii": "deepspeed-mii", "deepspeed-fastgen": "deepspeed-mii",
    "mlc": "mlc-llm", "scikit-learn": "sklearn",
}
DEFAULT_GPU_ENGINE = "vllm"
DEFAULT_CPU_ENGINE = "transformers"

#: Hardware kind -> what people call it, for messages.
KIND_NAMES: dict[str, str] = {
    "cpu": "a CPU", "cuda": "an NVIDIA GPU", "rocm": "an AMD GPU", "xpu": "an Intel GPU", "hpu": "an Intel Gaudi",
    "rdu": "a SambaNova RDU", "mps": "an Apple GPU", "tpu": "a Google TPU", "tt": "a Tenstorrent card",
}
_TORCH = frozenset({"cpu", "cuda", "rocm", "xpu", "hpu", "mps", "tpu"})  # PyTorch's device backends (XLA for TPU)
#: Engine -> the hardware kinds it runs on, from each engine's own list of supported platforms. A
#: question for an engine on a kind it does not list cannot run and is refused; engines not listed
#: here (the tree libraries) are not checked.
ENGINE_PLATFORMS: dict[str, frozenset[str]] = {
    "transformers": _TORCH, "pytorch": _TORCH,
    # vLLM: CUDA, ROCm, Intel XPU and CPU in-tree; TPU (vllm-tpu) and Gaudi (vllm-gaudi) as hardware
    # plugins; Tenstorrent serves through its vLLM fork (tt-inference-server). No Apple GPU backend.
    "vllm": frozenset({"cuda", "rocm", "xpu", "cpu", "tpu", "hpu", "tt"}),
    # SGLang: NVIDIA, AMD, Intel Xeon CPUs, Intel XPU and TPU (sglang-jax)
    "sglang": frozenset({"cuda", "rocm", "cpu", "xpu", "tpu"}),
    "tensorrt-llm": frozenset({"cuda"}), "tensorrt-llm-pytorch": frozenset({"cuda"}),  # NVIDIA GPUs only
    "atom": frozenset({"rocm"}),  # AMD's engine for Instinct GPUs (ROCm)
    # llama.cpp's backends: CPU, CUDA, HIP, SYCL (Intel GPUs), Metal (Apple GPUs), Vulkan
    "llama.cpp": frozenset({"cpu", "cuda", "rocm", "xpu", "mps"}),
    # TGI: CUDA, ROCm, Intel GPUs and CPUs (IPEX), Gaudi (tgi-gaudi), TPU (optimum-tpu)
    "tgi": frozenset({"cuda", "rocm", "xpu", "cpu", "hpu", "tpu"}),
    "deepspeed": frozenset({"cuda", "rocm", "xpu", "hpu", "cpu"}),  # DeepSpeed's accelerator abstraction
    "deepspeed-mii": frozenset({"cuda"}),  # FastGen kernels: NVIDIA GPUs
    "lmdeploy": frozenset({"cuda"}),  # TurboMind and its PyTorch engine on NVIDIA GPUs
    "mlc-llm": frozenset({"cuda", "rocm", "xpu", "mps"}),  # CUDA, ROCm, Vulkan, Metal
    "sambaflow": frozenset({"rdu"}),  # SambaNova's own stack
    "llmboost": frozenset({"rocm", "cuda"}),  # MangoBoost LLMBoost on AMD Instinct and NVIDIA GPUs
}
#: Engine -> device generations of a kind it lists that it no longer runs on (its support matrix):
#: TensorRT-LLM lists NVIDIA Ampere and later; AMD's ATOM targets MI300-series and later (CDNA3/4).
ENGINE_UNSUPPORTED_GENERATIONS: dict[str, frozenset[str]] = {
    "tensorrt-llm": frozenset({"volta", "turing"}), "tensorrt-llm-pytorch": frozenset({"volta", "turing"}),
    "atom": frozenset({"cdna2"}),
}
#: Engine -> device generations only its older releases run on, and what says so: answered, with a note
#: (public measurements of them exist), since the model's software-year effect assumes current releases.
ENGINE_DROPPED_GENERATIONS: dict[str, dict[str, str]] = {
    "vllm": {"volta": "vLLM's GPU install docs list compute capability 7.0 and up (V100) through v0.14 and "
                      "7.5 and up (T4 and later, no V100) by v0.31"},
}


def engine_generation_note(engine: str | None, generation: str | None) -> str | None:
    """A note where ``engine``'s current releases dropped the device's ``generation`` (None elsewhere)."""
    why = ENGINE_DROPPED_GENERATIONS.get(engine or "", {}).get(generation or "")
    return None if why is None else (f"{engine} on {generation}: only older {engine} releases run here ({why}); "
                                     "the answer stands for such a release")


#: The engine a question on each hardware kind means when it names none (vLLM elsewhere; CPUs and
#: Apple GPUs: transformers).
DEFAULT_ENGINE_BY_KIND: dict[str, str] = {"cpu": DEFAULT_CPU_ENGINE, "mps": DEFAULT_CPU_ENGINE, "rdu": "sambaflow"}


def _runs(engine: str, kind: str, generation: str | None) -> bool:
    return kind in ENGINE_PLATFORMS[engine] and generation not in ENGINE_UNSUPPORTED_GENERATIONS.get(engine, ())


def engine_platform_problem(engine: str, kind: str, generation: str | None = None) -> str | None:
    """Why ``engine`` cannot run on hardware of ``kind`` and ``generation`` (with the engines that
    can), or None."""
    runs_on = ENGINE_PLATFORMS.get(engine)
    if runs_on is None or _runs(engine, kind, generation):
        return None
    able = ", ".join(name for name in ENGINE_PLATFORMS if _runs(name, kind, generation)) or "none known"
    if kind in runs_on:
        return f"{engine} does not run on {generation} devices (not in its support matrix); engines that do: {able}"
    return (f"{engine} does not run on {KIND_NAMES.get(kind, kind)} (it runs on "
            f"{', '.join(sorted(runs_on))}); engines that do: {able}")


class VocabularyError(ValueError):
    """An unknown dtype or engine; the message lists the accepted values."""


def _key(value: str) -> str:
    return str(value).strip().lower().replace(" ", "-")


def _canonical(value: str, canon: Any, synonyms: dict[str, str], field: str, kind: str, hint: str = "") -> str:
    """``value`` in the canonical spelling of ``canon`` (directly or through ``synonyms``).

    Raises:
        VocabularyError: naming ``field`` and listing the canonical values.
    """
    key = _key(value)
    if key in canon:
        return key
    if key in synonyms:
        return synonyms[key]
    raise VocabularyError(f"{field}: {value!r} is not a known {kind}; use one of {', '.join(canon)}{hint}")


def canonical_dtype(value: str, field: str = "dtype") -> str:
    """The canonical dtype for any accepted spelling (``bf16`` -> ``bfloat16``, ``nvfp4`` -> ``fp4``).

    Raises:
        VocabularyError: naming ``field`` and listing the canonical dtypes.
    """
    return _canonical(value, BYTES_PER_ELEMENT, DTYPE_SYNONYMS, field, "dtype",
                      " (or a synonym such as bf16, fp16, nvfp4, mxfp4, awq, q4_k_m)")


def canonical_engine(value: str, field: str = "engine") -> str:
    """The canonical engine for any accepted spelling (``trt-llm`` -> ``tensorrt-llm``).

    Raises:
        VocabularyError: naming ``field`` and listing the canonical engines.
    """
    return _canonical(value, ENGINES, ENGINE_SYNONYMS, field, "engine")


def normalize_dtype(value: object) -> str | None:
    """Lenient form for data already stored: canonical where known, the lower-cased text otherwise."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    key = _key(str(value))
    return key if key in BYTES_PER_ELEMENT else DTYPE_SYNONYMS.get(key, key)


def normalize_engine(value: object) -> str | None:
    """Lenient form for data already stored: canonical where known, the lower-cased text otherwise."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    key = _key(str(value))
    return key if key in ENGINES else ENGINE_SYNONYMS.get(key, key)


#: Quantisation methods whose names state no width: 4-bit unless the name states one (``GPTQ-Int8``).
_QUANT_METHODS = frozenset({"awq", "gptq"})
#: A word of a checkpoint's name that states a quantisation (FP8, INT4, NVFP4, W4A16, Q5_K_M, 4bit).
_QUANT_WORD = re.compile(r"^(i?q\d+|(fp|int|uint|nvfp|mxfp|float)\d+|w\d+a\d+|\d+bit)$")
#: GGUF type letters after ``Q4`` (``Q4_K_M``, ``Q8_0``, ``IQ4_XS``), for the message.
_GGUF_TAIL = frozenset({"k", "s", "m", "l", "0", "1", "xs", "xxs", "nl"})
#: Dtype spellings that are ordinary words too: never read from a model name.
_NOT_IN_NAMES = frozenset({"float", "half"})


def dtype_named_by(model_name: str) -> str | None:
    """The canonical dtype a checkpoint's name states, or None for a name that states none.

    ``meta-llama/Llama-3.1-8B-Instruct-FP8`` -> fp8, ``...-AWQ``/``-GPTQ``/``-W4A16``/``-Q4_K_M``
    -> int4, ``...-GPTQ-Int8`` -> int8 (a width beats the method's 4 bits), ``-NVFP4``/``-MXFP4``
    -> fp4, ``-w8a8`` -> int8; ``Qwen3-30B-A3B`` and ``Mixtral-8x7B`` -> None. The words are read
    as :data:`DTYPE_SYNONYMS` spells them (``FP8-Dynamic``, ``Q4_K_M``: several words at once).

    Raises:
        VocabularyError: for a quantisation with no dtype here (``Q5_K_M``, ``INT3``) or two that
            disagree (``FP8-Int4``).
    """
    base = re.sub(r":[0-9a-f]{16,}$", "", model_name.strip().lower()).rsplit("/", 1)[-1]
    words = [w for w in re.split(r"[^a-z0-9]+", base) if w]
    named: dict[str, str] = {}  # spelling -> canonical dtype
    i = 0
    while i < len(words):
        for width in (3, 2, 1):
            spellings = {sep.join(words[i:i + width]) for sep in "_-"} if i + width <= len(words) else set()
            known = sorted(s for s in spellings - _NOT_IN_NAMES if s in BYTES_PER_ELEMENT or s in DTYPE_SYNONYMS)
            if known:
                named[known[0]] = normalize_dtype(known[0]) or known[0]
                i += width
                break
        else:
            if _QUANT_WORD.match(words[i]):
                tail = [words[i]]
                while i + len(tail) < len(words) and words[i + len(tail)] in _GGUF_TAIL:
                    tail.append(words[i + len(tail)])
                raise VocabularyError(f"model {model_name!r} names the quantisation {'_'.join(tail)!r}, which "
                                      f"has no dtype here (one of {', '.join(BYTES_PER_ELEMENT)})")
            i += 1
    widths = {d for s, d in named.items() if s not in _QUANT_METHODS} or set(named.values())
    if len(widths) > 1:
        raise VocabularyError(f"model {model_name!r} names several dtypes ({', '.join(sorted(named))}: "
                              f"{', '.join(sorted(widths))}); name one")
    return widths.pop() if widths else None
