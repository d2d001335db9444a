"""What a question may ask: why an inference setup cannot run, told before any number is given.

``predict``, ``recommend`` and batch prediction refuse a setup with these rules and these messages
(a non-LLM model, a context longer than the model's, a dtype the device has no math for, a setup
that does not fit in memory -- naming the fewest devices that would -- and the layout rules of
:mod:`inference_estimation.lib.physics.layout`); the benchmark planner uses the same memory of one
device. The defaults a question means when it names no engine or dtype live here
too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from inference_estimation.lib.catalog import HardwareEntry, ModelEntry
from inference_estimation.lib.catalog.vocabulary import (
    DEFAULT_CPU_DTYPE,
    DEFAULT_CPU_ENGINE,
    DEFAULT_ENGINE_BY_KIND,
    DEFAULT_GPU_DTYPE,
    DEFAULT_GPU_ENGINE,
    PEAK_COLUMNS_BY_DTYPE,
    canonical_dtype,
    engine_platform_problem,
)
from inference_estimation.lib.physics.distinct import per_distinct
from inference_estimation.lib.physics.features import model_facts
from inference_estimation.lib.physics.layout import (
    interconnect_refusal,
    join_problem,
    layout_counts,
    node_refusal,
    tensor_parallel_refusal,
)
from inference_estimation.lib.physics.memory import DEVICE_COUNTS, MemoryFit, memory_fit_arrays


def host_memory_gb() -> float:
    """Physical memory of this machine in the catalog's GB (GiB), for local targets not probed yet."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024.0**3


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


def default_engine_dtype_note(hardware: HardwareEntry, model: ModelEntry | None = None,
                              unsupported: Callable[[HardwareEntry, str], str | None] | None = None,
                              ) -> tuple[str, str, str]:
    """:func:`default_engine_dtype` with the sentence that says why that dtype was taken.

    ``unsupported`` is :func:`dtype_unsupported` (a caller resolving many questions passes it
    remembered per hardware and dtype).
    """
    dtype_unsupported_ = unsupported or dtype_unsupported
    if hardware.kind in ("cpu", "mps"):
        released = f" ({model.key} was released in {model.default_dtype})" if model is not None else ""
        return DEFAULT_CPU_ENGINE, DEFAULT_CPU_DTYPE, (
            f"dtype {DEFAULT_CPU_DTYPE}: transformers computes in {DEFAULT_CPU_DTYPE} on {hardware.kind}{released}")
    engine = DEFAULT_ENGINE_BY_KIND.get(hardware.kind, DEFAULT_GPU_ENGINE)
    if model is not None and model.kind == "llm":
        released = canonical_dtype(model.default_dtype)
        why_not = dtype_unsupported_(hardware, released)
        if why_not is None:
            return engine, released, (
                f"dtype {released}: the dtype {model.key} was released in (its catalog default_dtype)")
        fallback = DEFAULT_GPU_DTYPE if dtype_unsupported_(hardware, DEFAULT_GPU_DTYPE) is None else "float16"
        return engine, fallback, (
            f"dtype {fallback}: {model.key} was released in {released}, which {hardware.key} cannot run ({why_not})")
    dtype = DEFAULT_GPU_DTYPE if dtype_unsupported_(hardware, DEFAULT_GPU_DTYPE) is None else "float16"
    return engine, dtype, f"dtype {dtype}: the default on {hardware.kind} hardware"


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
    if hardware.kind == "cpu":
        return None
    specs = hardware.specs
    peaks = [specs.peak_tflops_fp32, specs.peak_tflops_bf16, specs.peak_tflops_fp16, specs.peak_tflops_fp8,
             specs.peak_tflops_fp4]
    if all(p is None for p in peaks) or specs.memory_bandwidth_gb_s is None:
        # Without a peak or a bandwidth there is no physics to correct: a number would be a guess (in
        # every dtype, float32 on an Apple GPU included).
        missing = [name for name, value in (("peak TFLOP/s fact", None if all(p is None for p in peaks) else 1),
                                            ("memory_bandwidth_gb_s", specs.memory_bandwidth_gb_s)) if value is None]
        return (f"no physics for {hardware.key}: its catalog entry has no {' and no '.join(missing)}; add it "
                f"from its spec sheet in a catalog overlay (`inference-estimation catalog show {hardware.key}`)")
    if dtype not in DTYPE_MATH:
        return None
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
            f"{model_key}'s max_position_embeddings {limit}")


