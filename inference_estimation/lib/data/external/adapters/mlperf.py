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
* Workload (:data:`WORKLOADS`): each benchmark runs a fixed dataset, so its mean input and output
  tokens per sample come from the MLPerf rules and reference implementation (cited per figure;
  "not verified" where no primary source states it). ``input_tokens``/``output_tokens`` are those
  means, rounded.
* Offline -> ``mode=offline``, ``batch_size`` null: every query is issued at once and the engine
  forms its own batches, so the batch is the engine's saturation batch (what the scheduler model
  derives from the engine's limits). ``output_throughput_tok_s`` is the saturation throughput of
  the whole system (``throughput_scope = system``).
* Server and Interactive -> ``mode=serving``: Poisson arrivals, and the result is the highest
  throughput whose p99 TTFT and p99 TPOT meet the scenario's limits. ``request_rate_rps`` =
  achieved output tokens/s ÷ the benchmark's mean output tokens per sample (the completed-request
  rate the throughput implies; the convention of this adapter). The limits are not measured
  values, so they go into ``prompt_type`` (``...;p99-limits:ttft=2s,tpot=0.2s``), never into
  ``ttft_p99_s``/``tpot_p99_s``.
* ``Power_Result`` in Watts (MLPerf Power) is the average WALL power of the whole system ->
  ``power_source=wall``, ``power_scope=system``.
* ``prompt_type`` names the round, benchmark, scenario and submission ID
  (``mlperf/<round>/<benchmark>/<scenario>/<ID>``): the benchmark is the prompt set, and the
  submission ID keeps two submitters' results on the same hardware/engine/dtype distinct points
  (the staging layer requires a unique workload point per run; these rows have no batch size or
  lengths that would otherwise tell them apart).
* ``tensor_parallel`` is not published; it is left unset (the record then defaults to 1).
* ``node_count`` = ``Nodes``; ``device_count`` = accelerators per node x nodes (several nodes is
  not a plain deployment: such rows stay in the warehouse and label nothing).
* ``dtype``: ``weight_data_types`` through the one vocabulary
  (:func:`~inference_estimation.lib.catalog.vocabulary.normalize_dtype`): ``fp4``/``mxfp4``/``nvfp4``
  are FP4; ``weight_dtype`` keeps a 4-bit variant's own name (``mxfp4``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference_estimation.lib.catalog.vocabulary import BYTES_PER_ELEMENT, normalize_dtype
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

#: ``weight_data_types`` spellings the vocabulary does not list (MLPerf's own) -> its spelling. The
#: file states the WEIGHT precision only; it is used for ``dtype`` too (the compute precision is
#: not published).
_MLPERF_DTYPE_SPELLINGS = {"uint4": "int4"}


@dataclass(frozen=True)
class Workload:
    """One MLPerf LLM benchmark's workload: dataset, mean tokens per sample and latency limits.

    Attributes:
        dataset: the prompt set (and its sample count) of the closed division.
        input_tokens: mean prompt tokens per sample (rounded).
        output_tokens: mean generated tokens per sample (rounded).
        server_limits_s: (p99 TTFT, p99 TPOT) limits of the Server scenario, seconds (None: none).
        interactive_limits_s: the same for the Interactive scenario (None: no such scenario).
        source: where each figure comes from.
    """

    dataset: str
    input_tokens: int | None
    output_tokens: int
    server_limits_s: tuple[float, float] | None
    interactive_limits_s: tuple[float, float] | None
    source: str


