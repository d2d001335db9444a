"""What a question may ask: why an inference setup cannot run, told before any number is given.

``predict``, ``recommend`` and batch prediction refuse a setup with these rules and these messages
(a non-LLM model, a context longer than the model's, a dtype the device has no math for, a setup
that does not fit in memory -- naming the fewest devices that would); the benchmark planner uses the
same memory of one device. The defaults a question means when it names no engine or dtype live here
too.
"""

from __future__ import annotations

import os

from inference_estimation.constants import DEFAULT_DEVICES_PER_NODE
from inference_estimation.lib.catalog import HardwareEntry, ModelEntry
from inference_estimation.lib.catalog.vocabulary import (
    DEFAULT_CPU_DTYPE,
    DEFAULT_CPU_ENGINE,
    DEFAULT_GPU_DTYPE,
    DEFAULT_GPU_ENGINE,
    PEAK_COLUMNS_BY_DTYPE,
    canonical_dtype,
)
from inference_estimation.lib.physics.features import model_facts
from inference_estimation.lib.physics.memory import DEVICE_COUNTS, MemoryFit, fewest_devices, memory_fit


def host_memory_gb() -> float:
    """Physical memory of this machine in GB (for local targets not probed yet)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9


def device_memory_gb(hardware: HardwareEntry) -> float | None:
    """Memory of ONE device of the entry in GB (a local CPU not probed yet: this machine's), or None."""
    memory_gb = hardware.specs.memory_gb
    if memory_gb is None and hardware.kind == "cpu" and hardware.launcher and hardware.launcher.type == "local":
        memory_gb = host_memory_gb()
    return memory_gb


def default_engine_dtype(hardware: HardwareEntry, model: ModelEntry | None = None) -> tuple[str, str]:
    """The engine and dtype a question about ``model`` on ``hardware`` means when it names none.

    GPUs and other accelerators: vLLM in the dtype the model was released in (its catalog
    ``default_dtype``: DeepSeek-R1 in fp8, gpt-oss in fp4) where the device can run it, else
    bfloat16, else float16 (V100 and T4 have no bfloat16 math); CPUs and Apple GPUs: transformers
    in float32 (what the transformers backend computes in there).
    """
    return default_engine_dtype_note(hardware, model)[:2]


def default_engine_dtype_note(hardware: HardwareEntry, model: ModelEntry | None = None) -> tuple[str, str, str]:
    """:func:`default_engine_dtype` with the sentence that says why that dtype was taken."""
    if hardware.kind in ("cpu", "mps"):
        released = f" ({model.key} was released in {model.default_dtype})" if model is not None else ""
        return DEFAULT_CPU_ENGINE, DEFAULT_CPU_DTYPE, (
            f"dtype {DEFAULT_CPU_DTYPE}: transformers computes in {DEFAULT_CPU_DTYPE} on {hardware.kind}{released}")
    if model is not None and model.kind == "llm":
        released = canonical_dtype(model.default_dtype)
        why_not = dtype_unsupported(hardware, released)
        if why_not is None:
            return DEFAULT_GPU_ENGINE, released, (
                f"dtype {released}: the dtype {model.key} was released in (its catalog default_dtype)")
        fallback = DEFAULT_GPU_DTYPE if dtype_unsupported(hardware, DEFAULT_GPU_DTYPE) is None else "float16"
        return DEFAULT_GPU_ENGINE, fallback, (
            f"dtype {fallback}: {model.key} was released in {released}, which {hardware.key} cannot run ({why_not})")
    dtype = DEFAULT_GPU_DTYPE if dtype_unsupported(hardware, DEFAULT_GPU_DTYPE) is None else "float16"
    return DEFAULT_GPU_ENGINE, dtype, f"dtype {dtype}: the default on {hardware.kind} hardware"


#: Canonical dtype -> (peak-TFLOP/s spec facts of which at least one must be known, what is missing).
DTYPE_MATH = {
    "bfloat16": (("peak_tflops_bf16",), "no bfloat16 math (NVIDIA's bfloat16 tensor math arrived with Ampere)"),
    "float16": (("peak_tflops_fp16", "peak_tflops_bf16"), "no 16-bit math"),
    # FP8 and FP4 weights also run without FP8/FP4 math: engines dequantise them to 16 bits in the
    # matmul (vLLM's Marlin kernels for FP8, MXFP4 and NVFP4 on Ampere and later; gpt-oss ships MXFP4
    # and runs on one H100), so bfloat16 math (Ampere/CDNA2 and later) is what they need.
    "fp8": (("peak_tflops_fp8", "peak_tflops_bf16"), "neither FP8 nor bfloat16 math (weight-only FP8 kernels "
            "need Ampere/CDNA2 or later)"),
    "fp4": (("peak_tflops_fp4", "peak_tflops_bf16"), "neither FP4 nor bfloat16 math "
            "(weight-only FP4 kernels need Ampere/CDNA2 or later)"),
    "int8": (("peak_tflops_fp16", "peak_tflops_bf16"), "no 16-bit math to dequantise int8 weights to"),
    "int4": (("peak_tflops_fp16", "peak_tflops_bf16"), "no 16-bit math to dequantise int4 weights to"),
}
#: Peak-TFLOP/s spec fact -> the dtype the matmuls compute in at that peak.
PEAK_FACT_DTYPE = {"peak_tflops_fp32": "float32", "peak_tflops_bf16": "bfloat16", "peak_tflops_fp16": "float16",
                   "peak_tflops_fp8": "fp8", "peak_tflops_fp4": "fp4"}
#: Weight dtypes that run weight-only (stored low, computed wider) where the device lacks their math.
WEIGHT_ONLY_DTYPES = ("fp8", "fp4", "int4")


def dtype_unsupported(hardware: HardwareEntry, dtype: str) -> str | None:
    """Why ``hardware`` cannot run ``dtype``, derived from its peak spec facts, or None.

    An accelerator runs a dtype when it has a peak-TFLOP/s fact for that math (bfloat16 needs
    ``peak_tflops_bf16``, fp8 ``peak_tflops_fp8``, fp4 ``peak_tflops_fp4``; weight-only int8/int4
    dequantise to 16 bits). CPUs are probed in fp32 only and run every dtype (slowly); an entry
    with no peak fact at all is not judged. The entry's generation
    (:mod:`inference_estimation.lib.catalog.generations`) says whether the math is missing or only
    its figure, and what to ask instead.
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
    gen = hardware.generation_facts
    if gen is not None and gen.has_math(dtype):
        return (f"{hardware.key} ({hardware.generation}) has {dtype} math, but its catalog entry has no {needed[0]} "
                f"fact (unknown, not zero); add it from its spec sheet in a catalog overlay "
                f"(`inference-estimation catalog show {hardware.key}`)")
    where = f" ({hardware.generation})" if gen is not None else ""
    instead = "; ask for float16" if specs.peak_tflops_fp16 is not None else ""
    return f"{hardware.key}{where} has {why}: its catalog entry has no {' or '.join(needed)} fact{instead}"


def math_peak(hardware: HardwareEntry, dtype: str) -> tuple[str, float] | None:
    """The dtype the matmuls of ``dtype`` weights compute in on ``hardware`` and its peak TFLOP/s.

    The first peak fact the device has in the vocabulary's order
    (:data:`~inference_estimation.lib.catalog.vocabulary.PEAK_COLUMNS_BY_DTYPE`, the order the
    physics reads peaks in): fp4 on B200 computes in fp4, fp4 on H100 and fp8 on A100 in bfloat16.
    None when the device has none of those facts.
    """
    for fact in PEAK_COLUMNS_BY_DTYPE.get(dtype, ()):
        peak = getattr(hardware.specs, fact)
        if peak is not None:
            return PEAK_FACT_DTYPE[fact], peak
    return None


def weight_only_note(hardware: HardwareEntry, dtype: str) -> str | None:
    """The sentence an answer carries when ``dtype`` weights run weight-only on ``hardware``, or None.

    Weight-only: the weights are stored and read at the low precision (memory and bandwidth at that
    size), dequantised in the matmul and computed in the wider dtype the device has math for, at
    that dtype's peak -- no compute speed-up from the low precision.
    """
    if hardware.kind in ("cpu", "mps") or dtype not in WEIGHT_ONLY_DTYPES:
        return None
    math = math_peak(hardware, dtype)
    if math is None or math[0] == dtype:
        return None
    computed, peak = math
    bits = {"fp8": 8, "fp4": 4, "int4": 4}[dtype]
    lacks = f" ({hardware.generation} has no {dtype} math)" if dtype != "int4" and hardware.generation else ""
    return (f"dtype {dtype} runs weight-only on {hardware.key}{lacks}: weights are stored and read in {bits} bits, "
            f"the matmuls dequantise them and compute in {computed} at its {peak:g} TFLOP/s peak (no {dtype} "
            "compute speed-up)")


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


def tensor_parallel_problem(model: ModelEntry, tensor_parallel: int) -> str | None:
    """Why ``tensor_parallel`` devices cannot shard the model's attention, or None when they can.

    Engines (vLLM, SGLang, TensorRT-LLM) give every device the same number of attention heads, so
    the device count must divide ``heads``; KV heads are split when there are more of them than
    devices (the count must divide them) and replicated when there are fewer (the count must be a
    multiple of them).
    """
    a = model.architecture
    if a is None or tensor_parallel <= 1:
        return None
    if a.heads % tensor_parallel:
        return f"{tensor_parallel} does not divide its {a.heads} attention heads"
    if tensor_parallel < a.kv_heads and a.kv_heads % tensor_parallel:
        return f"{tensor_parallel} does not divide its {a.kv_heads} KV heads"
    if tensor_parallel > a.kv_heads and tensor_parallel % a.kv_heads:
        return (f"{tensor_parallel} is not a multiple of its {a.kv_heads} KV heads (fewer KV heads than devices "
                "are replicated, each to the same number of devices)")
    return None


def tensor_parallel_sizes(model: ModelEntry, counts: tuple[int, ...] = DEVICE_COUNTS) -> tuple[int, ...]:
    """The device counts of ``counts`` that can shard the model's attention (:func:`tensor_parallel_problem`)."""
    return tuple(c for c in counts if tensor_parallel_problem(model, c) is None)


def tensor_parallel_refusal(model: ModelEntry, tensor_parallel: int) -> str | None:
    """The refusal of a tensor-parallel layout the model's heads cannot be sharded over, or None."""
    problem = tensor_parallel_problem(model, tensor_parallel)
    if problem is None:
        return None
    sizes = [c for c in range(1, max(DEVICE_COUNTS) + 1) if tensor_parallel_problem(model, c) is None]
    return (f"cannot run: tensor parallel over {tensor_parallel} devices does not fit {model.key}'s attention "
            f"({problem}; engines shard heads evenly over the devices); device counts that can: "
            f"{', '.join(map(str, sizes))}")


def devices_per_node(hardware: HardwareEntry) -> int | None:
    """Devices one node of ``hardware`` joins by its interconnect (None for CPUs: not judged)."""
    if hardware.kind == "cpu":
        return None
    return hardware.specs.devices_per_node or DEFAULT_DEVICES_PER_NODE


def node_refusal(hardware: HardwareEntry, device_count: int) -> str | None:
    """Why ``device_count`` devices of ``hardware`` cannot be answered past one node, or None.

    Past one node the collectives cross the network between nodes; a figure is given only when the
    catalog names that network (``specs.scale_out_interconnect`` and its bandwidth) and the nodes
    are full, so the answer can say how many nodes and over what.
    """
    per_node = devices_per_node(hardware)
    if per_node is None or device_count <= per_node:
        return None
    specs = hardware.specs
    if device_count % per_node:
        return (f"cannot run as asked: {device_count} x {hardware.key} does not fill whole nodes of {per_node} "
                f"devices; use a multiple of {per_node}, or at most {per_node} (one node)")
    nodes = device_count // per_node
    if specs.scale_out_interconnect is None or specs.scale_out_bandwidth_gb_s is None:
        return (f"not answered: {device_count} x {hardware.key} spans {nodes} nodes of {per_node}, and the catalog "
                f"names no network between its nodes (specs.scale_out_interconnect and scale_out_bandwidth_gb_s), so "
                f"the collectives' cost would be a guess; ask for at most {per_node} devices (one node, "
                f"{specs.interconnect or 'its interconnect'}) or add both facts in a hardware overlay")
    return None


def node_note(hardware: HardwareEntry, device_count: int) -> str | None:
    """The sentence an answer past one node carries (node count and network), or None within a node."""
    per_node = devices_per_node(hardware)
    if per_node is None or device_count <= per_node or node_refusal(hardware, device_count):
        return None
    specs = hardware.specs
    return (f"{device_count} x {hardware.key} = {device_count // per_node} nodes of {per_node} "
            f"({specs.interconnect or 'interconnect unknown'} inside a node), joined by "
            f"{specs.scale_out_interconnect} at {specs.scale_out_bandwidth_gb_s:g} GB/s per device: "
            "tensor-parallel collectives are costed at that bandwidth")


def layout_refusal(model: ModelEntry, hardware: HardwareEntry, device_count: int) -> str | None:
    """Why the model cannot be laid out over ``device_count`` devices of ``hardware``, or None.

    Tensor parallel applies on accelerators (a CPU entry's count is sockets, not shards).
    """
    if hardware.kind == "cpu":
        return None
    return tensor_parallel_refusal(model, device_count) or node_refusal(hardware, device_count)


def layout_counts(model: ModelEntry, hardware: HardwareEntry) -> tuple[int, ...]:
    """The counts of :data:`DEVICE_COUNTS` the model's heads can be sharded over (all on a CPU)."""
    return DEVICE_COUNTS if hardware.kind == "cpu" else tensor_parallel_sizes(model)


def setup_refusal(model: ModelEntry, hardware: HardwareEntry, dtype: str, engine: str, batch_size: int | None,
                  input_tokens: int, output_tokens: int, device_count: int, fit: MemoryFit | None = None) -> str | None:
    """Why an LLM inference setup cannot run, or None when it can (or when it cannot be told).

    Checks, in order: an LLM at all, the context against ``max_position_embeddings``, the dtype
    against the hardware's math, the layout (tensor parallel must divide the attention heads;
    past one node the network between nodes must be known), and memory
    (:mod:`inference_estimation.lib.physics.memory`); a setup that does not fit names the fewest
    devices that would, at that dtype, among the counts its heads can be sharded over. Batch
    prediction resolves each row through the same function. ``fit`` is the memory rule's verdict on
    this very setup when the caller has it already (it is computed here otherwise).
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
    layout = layout_refusal(model, hardware, device_count)
    if layout:
        return layout
    facts = model_facts(model)
    memory = device_memory_gb(hardware)
    if fit is None:
        fit = memory_fit(facts, memory, hardware.kind, dtype, engine, batch_size, context, device_count)
    if fit.fits is False:
        fewest = fewest_devices(facts, memory, hardware.kind, dtype, engine, batch_size, context,
                                counts=layout_counts(model, hardware))
        return memory_refusal(model.key, hardware.key, dtype, engine, fit.paged, batch_size, context, device_count,
                              fit.required_gb, fit.usable_gb, fewest)
    return None