def memory_refusal(model_key: str, hardware_key: str, dtype: str, engine: str, paged: bool, batch_size: int | None,
                   context: int, device_count: int, required_gb: float, usable_gb: float,
                   fewest: int | None, alone: str | None = None, lower: str | None = None) -> str:
    """The refusal of a setup that does not fit, naming the fewest devices that would.

    ``alone`` is why the device cannot be joined to others (:func:`~inference_estimation.lib.physics.
    layout.join_problem`), then no count is named; ``lower`` a lower-precision dtype the device
    computes natively in which the setup as asked fits.
    """
    what = "one sequence" if paged else f"batch {batch_size}"
    if fewest and not alone:
        hint = f"the fewest {hardware_key} devices that fit it at {dtype} are {fewest}"
    elif alone:
        hint = f"more devices cannot help: {alone}"
    else:
        hint = f"not even {DEVICE_COUNTS[-1]} {hardware_key} devices fit it at {dtype}"
    if lower:
        hint += f"; in {lower}, which {hardware_key} computes natively, it fits on {device_count} (--dtype {lower})"
    return (f"does not fit: {model_key} in {dtype} on {device_count} x {hardware_key} ({engine}, {what} of "
            f"{context} tokens) needs about {required_gb:.1f} GB of {usable_gb:.1f} GB usable; {hint}")


