"""MLPerf Inference results summaries (v4.1 and v5.1): audited whole-system LLM throughput.

The adapter reads the two ORIGINAL ``summary_results.json`` files as MLCommons published them (not
the flattened CSV that SOURCE.md says was derived from them) and keeps only the LLM benchmarks
(GPT-J, Llama-2-70B, Mixtral-8x7B, Llama-3.1-8B/405B, DeepSeek-R1). Every other row (vision,
BERT, DLRM, diffusion, Whisper, ...) is counted as rejected, so mapped + rejected equals the rows
of both files.

Semantics (see the comments next to each conversion):

* ``Performance_Result`` in ``Tokens/s`` is the OUTPUT tokens per second of the WHOLE system under
  test, so it maps to ``output_throughput_tok_s`` with ``device_count`` = accelerators per node x
  nodes. Rows reported in Samples/s, Queries/s or Latency (ms) are rejected (not tokens/s).
* Offline -> ``mode=offline``; Server and Interactive -> ``mode=serving`` (requests arrive by a
  Poisson process under TTFT/TPOT limits set by the MLPerf rules; the limits and the achieved rate
  are not in this file). Batch size, input and output lengths, concurrency and request rate are
  NOT given (prompts are real datasets with variable lengths) -- they stay null.
* ``Power_Result`` in Watts (MLPerf Power) is the average WALL power of the whole system ->
  ``power_source=wall``, ``power_scope=system``.
* ``prompt_type`` names the round, benchmark, scenario and submission ID
  (``mlperf/<round>/<benchmark>/<scenario>/<ID>``): the benchmark is the prompt set, and the
  submission ID keeps two submitters' results on the same hardware/engine/dtype distinct points
  (the staging layer requires a unique workload point per run; these rows have no batch size or
  lengths that would otherwise tell them apart).
* ``tensor_parallel`` is not published; it is left unset (the record then defaults to 1).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from inference_estimation.lib.data.external.base import Adapter, AdapterOutput, RemoteFile

#: (round, file inside the dataset folder, commit it was taken from, snapshot date).
ROUNDS = (
    ("v4.1", "v4.1/summary_results.json", "mlcommons/inference_results_v4.1",
     "1e5a50f0619832da57f1425c19a8ec3607eee91d", "2024-08-28"),
    ("v5.1", "v5.1/summary_results.json", "mlcommons/inference_results_v5.1",
     "965182b03376a00fcae415c54e560e1c83937932", "2025-09-09"),
)
_SHA256 = {
    "v4.1/summary_results.json": "81594b15be0421628ad27dcfb8143bd71641b0caad91bd0bdc01845d3ab8d572",
    "v5.1/summary_results.json": "68c19b46cf5a87f535beae81154d61c3d981fe850ae3d09af530c769b6e0cc68",
}

#: MLPerf benchmark name (``Model``) -> the Hugging Face id of the model the closed division
#: prescribes. -99 / -99.9 are accuracy targets of the same model, not different models.
BENCHMARK_MODELS = {
    "gptj-99": "EleutherAI/gpt-j-6b",  # GPT-J 6B fine-tuned on CNN/DailyMail: same architecture
    "gptj-99.9": "EleutherAI/gpt-j-6b",
    "llama2-70b-99": "meta-llama/Llama-2-70b-chat-hf",
    "llama2-70b-99.9": "meta-llama/Llama-2-70b-chat-hf",
    "mixtral-8x7b": "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "llama3.1-8b": "meta-llama/Llama-3.1-8B-Instruct",
    "llama3.1-8b-edge": "meta-llama/Llama-3.1-8B-Instruct",
    "llama3.1-405b": "meta-llama/Llama-3.1-405B-Instruct",
    "deepseek-r1": "deepseek-ai/DeepSeek-R1",
}
#: ``UsedModel`` spellings of the open division (and v5.1's underscore spellings) -> the model
#: actually run. Open-division submitters may run a different model on a benchmark's prompts
#: (e.g. Llama-3.1-70B on the Llama-2-70B task): the row is about the model they ran.
USED_MODELS = {
    "llama3_1-8b": "meta-llama/Llama-3.1-8B-Instruct",
    "llama3_1-8b-edge": "meta-llama/Llama-3.1-8B-Instruct",
    "llama3_1-405b": "meta-llama/Llama-3.1-405B-Instruct",
    "llama3_1-70b-fp8_dyn": "meta-llama/Llama-3.1-70B-Instruct",  # FP8 dynamic quantisation
    "llama3_1-70b-fp8_pre": "meta-llama/Llama-3.1-70B-Instruct",  # FP8 pre-quantised checkpoint
    "llama3_1-70b-fp8_trtllm": "meta-llama/Llama-3.1-70B-Instruct",
    "llama2-70b-fp8_quark": "meta-llama/Llama-2-70b-chat-hf",  # FP8 via AMD Quark, same model
    "neuralmagic_Llama-2-7b-chat-hf-FP8": "meta-llama/Llama-2-7b-chat-hf",
}
#: Open-division models whose architecture was changed: the catalog's architecture would be wrong.
MODIFIED_USED_MODELS = {"llama3_1-405b_finetuned", "llama3_1-405b_pruned"}
_MODIFIED_PLATFORM = re.compile(r"pruned|sparse", re.IGNORECASE)

#: ``weight_data_types`` -> record dtype. The file states the WEIGHT precision only; it is used
#: for ``dtype`` too (the compute precision is not published). 4-bit floats (NVFP4 "fp4", OCP
#: "mxfp4") have no record dtype: they map to ``int4`` (same 0.5 byte per weight, which is what
#: the roofline features use) and ``weight_dtype`` keeps the original name.
_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "fp8": "fp8", "int8": "int8",
           "int4": "int4", "uint4": "int4", "fp4": "int4", "mxfp4": "int4"}
_WEIGHT_DTYPES = {"uint4": "int4", "fp4": "fp4", "mxfp4": "mxfp4"}

#: Accelerator spelling (a regex on MLPerf's ``Accelerator``) -> a spelling the catalog resolves
#: (nvidia-smi / rocm-smi product names where known). Order matters: GH200 before H200, GB200
#: before B200, NVL/PCIe variants before the SXM part. MLPerf's own string stays in
#: ``device_name``.
ACCELERATOR_NAMES: tuple[tuple[str, str], ...] = (
    (r"\bGH200\b.*\b144\s*GB", "NVIDIA GH200 144G HBM3e"),
    (r"\bGH200\b.*\b96\s*GB", "NVIDIA GH200 480GB"),  # nvidia-smi names the 96 GB HBM3 part so
    (r"\bGB300\b", "NVIDIA GB300"),
    (r"\bGB200\b", "NVIDIA GB200"),
    (r"\bB200\b", "NVIDIA B200"),
    (r"\bH200-NVL\b", "NVIDIA H200 NVL"),
    (r"\bH200\b", "NVIDIA H200"),  # H200-SXM-141GB, its -CTS variant and the virtualized one
    (r"\bH100-NVL\b", "NVIDIA H100 NVL"),
    (r"\bH100-PCIe\b", "NVIDIA H100 PCIe"),
    (r"\bH100-SXM\b", "NVIDIA H100 80GB HBM3"),
    (r"\bL40S\b", "NVIDIA L40S"),
    (r"\bRTX 4090\b", "NVIDIA GeForce RTX 4090"),
    (r"\bRTX PRO 6000 Blackwell Server\b", "NVIDIA RTX PRO 6000 Blackwell Server Edition"),
    (r"\bJetson AGX Orin 64G", "NVIDIA Jetson AGX Orin 64GB"),
    (r"\bJetson AGX Thor\b", "NVIDIA Jetson AGX Thor"),
    (r"\bMI355X\b", "AMD Instinct MI355X"),
    (r"\bMI325X\b", "AMD Instinct MI325X"),
    (r"\bMI300X\b", "AMD Instinct MI300X"),
    (r"\bArc Pro B60\b", "Intel Arc Pro B60"),
)
_COMPILED_NAMES = tuple((re.compile(p, re.IGNORECASE), name) for p, name in ACCELERATOR_NAMES)
#: Intel Arc Pro B60 "Dual" boards carry two B60 GPUs (24 GB each) that software sees as two
#: devices; MLPerf counts boards in ``a#``, the record counts GPUs.
_GPUS_PER_BOARD = ((re.compile(r"Arc Pro B60 Dual", re.IGNORECASE), 2),)


def normalise_accelerator(name: str) -> str:
    """A catalog-resolvable spelling of an MLPerf ``Accelerator`` string (unknown ones unchanged)."""
    for pattern, spelling in _COMPILED_NAMES:
        if pattern.search(name):
            return spelling
    return name.strip()


def normalise_processor(name: str) -> str:
    """``INTEL(R) XEON(R) PLATINUM 8592+`` -> ``Intel Xeon Platinum 8592+`` (CPU-only systems)."""
    cleaned = re.sub(r"\((R|TM)\)", "", name, flags=re.IGNORECASE)
    return " ".join(cleaned.split()).title()


def parse_engine(software: str) -> tuple[str | None, str | None]:
    """(engine, engine_version) from MLPerf's free-text ``Software`` field.

    NVIDIA's LLM submissions name only TensorRT and CUDA: their LLM engine is TensorRT-LLM, whose
    own version is not published (the TensorRT version is not it), so the version stays null.
    MangoBoost's LLMBoost platform (built on vLLM) is kept as its own engine.
    """
    text = software or ""
    if re.search(r"llmboost", text, re.IGNORECASE):
        return "llmboost", None
    for engine, pattern in (("sglang", r"sglang"), ("vllm", r"vllm"), ("deepsparse", r"deepsparse")):
        match = re.search(pattern + r"(?:[\s-]+v?(\d[^\s,]*))?", text, re.IGNORECASE)
        if match:
            return engine, match.group(1)
    if re.search(r"tensorrt", text, re.IGNORECASE):
        return "tensorrt-llm", None
    match = re.search(r"pytorch(?:\s+v?(\d[^\s,]*))?", text, re.IGNORECASE)
    if match:
        return "pytorch", match.group(1)
    return None, None  # e.g. "CUDA 12.2" alone: the serving engine is not named


def _dtypes(raw: Any, used_model: str) -> tuple[str | None, str | None]:
    key = str(raw or "").strip().lower()
    if key in ("", "unset"):
        # Krai's open-division rows leave the field UNSET but name the precision in the model.
        key = "fp8" if "fp8" in used_model.lower() else ""
    if key not in _DTYPES:
        return None, None
    return _DTYPES[key], _WEIGHT_DTYPES.get(key, _DTYPES[key])


def _count(value: Any) -> int | None:
    """MLPerf writes counts as int, float (``8.0``) or '' (not applicable)."""
    if value in (None, ""):
        return None
    number = float(value)
    return int(number) if number.is_integer() and number > 0 else None


class MLPerfInferenceAdapter(Adapter):
    """MLPerf Inference v4.1 + v5.1 LLM results (whole-system tokens/s; wall power for a few)."""

    source = "mlperf-inference"
    folder = "mlperf_inference_summaries"
    title = "MLPerf Inference results summaries v4.1 and v5.1 (LLM benchmarks)"
    license = "Apache-2.0 (inference_results_v4.1 LICENSE.md; the v5.1 repository has no LICENSE file at this commit)"
    measured_at = "2025-09-09"
    remote_files = tuple(
        RemoteFile(path, f"https://raw.githubusercontent.com/{repo}/{commit}/summary_results.json", _SHA256[path])
        for _, path, repo, commit, _ in ROUNDS
    )

    def read(self, folder: Path) -> AdapterOutput:
        out = AdapterOutput()
        non_llm: Counter = Counter()
        for round_name, relative, repo, commit, date in ROUNDS:
            rows = self.read_json_list(self.require(folder, relative), "result rows")
            before = len(out.rows)
            for raw in rows:
                self._map(raw, round_name, date, out, non_llm)
            out.notes.append(f"read {relative} ({repo}@{commit[:7]}): {len(rows)} rows, "
                             f"{len(out.rows) - before} LLM rows mapped")
        if non_llm:
            out.notes.append("non-LLM benchmarks rejected: "
                             + ", ".join(f"{m} {n}" for m, n in sorted(non_llm.items())))
        return out

    def _map(self, raw: dict[str, Any], round_name: str, date: str, out: AdapterOutput, non_llm: Counter) -> None:
        benchmark = str(raw.get("Model", ""))
        if benchmark not in BENCHMARK_MODELS:
            non_llm[benchmark] += 1
            out.reject("not an LLM benchmark")
            return
        units = str(raw.get("Performance_Units", ""))
        if units != "Tokens/s":
            # Samples/s and Queries/s are requests, not tokens; Latency (ms) is the SingleStream
            # 90th-percentile latency of one variable-length query. (The eight v5.1 llama3.1-8b
            # Interactive rows labelled Queries/s carry values of tokens/s magnitude -- a likely
            # label slip in the summary -- but they are not relabelled on a guess.)
            out.reject(f"metric is {units or 'missing'}, not tokens/s")
            return
        used = str(raw.get("UsedModel") or benchmark)
        if used in MODIFIED_USED_MODELS or _MODIFIED_PLATFORM.search(str(raw.get("Platform", ""))):
            out.reject("open division: modified model (pruned, sparse or fine-tuned)")
            return
        model = USED_MODELS.get(used) or BENCHMARK_MODELS.get(used) or BENCHMARK_MODELS[benchmark]

        accelerator = str(raw.get("Accelerator") or "").strip()
        nodes = _count(raw.get("Nodes")) or 1
        if "," in accelerator or "(x" in accelerator:
            out.reject("heterogeneous accelerators (mixed-GPU cluster)")
            return
        if accelerator:
            hardware = normalise_accelerator(accelerator)
            per_node = _count(raw.get("a#"))
            if per_node is None:
                out.reject("accelerator count missing")
                return
            per_board = next((n for pattern, n in _GPUS_PER_BOARD if pattern.search(accelerator)), 1)
            # device_count = accelerators per node (a#) x nodes: the result is for all of them.
            device_count = per_node * nodes * per_board
            device_name = accelerator
        else:
            # CPU-only system (accelerator field empty): the hardware is the host CPU, counted in
            # sockets (host_processors_per_node x nodes).
            processor = str(raw.get("Processor") or "").strip()
            if not processor:
                out.reject("no accelerator and no processor named")
                return
            hardware = normalise_processor(processor)
            device_count = (_count(raw.get("host_processors_per_node")) or 1) * nodes
            device_name = processor

        try:
            throughput = float(raw["Performance_Result"])
        except (KeyError, TypeError, ValueError):
            out.reject("no latency or throughput")
            return
        if throughput <= 0:
            out.reject("no latency or throughput")
            return
        dtype, weight_dtype = _dtypes(raw.get("weight_data_types"), used)
        engine, engine_version = parse_engine(str(raw.get("Software") or ""))
        scenario = str(raw.get("Scenario", ""))
        power = _float(raw.get("Power_Result")) if str(raw.get("Power_Units", "")) == "Watts" else None

        # -99 and -99.9 of one system often carry the very same result (one run submitted for both
        # accuracy targets, or the same config); keep the first, count the twin as a duplicate.
        base = re.sub(r"-99(\.9)?$", "", benchmark)
        identity = (round_name, raw.get("Submitter"), raw.get("Platform"), model, base, scenario, throughput,
                    power, dtype, accelerator, device_count)
        if not out.first_time(identity, "duplicate: same system and result under the -99 and -99.9 accuracy targets"):
            return

        row: dict[str, Any] = {
            "source": self.source,
            "model_key": model,
            "hardware_key": hardware,
            "device_name": device_name,
            "device_count": device_count,
            "engine": engine,
            "engine_version": engine_version,
            "dtype": dtype,
            "weight_dtype": weight_dtype,
            "weight_source": "pretrained",
            # Offline: all queries issued at once, the system batches freely -> offline.
            # Server / Interactive: Poisson arrivals under latency limits -> serving.
            "mode": "offline" if scenario == "Offline" else "serving",
            "prompt_type": f"mlperf/{round_name}/{benchmark}/{scenario.lower()}/{raw.get('ID')}",
            # Tokens/s = generated (output) tokens per second of the whole system, all devices.
            "output_throughput_tok_s": throughput,
            "power_source": "none",
            "measured_at": date,
            "status": "ok",
        }
        if power is not None and power > 0:
            # MLPerf Power: average wall power of the whole system (hosts, fans, all accelerators)
            # measured by an approved analyzer during the performance run, in watts.
            row["avg_power_w"] = power
            row["power_source"] = "wall"
            row["power_scope"] = "system"
            # J per output token = W / (output tokens/s); same run, same scope (whole system).
            row["energy_per_output_token_j"] = power / throughput
        out.rows.append(row)


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


ADAPTERS = [MLPerfInferenceAdapter()]
