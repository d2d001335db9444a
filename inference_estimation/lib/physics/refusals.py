"""What a question may ask: why an inference setup cannot run, told before any number is given.

``predict``, ``recommend`` and batch prediction refuse a setup with these rules and these messages
(a non-LLM model, a context longer than the model's, a dtype the device has no math for, a setup
that does not fit in memory -- naming the fewest devices that would); the benchmark planner uses the
same memory of one device. The defaults a question means when it names no engine or dtype live here
too.
"""

from __future__ import annotations

import os

from inference_estimation.lib.catalog import HardwareEntry, ModelEntry
from inference_estimation.lib.catalog.vocabulary import (
    DEFAULT_CPU_DTYPE,
    DEFAULT_CPU_ENGINE,
    DEFAULT_GPU_DTYPE,
    DEFAULT_GPU_ENGINE,
)
from inference_estimation.lib.physics.features import model_facts
from inference_estimation.lib.physics.memory import DEVICE_COUNTS, fewest_devices, memory_fit


def host_memory_gb() -> float:
    """Physical memory of this machine in GB (for local targets not probed yet)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9


def device_memory_gb(hardware: HardwareEntry) -> float | None:
    """Memory of ONE device of the entry in GB (a local CPU not probed yet: this machine's), or None."""
    memory_gb = hardware.specs.memory_gb
    if memory_gb is None and hardware.kind == "cpu" and hardware.launcher and hardware.launcher.type == "local":
        memory_gb = host_memory_gb()
    return memory_gb


def default_engine_dtype(hardware: HardwareEntry) -> tuple[str, str]:
    """The engine and dtype a question about ``hardware`` means when it names none.

    GPUs and other accelerators: vLLM in bfloat16 (float16 where the device has no bfloat16
    math, e.g. V100 and T4); CPUs and Apple GPUs: transformers in float32.
    """
    if hardware.kind in ("cpu", "mps"):
        return DEFAULT_CPU_ENGINE, DEFAULT_CPU_DTYPE
    dtype = DEFAULT_GPU_DTYPE if dtype_unsupported(hardware, DEFAULT_GPU_DTYPE) is None else "float16"
    return DEFAULT_GPU_ENGINE, dtype


#: Canonical dtype -> (peak-TFLOP/s spec facts of which at least one must be known, what is missing).
DTYPE_MATH = {
    "bfloat16": (("peak_tflops_bf16",), "no bfloat16 math (bfloat16 arrived with Ampere/CDNA2)"),
    "float16": (("peak_tflops_fp16", "peak_tflops_bf16"), "no 16-bit math"),
    # FP8 and FP4 weights also run without FP8/FP4 math: engines dequantise them to 16 bits in the
    # matmul (vLLM's Marlin kernels for FP8, MXFP4 and NVFP4 on Ampere and later; gpt-oss ships MXFP4
    # and runs on one H100), so bfloat16 math (Ampere/CDNA2 and later) is what they need.
    "fp8": (("peak_tflops_fp8", "peak_tflops_bf16"), "neither FP8 nor bfloat16 math (weight-only FP8 kernels "
            "need Ampere/CDNA2 or later)"),
    "fp4": (("peak_tflops_fp4", "peak_tflops_fp8", "peak_tflops_bf16"), "neither FP4 nor bfloat16 math "
            "(weight-only FP4 kernels need Ampere/CDNA2 or later)"),
    "int8": (("peak_tflops_fp16", "peak_tflops_bf16"), "no 16-bit math to dequantise int8 weights to"),
    "int4": (("peak_tflops_fp16", "peak_tflops_bf16"), "no 16-bit math to dequantise int4 weights to"),
}


def dtype_unsupported(hardware: HardwareEntry, dtype: str) -> str | None:
    """Why ``hardware`` cannot run ``dtype``, derived from its peak spec facts, or None.

    An accelerator runs a dtype when it has a peak-TFLOP/s fact for that math (bfloat16 needs
    ``peak_tflops_bf16``, fp8 ``peak_tflops_fp8``, fp4 ``peak_tflops_fp4``; weight-only int8/int4
    dequantise to 16 bits). CPUs are probed in fp32 only and run every dtype (slowly); an entry
    with no peak fact at all is not judged.
    """
    if hardware.kind == "cpu" or dtype not in DTYPE_MATH:
        return None
    specs = hardware.specs
    peaks = [specs.peak_tflops_fp32, specs.peak_tflops_bf16, specs.peak_tflops_fp16, specs.peak_tflops_fp8,
             specs.peak_tflops_fp4]
    if all(p is None for p in peaks) or specs.memory_bandwidth_gb_s is None:
        # Without a peak or a bandwidth there is no physics to correct: a number would be a guess.
        missing = [name for name, value in (("peak TFLOP/s fact", None if all(p is None for p in peaks) else 1),
                                            ("memory_bandwidth_gb_s", specs.memory_bandwidth_gb_s)) if value is None]
        return (f"no physics for {hardware.key}: its catalog entry has no {' and no '.join(missing)}; add it "
                f"from its spec sheet in a catalog overlay (`inference-estimation catalog show {hardware.key}`)")
    needed, why = DTYPE_MATH[dtype]
    if any(getattr(specs, fact) is not None for fact in needed):
        return None
    return f"{hardware.key} has {why}: its catalog entry has no {' or '.join(needed)} fact"


def tabular_refusal(model: ModelEntry) -> str:
    """The refusal of an LLM question about a non-LLM model."""
    return (f"{model.key!r} is a {model.kind} model; predict and recommend answer LLM inference questions "
            "(tabular models are measured by the 'tabular' backend, not predicted here)")


def context_refusal(model_key: str, input_tokens: int, output_tokens: int, limit: int) -> str:
    """The refusal of a context longer than the model's ``max_position_embeddings``."""
    return (f"context {input_tokens}+{output_tokens} = {input_tokens + output_tokens} tokens exceeds "
            f"{model_key!r}'s max_position_embeddings {limit}")


def memory_refusal(model_key: str, hardware_key: str, dtype: str, engine: str, paged: bool, batch_size: int | None,
                   context: int, device_count: int, required_gb: float, usable_gb: float,
                   fewest: int | None) -> str:
    """The refusal of a setup that does not fit, naming the fewest devices that would."""
    what = "one sequence" if paged else f"batch {batch_size}"
    hint = (f"the fewest {hardware_key} devices that fit it at {dtype} are {fewest}" if fewest
            else f"not even {DEVICE_COUNTS[-1]} {hardware_key} devices fit it at {dtype}")
    return (f"does not fit: {model_key} in {dtype} on {device_count} x {hardware_key} ({engine}, {what} of "
            f"{context} tokens) needs about {required_gb:.1f} GB of {usable_gb:.1f} GB usable; {hint}")


def setup_refusal(model: ModelEntry, hardware: HardwareEntry, dtype: str, engine: str, batch_size: int | None,
                  input_tokens: int, output_tokens: int, device_count: int) -> str | None:
    """Why an LLM inference setup cannot run, or None when it can (or when it cannot be told).

    Checks, in order: an LLM at all, the context against ``max_position_embeddings``, the dtype
    against the hardware's math, and memory (:mod:`inference_estimation.lib.physics.memory`); a setup
    that does not fit names the fewest devices that would, at that dtype. Batch prediction
    applies the same checks column-wise with the same messages.
    """
    if model.kind != "llm":
        return tabular_refusal(model)
    if device_count < 1:
        return f"device_count must be >= 1, got {device_count}"
    context = input_tokens + output_tokens
    limit = model.architecture.max_position_embeddings if model.architecture else None
    if limit is not None and context > limit:
        return context_refusal(model.key, input_tokens, output_tokens, limit)
    unsupported = dtype_unsupported(hardware, dtype)
    if unsupported:
        return unsupported
    facts = model_facts(model)
    memory = device_memory_gb(hardware)
    fit = memory_fit(facts, memory, hardware.kind, dtype, engine, batch_size, context, device_count)
    if fit.fits is False:
        fewest = fewest_devices(facts, memory, hardware.kind, dtype, engine, batch_size, context)
        return memory_refusal(model.key, hardware.key, dtype, engine, fit.paged, batch_size, context, device_count,
                              fit.required_gb, fit.usable_gb, fewest)
    return None
