"""ML.ENERGY Benchmark v3.0 (``mlenergy-v3``): vLLM serving on NVIDIA H100 and B200 (2025-26).

Reads ``public/data/index.json`` and ``public/data/tasks/<task>.json`` of github
ml-energy/leaderboard at the commit pinned in ``pins/v3.json``.

What a row states (the conventions of this adapter):

* **TPOT is the median ITL.** ``median_itl_ms`` is the median client-side gap between successive
  output tokens, pooled over every request of the run (multi-token chunks split evenly; the
  ``mlenergy-data`` toolkit's definition). With all requests submitted at once and at most
  ``max_num_seqs`` running, almost every gap is one engine step decoding the running batch, so the
  median gap is the decode step time at the measured average running batch ``avg_batch_size``.
  It is stored as ``tpot_s`` with ``latency_statistic = "p50"`` (a median, not a mean); the p50,
  p90 and p99 ITL stay in ``itl_p50_s``/``itl_p90_s``/``itl_p99_s``.
* **The running batch.** ``mode = serving``; ``concurrency`` = ``max_num_seqs``, the knob the
  benchmark sweeps (the most requests vLLM runs at once); ``batch_size`` = ``avg_batch_size``
  rounded, the MEASURED time-mean of running requests over the steady state (vLLM's
  ``num_requests_running`` gauge). The leaderboard keeps only runs with ``avg_batch_size >=
  0.85 max_num_seqs``, so the two are close; ``batch_size`` is the batch the median ITL was
  measured at.
* **Workload.** ``output_tokens`` = ``avg_output_len`` (mean output tokens per request, not
  forced). ``input_tokens`` is null: the benchmark publishes no prompt-length statistic per task
  (the leaderboard JSON carries only output-length histograms; the prompts are whole datasets
  named per task, e.g. GPQA diamond, Arena chats, Sourcegraph FIM completions), so rows that need
  the prompt length (TTFT, e2e) cannot use these rows, and the usage report counts them under
  "no input length".
* Output throughput (steady state, whole server) and energy per output token (all GPUs) as
  published.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inference_estimation.lib.catalog.vocabulary import canonical_dtype
from inference_estimation.lib.data.external.adapters.mlenergy.common import (
    DIFFUSION_REASON,
    DUPLICATE_REASON,
    MLLM_TEXT_DECODER,
    MLLM_UNKNOWN_REASON,
    NO_METRIC_REASON,
    PRECISION_REASON,
    count,
    load_json,
    ms_to_s,
    num,
    pinned_files,
)
from inference_estimation.lib.data.external.base import Adapter, AdapterOutput

#: v3 ``gpu_model`` -> the name nvidia-smi reports (what the catalog resolves). The leaderboard's
#: about page: "NVIDIA H100 80GB HBM3 (700 W)" -- the SXM part -- and B200 (1000 W).
V3_GPU_NAMES = {"H100": "NVIDIA H100 80GB HBM3", "B200": "NVIDIA B200"}

#: v3 ``weight_precision`` -> (dtype, weight_dtype). The record's dtype is the weight precision
#: class (features use it for bytes per weight). FP8 checkpoints run W8A8 FP8 in vLLM.
#: ``mxfp4`` (gpt-oss only) is the OCP microscaling 4-bit float (E2M1 + a shared 8-bit scale per
#: 32 values, ~4.25 bits/weight) on the MoE expert weights: canonical ``fp4`` (the vocabulary's
#: 4-bit float, so FP4 peaks apply where the device has FP4 tensor cores); ``weight_dtype`` keeps
#: the variant. Attention weights and activations stay bf16.
V3_PRECISIONS = {name: (canonical_dtype(name, "weight_precision"), name if name == "mxfp4" else canonical_dtype(name))
                 for name in ("bfloat16", "fp8", "mxfp4")}


class MLEnergyV3Adapter(Adapter):
    """ML.ENERGY Benchmark v3.0: LLM and MLLM text generation under vLLM on H100 and B200."""

    source = "mlenergy-v3"
    folder = "mlenergy_leaderboard_v3"
    title = "ML.ENERGY Leaderboard v3 (ML.ENERGY Benchmark v3.0)"
    license = ("Apache-2.0 (per the HF dataset card of ml-energy/benchmark-v3; the leaderboard repo has no "
               "LICENSE file at this commit)")
    measured_at = "2026-02-16"  # index.json "last_updated"
    remote_files = pinned_files("v3")

    def read(self, folder: Path) -> AdapterOutput:
        """Maps the index and every task file under ``folder``; unmapped rows are counted by reason."""
        out = AdapterOutput()
        index = load_json(self.require(folder, "public/data/index.json"), self.source)
        kinds = {task: kind for kind, tasks in index.get("architectures", {}).items() for task in tasks}
        for task in index.get("tasks", []):
            relative = f"public/data/tasks/{task}.json"
            configs = load_json(self.require(folder, relative), self.source).get("configurations", [])
            out.notes.append(f"read {relative}: {len(configs)} configurations ({kinds.get(task, '?')})")
            kind = kinds.get(task)
            if kind == "diffusion":
                out.reject(DIFFUSION_REASON, len(configs))
                continue
            if kind not in ("llm", "mllm"):
                out.reject(f"unknown task kind: {task}", len(configs))
                continue
            for config in configs:
                self._map(config, task, kind, out)
        out.notes.append("not read: public/data/models/*.json (the same configurations again, per model) and the "
                         "derived *_flat.csv files")
        return out

    def _map(self, c: dict[str, Any], task: str, kind: str, out: AdapterOutput) -> None:
        model = c.get("model_id")
        if kind == "mllm" and model not in MLLM_TEXT_DECODER:
            out.reject(MLLM_UNKNOWN_REASON)
            return
        precision = V3_PRECISIONS.get(c.get("weight_precision"))
        if precision is None:
            out.reject(PRECISION_REASON)
            return
        # One configuration = (task, model, GPU, #GPUs, max batch, parallel layout). v3 publishes a
        # second seed of three configurations (gpt-oss-20b gpqa H100 bs96; Qwen3-30B-A3B lm-arena-chat
        # 2xH100 bs256/bs512); the first in file order is kept, the repeat counted as a duplicate.
        key = (task, model, c.get("gpu_model"), c.get("num_gpus"), c.get("max_num_seqs"),
               c.get("tensor_parallel"), c.get("data_parallel"), c.get("expert_parallel"), c.get("weight_precision"))
        if not out.first_time(key, DUPLICATE_REASON):
            return
        # output_throughput_tokens_per_sec: steady-state output tokens/s of the whole server (all GPUs).
        throughput = num(c.get("output_throughput_tokens_per_sec"))
        if throughput is None:
            out.reject(NO_METRIC_REASON)
            return
        devices = int(c.get("num_gpus") or 1)
        data_parallel = int(c.get("data_parallel") or 1)
        gpu = c.get("gpu_model")
        out.rows.append({
            "source": self.source,
            "model_key": model,
            "hardware_key": V3_GPU_NAMES.get(gpu, gpu),
            "device_name": gpu,
            "device_count": devices,
            # ML.ENERGY reports an expert-parallel run as tensor_parallel=1, expert_parallel=N. In vLLM
            # the expert-parallel group is TP x DP, so with data_parallel=1 the attention layers run
            # tensor-parallel over all N GPUs; with data_parallel=N ("DP for attention, EP for MLP
            # experts") attention is replicated. The record has no expert-parallel field, so
            # tensor_parallel here is the attention TP degree = num_gpus / data_parallel (MoE experts
            # are split over all num_gpus either way).
            "tensor_parallel": max(1, devices // data_parallel),
            "engine": "vllm",
            "engine_version": None,  # not in the exported data (the benchmark pins a vllm-openai image per run)
            "weight_source": "pretrained",
            "dtype": precision[0],
            "weight_dtype": precision[1],
            # All requests of the task are submitted to an OpenAI-compatible vLLM server and it is
            # measured at steady state with at most max_num_seqs running: a serving run.
            "mode": "serving",
            # max_num_seqs: the configured maximum running batch (the swept knob). Only runs whose
            # measured steady-state average batch is >= 0.85 x max_num_seqs pass the leaderboard's
            # stability filter.
            "concurrency": count(c.get("max_num_seqs")),
            # avg_batch_size: measured time-mean of running requests at steady state -- the batch the
            # median ITL below was measured at (module docstring).
            "batch_size": count(c.get("avg_batch_size")),
            "input_tokens": None,  # not published per task (module docstring)
            # avg_output_len: mean output tokens per request (not forced; reasoning tasks run to ~8k).
            "output_tokens": count(c.get("avg_output_len")),
            "prompt_type": task,
            "output_throughput_tok_s": throughput,
            # median_itl_ms = the decode step time at the running batch -> tpot_s, a median
            # (latency_statistic p50). *_itl_ms percentiles in ms (chunked-prefill zero-ITL entries
            # smoothed by the toolkit) -> seconds; p95 has no record field.
            "tpot_s": ms_to_s(c.get("median_itl_ms")),
            "latency_statistic": "p50",
            "itl_p50_s": ms_to_s(c.get("median_itl_ms")),
            "itl_p90_s": ms_to_s(c.get("p90_itl_ms")),
            "itl_p99_s": ms_to_s(c.get("p99_itl_ms")),
            # avg_power_watts: mean GPU power summed over all GPUs of the run (W);
            # energy_per_token_joules: GPU energy per output token over all GPUs (J). SOURCE.md checked
            # energy_per_token x throughput == avg_power on every row. energy_per_request (J/request) has
            # no record field (energy_j is the energy of one measured batch).
            "avg_power_w": num(c.get("avg_power_watts")),
            "energy_per_output_token_j": num(c.get("energy_per_token_joules")),
            "power_source": "nvml-energy",
            "power_scope": "all-devices",
            "status": "ok",
        })