#: Benchmark family (the ``Model`` name without ``-99``/``-99.9``/``-edge``) -> its workload.
#: Citations: "rules" = mlcommons/inference_policies ``inference_rules.adoc`` @c58dbd6d (v4.1) and
#: @dff5f517 (v5.1 benchmarks); "checker" = mlcommons/inference ``tools/submission/
#: submission_checker.py`` at v4.1 (379ee534) / v5.1 (75f297d4); "README" = the reference
#: implementation's ``language/<model>/README.md``. Output means are the checker's
#: ``tokens_per_sample`` reference (submissions must be within 0.9-1.1x of it). No primary source
#: publishes a MEAN INPUT length for any of these datasets: where a secondary figure exists (CNN/
#: DailyMail's article length) it is used and marked "not verified"; elsewhere the input length is
#: unknown (null) and the rows train nothing that needs it (the usage report counts them).
WORKLOADS: dict[str, Workload] = {
    "gptj": Workload(
        dataset="CNN/DailyMail v3.0.0 validation, 13,368 samples (rules; max_seq_len 2048, max 128 new tokens)",
        # input: not verified -- CNN/DailyMail articles average 781 tokens (See et al. 2017, "Get To
        # The Point", Table 1; word tokens, before GPT-J's BPE and the instruction template).
        input_tokens=781,
        # output: not verified -- the checker bounds the SUM of generated characters (GEN_LEN
        # 4,016,878 over 13,368 samples = 300 chars/sample); at ~4 characters per BPE token that is
        # ~75 tokens (beam search 4, min 30, max 128 new tokens per the rules).
        output_tokens=75,
        server_limits_s=(20.0, 20.0),  # rules: 20 s per sample (one latency bound; no separate TPOT)
        interactive_limits_s=None,
        source="rules @c58dbd6d; checker v4.1; input: See et al. 2017 (not verified)"),
    "llama2-70b": Workload(
        dataset="OpenOrca GPT-4 split, 24,576 samples, prompts <= 1,024 tokens (README; processorca.py --seqlen_limit=1024)",
        # input: not verified -- no published mean; the dataset keeps prompts of at most 1,024
        # Llama-2 tokens (system prompt + question). Left unknown rather than guessed.
        input_tokens=None,
        output_tokens=294,  # checker: tokens_per_sample 294.45
        server_limits_s=(2.0, 0.2),  # rules: TTFT 2000 ms, TPOT 200 ms (p99)
        interactive_limits_s=(0.45, 0.04),  # v5.1 rules: TTFT 450 ms, TPOT 40 ms (p99)
        source="rules @dff5f517; checker v5.1 tokens_per_sample 294.45; input unknown"),
    "mixtral-8x7b": Workload(
        dataset="5k OpenOrca + 5k GSM8K + 5k MBXP = 15,000 samples (README)",
        # input: no published mean (short OpenOrca/GSM8K/MBXP prompts): left unknown.
        input_tokens=None,
        output_tokens=145,  # checker: tokens_per_sample 145.9 (v4.1) / 144.84 (v5.1)
        server_limits_s=(2.0, 0.2),  # rules: TTFT 2000 ms, TPOT 200 ms (p99)
        interactive_limits_s=None,
        source="README; checker v4.1/v5.1; input unknown"),
    "llama3.1-405b": Workload(
        dataset="LongBench, LongDataCollections, Ruler and GovReport subset, 8,313 samples (README)",
        # input: no mean found in a primary source we could read (long-context prompts): unknown.
        input_tokens=None,
        output_tokens=685,  # README/checker: tokens_per_sample 684.68
        server_limits_s=(6.0, 0.175),  # rules: TTFT 6000 ms, TPOT 175 ms (p99)
        interactive_limits_s=(4.5, 0.08),  # rules: TTFT 4500 ms, TPOT 80 ms (p99)
        source="README; rules @dff5f517; input unknown"),
    "llama3.1-8b": Workload(
        dataset="CNN/DailyMail v3.0.0, 13,368 samples datacenter / 5,000 edge (rules)",
        # input: not verified -- as GPT-J (781-token articles, See et al. 2017) in the Llama 3
        # chat template (PREPROCESSING.md, max_length 2048).
        input_tokens=781,
        # output: not verified -- the checker bounds generated characters (8,167,644 over 13,368
        # samples = 611 chars/sample), which at >= 4.8 chars/token is the 128-token cap.
        output_tokens=128,
        server_limits_s=(2.0, 0.1),  # rules: TTFT 2000 ms, TPOT 100 ms (p99)
        interactive_limits_s=(0.5, 0.03),  # rules: TTFT 500 ms, TPOT 30 ms (p99)
        source="rules @dff5f517; checker v5.1; input not verified"),
    "deepseek-r1": Workload(
        dataset="mlperf_deepseek_r1: AIME, MATH500, GPQA, MMLU-Pro, LiveCodeBench, 4,388 samples (README)",
        # input: no published mean (single-question reasoning prompts): left unknown.
        input_tokens=None,
        output_tokens=3950,  # checker: tokens_per_sample 3949.648
        server_limits_s=(2.0, 0.08),  # v5.1 rules: TTFT 2000 ms, TPOT 80 ms (p99)
        interactive_limits_s=None,  # none in v5.1
        source="rules @dff5f517; checker v5.1; input unknown"),
}