def memory_rule(models: Sequence[ModelEntry], model_codes: np.ndarray, hardware: Sequence[HardwareEntry],
                hardware_codes: np.ndarray, dtype: np.ndarray, engine: np.ndarray,
                context_tokens: np.ndarray) -> Callable[..., dict[str, np.ndarray]]:
    """The memory rule of many setups, their catalog facts looked up once: ``fit(batch, devices, rows)``.

    ``fit`` is :func:`inference_estimation.lib.physics.memory.memory_fit_arrays` for ``rows`` (an
    index or mask; all rows when None) at those batches and device counts (arrays or scalars).
    """
    facts = [model_facts(m) for m in models]

    def fact(name: str) -> np.ndarray:
        return np.array([np.nan if f.get(name) is None else float(f[name]) for f in facts], dtype="float64")[model_codes]

    arch = [fact(name) for name in ("params", "layers", "kv_heads", "head_dim", "kv_cache_dim_per_layer")]
    memory = np.array([np.nan if device_memory_gb(h) is None else device_memory_gb(h) for h in hardware],
                      dtype="float64")[hardware_codes]
    kinds = np.array([h.kind for h in hardware], dtype=object)[hardware_codes]

    def fit(batch_size: np.ndarray | float, device_count: np.ndarray | float,
            rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        pick = slice(None) if rows is None else rows
        return memory_fit_arrays(*(a[pick] for a in arch[:4]), dtype[pick], engine[pick], batch_size,
                                 context_tokens[pick], memory[pick], device_count, kinds[pick],
                                 kv_cache_dim_per_layer=arch[4][pick])
    return fit


def engine_refusal(hardware: HardwareEntry, engine: str | None) -> str | None:
    """Why ``engine`` cannot run on ``hardware`` (its kind or generation is outside the engine's
    support matrix: :func:`~inference_estimation.lib.catalog.vocabulary.engine_platform_problem`), or None."""
    problem = engine_platform_problem(engine, hardware.kind, hardware.generation) if engine else None
    return None if problem is None else f"cannot run: {problem}"


def setup_refusals(models: Sequence[ModelEntry], model_codes: np.ndarray, hardware: Sequence[HardwareEntry],
                   hardware_codes: np.ndarray, dtype: np.ndarray, engine: np.ndarray, batch_size: np.ndarray,
                   input_tokens: np.ndarray, output_tokens: np.ndarray, device_count: np.ndarray,
                   fit: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Why each of many LLM inference setups cannot run (None where it can, or cannot be told).

    Checks, in order: an LLM at all, the context against ``max_position_embeddings``, the engine
    against the hardware's kind and generation (its support matrix), the dtype against the
    hardware's math, the layout (more than one device needs a known interconnect bandwidth; tensor
    parallel must divide the attention heads; past one node the network between nodes must be
    known), and memory
    (:mod:`inference_estimation.lib.physics.memory`); a setup that does not fit names the fewest
    devices that would, at that dtype, among the counts its heads can be sharded over. Each rule is
    asked once per distinct key it depends on (the model, the hardware and dtype, ...); memory is
    one pass over the rows.

    Args:
        models: the catalog models.
        model_codes: the model of each row (an index into ``models``).
        hardware: the catalog hardware.
        hardware_codes: the hardware of each row (an index into ``hardware``).
        dtype: canonical dtype per row.
        engine: canonical engine per row.
        batch_size: sequences per row (NaN: one).
        input_tokens: prompt tokens per row.
        output_tokens: generated tokens per row.
        device_count: devices per row.
        fit: the memory rule's verdict on these very setups when the caller has it already.
    """
    n = len(model_codes)
    refusal = np.full(n, None, dtype=object)
    open_rows = np.ones(n, dtype=bool)

    def refuse(rows: np.ndarray, reasons: np.ndarray | str) -> None:
        rows = rows & open_rows & (np.not_equal(reasons, None) if isinstance(reasons, np.ndarray) else True)
        refusal[rows] = reasons[rows] if isinstance(reasons, np.ndarray) else reasons
        open_rows[rows] = False

    llm = np.array([m.kind == "llm" for m in models], dtype=bool)[model_codes]
    refuse(~llm, per_distinct(~llm, (model_codes,), lambda m: tabular_refusal(models[m])))
    too_few = device_count < 1
    refuse(too_few, per_distinct(too_few & open_rows, (device_count,),
                                 lambda d: f"device_count must be >= 1, got {int(d)}"))
    context = input_tokens + output_tokens
    limit = np.array([np.nan if m.architecture is None or m.architecture.max_position_embeddings is None
                      else m.architecture.max_position_embeddings for m in models], dtype="float64")[model_codes]
    with np.errstate(invalid="ignore"):
        too_long = open_rows & (context > limit)
    refuse(too_long, per_distinct(too_long, (model_codes, input_tokens, output_tokens), lambda m, i, o: context_refusal(
        models[m].key, int(i), int(o), models[m].architecture.max_position_embeddings)))
    refuse(open_rows, per_distinct(open_rows, (hardware_codes, engine), lambda h, e: engine_refusal(hardware[h], e)))
    refuse(open_rows, per_distinct(open_rows, (hardware_codes, dtype), lambda h, d: dtype_unsupported(hardware[h], d)))
    # the layout (tensor parallel on accelerators; a CPU entry's count is sockets, not shards)
    accelerator = np.array([h.kind != "cpu" for h in hardware], dtype=bool)[hardware_codes]
    # a device that cannot be joined to others first: no head count makes its tensor parallel possible
    refuse(open_rows & accelerator, per_distinct(open_rows & accelerator, (hardware_codes, device_count),
                                                 lambda h, d: interconnect_refusal(hardware[h], int(d))))
    tensor_parallel = per_distinct(open_rows & accelerator, (model_codes, device_count),
                                   lambda m, d: tensor_parallel_refusal(models[m], int(d)))
    unshardable = open_rows & accelerator & np.not_equal(tensor_parallel, None)
    refuse(unshardable, tensor_parallel)
    refuse(open_rows & accelerator, per_distinct(open_rows & accelerator, (hardware_codes, device_count),
                                                 lambda h, d: node_refusal(hardware[h], int(d))))
    batch = np.where(np.isnan(batch_size), 1.0, batch_size)
    rule = memory_rule(models, model_codes, hardware, hardware_codes, dtype, engine, context)
    if unshardable.any():
        # of the counts the heads can be sharded over, name the fewest that also hold the model
        rows = np.flatnonzero(unshardable)
        fewest = _fewest_fitting(models, model_codes, hardware, hardware_codes, batch, rows, rule)
        refusal[rows] = [f"{r}; the fewest of them that hold it in memory at {d}: {int(f)}" if np.isfinite(f)
                         else f"{r}; none of them holds it in memory at {d}"
                         for r, d, f in zip(refusal[rows], dtype[rows], fewest, strict=True)]
    fit = fit if fit is not None else rule(batch, device_count)
    with np.errstate(invalid="ignore"):
        short = open_rows & (fit["memory_fit_ratio"] > 1.0)
    if short.any():
        refuse(short, _memory_refusals(models, model_codes, hardware, hardware_codes, dtype, engine, batch_size,
                                       context, device_count, fit, short, rule))
    return refusal


def _memory_refusals(models: Sequence[ModelEntry], model_codes: np.ndarray, hardware: Sequence[HardwareEntry],
                     hardware_codes: np.ndarray, dtype: np.ndarray, engine: np.ndarray, batch_size: np.ndarray,
                     context: np.ndarray, device_count: np.ndarray, fit: dict[str, np.ndarray], short: np.ndarray,
                     rule: Callable[..., dict[str, np.ndarray]]) -> np.ndarray:
    """:func:`memory_refusal` of the ``short`` rows, naming the fewest devices that would fit each."""
    rows = np.flatnonzero(short)
    fewest = _fewest_fitting(models, model_codes, hardware, hardware_codes,
                             np.where(np.isnan(batch_size), 1.0, batch_size), rows, rule)
    lower = _lower_dtype_fits(models, model_codes, hardware, hardware_codes, dtype, engine, batch_size, context,
                              device_count, rows)
    out = np.full(len(short), None, dtype=object)
    out[rows] = [
        memory_refusal(models[m].key, hardware[h].key, d, e, bool(p), None if np.isnan(b) else int(b), int(c), int(dev),
                       float(req), float(use), None if np.isnan(f) else int(f), join_problem(hardware[h]), low)
        for m, h, d, e, p, b, c, dev, req, use, f, low in zip(
            model_codes[rows], hardware_codes[rows], dtype[rows], engine[rows], fit["paged"][rows], batch_size[rows],
            context[rows], device_count[rows], fit["required_gb"][rows], fit["usable_gb"][rows], fewest,
            lower, strict=True)]
    return out


def _fewest_fitting(models: Sequence[ModelEntry], model_codes: np.ndarray, hardware: Sequence[HardwareEntry],
                    hardware_codes: np.ndarray, batch: np.ndarray, rows: np.ndarray,
                    rule: Callable[..., dict[str, np.ndarray]]) -> np.ndarray:
    """For each of ``rows``, the fewest devices among the counts its heads can be sharded over
    (:func:`layout_counts`) whose memory holds the setup at its batch, dtype and engine (NaN: none)."""
    asked = np.zeros(len(model_codes), dtype=bool)
    asked[rows] = True
    counts = per_distinct(asked, (model_codes, hardware_codes), lambda m, h: layout_counts(models[m], hardware[h]))[rows]
    fewest = np.full(len(rows), np.nan)
    for count in DEVICE_COUNTS:
        left = np.flatnonzero(np.isnan(fewest) & np.fromiter((count in c for c in counts), dtype=bool, count=len(rows)))
        if len(left) == 0:
            continue
        with np.errstate(invalid="ignore"):
            fits = rule(batch[rows[left]], float(count), rows[left])["memory_fit_ratio"] <= 1.0
        fewest[left[fits]] = count
    return fewest


#: Lower-precision dtypes a refusal may suggest, with the peak fact that says the device computes in
#: them natively (weight-only runs are not suggested: they save memory but are not the device's math).
NATIVE_LOWER_DTYPES = (("fp8", "peak_tflops_fp8"), ("fp4", "peak_tflops_fp4"))
#: Dtypes wider than every entry of :data:`NATIVE_LOWER_DTYPES`.
WIDE_DTYPES = ("float32", "bfloat16", "float16")


def _lower_dtype_fits(models: Sequence[ModelEntry], model_codes: np.ndarray, hardware: Sequence[HardwareEntry],
                      hardware_codes: np.ndarray, dtype: np.ndarray, engine: np.ndarray, batch_size: np.ndarray,
                      context: np.ndarray, device_count: np.ndarray, rows: np.ndarray) -> list[str | None]:
    """For each of ``rows`` (which do not fit), the first native lower dtype in which they would fit, or None."""
    found: list[str | None] = [None] * len(rows)
    batch = np.where(np.isnan(batch_size[rows]), 1.0, batch_size[rows])
    for low, fact in NATIVE_LOWER_DTYPES:
        native = np.array([getattr(h.specs, fact) is not None for h in hardware], dtype=bool)[hardware_codes[rows]]
        ask = np.flatnonzero(native & np.isin(dtype[rows], WIDE_DTYPES)
                             & np.array([f is None for f in found], dtype=bool))
        if len(ask) == 0:
            continue
        picked = rows[ask]
        rule = memory_rule(models, model_codes[picked], hardware, hardware_codes[picked],
                           np.full(len(picked), low, dtype=object), engine[picked], context[picked])
        with np.errstate(invalid="ignore"):
            fits = rule(batch[ask], device_count[picked])["memory_fit_ratio"] <= 1.0
        for i in ask[fits]:
            found[i] = low
    return found


def setup_refusal(model: ModelEntry, hardware: HardwareEntry, dtype: str, engine: str, batch_size: int | None,
                  input_tokens: int, output_tokens: int, device_count: int, fit: MemoryFit | None = None) -> str | None:
    """Why an LLM inference setup cannot run, or None: :func:`setup_refusals` of one setup.

    ``fit`` is the memory rule's verdict on this very setup when the caller has it already (it is
    computed here otherwise).
    """
    def one(value: object, kind: str = "float64") -> np.ndarray:
        return np.array([np.nan if value is None else value], dtype=kind)

    fits = None if fit is None else {"memory_fit_ratio": one(fit.memory_fit_ratio), "paged": one(fit.paged, "bool"),
                                     "required_gb": one(fit.required_gb), "usable_gb": one(fit.usable_gb)}
    codes = np.zeros(1, dtype=int)
    return setup_refusals([model], codes, [hardware], codes, one(dtype, "object"), one(engine, "object"),
                          one(batch_size), one(input_tokens), one(output_tokens), one(device_count), fit=fits)[0]