def benchmark_family(benchmark: str) -> str:
    """``llama2-70b-99.9`` -> ``llama2-70b``; ``llama3.1-8b-edge`` -> ``llama3.1-8b``."""
    return re.sub(r"-edge$", "", re.sub(r"-99(\.9)?$", "", benchmark))


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
    """(dtype, weight_dtype) in the one vocabulary; (None, None) when the precision is unknown."""
    key = str(raw or "").strip().lower()
    if key in ("", "unset"):
        # Krai's open-division rows leave the field UNSET but name the precision in the model.
        key = "fp8" if "fp8" in used_model.lower() else ""
    if not key:
        return None, None
    dtype = normalize_dtype(_MLPERF_DTYPE_SPELLINGS.get(key, key))
    if dtype not in BYTES_PER_ELEMENT:
        return None, None
    # A 4-bit float variant keeps its own name as the weight dtype (mxfp4); others are canonical.
    return dtype, (key if dtype == "fp4" and key != "fp4" else dtype)


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

        workload = WORKLOADS[benchmark_family(benchmark)]
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
            "prompt_type": f"mlperf/{round_name}/{benchmark}/{scenario.lower()}/{raw.get('ID')}"
                           + _limits_label(workload, scenario),
            # The benchmark's dataset means (WORKLOADS); offline batch null = the engine's own
            # saturation batch.
            "input_tokens": workload.input_tokens,
            "output_tokens": workload.output_tokens,
            "node_count": nodes,
            # Tokens/s = generated (output) tokens per second of the whole system, all devices.
            "output_throughput_tok_s": throughput,
            "throughput_scope": "system",
            "power_source": "none",
            "measured_at": date,
            "status": "ok",
        }
        if scenario != "Offline":
            # Completed requests/s implied by the throughput: output tokens/s / mean output tokens.
            row["request_rate_rps"] = throughput / workload.output_tokens
        if power is not None and power > 0:
            # MLPerf Power: average wall power of the whole system (hosts, fans, all accelerators)
            # measured by an approved analyzer during the performance run, in watts.
            row["avg_power_w"] = power
            row["power_source"] = "wall"
            row["power_scope"] = "system"
            # J per output token = W / (output tokens/s); same run, same scope (whole system).
            row["energy_per_output_token_j"] = power / throughput
        out.rows.append(row)


def _limits_label(workload: Workload, scenario: str) -> str:
    """``;p99-limits:ttft=2s,tpot=0.2s`` for a Server/Interactive row ("" offline or without limits)."""
    limits = {"Server": workload.server_limits_s, "Interactive": workload.interactive_limits_s}.get(scenario)
    if limits is None:
        return ""
    return f";p99-limits:ttft={limits[0]:g}s,tpot={limits[1]:g}s"


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


ADAPTERS = [MLPerfInferenceAdapter()]
