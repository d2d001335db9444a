"""ML.ENERGY Leaderboard data -> measurement records (three sources).

* ``mlenergy-v3`` -- ML.ENERGY Benchmark v3.0 (github ml-energy/leaderboard @ 0cd52da, data
  ``last_updated`` 2026-02-16): vLLM serving on NVIDIA H100 (80GB HBM3, 700 W, SXM) and B200,
  1-8 GPUs, BF16/FP8/MXFP4, dense, MoE and hybrid Mamba models. Read from the published
  ``public/data/index.json`` and ``public/data/tasks/<task>.json`` (the originals; ``models/*.json``
  repeat the same configurations per model and the ``*_flat.csv`` files are conveniences "derived by
  us" -- neither is read, so nothing is counted twice).
* ``mlenergy-v2`` -- ML.ENERGY Leaderboard v2.0 (github ml-energy/leaderboard-v2 @ c3af7f3, V2.0
  released 2024-09-20): vLLM 0.5.4 on A100-SXM4-40GB (AWS p4d) and H100 80GB HBM3 (AWS p5), one JSON
  file per configuration under ``data/{llm,mllm}_text_generation/<task>/<GPU>/<org>/<model>/``.
* ``mlenergy-v1`` -- the v1 "legacy" leaderboard (2023) kept in the same repository under
  ``data/legacy``: PyTorch 2.0.1 + FastChat (Hugging Face transformers), batch size 1, FP16, on V100,
  A40 and A100.

v1 and v2 live in one folder and one commit but are two sources: different harness (single-stream
transformers generation vs a vLLM server with continuous batching), different hardware, different
era (2023 vs 2024) and different metrics. Keeping them apart keeps ``engine``/``mode`` honest and
lets each be re-imported (and partitioned) on its own.

What all three share (from SOURCE.md and the leaderboard's about pages):

* Energy is GPU-only, measured with Zeus, which reads the NVML total-energy counter
  (``power_source="nvml-energy"``). v2/v3 energy and power are summed over every GPU of the run
  (``power_scope="all-devices"``); v1 runs on one GPU (``power_scope="device"``).
* Output lengths are NOT forced: the model stops on its own. ``output_tokens`` is the rounded mean
  output length per request as the source reports it, so rows stay comparable to forced-length
  rows on the average, but a single request may be much shorter or longer.
* No source gives an input (prompt) length -- prompts come from task datasets (ShareGPT, LM Arena,
  GPQA, HumanEval+, ...) -- so ``input_tokens`` is always null; ``prompt_type`` names the task.
* Weights are the real checkpoints (``weight_source="pretrained"``).

Rows that are not mapped are counted by reason: diffusion configurations ("diffusion model (not an
LLM)"), repeated runs of a configuration already mapped (v3 publishes a second seed of three
configurations), and rows without a usable metric.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from inference_estimation.lib.external.base import Adapter, AdapterOutput, DatasetError, RemoteFile

DIFFUSION_REASON = "diffusion model (not an LLM)"
DUPLICATE_REASON = "duplicate: repeated run of a configuration already mapped"
NO_METRIC_REASON = "no latency or throughput"
MLLM_UNKNOWN_REASON = "MLLM without a known base LLM architecture"
PRECISION_REASON = "unknown weight precision"

V3_REPO, V3_COMMIT = "ml-energy/leaderboard", "0cd52dab897c5d91a45f4d413038f3b8b4251b0f"
V2_REPO, V2_COMMIT = "ml-energy/leaderboard-v2", "c3af7f31e231a2a7021c5f8e2a54dd712d02e6e2"

#: Multimodal (vision-language) models and the text LLM architecture their decoder is. Their
#: image-chat / video-chat rows are text generation by that decoder (vLLM returns text only), so
#: they are mapped; the catalog describes each by this base architecture. The vision encoder's
#: prefill work is not in that architecture -- ``prompt_type`` (image-chat / video-chat) marks the
#: rows. An MLLM missing from this table is rejected with :data:`MLLM_UNKNOWN_REASON`.
MLLM_TEXT_DECODER: dict[str, str] = {
    # v3
    "Qwen/Qwen3-VL-8B-Instruct": "Qwen/Qwen3-8B",
    "Qwen/Qwen3-VL-32B-Instruct": "Qwen/Qwen3-32B",
    "Qwen/Qwen3-VL-30B-A3B-Instruct": "Qwen/Qwen3-30B-A3B (MoE, 128 experts, 8 active)",
    "Qwen/Qwen3-VL-235B-A22B-Instruct": "Qwen/Qwen3-235B-A22B (MoE)",
    "Qwen/Qwen3-VL-235B-A22B-Instruct-FP8": "Qwen/Qwen3-235B-A22B (MoE), FP8 weights",
    "Qwen/Qwen3-Omni-30B-A3B-Instruct": "Qwen3-30B-A3B-style MoE 'thinker' (text output only in vLLM)",
    "google/gemma-3-12b-it": "itself (natively multimodal; same checkpoint as its LLM rows)",
    "google/gemma-3-27b-it": "itself (natively multimodal; same checkpoint as its LLM rows)",
    "meta-llama/Llama-4-Scout-17B-16E-Instruct": "itself (natively multimodal MoE; same checkpoint as its LLM rows)",
    "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8": "itself (natively multimodal MoE; same checkpoint as its LLM rows)",
    "nvidia/NVIDIA-Nemotron-Nano-12B-v2-VL-BF16": "nvidia/NVIDIA-Nemotron-Nano-12B-v2 (hybrid Mamba-Transformer)",
    # v2
    "llava-hf/llava-1.5-7b-hf": "lmsys/vicuna-7b-v1.5 (Llama-2-7B architecture)",
    "llava-hf/llava-1.5-13b-hf": "lmsys/vicuna-13b-v1.5 (Llama-2-13B architecture)",
    "llava-hf/llama3-llava-next-8b-hf": "meta-llama/Meta-Llama-3-8B-Instruct",
    "microsoft/Phi-3-vision-128k-instruct": "microsoft/Phi-3-mini-128k-instruct (phi3, 3.8B)",
    # Chameleon is early-fusion: images become VQ tokens of one decoder-only transformer (Llama-2
    # style with QK-norm, published in its HF config); there is no separate vision tower, so its
    # text generation is plain LLM decoding.
    "facebook/chameleon-7b": "its own decoder (Llama-2-style, QK-norm, 32 layers, 4096 hidden)",
    "facebook/chameleon-30b": "its own decoder (Llama-2-style, QK-norm, 48 layers, 8192 hidden)",
}


def _num(value: Any) -> float | None:
    """A finite, strictly positive float, else None (null = not measured, never 0)."""
    if value is None or value == "":
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) and out > 0 else None


def _count(value: Any) -> int | None:
    """A mean count (tokens, requests) rounded to a positive integer, else None."""
    number = _num(value)
    return max(1, round(number)) if number is not None else None


def _ms_to_s(value: Any) -> float | None:
    number = _num(value)
    return number / 1000.0 if number is not None else None


def _raw_url(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{quote(path)}"


def _load_json(path: Path, source: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{source}: cannot parse {path}: {exc}") from exc


# ================================================================================ v3 (2025-26)
#: Files of ``public/data`` the v3 adapter reads, with the SHA-256 of the copy at V3_COMMIT.
_V3_PINS = (
    ("index.json", "b638d291fc6a0588afeb0deccbcf8fa94e197fadf557614e8b978932d5e1ac65"),
    ("tasks/gpqa.json", "792582efd1473e9cbc41200deac4d420a106c9207c68928cc7e712e3b55132dc"),
    ("tasks/image-chat.json", "aeccaca7330c06f6305a6b78a2b633a1f65513eb0fd2cc17d67bbcd6820336ce"),
    ("tasks/lm-arena-chat.json", "24e25d46cdd6a9d9d58f8de63928d6f42601f9966d22e4d7a478e5f11f89a7ec"),
    ("tasks/sourcegraph-fim.json", "e74db077b9cdff916d9a60f482dc5cc1d0be220fc701c7ce0d6408c6c6cf7034"),
    ("tasks/text-to-image.json", "0e893ef2590fb2750b40b215a122e7b85cb1d8c1b87af1e60e025a1f887940fa"),
    ("tasks/text-to-video.json", "296807e77ac432a113c0f53d63a4d21fb45998b32633f6fc914dfb29f8c48eb1"),
    ("tasks/video-chat.json", "9932b4e57fb59e6a1e021f6f7e5def5c60682af6600eb70ebd0268bdaefaabb0"),
)

#: v3 ``gpu_model`` -> the name nvidia-smi reports (what the catalog resolves). The leaderboard's
#: about page: "NVIDIA H100 80GB HBM3 (700 W)" -- the SXM part -- and B200 (1000 W).
V3_GPU_NAMES = {"H100": "NVIDIA H100 80GB HBM3", "B200": "NVIDIA B200"}

#: v3 ``weight_precision`` -> (dtype, weight_dtype). The record's dtype is the weight precision
#: class (features use it for bytes per weight). FP8 checkpoints run W8A8 FP8 in vLLM.
#: ``mxfp4`` (gpt-oss only) is the OCP microscaling 4-bit float (E2M1 + a shared 8-bit scale per
#: 32 values, ~4.25 bits/weight) on the MoE expert weights; the record has no fp4 value, so it maps
#: to the 4-bit class ``int4`` (0.5 byte/weight). Attention weights and activations stay bf16.
V3_PRECISIONS = {"bfloat16": ("bfloat16", "bfloat16"), "fp8": ("fp8", "fp8"), "mxfp4": ("int4", "int4")}


class MLEnergyV3Adapter(Adapter):
    """ML.ENERGY Benchmark v3.0: LLM and MLLM text generation under vLLM on H100 and B200."""

    source = "mlenergy-v3"
    folder = "mlenergy_leaderboard_v3"
    title = "ML.ENERGY Leaderboard v3 (ML.ENERGY Benchmark v3.0)"
    license = ("Apache-2.0 (per the HF dataset card of ml-energy/benchmark-v3; the leaderboard repo has no "
               "LICENSE file at this commit)")
    measured_at = "2026-02-16"  # index.json "last_updated"
    remote_files = tuple(
        RemoteFile(f"public/data/{path}", _raw_url(V3_REPO, V3_COMMIT, f"public/data/{path}"), sha)
        for path, sha in _V3_PINS
    )

    def read(self, folder: Path) -> AdapterOutput:
        out = AdapterOutput()
        index = _load_json(self.require(folder, "public/data/index.json"), self.source)
        kinds = {task: kind for kind, tasks in index.get("architectures", {}).items() for task in tasks}
        seen: set[tuple] = set()
        for task in index.get("tasks", []):
            relative = f"public/data/tasks/{task}.json"
            configs = _load_json(self.require(folder, relative), self.source).get("configurations", [])
            out.notes.append(f"read {relative}: {len(configs)} configurations ({kinds.get(task, '?')})")
            kind = kinds.get(task)
            if kind == "diffusion":
                out.reject(DIFFUSION_REASON, len(configs))
                continue
            if kind not in ("llm", "mllm"):
                out.reject(f"unknown task kind: {task}", len(configs))
                continue
            for config in configs:
                self._map(config, task, kind, out, seen)
        out.notes.append("not read: public/data/models/*.json (the same configurations again, per model) and the "
                         "derived *_flat.csv files")
        return out

    def _map(self, c: dict[str, Any], task: str, kind: str, out: AdapterOutput, seen: set[tuple]) -> None:
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
        if key in seen:
            out.reject(DUPLICATE_REASON)
            return
        seen.add(key)
        # output_throughput_tokens_per_sec: steady-state output tokens/s of the whole server (all GPUs).
        throughput = _num(c.get("output_throughput_tokens_per_sec"))
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
            # max_num_seqs: the configured maximum running batch. Only runs whose measured steady-state
            # average batch is >= 0.85 x max_num_seqs pass the leaderboard's stability filter.
            "batch_size": _count(c.get("max_num_seqs")),
            # avg_batch_size: measured mean number of requests running concurrently at steady state.
            "concurrency": _count(c.get("avg_batch_size")),
            "input_tokens": None,  # not published (prompt lengths come from the task dataset)
            # avg_output_len: mean output tokens per request (not forced; reasoning tasks run to ~8k).
            "output_tokens": _count(c.get("avg_output_len")),
            "prompt_type": task,
            "output_throughput_tok_s": throughput,
            # *_itl_ms: inter-token latency percentiles in ms (chunked-prefill zero-ITL entries smoothed
            # by the toolkit) -> seconds. p95 has no record field. tpot_s stays null: the export has
            # the median, not the mean, time per output token.
            "itl_p50_s": _ms_to_s(c.get("median_itl_ms")),
            "itl_p90_s": _ms_to_s(c.get("p90_itl_ms")),
            "itl_p99_s": _ms_to_s(c.get("p99_itl_ms")),
            # avg_power_watts: mean GPU power summed over all GPUs of the run (W);
            # energy_per_token_joules: GPU energy per output token over all GPUs (J). SOURCE.md checked
            # energy_per_token x throughput == avg_power on every row. energy_per_request (J/request) has
            # no record field (energy_j is the energy of one measured batch).
            "avg_power_w": _num(c.get("avg_power_watts")),
            "energy_per_output_token_j": _num(c.get("energy_per_token_joules")),
            "power_source": "nvml-energy",
            "power_scope": "all-devices",
            "status": "ok",
        })


# ================================================================================ v2 (2024)
#: v2 model ids that Hugging Face has since renamed (the old id redirects) -> the current id.
V2_MODEL_IDS = {
    "meta-llama/Meta-Llama-3.1-8B-Instruct": "meta-llama/Llama-3.1-8B-Instruct",
    "meta-llama/Meta-Llama-3.1-70B-Instruct": "meta-llama/Llama-3.1-70B-Instruct",
    "meta-llama/Meta-Llama-3.1-405B-Instruct": "meta-llama/Llama-3.1-405B-Instruct",
}
#: (kind folder, task folder) -> prompt_type. Datasets per docs/about.md: chat = 500 ShareGPT
#: prompts, code = HumanEval+, MLLM chat = 500 LLaVA-Instruct image+text pairs.
V2_PROMPT_TYPES = {
    ("llm_text_generation", "chat"): "chat",
    ("llm_text_generation", "code"): "code",
    ("mllm_text_generation", "chat"): "image-chat",
}
V2_ENGINE_VERSION = "0.5.4"
_V2_FILE = re.compile(r"^bs(\d+)\+tp(\d+)\+pp(\d+)\.json$")

#: Files of ``data/`` the v2 adapter reads (every configuration JSON, diffusion included so that
#: its rows are counted as rejected), with the SHA-256 of the copy at V2_COMMIT: a line ending in
#: "/" names a folder, the lines below it "<file> <sha256>".
_V2_PINS = """
diffusion/image-to-video/A100-SXM4-40GB/ali-vilab/i2vgen-xl/
bs1+steps25+frames16.json 5a87eb3dc6f00594175cf1745966c9de8a593fb82d9d2c866b5e349a682dfafe
bs2+steps25+frames16.json ff3ad762313cb0c8cee6190645fffea514c31d67186f7caec3178e6e34b14ad1
diffusion/image-to-video/A100-SXM4-40GB/stabilityai/stable-video-diffusion-img2vid/
bs1+steps25+frames14.json 566b71c74982012d6bf808f14fbc40ecbe0497ed2d4dc5212bb550daaa069e66
bs2+steps25+frames14.json 4640e882d3d27e5e0a3fbb6cbf0d79a7fdba1e83867f78865521bfd755416ca2
bs3+steps25+frames14.json ac7f0dc60ec09e1de2e0ed8f6818e3bbd4f5e4765474438c93dff0c8660d4718
diffusion/image-to-video/A100-SXM4-40GB/stabilityai/stable-video-diffusion-img2vid-xt/
bs1+steps25+frames25.json aedb0e4275491949366842f8e4ed80d337c10506c01af4054ea90728ac2a841d
bs2+steps25+frames25.json c2488109b7bb36baab3a5af4401930dacfb6085829cb655253488beef46b1187
bs3+steps25+frames25.json e42b2a697458f7bf42124a18630c2f73532b17adb165d2871413efb43d371bbc
diffusion/image-to-video/H100 80GB HBM3/ali-vilab/i2vgen-xl/
bs1+steps25+frames16.json a21acd24cc853e79c35e7f52f357588c572b3c9b4b639df45fdcf927ada77faa
bs2+steps25+frames16.json 71635c28cdbe736d8179c5cca20c81aa6c507139872ffc25d67e17fc89d29f84
diffusion/image-to-video/H100 80GB HBM3/stabilityai/stable-video-diffusion-img2vid/
bs1+steps25+frames14.json 97729cdb9543bdaa4c24ac2dc04d12e52e39fac14330764ab8ba98035caa1f95
bs2+steps25+frames14.json 984409ec0c656973112203bdaaa06df2920d12d041a53963438a5fe910ec88ca
bs3+steps25+frames14.json 1bfb4c1324a2d769c9d209b2f5e8b0cbf93ed62dad57cab38f4ebc06266ffce5
diffusion/image-to-video/H100 80GB HBM3/stabilityai/stable-video-diffusion-img2vid-xt/
bs1+steps25+frames25.json a19996cd0d095f85819cbe8f2be54c098f160016b438bb482e9011e593bc91c9
bs2+steps25+frames25.json ca851c5d13698a0d9a266d493cc9db38a9b97a0bdb92c6912643e089c8370bb7
bs3+steps25+frames25.json 5bb54e10460954cd25431dff7bd718c37713dea9cf884d28404e2ebd77524e6b
diffusion/text-to-image/A100-SXM4-40GB/kandinsky-community/kandinsky-2-2-decoder/
bs1+steps25.json e637cef0b35859aca7f071729467212479f8341ba0f9aabbe8cfa39a2a6e31aa
bs16+steps25.json e3d42ddfe61344575aac5d47510dbd7a48053f52b4dfc67d534ff5f0e859c351
bs2+steps25.json 62fc331a5d9583bfc9319f608fbd1d168b006eec3dfd7d6f2115ee57ce2630b7
bs32+steps25.json b8c6c4c103ea60cce112c41c23e80ac937b12e005a3792572e5c1819e5ea5049
bs4+steps25.json 4a9f8564d7c44b11b4a8f8d03779c624a1e17657f73ad13541da77fcc07deac5
bs8+steps25.json 03c72828d7fb8cd461e154361f014fba491353e09db1ef236a2294f17579ad1b
diffusion/text-to-image/A100-SXM4-40GB/kandinsky-community/kandinsky-3/
bs1+steps25.json 30febf6b44739f73d523d02f12b3dd1233d6133783f1865a399357a5bf13d13d
bs2+steps25.json 1f1acba903979f7a13ae737c42171b2c7755bf11697b30d1b842f133eeeafdae
diffusion/text-to-image/A100-SXM4-40GB/prompthero/openjourney-v4/
bs1+steps25.json f8ece69eb41addd6f653fc35ef465d7c69bec8a43aae041a9a9dfdecd52cf07d
bs16+steps25.json f5db4393bcc397e7b760030a893d9e194ee7a71d96fc4d93cae8827c0eb43a9f
bs2+steps25.json 153b4642942f45b061174954faae8211ba45d4629ae9b0124d549fed18219982
bs32+steps25.json 603ebabb0b2ad63e230970ba1d5760ee8ac65b907037dd5275e182941b87b0d1
bs4+steps25.json 0d1b28ce5e458bcf21068ec0456ff5826740da0ff066b72fc0ab3e90f5065e78
bs64+steps25.json 78584deb1deb9531cec131222ee2ccb6dd45eb5c2a2ccf19fbe0c95229496e37
bs8+steps25.json 14308f142bf5e372a47bc2a6641280d0a5acca637787eb702139a6177543e95c
diffusion/text-to-image/A100-SXM4-40GB/segmind/SSD-1B/
bs1+steps25.json cc02f7e51ff60bc6a6b029186dedd556f1ef88c1f1c46ac5e74ec48b50a58019
bs2+steps25.json 9809b1c3626de42350b8d87fe9e14afa5a40e56ea0e782bb2b6c861203086ffc
bs4+steps25.json 7fccd7a915575c56a9fadc4b8ef0fe0c298b7e0000651f58c2ff5c8e65c2c267
bs8+steps25.json 55d0f9efaa5587d1d6155243318862ec1d02c4dec5df483082342ba50524d324
diffusion/text-to-image/A100-SXM4-40GB/stabilityai/sdxl-turbo/
bs1+steps25.json 54e7d2303ccd9d064fcd599646f9d8524470e9dc8f67e3828db95e2732a107c6
bs16+steps25.json d88a85caa0cef608c498b6429891ed438f4bd4668ffa0cb51c6930df417e7596
bs2+steps25.json 2f363d831ae5c221dad9f1558ab705481e89b8d2ac465bfc5b39d81d88c0c444
bs4+steps25.json da61017c558567920b11374f0532c350d1f5c3441fab838c5ffd6e0ac789780a
bs8+steps25.json b4aeb2f946f31406221774e679b99da0b102c2ebd67bddc07fe6c6c707567cc6
diffusion/text-to-image/A100-SXM4-40GB/stabilityai/stable-diffusion-2-1/
bs1+steps25.json 51fbb2fde4d3052b9b2c8e2b31c4c24c6c0738fb0e34523b4c431e23ecb1479f
bs16+steps25.json 7218a336700060d7ff9db669b6a0299dbaebdc917fd0cb1acde3f9a5696bd9fc
bs2+steps25.json cf651fc43b50618c91355ed71dc2647380fb905d5172a69ba3ee8df644d66b7c
bs32+steps25.json 93d28ba230fc0dd732a7606a022921bc81afbe62a73034ffa7278e037776961f
bs4+steps25.json 712b4c58f815b4522238a663204171189c7edad05cf69425c947ee0021d5066e
bs8+steps25.json 3244348bd85e676318edb3af7ea8db6bcb3a0e3cd924fdc221b3a831b5cfc964
diffusion/text-to-image/A100-SXM4-40GB/stabilityai/stable-diffusion-3-medium-diffusers/
bs1+steps25.json 1f7d034cd52473a6fb90d03bc800c3ba78b2f888ec368b32d82a6abf17a7a889
bs2+steps25.json 52b332f7b7964386b55354d5a69abe519a3351d555cdbc9edef94d638bc1f18a
bs4+steps25.json 90acafdf78f1d444a87fb0bf01059c28ba17dc0ff90d2aca3e83b488fc98ecd8
bs8+steps25.json 0555962985ca6885d2eedf3b5478d7c1e66536e917d67fb04ffc3fea74189b88
diffusion/text-to-image/A100-SXM4-40GB/stabilityai/stable-diffusion-xl-base-1.0/
bs1+steps25.json 7f63a153dc1fe069cb6380c846bd9175a7db80915eb226d2477014df28a27112
bs2+steps25.json 2ec591ca0d2395a926fa6b47e69d4913d786d6acca4a8bf91ac65f5dd9727a02
bs4+steps25.json 6f51c90ed07fdc831cb6dc782f8b4161d0ebb438788d8614cce3e736c7dfd5bd
bs8+steps25.json d230527ce70d7888af7442014d7c9dfe25cb5f8e1c82c80f77e734108eff649c
diffusion/text-to-image/H100 80GB HBM3/kandinsky-community/kandinsky-2-2-decoder/
bs1+steps25.json fe6339125befeca36b4e553137ffd6cbbd9344f2c8bfa30090e8499d9d8d6ee3
bs16+steps25.json 5a198ffc0423310c9b47de4a4efe74d4b90b67ae90fca4df44279773db655c69
bs2+steps25.json 8d703ad80140bcb011f0e3eec368a13c0cb7cadf80b551e3753ba808978d5069
bs32+steps25.json edbf209b4c015b2ece8f065c86d7ac2844e055c0e6b83580defd5f9d4551fb1b
bs4+steps25.json cb349371d0977c85ba079de7b21c8215f5ca7f74a28edc92a318ebcf6c69cd10
bs64+steps25.json 7937b7abbeaeb5928377a007b338dbfe50118f4486d1c9ef3f40bd02e80e2ba4
bs8+steps25.json e10d9a4a35bb0681adf7454bc1cb574db8efcdbc4182986178912a172728a888
diffusion/text-to-image/H100 80GB HBM3/kandinsky-community/kandinsky-3/
bs1+steps25.json 528de01223f60b087b93f97385dd81db0d68ec1e8727fd9207955097a7195afa
bs2+steps25.json b4bdf3f2978d565d9c72d726a85441e9c3af2d6e4c8c37c5dd9211ddf0268178
bs4+steps25.json 7badab2dabfffbb43879a8ab85ca3096263e8436b4693b5a081ce293dfe66ad2
bs8+steps25.json 61c0cbf18629d81e7907c1023e99ed7bf6a1db14c28dc4ca2add84969c72d334
diffusion/text-to-image/H100 80GB HBM3/prompthero/openjourney-v4/
bs1+steps25.json 3b236c28f926cdfced9d324c49f6ff48c6b0b2458f33a020a78c0ecb9332d88c
bs16+steps25.json b2f192b01ede6f4e4eb3e405a32956d9d04ddfdb7fd8bb3639eb71abc17a1332
bs2+steps25.json 27e1ea8f1fc30f1b348d4046e0ed321fc026a1a30fba784fcc3e25ecb85e9f08
bs32+steps25.json 372829c315b61871191d43d6d452ba858769d528465d8a8cfa04faa34fd9d754
bs4+steps25.json 97369d6d85bf85454357d75dd0f46fadae3fdde1e305e2dbbc4f0a51f9f030c5
bs64+steps25.json ba58948ba28a25d0852f1a9d1b59fd08f3740c16662832fb54c84e0475370932
bs8+steps25.json aa6a91f7917f4f87038dbe4432f34476ca4e0084c4a7368cd2923a1ecd0e9437
diffusion/text-to-image/H100 80GB HBM3/segmind/SSD-1B/
bs1+steps25.json a581f4aa6fe67ca19b693eb80713a77fa2a0658a9e339eda1f48c162b8cbb399
bs16+steps25.json a0e9102e1d3e55623986a941783ed290c7c11a67c6410f6acbdb44b8466d1cd7
bs2+steps25.json f79a286d962ee0b46436183e2f2b954cb5795b2571a57b91fe85afbfd9fa06bf
bs4+steps25.json 385689f333154a344e048921ce80424c125ec723125fb52cd866333822e8b8f2
bs8+steps25.json 22f8b94abc7b8527ec567bad39a48a1b40e673c7d4caa25f465c3d81e55cce9d
diffusion/text-to-image/H100 80GB HBM3/stabilityai/sdxl-turbo/
bs1+steps25.json 909827e1bf219c76b875d80e3c689398bdc32c1765c19f413c426a5f45f9feaf
bs16+steps25.json 2bb54c2e8a435c6c5b9b5a9a6071086c1d10df719a9094c55e439d58c0662e70
bs2+steps25.json 691580dc5cd4ecb4156febaf06d21b928943c3a9727226fd298c26574bfe00ad
bs32+steps25.json 4ba06e41b8f8c5471f6fcf4211159683cbdcbf8466510a81c640f67c7199aefe
bs4+steps25.json 7032bbea4114da8deb305ed0e2a2ff560c3b771e96fca0a495270dbea43280c7
bs64+steps25.json b6714f061ab1ffc191801f31a7b1fb6e19b4648bce76e4031993def75c95c8d0
bs8+steps25.json c0c9d3b6e1d2677f9112b6ac6cc46d0ea3b63dccc48d60f6a7920293b3660f32
diffusion/text-to-image/H100 80GB HBM3/stabilityai/stable-diffusion-2-1/
bs1+steps25.json 82e24c6ec114d4412d2acecc4c906f0fb4ff25e3bc33467fc278104739251fb4
bs16+steps25.json fabf858c5c74063758280d13d8eca65581aebc6f18c5718d546a54724c8d5c6d
bs2+steps25.json b081dcb362c0d5ce3fe0c4716e25b1330dc28e6fb9707e64256167206d51bf54
bs32+steps25.json e24d7b8b2bd4773d3125c2d5517b1d6878f9fa842e417ba6f35674237a39e09a
bs4+steps25.json f9e804ea2264c4f9b76880f19517e20ada3be891d7081ba0e17f084ddb9d583a
bs64+steps25.json 250019dfb0fd6cac32f222f9b7ce2aab5229fc929e8896f993c0a2923a8839dc
bs8+steps25.json 9d67de3697b5de8c7130573224d852aba892f8532aee6515a691dc28bdc2394d
diffusion/text-to-image/H100 80GB HBM3/stabilityai/stable-diffusion-3-medium-diffusers/
bs1+steps25.json 2d96d5f1981b7a457e2b6a7f43bab0ba93853c01db3214d9198da3d2d6e53820
bs16+steps25.json 98cea0dd779689a14557e67dde53800cff5bdae9bf1a650401e77a2e5198ee6b
bs2+steps25.json 3617f33912d0bf9d5e77fb34187e6355eef192fed26b3f987db6615d0ac659b1
bs32+steps25.json bcb25ec83ff4aa56d1b0def6d54db2c1ed7326b6a16726ffa2abdabdf42a9769
bs4+steps25.json 21f7ff9ae88eb8d3fa25ce40dfae0182aab5875e4b6d33a8e0d8e8863b6acdc1
bs8+steps25.json 04548862f5053b36300ef814de10511e88df48e3c045fdc5d2745f7e542371ee
diffusion/text-to-image/H100 80GB HBM3/stabilityai/stable-diffusion-xl-base-1.0/
bs1+steps25.json 57e660ebd01ce568651c21e5acd5994086d7cbef73d9c27ef94f5f7338c76bf3
bs16+steps25.json 514b3d7c4a12eb5331322a9056ca723cf5a7e85b38142ca6079d4bdd097098fb
bs2+steps25.json 39c298709cbe9361d9aa8bfc51e2b5fbb23d40b5a0174eb9a08040203f0cf2e8
bs4+steps25.json 3f20f205f2710b390ea18e22e93eb2a074c8b6190df9a6558fc0c401da7b735b
bs8+steps25.json 252783a8534fd0d7f4f319ed81435f91431d3685afc3eff99aeb1c475fec24b8
diffusion/text-to-video/A100-SXM4-40GB/ali-vilab/text-to-video-ms-1.7b/
bs1+steps25+frames16.json 9612034bc96ca97e792866d2555e73f3a18439ac93ba4f7650b9ec86552d5029
bs16+steps25+frames16.json be830276dac300d2ee9e12e7e74f7d4d7f0b4ee9bb2125d04f22e6598d4d3fa9
bs2+steps25+frames16.json 387ea8ac33af8aba49d42d9d684512e161844cd070f59c04eff5061e60ab6e02
bs4+steps25+frames16.json 6ea18c0755845586dba35dee1f36d22e37a0a09a190b1d8609ac9f28189ae8e1
bs8+steps25+frames16.json 915a8030754db5d4e148ff48c669a989572659e00e9828501bb3507ede1944d0
diffusion/text-to-video/A100-SXM4-40GB/guoyww/animatediff-motion-adapter-v1-5-3/
bs1+steps25+frames16.json e880fe8ddffa5f3f21e58332b4fff11e1506e8082c753c453580b0ccd5eb63d4
bs2+steps25+frames16.json 710542518ccafdc83279d5a1a11abedff4b841578b3abbb071fa0378e32c4e50
bs4+steps25+frames16.json fe66cc758d80cc6ba2022451d42cd6d08eb5d2b1f5351d618fae517251cabaf7
diffusion/text-to-video/H100 80GB HBM3/ali-vilab/text-to-video-ms-1.7b/
bs1+steps25+frames16.json d5e7fa6046fb39aec3f758e1de9e4e740dbaccb28527bc0c8dc8d3d76eab3629
bs16+steps25+frames16.json f59eb0bbf4acb5ce19a74a168a5e3f96781663998530904bfb2453c00c089b51
bs2+steps25+frames16.json b57cfd19a0e6becb2d48f29b8535aefc5fb9988cdb82f29c0479e186c17b8ec3
bs4+steps25+frames16.json aa2ed572b0aa2cbe5a40a0e3bf07dea7fb0d194c4a8de2bb805f15536b166612
bs8+steps25+frames16.json 0a768d9a1c30f5312ade0f12d6f47363464155c46fc5391089c2cf35330760c2
diffusion/text-to-video/H100 80GB HBM3/guoyww/animatediff-motion-adapter-v1-5-3/
bs1+steps25+frames16.json c025065676e4cacbdc280e90fcef78f03c3abb6caa5a13b3b92a1e2879549dea
bs2+steps25+frames16.json ea0c97136c44b6598537d23eb07372d31e33568dbbd7125b9ca63ad140e8f6d8
bs4+steps25+frames16.json 7ee20778edecd6a472032f57c2cdd5fee513055a0fea7bc84d74336c6530f63b
llm_text_generation/chat/A100-SXM4-40GB/google/gemma-2-27b-it/
bs128+tp4+pp1.json 607b13ba7641cff12f62be875cb51a37de3fbed2b173ca29d92b83680623eeaa
bs192+tp4+pp1.json cf4a645c7a989c084084295bbd634172973dba0c45144bd2256f0adcac523fe5
bs256+tp4+pp1.json 7c3b39182466642819bca3613492e4f1d5ac934a41012f96b99f41262139a151
bs32+tp2+pp1.json e7cd81c720560fd63ba1e4aacff33f5665ce6f7c8a3a5495c6e9465b1085f581
bs320+tp4+pp1.json ae26d84c1229fc152b6a2841f2974911a89e8d4ac477899dd4fd62ec27b087a9
bs512+tp4+pp1.json c04bf3ad596f8d07715a32d9cc350e6580870c34c128f0eeb547784db7408817
bs63+tp2+pp1.json 1845e7fd71d95e97e2a9aee60ad51388770bb1a698b0594ca4bd253f26d9ca68
llm_text_generation/chat/A100-SXM4-40GB/google/gemma-2-2b-it/
bs128+tp1+pp1.json e9f239cc924c5922441db54c3655db812677439997e708386e60993ade521840
bs192+tp1+pp1.json a9156678906d2ffbc37ba5b24e4762707eaac300ee77c657fec890ed1d8e2a25
bs256+tp1+pp1.json 37a8bd3ea74d1907cccc370fe847136f025a54ac1192245ec6e8c5b5844e7557
bs32+tp1+pp1.json 536cacd4631ef0f1ec5c3f05e16b67a3dfab2b1d3ffa007deec80401c6707b4f
bs320+tp1+pp1.json cb0c20bc34a3b7196211ac7a52ccf782f3964d2ecb2ad51745e3763b99ce89d6
bs512+tp1+pp1.json dcfcb5a67bb554426daba6152a1a5b4048b3600492f91fd9919d296b30fa528c
bs63+tp1+pp1.json 3a07120f06e23754c9f5194e254d2df9d4b313ff0fddb8a53400285b5ab9f287
llm_text_generation/chat/A100-SXM4-40GB/google/gemma-2-9b-it/
bs127+tp1+pp1.json 623e89443bcdcbf3df6cfa0dd9a2d31a025aa8f566542c8848f1347b41b78014
bs127+tp2+pp1.json b4cc9c200672148dd24978e52da36c769cb84b98f3d579d5b158f3d9027fd6d9
bs192+tp2+pp1.json ca994d09513ad0f26f9d65f3e6ebb1da4a271e8cdea00ae04e85c1712b5f937c
bs256+tp2+pp1.json 1143e170b936307cc2cb6a3ef3d78fb58dd302961eda5b03b6cbc74a08657767
bs32+tp1+pp1.json b9469e60fa7bf86cb197cb8423cea6660439a58eea9c9f9f49b17ca92a0409db
bs32+tp2+pp1.json d1186e70331ccbf68d704c2c5add8128dd08a7c64427df2c135023da2554840a
bs320+tp2+pp1.json b0298133a934cccd8259992925ea50d798945077f38e3619e1343b047147079a
bs63+tp2+pp1.json 5ffe29e2675c2fa99d9b8a86741f56e195fbee47d7e19cb79119ce1f449cc856
bs64+tp1+pp1.json 5bdbe413f49a7f5d9ef18a83c08e34e4fac5f121bc07ff4ed59c15140403c0cd
llm_text_generation/chat/A100-SXM4-40GB/meta-llama/Meta-Llama-3.1-70B-Instruct/
bs128+tp8+pp1.json 4f02f46c4ea7f3695291e113f91729fc30d28a6526f1abf8de6d39b9112524ee
bs192+tp8+pp1.json 1c6029db5e372c92b9e234c6cce4aef5f0a4508ada3e74893d430a555bfef8b3
bs256+tp8+pp1.json 070320417e61770333d9f10bcdb64907169cac0c7d4261332ddae246c851a8c1
bs32+tp8+pp1.json f10db9287cf56bae365a0dd76346e33142dc8d5e9747f8204b734dabec1c12c8
bs320+tp8+pp1.json 86ff7451532be7c2d90de3c3c8ca1dcce04afe66f54dfe3ef1ecd86d86bf5c23
bs512+tp8+pp1.json f64f2cf367f3c888305376af8552526acbff4e590352c9480bbbf6051f62fb1b
bs64+tp8+pp1.json 8efec55a78582d51635df8aec7c322dbfabba410eb65fba319a595f6c9050e0e
bs768+tp8+pp1.json ccae7c0949ea2efa71fe20b7f336668fa070f2e3bc826806fefbdd8a5cebe634
llm_text_generation/chat/A100-SXM4-40GB/meta-llama/Meta-Llama-3.1-8B-Instruct/
bs128+tp1+pp1.json d763cfdd77ccaa2532399d7c6f39d300bcca2d96b02a0d4860328843d50ef0d0
bs192+tp1+pp1.json 47f2930c74ec0a167042e81deedf5c4a11cc4abce88182233ba3f9d257beb185
bs256+tp1+pp1.json 037731ef76f17c978a9edca88ed1f41325ddf72612ad6ce022588568e20702a1
bs32+tp1+pp1.json 3721a30b9217fa23d96557b9fa51576a942d266683686b3495b8906095df69e8
bs320+tp1+pp1.json 28b9f1e5e7150371fb32da0048ecdb92ce04aa3f4439b2c966a16500996aafbd
bs64+tp1+pp1.json 413094cb2d295943929484f2de096d1f3d4907916b7f705053ed71d9d2b8b282
llm_text_generation/chat/A100-SXM4-40GB/microsoft/Phi-3-medium-4k-instruct/
bs128+tp1+pp1.json 74f306cf798e8fd252a2c764feb9ac4e4a3d017ba85ffb42377acf8582ea34ae
bs32+tp1+pp1.json 9e2a1a667e824db3a14f4245937fe1b2978cea951af49e23f53f93346ac3bfd6
bs64+tp1+pp1.json 840814aa363c86069be20c0869fd56b31856cb7321ff54cc4146d12124f2efae
llm_text_generation/chat/A100-SXM4-40GB/microsoft/Phi-3-mini-4k-instruct/
bs128+tp1+pp1.json 7db8ea78dfe2072fd38b88448412f25226b5b87b9ff21f192741dc5e07290f99
bs32+tp1+pp1.json 03cb0bd0ade5c29c65191b9ea589b82010e533d184d9968691fa42758c1e1bd7
bs64+tp1+pp1.json c4db9f6635b4d88d01c84b0eac80d289853635f9460b58ab384e40231d594b65
llm_text_generation/chat/A100-SXM4-40GB/microsoft/Phi-3-small-8k-instruct/
bs128+tp1+pp1.json b5cea85a806057296d8ca1bb3b092ae0d625bff4fa13d352fc0a6d6f93c4f5e9
bs192+tp1+pp1.json 1cb5ff251f204610707096fbc5396fbd411c1029673b1daae422ff41c6522279
bs256+tp1+pp1.json 0753ec58bbbf6ef84da02dc95c4a04b65f1e66d0a47f5e6f7ffd7da0e7c753bd
bs32+tp1+pp1.json c467882cf2a580c76253ca343e2c77186e3fd80dcbc99edf28ca251af9b85334
bs320+tp1+pp1.json e42e3f848d5ef46b65cd7a194b459d93470ff4f42b6f57dc8e62da62fedb97cb
bs64+tp1+pp1.json 80dcedcdbe696833c90cb1d47bc56b7e2da947885f16da050dc55d6ce1f0ca16
llm_text_generation/chat/A100-SXM4-40GB/mistralai/Mistral-7B-Instruct-v0.3/
bs128+tp1+pp1.json d6f781cb3d4823f720a8b2f3aa679bda9efd6f7ac8a4d735cbe5e93b22041cee
bs192+tp1+pp1.json ad65661d50aae0447af06e428834208c10e38dda3ce508baf1aa118bbf435322
bs256+tp1+pp1.json cb74219586d8db73df4257b867e5093bb3dded01736f209437a9d43806a30ef0
bs32+tp1+pp1.json 24d5c87dbd4e26fea38ecab852fd30ee86cf7c921f4d317d44c91ccccaee9e9a
bs320+tp1+pp1.json fb8fb406b22d3f45fdcf8e48b0b83d549b8f8e32ef9083989a069d79bfd0ac7e
bs64+tp1+pp1.json efbb9c7af4368cede5f335281068b00ab907a5797c5891d2cc4584f166fdae9b
llm_text_generation/chat/A100-SXM4-40GB/mistralai/Mistral-Large-Instruct-2407/
bs128+tp8+pp1.json d3ce05feeb4c789b76b1dbb4ddd31e4ece7cb9ac99942fa26e5dc690f459e538
bs192+tp8+pp1.json d83c2c34595f96207b5dfd70973175843524a8e35850380fc4d75b06f0f9dbd8
bs256+tp8+pp1.json 2bcbbd01ce1e22f79a0c849ee1afda7c9b3a6385e8a49ebb0495c05bd1a575cd
bs32+tp8+pp1.json 715398ee70ea0e5adbb32beaf2d7066fd175a8b8cd894b1aaf22b0db5821bba5
bs64+tp8+pp1.json 876cffe109dea12513c65dcce337be137309dd9b3ce27d369fb9464fd2fee655
llm_text_generation/chat/A100-SXM4-40GB/mistralai/Mistral-Nemo-Instruct-2407/
bs128+tp1+pp1.json b3146d1e9fad5c7ac61c0c66ff03b00b1e1ba734212eeabbfc069dd6f7c5752d
bs192+tp1+pp1.json 274b3bd6b2e5775e8d17f0d58e01fe985c3c065d5507a79311d94262bd7ab104
bs32+tp1+pp1.json 1ed7f1c316dec20c7e3773bfb2f09bae28b155d16857ece78a625868b0f5c239
bs64+tp1+pp1.json 71e248bc21dc3e5b9362491bf4900b9162bcbb30d097ea6758d49125ef466666
llm_text_generation/chat/A100-SXM4-40GB/mistralai/Mixtral-8x22B-Instruct-v0.1/
bs1024+tp8+pp2.json 6eeb0218b192af713b5645e5d846e99426fc6ef95bbe810a9584664abf49b036
bs128+tp8+pp2.json 8ef6e3dbb8897e3cf28149f16d218a4e148c00af80d772d4388842658009558f
bs1280+tp8+pp2.json b834a1740eaab164aa2e7003a32e20e442c6f2bef120086c77ef5f2251da9de6
bs1536+tp8+pp2.json 119590126f48f41baade0d7f66fc072bad88ac10e54bb4192b0eaf2d5828932c
bs192+tp8+pp2.json c5b33ffd51d95e9acd058e40e221bc067b59df313942f4cb2d351d5686a99a03
bs256+tp8+pp2.json a9cd3cdd0842eb0e5310017a7ade0e881b945e22b69ff05a453d7aec63ae4db2
bs32+tp8+pp2.json aa06f0313e38d27d9eaf974f3d48be54e0dba6d200bda1d9b42e67c08448ca9b
bs320+tp8+pp2.json 06b7e7906a6eadf77fb67a0181c085f47462555e320163765902aac2db8fbc7c
bs512+tp8+pp2.json 4fc95f001a1f643bcd3c15701f9cb3f879d5563b7263c342b3d2728fd9bbcb16
bs64+tp8+pp2.json 6d577f611d7cd30e415ba580dc7d754b817d015a79ea31bbdcad8dd94df7a41d
bs768+tp8+pp2.json e6ca456475b2f959ea9561af39ff881cbe68f04a81c06518ff1a787713c141ce
llm_text_generation/chat/A100-SXM4-40GB/mistralai/Mixtral-8x22B-Instruct-v0.1-pp1/
bs32+tp8+pp1.json 725f51682e0f48166ddb4f072d923e5b386ea513fbf08fe28d45feab8fa02298
bs64+tp8+pp1.json daece956ab65d9dd962617e26bbe9f54f3bbb65aab6ab21d23de4bf6da202e37
llm_text_generation/chat/A100-SXM4-40GB/mistralai/Mixtral-8x7B-Instruct-v0.1/
bs1024+tp4+pp1.json 9dc73661e69babe7699a7e77203587dc9f9d47a844151d4a35a1acd19d33e84f
bs128+tp4+pp1.json 8ffe21e1ac6d599b37356aa2eba4aee75b1255c04416a11836bc5e98865ffb9f
bs192+tp4+pp1.json 5907ee60c8c8277194bbc9d2669aafd571a4f7e649bc9b760b06fb282268d1b8
bs256+tp4+pp1.json 3fd51d76a1eb90b64b69052465a9f6eab7dd4925a1ecb54de38c45f73e2e48b7
bs32+tp4+pp1.json ff3eefa773933cc050d7ab5c7c0a756d8fe472a658aafb01ff0c1c5fac09e54a
bs320+tp4+pp1.json ec30057345a6b67a87ce909b354311069240605a18b6194bc02b736c1b8a0dfd
bs512+tp4+pp1.json a4c09f4e4fda4542ca6d633b91de0f72c95b5c45a6f4e90d1102a4599016921c
bs64+tp4+pp1.json 96c164500064fe30ca4ec930b776b8352b9f54124df7d54130d7cd2dfddca30c
bs768+tp4+pp1.json 0f91dd39e0a39292cd61b23af3cfb87fa03435a8d3d784053b538126f73910be
llm_text_generation/chat/H100 80GB HBM3/google/gemma-2-27b-it/
bs128+tp2+pp1.json 2bdbd281295f501538b0f2ae7126c64bce445d1583caf299b7baac74d8db1543
bs192+tp2+pp1.json 2ee721accbd56217ab2dbb00097446c2e1ba69dd03d2549594892b1cc60c2c11
bs256+tp2+pp1.json a582c380405674a9716decfa39ae07d366f5d5fa76028d76988253777b3ea749
bs320+tp2+pp1.json e646c0154a3e76509a7750c60eafdd05e907bf840f81298d35c11b36f67f8d42
bs512+tp2+pp1.json 96fc2c25027524c491710abd4dd607ff989f5d0942ead2aca4d23700b2b01a7e
bs63+tp2+pp1.json fe2f6a5a3a9332a4ce9ef361203060bef8b93fbe04cd59a65f722537b4d6b693
llm_text_generation/chat/H100 80GB HBM3/google/gemma-2-2b-it/
bs1024+tp1+pp1.json c15e2e3208e6e84ff8b147b0be149c0692b4ed95bd2b9c37cf2e42e26f51db7a
bs1280+tp1+pp1.json ce007cce8d0b3b201ce6c7062a44d6285b26610d08b8726cd939d2039608b289
bs1536+tp1+pp1.json 354d3e3ac9a6a29c82739e7ff1e4be0dc2887173df15e940e81927e7a385f78d
bs192+tp1+pp1.json 80ce46c5a38a94335c5df278e9d8405cf4b4bdb62ea46c6019a6e5bcacf9d125
bs256+tp1+pp1.json 49c88e1dca36979eef853d8c4a3a21bd0c7e308a4e161c5db357042903618a98
bs320+tp1+pp1.json f785c6e814380cac9661571aff8588cdf96d8ca1643ad851d7d5d36bcbcc8550
bs512+tp1+pp1.json 8cad8e095c95f1853053c48ccb2ab6c0be1d95861f44cbe4105dc374a3210d6d
bs768+tp1+pp1.json 8414c479a3aea7e594e651e26cc417fa48da64dd396b91da63c0fedf4c1aa6bc
llm_text_generation/chat/H100 80GB HBM3/google/gemma-2-9b-it/
bs128+tp1+pp1.json e68663f546c70e59d83eac7e85c4c16cfc154459eef1b7ed6ba6b05e7f38c44c
bs192+tp1+pp1.json 9bfcff019b0c52cfb1ba5dc52591e5525d354e4ad24e2d1f9b621cc6ebc24c37
bs256+tp1+pp1.json 3e9b344e43c9833e02d26d3c2227475dea31aee4683b272803c717f9042ffda8
bs320+tp1+pp1.json cc8dcc3bf97bd6a647ef5e82f4b2b7442f6e690cf4b84353183e10482e4c8620
bs64+tp1+pp1.json 6bfab5e43cdca73a8f6cd3488117af4a95c3e65ff4b8debf66c8530b28e1eb33
llm_text_generation/chat/H100 80GB HBM3/meta-llama/Meta-Llama-3.1-405B-Instruct/
bs128+tp8+pp2.json 8f85e691ee53188f0705079b05e5fd8bd6aaf127a02bb6afcf08ef271eb212c6
bs192+tp8+pp2.json 4b95690c8101d65a26cac265195057d8a7f92ba85f113b0c8ac032152d6a8d82
bs256+tp8+pp2.json 548dd35caa57d15768be1134847ff5dea3bfb24e7eea42e1e5107eaa533d7ab9
bs320+tp8+pp2.json d551d52d63b61f75ee64cc1e4d6d07cbe72f87386adfe13607e9de621cd52001
bs512+tp8+pp2.json 7b4e56b1127aee094da7423d6ae93b59666effd83ff763a227aadc2fa774df78
bs64+tp8+pp2.json ebed8fb58443f26ac8143f2fc5839c24a4e03dab839ed9c8e17d85b5c750ea95
llm_text_generation/chat/H100 80GB HBM3/meta-llama/Meta-Llama-3.1-70B-Instruct/
bs1024+tp4+pp1.json 8bdc4416cdc2eaaf3039307bdb866f9f073410bc93958f9a322cdc7205f7612d
bs128+tp4+pp1.json 1887b2a916d620cbf2578730dbc3874027a811aa223a8bdd45c6683059ad93ae
bs192+tp4+pp1.json dc598d34e211661b30b8bc2cb2b47b0a4babafcf9deb1a0bf9ca7b9dffc66011
bs256+tp4+pp1.json 10997d02205035a354980aef98acd6ea1b15ca40316cb1f67873deb53a7d7a6b
bs320+tp4+pp1.json f748451333e4ce7521e4b04d3268d812665f1b2670ee3b254387c9bdb7800d21
bs512+tp4+pp1.json 2a511066c6a3091a006ae71b89abf310f717b51729f9752878d18a9bab83776d
bs64+tp4+pp1.json 50232bde730da96871639dd9497655fc37d05306ce11d846263c94ad284ec36b
bs768+tp4+pp1.json 8f3ce12322fb6263dfa21ce2847dc005611634d1efdd0d250af2041adf7c75fd
llm_text_generation/chat/H100 80GB HBM3/meta-llama/Meta-Llama-3.1-8B-Instruct/
bs1024+tp1+pp1.json 84378952531604bf05b1f814757bf532978214a3825355989e8d93fdae8959e8
bs128+tp1+pp1.json c79aac754bedf8d8a3ed6176e0415958fe6e88371a4edb8fce79ea169f04b664
bs192+tp1+pp1.json 2289d331fdaad4a2a4cf1568e63adc882740a1032d6a551024a7a650ed441b5e
bs256+tp1+pp1.json bf0c3bd074c2161e03d96682075de0ae979fb493f06840a8011524e740c35e1a
bs320+tp1+pp1.json 33159a35edd8ec68b682367e182eed97382b0efbe5d5223601e2d9d7436ad1be
bs512+tp1+pp1.json 6553f9610f9d6eea9cdfec87b70e1b1208508a1a6d38f3e0d969e9e77f911a3a
bs64+tp1+pp1.json 3013a9c0a80a2190274d9e8934ecdeb052d85c556fd9a0b2e242428e3150448f
bs768+tp1+pp1.json 45666812f161c870899b4b30378926aa23313f4fc9a20b64d1368cafe417339d
llm_text_generation/chat/H100 80GB HBM3/microsoft/Phi-3-medium-4k-instruct/
bs128+tp1+pp1.json 87cd8846ea94e5562f4417e40a480bae59652b1d9014de540adbb9ec7a06c822
bs192+tp1+pp1.json c31f257aa058c31e0824337d7e80fdab69fbba4cf1b03be0932ddb74fd87568e
bs256+tp1+pp1.json 3d86b9e20ce30e94a35b78fa815164c7aea492b4c1defc1a967709813b141b2d
bs320+tp1+pp1.json da9892fa344b70d9a410ad45ea01c414a45b669aad83b0aec3ebbdd5fdbed42a
bs512+tp1+pp1.json 0fd768d5b99727568c52c4458e3926ddd6929059b031b956ddbdfa3edc9d71e9
bs64+tp1+pp1.json 1ae653dbb72d75a13d39ceede1a222ad3c7e10bc68d26a760887cdf6374fe78c
llm_text_generation/chat/H100 80GB HBM3/microsoft/Phi-3-mini-4k-instruct/
bs128+tp1+pp1.json d91ed0be75df8251ab1b71c3555bde27893b7854144cf58cb684481b273824e0
bs192+tp1+pp1.json e661c1ab2841089f8a7f6d7191c979db99196c3f6c6bd5314f37b3b9b1686658
bs256+tp1+pp1.json ccd5a6ce6ddd8f26c30fe29d00de9056199cc742df9e80941e31f28884759387
bs320+tp1+pp1.json a81fdaefce882c6b41ae669ad2c4619ce498a291f9c27db474b33d29e76e25eb
bs64+tp1+pp1.json c1680a6f11ec6530d9a6505291feeb403d190b9ab168244977037d6f41b5ce5e
llm_text_generation/chat/H100 80GB HBM3/microsoft/Phi-3-small-8k-instruct/
bs1024+tp1+pp1.json c9f65a98816ad74d8049ab1b08f89dec570737f7ab1ea3d2b96397c9bceed66c
bs128+tp1+pp1.json 9840e57968efe77bee540e30c213f3c6b94f9cdadb32ea475201a16de96ff243
bs192+tp1+pp1.json 82cf9529506a86d74dfb8a483d85ef8f9ab8dcde730147ca08398f4fca83369a
bs256+tp1+pp1.json c519908b25130da32a571ceaee60a66e1c46de7ab31bf82e2be61329659b452c
bs320+tp1+pp1.json 2c2a7af3f3eabfe237d2a4b52002a34ed20eb4731151e724a287eb29dc98a22a
bs512+tp1+pp1.json e17831f08f6722426f4b87d4e872cfa45beb466e87be5a3c2f0bb3025681cc95
bs64+tp1+pp1.json 540cb9439e73fdf2d0ebbb01f03bf6f9fa562f2c38617312913b6bf005685449
bs768+tp1+pp1.json 7401ae7c6b18f3e733e00322315e8065c6ee7dcb3fc82fb030a2a34c612dd7ef
llm_text_generation/chat/H100 80GB HBM3/mistralai/Mistral-7B-Instruct-v0.3/
bs1024+tp1+pp1.json f7e50c9e504337a883ba4fe910658337b7786f82f40947cb69b764a9745c2ac9
bs128+tp1+pp1.json adf82ff6d3091f8190e1b64471869d9b1903adecf376d38160799f22fe83a694
bs1280+tp1+pp1.json 972d61311142739285c0922d5a9f98174cf04c6a1f5f7b9027a54d16cee1494e
bs192+tp1+pp1.json ecc66f5b3053296b1f728ef43145c3e0e2037b661f3b8fb3ea5819997bf9ef9f
bs256+tp1+pp1.json 151a42d9ad62486095a2dea39f7b531c335cdc84901a6fb32b4c10167c90dcae
bs320+tp1+pp1.json 8d941d14c0162ee4b693c9c3c95d7185c71fb4ce18d17032c5cac231483e2f11
bs512+tp1+pp1.json 17c63cc97a5be64005559a1255ef5bdcbd2e3fcb6cf0e4f83a03fc36afbc5c56
bs64+tp1+pp1.json 766a6f9544099b77da324f2d1b20bfbf731fd4109a305038872a2dbf438e8854
bs768+tp1+pp1.json 6b90a3217e88c76ff934e23564e653d18fe9b834d1d6b0b30627e48d5378e088
llm_text_generation/chat/H100 80GB HBM3/mistralai/Mistral-Large-Instruct-2407/
bs1024+tp8+pp1.json e44bfd3ce7385ddac6f8546555cbe79edbb1f35672b466aa377d802fd2c54bea
bs128+tp8+pp1.json be60ed54d87880c954273688639714c71d5e2dbba39a2d423bd23ee91bc7a568
bs1280+tp8+pp1.json 6d564f9707320f524faf561170720da8c0a5b93523aea5e2e42629ad791ac710
bs1536+tp8+pp1.json 92cda65b4a77a54d56fbef99cab089e1c8fa7f097e0d2a7a48fb354e07657a17
bs192+tp8+pp1.json 81237ecf25db7fc47cbf6b69b866441923671858c6ccfe12d16804311876ab96
bs256+tp8+pp1.json ba796d9da134cb264c5ff7617eaf21195efcdafbccf99c80e05d311fce924d08
bs320+tp8+pp1.json cc9dd1844f474c859f050234e7d7ed60c668e160c4ac2f7954daf5fada2561e9
bs512+tp8+pp1.json b75b7e48d3bf24ba2eb255bcab111b663d9c3022337944030d1c940939d3207b
bs64+tp8+pp1.json 1c751c414f130b4f77f488d266761ef9cffca14f64efb4aea3e875cd5e9681e2
bs768+tp8+pp1.json 65dc711bb392f2d27bfe258e72688fc9052943db8ca400cb174d307626048bfa
llm_text_generation/chat/H100 80GB HBM3/mistralai/Mistral-Nemo-Instruct-2407/
bs128+tp1+pp1.json 5bef2eea03ab32dd45108a62f93cf53e3dd3be43bb4bdb7fd2c180cb2f75f09c
bs192+tp1+pp1.json 4ad5d867a57abe5df348e66e90c53525d25616b913319529fe64a1ecf535672e
bs256+tp1+pp1.json 6b596c4bed111a778bc375adf2795a388a37b52ae35ed0cbadd757aec444c60b
bs320+tp1+pp1.json deeb00906cdfebcab8547ce2350f4899fb64c6bb1bdecbe35b152efff6cba3a8
bs512+tp1+pp1.json 715dc9cb4ced8918041800dc907735d42d6b8909d5b250ae57d083f2b5327dca
bs64+tp1+pp1.json a39570cb1ef48b1796901f0eb6a748e688888b54f854bc3757ef6fc34ae22586
bs768+tp1+pp1.json 9ec9e859f49a875b3ee531c71950ff14a98551f282523397b9d87adb0cec7c97
llm_text_generation/chat/H100 80GB HBM3/mistralai/Mixtral-8x22B-Instruct-v0.1/
bs1024+tp8+pp1.json 5327c98921bf0b068c233c7ffb888970f030430a6b40728ead4a6d91ee4eec70
bs128+tp8+pp1.json fe336db40806611213f382775dd0d598b3db974e92d21299ab9dc173a6470986
bs1280+tp8+pp1.json e3ce15d793f791c3116c529e06649c5b134714e587920b1fe1efc24de2dfe596
bs1536+tp8+pp1.json 19a76a0be16464b3e39af582e8429d2b22e0c5002b11ebf959514b74813cbe35
bs192+tp8+pp1.json a49e99085450e48fbf6c98fc0795ac0094e658b0cbd65e57563ed549681d9a67
bs256+tp8+pp1.json 8be4d937f6315cdf18a3be3fa544da476bdcd46a35a30958b183bc992cf33d3d
bs320+tp8+pp1.json 59ce801a009ba8135d85a386aa5e39acc46904fdde7b9cc73cad050f5354082e
bs512+tp8+pp1.json e94948366e392bcf4d192dc03a1e3f213fb3e13fe0803af32e396cf4a1d9808d
bs64+tp8+pp1.json 6edd4147b1df2ebc944304c19463c4c07afb629b18c18dadc650a12288ade6d4
bs768+tp8+pp1.json 6c8021922374ccacdd9f8ddedde25bcfbaa301daac7bd9266b104a81b7c169f5
llm_text_generation/chat/H100 80GB HBM3/mistralai/Mixtral-8x7B-Instruct-v0.1/
bs1024+tp4+pp1.json b8a9adbedf7b94317c55712132fd8a3a06619a9265e7e2c3b42c320d0438f9a1
bs128+tp4+pp1.json 48ed14462064414f76a15967b4abdd64e257c6b014caa3ba405a135c4827b15f
bs1280+tp4+pp1.json b7906244e5696a8c8f273026906274840a003f5874c51b0f727702310e9b5dcd
bs192+tp4+pp1.json 2a5c0b47e74801422879f9f171065f31b14836d1db6be3a122f982a35be419a0
bs256+tp4+pp1.json 8f2eaa34dd46d124a5c01d507f42725f08fb02ca75b35f368516655011f6fa15
bs320+tp4+pp1.json 009aa0efa2eaf8f0d6bd154aa4b4161ac130d52416ffcc93f87c246a4ae56164
bs512+tp4+pp1.json a157ed6ab14a6e6a70e4c54ea3c30688ea976b80a16b6a348be22ed8bed44dd9
bs64+tp4+pp1.json 866ecd4fb42118013509f0ef584101ffb45278da1a9b8f18678476b129411c08
bs768+tp4+pp1.json c40c7988133b7c21be8270f144b1799c54ef54f01fdac0d0fcbf807d44c2d693
llm_text_generation/code/A100-SXM4-40GB/bigcode/starcoder2-15b/
bs128+tp1+pp1.json 690e0571f51d99c953c588a7307d6673a9b23417a4827811a08dd7af9cf20a95
bs192+tp1+pp1.json 09b30a4cd892d114ec71b04c4ef38e752fb26d097621069bd6ba4029c6a851b2
bs256+tp1+pp1.json e3cb298eb883d7f3e98a351e69af8cc170317b3f8589420565dae1b517666bed
bs32+tp1+pp1.json 8e56009e7e114085db1ea1e059cc1c0712ef318ffae29d559b2a82297edbdbe6
bs320+tp1+pp1.json 20a69a439cac94193e787feaaac18029039d506106a92935fbeb95da25d3457a
bs64+tp1+pp1.json a14988ca47d203703df50c222c310dc0f6255d257a65722b8dce9e06d22aede2
llm_text_generation/code/A100-SXM4-40GB/bigcode/starcoder2-3b/
bs128+tp1+pp1.json 319be8a6d55e13f5f15473177e812a6cbac2fcbd456a8892128e1596c15c318a
bs192+tp1+pp1.json 38687090e3b23f187cb000a8f27bc46675809f35179cb70fde20ed16ce5b0aa0
bs256+tp1+pp1.json e2c3cfbb4cccac91f1f8fbc3c8c8c78e807a3a40f3ddc1e693c1cc9719e8b84a
bs32+tp1+pp1.json 5070a2089f5f9072c22f0755fade041f3184687b79cfa317b7ecf20a71f15fdd
bs320+tp1+pp1.json 2ca4088f2275b34fa3b6ad89d9190f763ff8fb58e0af397a0d8ac8abc765fcaa
bs512+tp1+pp1.json 448d0e77d3f781e8f1d8df029876c16174781cb9a02c993a4e9386ebdba4cf76
bs64+tp1+pp1.json e806b560cbb535c0e9e88f7af7ea8f0e700a7decb4f93f896c5b13ac0d054dbb
bs768+tp1+pp1.json e6c2a34eaea1839d4f2faaad3da2c6e0cfb7e991c32a1f94903136259c47e624
llm_text_generation/code/A100-SXM4-40GB/bigcode/starcoder2-7b/
bs128+tp1+pp1.json 310dec1d319c0bed6de1a0ed23e664823659a609a04d5f8ddb84e9f64d2813c2
bs192+tp1+pp1.json 9772b2cb150537f45da7e1bd395739e2b759fc60c1ba8b207d5aae1dd2e5d33e
bs256+tp1+pp1.json be59ff244d881d581ec3663ebd5b008e16808cc5f6932b1f9d6ad4be01b72bd5
bs32+tp1+pp1.json e3181e311731ef0907ac2d2c1d9e46987adee5280f44c08a5617cc769cfbc136
bs320+tp1+pp1.json 6654d9f435bf526c9295a2126a667987b44c184515b8cf36e2c70356abf6d031
bs512+tp1+pp1.json b34f1b40550b70ced76e839456bb372e536a858db459f346be5d053dace73c8b
bs64+tp1+pp1.json 8a105c726c6580b6e192e8b650f6ca09fc8ec95f9ea3601c6c024eaced4b0a42
bs768+tp1+pp1.json d40eb145b1eca077cb69ccf72c03a9059a7787818091977a8120754dcad204b6
llm_text_generation/code/A100-SXM4-40GB/codellama/CodeLlama-13b-hf/
bs128+tp2+pp1.json 992abb7bce5a52150d30a63be1d699bd24248dddea8ffcd021e4d4016aca84c7
bs32+tp1+pp1.json c16520ef7ffa89b46dc10ead33cde0ec6f6c4a3a74100f16642654ca05719e87
bs32+tp2+pp1.json 3c68bf444444d24de7b6f8450bf6119cecdd4b460c0c217064f586b15969e699
bs64+tp2+pp1.json 0d1b55702ad446827a5cf1dd190102f897d834a6b27440388ea001f0c0b78c6d
llm_text_generation/code/A100-SXM4-40GB/codellama/CodeLlama-34b-hf/
bs128+tp4+pp1.json a865bbaa61a068da30a9f45de5c70803481d67683728f4d6a2c4949b4faca426
bs192+tp4+pp1.json 5a0003145d7e44d4cda52d0be01055702f3410cde22b0190810f80681dc042f9
bs256+tp4+pp1.json 01728876a18d1d5d4337b7030425bc937cc1da811058ff094f72a41ffb0e6c31
bs32+tp4+pp1.json 4308792f44a8f0fd809e9208e1aea2bd9eec63186dd252dacedec9a34c3b2ea6
bs320+tp4+pp1.json 5b16e7ce44c601f53d3cd16d7a62bd1d7d688181608d44586102211260e7273c
bs512+tp4+pp1.json 5e2e304faf9e2e9a066e2be61e3ee7f1d988029fe48e45d3633f4ffb0383ebfa
bs64+tp4+pp1.json 2845b6e1d9a2bad9acf2027598b09996fba167b27621d7e682dffb6e542bd0af
bs768+tp4+pp1.json a2621c80599d3364849f73c69b26f64910ce4d7e850831042163bc9246594a0a
llm_text_generation/code/A100-SXM4-40GB/codellama/CodeLlama-70b-hf/
bs128+tp8+pp1.json 666df41749bd8a53bc05cc5fcb97c06ef5b71a6033ab0ed209d418889968f8be
bs192+tp8+pp1.json 6877a0d9afbf4c754f8e79f0c735ecace642f9715b39fb318b27b537a6b2847a
bs256+tp8+pp1.json 9dbdef2200007cca6c9c4e92c6223a42041df599f4462e0e9f929986c53bf86a
bs32+tp8+pp1.json b623f9783046fb7b262a3f86148080b26a2bb50448beb9597e0703f77d6042f1
bs320+tp8+pp1.json dcc1021f2ae1807ec3f76c6b0f1aeeb89cb7675f1b50f522666fcc9b036caf04
bs512+tp8+pp1.json 3d5283ea09311358e06a98924b72ced4206f1c0a423146ea26c882ab5092bc0e
bs64+tp8+pp1.json 1587e6c767143a8d2a75439a8db3e9ae57eec90891e573d9ba4d567dae03edbb
bs768+tp8+pp1.json 9005234d37053293b8b1ad9927e97d43cfcf096d12a6f9586dc8a40ac46cb4fe
llm_text_generation/code/A100-SXM4-40GB/codellama/CodeLlama-7b-hf/
bs128+tp1+pp1.json 13e797f4eb9a257188eeac4430eff170a228694e6d8edaaf8ced8bd68d6d045b
bs128+tp2+pp1.json 0ae7ebb7cc51c097c3ca1d397a7496fd09e5d21c99cb7e4011a5131e79f6929e
bs192+tp2+pp1.json 197c07522e187c4326bdf0ce2c0c3c80cfaf869cf4313ec73d6da7303afacfb3
bs256+tp2+pp1.json 3fe9b91d6652e5172a52ec35a39ca43df4f688c2e263c6c928ef7c5a81827e99
bs32+tp1+pp1.json ef677ccad5d6860c6792924368bd0ef1e531177fc243ed751b9982a72c2f7639
bs32+tp2+pp1.json 7c183c3de3a270305fba822c66b4db4f06c17f77975c81d067653b22cf3961c4
bs320+tp2+pp1.json b4c15e464f7df29a4436f99c10d5909c30eafb9e5642d6c1a3e556bb7abb653c
bs64+tp1+pp1.json a328d2d78ed02715ab958bf115796834c39ff71c178fb8566ba6fbb01049f80e
bs64+tp2+pp1.json 1b0d8c0a7821e08066d2c143b81d8e82c91395b46ef7067b7d39cf3bcee1545d
llm_text_generation/code/A100-SXM4-40GB/google/codegemma-1.1-2b/
bs1024+tp1+pp1.json 004b35d99ece3703bf6747533b9b7d9d93f7b4e728548329d701e38488e9ca03
bs128+tp1+pp1.json 010a154658cb827e93a84aad72f31d7b2d760cbbf7530fe5f65162668b9a1463
bs1280+tp1+pp1.json 940eabef5f1181bb11bdea952efb1bfe5f5435ecf84c7fa746fac996bf32b0cd
bs1536+tp1+pp1.json 5a9bf32244e931c27bd18ee7bf5ab46a02c71e8c7af9b285ac2aba539724276b
bs192+tp1+pp1.json 234b26ef5023808d26a2bab2050eaac34b1d55fecac1997d5e5e745d0f22b18d
bs256+tp1+pp1.json e78c166ac85ad1aedb574811a826b3407b1855ec1ae324dc98ff70e30d7f129a
bs32+tp1+pp1.json 1710a80f533e3d7d9396efda167c67d9c1532c971321400bbef58f9dde40563e
bs320+tp1+pp1.json 16556367ff272102c514dff3c88cbb6af9a246ddc22906f86960b9e1fb8d01de
bs512+tp1+pp1.json f8aa1f79ecc49b7f11172d7a0ac8d62270ed3022fbfb789c7e5d488074deba2d
bs64+tp1+pp1.json 4895f9a811a9042e58d5f26d65cded369d97da4d123892b8f4406480cb79e8fc
bs768+tp1+pp1.json 702d085ceed931b58ecee6e481d84a04f1e28f3552c181dafb0b58d9597f9206
llm_text_generation/code/A100-SXM4-40GB/google/codegemma-7b/
bs128+tp1+pp1.json 6043c3a340555a18c7434615012808a1512b7681e0151c9311647849ea0b5ebb
bs128+tp2+pp1.json 2132b9ab583e41c135c7824e65fe23c2c93aaf93e943f723a9dce5295313d07d
bs192+tp2+pp1.json dc49ff4efc756a0b69f30fd6eeccc998b6f3add7aa3bb37bede60f5be7f31d6b
bs256+tp2+pp1.json 8d65b9956023a8ecbdd25a3633c279ecfcdfca6da1e22c20aa0c9dd8209f4f00
bs32+tp1+pp1.json d0e91a307572045331b129eb85882552a804415e71244ba10926a7ab44da7a95
bs32+tp2+pp1.json 973632cca3aa53be37e287dc29b628d6061a02bc7932c74de8d7fb2bab7858d0
bs320+tp2+pp1.json 1a18c5be2f35fc0bfea8a84aa0c5ce077185f7b0ecab196d3624e10e116355d1
bs64+tp1+pp1.json 4dd5b0c503d7e2e6119662b51adbe7920a9c5c6b5677bc9adb95fec500bc1642
bs64+tp2+pp1.json ce54f4966428886714be2ba159696a330d42c5eb1b687def590d1bc0a41cef27
llm_text_generation/code/H100 80GB HBM3/bigcode/starcoder2-15b/
bs128+tp1+pp1.json 63ea40d2177277702afb03ec39d8b8871ae60ce9b3c687151a7164d042f3ac89
bs192+tp1+pp1.json 58ab089a39426716d332215119869969bb72bfbd37dea04ea174be6f9cb43422
bs256+tp1+pp1.json 2f29f163b9cc02d8203c7010517c3cd3c9b5f089897ce5c7f1338b45ac3ce4ad
bs320+tp1+pp1.json 90bd53fdad465a3e6cccd50ca61d9ada85c2d6592af80737bb8ba65b82b8fbb5
bs512+tp1+pp1.json c2d99ff48b92a28ff73256135fc82235a4377ecd7133ede8de2ce07229303eea
bs64+tp1+pp1.json 6a1803af469de43d95730600993271a1470369502078e4d02007d9df7e483ea1
llm_text_generation/code/H100 80GB HBM3/bigcode/starcoder2-3b/
bs128+tp1+pp1.json 28e50640c8e4800f9846e75f80d43989caec260ff0e033f809bb3da212707737
bs192+tp1+pp1.json d9f80de4485bdcfb083d0e3f54d555e20520c79ba1d405ea5fa1b7cd3aa9dede
bs256+tp1+pp1.json 780d7529e8751771a2f066558180f5c2057df74878c3a2508883fc78fd0f1ba6
bs320+tp1+pp1.json a92c008a11f687c1acea8c969fea585136428dc89f67ac456143d664b9eb96f6
bs512+tp1+pp1.json 6cd8f9e40b4c1d69e11927f6f255a9ff779fbaf62ac9209eb6940499722a1cd9
bs64+tp1+pp1.json 5b44212a22a731639711a2115a4f52c5e48ee26c378a7a1a40cb69404be3f445
llm_text_generation/code/H100 80GB HBM3/bigcode/starcoder2-7b/
bs128+tp1+pp1.json 9fc009231a5edde067204b5f4dd8bf16ba8f007b3fd2dbf9701d1f8ea6a79889
bs192+tp1+pp1.json e7126ef144c16ccb2097139001995e4e3188b43a6aae90217c102ace144f0edb
bs256+tp1+pp1.json 669b32beb22c9eb63c7e2903971f5815ad55ec22bcda9d74654697394abba7fa
bs320+tp1+pp1.json 8c614267b4986154522ee6aca022a7843c6030d716c04ef2c56ee3e786dac27e
bs512+tp1+pp1.json 1740cf96be29448a0f3ec1737a81441d88aaf463f8f9f41c99a833ca8af5677a
bs64+tp1+pp1.json 950e4d58d2c51bd199ba2abd40386b3dd27563ed096e7172c03363f6252e45ae
llm_text_generation/code/H100 80GB HBM3/codellama/CodeLlama-13b-hf/
bs128+tp1+pp1.json bc7e019066d3ad02d16ba754aaced5813eae87305c680b3095493785f1ed2cbc
bs192+tp1+pp1.json 7a0d2f79cde31d91d7a47a70915f0301392d962d652d069567cc5ba3779aaebf
bs64+tp1+pp1.json e58411ad91430c594d2492baa5fb84cff0abb69e443fbd6bf2b741f75b679524
llm_text_generation/code/H100 80GB HBM3/codellama/CodeLlama-34b-hf/
bs128+tp2+pp1.json 5c91b83b2f2a133b8a3e1e7565b9dd1d5edc4c596e698b26d11ee5ae97898512
bs192+tp2+pp1.json a80accee7cec46b821e068b05b8ee491b26eb5a28fa2c1b46ed3a61cc48e9a5b
bs256+tp2+pp1.json 609e07e8511b9e88f8c1e00fdf5b7dbed7aed844d5196cb66832c6388e026043
bs320+tp2+pp1.json f0eb41f42f9a648992a337ff28467f52f9ba9bc603627710c0b942dc030e7853
bs512+tp2+pp1.json 3c9dffa74532ea89ac9e4716af77c9296de09f9f49c3e3e689f0a8b84fc4d978
bs64+tp2+pp1.json a541fc5174c2340d5d3300f3517bb75aa5147358c4df65b0108795cae0694d41
llm_text_generation/code/H100 80GB HBM3/codellama/CodeLlama-70b-hf/
bs128+tp4+pp1.json 24cdb50b147571285dc2d07f9b4a50328dca611c4a4656146990805084697ad8
bs192+tp4+pp1.json 3e64f90640cb7237e1d739da564a222e086d3c1180115ac73c8a3e42a31c6acc
bs256+tp4+pp1.json bb145b086749d8f7fd004ed9e6dc5c588719ecd8e581fe74b3161c2c09eabd4b
bs320+tp4+pp1.json 6df523d7431f9c862b9681f1704c9632617b17010c382cffa5418ea2f916b1fc
bs512+tp4+pp1.json 8a9112ef6047ce7af74a7a1705380166c42e3dd7e6f942f932ae9a13be9a016e
bs64+tp4+pp1.json 00dac525d15c737f7d0bb863736ee1b7bdfbeca35e66ab7212c80ff0d9839dc3
llm_text_generation/code/H100 80GB HBM3/codellama/CodeLlama-7b-hf/
bs128+tp1+pp1.json bec1196670e3aa9c6f82c88c5f07794a9d9d613e588acc28d0ad0bad12103637
bs192+tp1+pp1.json b0731efe79b81df186d0efd7d18a3f8cf087c3e0a5604b47fb754ed1182a695b
bs256+tp1+pp1.json ab90e3955ec5c7c7a3c8a328ae498ba1e8c31511bc0c638d94bf348d5c167978
bs320+tp1+pp1.json 04305d67b0f6beb9c30163b4917551e58afe4b3d6978de4b98d7ac7bc916198f
bs64+tp1+pp1.json d5958375ccc4dc8775d9ecbb16433527b4db7fbe7199cb10c205fe7f394e421f
llm_text_generation/code/H100 80GB HBM3/google/codegemma-1.1-2b/
bs1024+tp1+pp1.json 29db755b104303e9fa320e8633d42e18844d4fa764400b4b965a4dfa16fa607e
bs128+tp1+pp1.json e23b3985b90a1e4ef9307c25aa1ebbca576be4f255d412b1048828050420045d
bs192+tp1+pp1.json 7e5360c571000806e31ffcce39f56d808c454ce4b311cde30ed2be505cc42820
bs256+tp1+pp1.json 628324d0c92f1afc78f90293f1c44415d0ac09ab005fc8bc893b4091fdd9e53f
bs320+tp1+pp1.json 649812d8992b41af73a4a58a565a7f5e4aa4cf2efa731cfabb369bde4db8a330
bs512+tp1+pp1.json b268f580f2a8daff2715f3dee53d07a31b3e51111f13d8436fca7a5eb844c4a1
bs64+tp1+pp1.json c77f801a431f5e0ec243a692d1e1fac8f2b49e4deee3799fc39ba4fa73930888
bs768+tp1+pp1.json 64d33565ecdaa4ae704b358768404964d66dd0e6ef95ad6ab0d779f6f6d02fa7
llm_text_generation/code/H100 80GB HBM3/google/codegemma-7b/
bs128+tp1+pp1.json aa25e9b73a546293f9f0d334bf91d1c6038f4bb5fb68a752e4dbc811c7e77018
bs192+tp1+pp1.json 846ca7b947c9cfc5cc13b9eceaf4af339a692a410c4ca4792b86531325503bca
bs256+tp1+pp1.json b0d5fc36c9a0fec5f708cfa935153c22e2a89acc214b6ea5487b79ce50195017
bs320+tp1+pp1.json 6cddecf4fd6a5af1f7fbd7ebfd2199db3a88d9b52abdcf4ab2d938d58fdfb8d1
bs512+tp1+pp1.json d97a3363cb2f561382635cea937b9884672d929025ebb3be4ae803fcde6f9849
bs64+tp1+pp1.json 6de52b2f26ff29ecd7efd2721ec195cf1e70c0dfd01fe48aeb1d79a4b043b954
mllm_text_generation/chat/A100-SXM4-40GB/facebook/chameleon-30b/
bs128+tp4+pp1.json 257eaa82f2c5b427e7af66cfb1e0e8cdcd9c98295ce7b44ed87b578dac4f5883
bs16+tp2+pp1.json 0ccab678e4fe529b1ce8da77b2751c50c9388ec941225655ab6a11550aeb9357
bs16+tp4+pp1.json 49ef64cd785afd65d6487be81a610a6f18b46af520840732b24d6d996841d057
bs32+tp4+pp1.json 0f2d49bc2ba08a633fc21b69e8334e363359f746196e1972759f14c76e55d24e
bs64+tp4+pp1.json 5fd3c520bfbe4dbd769f21bfdb58aa20aeb5ff6ec3c2592c581195bce7705d11
mllm_text_generation/chat/A100-SXM4-40GB/facebook/chameleon-7b/
bs16+tp1+pp1.json ad52c971e495ee8083143e25953feb49c6f7acbdde3345e9f608d3ad56bcc90a
bs16+tp2+pp1.json d24e3d56aa4d315250843a5980c0b77fec1aa05bc6d010a349d929b7d9a34295
bs32+tp1+pp1.json adea5967b7321959e260b0f75b14f8b8b3a737d0cb56479f98ad7b0ee6875cf6
bs32+tp2+pp1.json 3cbad020da9c915b90679aa3dd4807f44bd40fa91fa8aff603535361bc5ba73d
bs64+tp2+pp1.json c5620a65ded8062af847824f463eacf0e72098de07219e42d166a9f08be86888
mllm_text_generation/chat/A100-SXM4-40GB/llava-hf/llama3-llava-next-8b-hf/
bs128+tp2+pp1.json e9876b0f3e613b05427a914e8d24b0623250322027dfbbd83e34d0f49ba99b14
bs16+tp1+pp1.json 4c1de86e131ec12fb290c39e8606d43c7d20bac4c4ccf3fe7cb24bf5919e238c
bs16+tp2+pp1.json dd6e539392dd3c08b7b40cf3efd32a9b72c7c3d2a5303b5d3b5027ee4c387ee7
bs32+tp1+pp1.json 6c1a6d2f63ea5be1ea0af5997c37a075ee93739e5580c2c3227151af70c84f26
bs32+tp2+pp1.json 6ea2afa0b4b726766cc04f22e9f6fedde1100bc0a459f65678cdc18c36853b62
bs64+tp1+pp1.json a57a55e768f857aaa28fb56f4e165ef5358a83110b85893ff806f924a3f96a25
bs64+tp2+pp1.json b18cde919acb2c52efd3c4a96f03957912a18516931ae93d918c4acf7737e08f
mllm_text_generation/chat/A100-SXM4-40GB/llava-hf/llava-1.5-13b-hf/
bs16+tp1+pp1.json 9337959b91002f5504fd4f8ad3372aa13707b03394352bfa40117314344f17cd
bs16+tp2+pp1.json 8db0fd48f3a69da2af22543cd4febc01c09a0690e6146ea19fe39660f90d4a71
bs32+tp2+pp1.json a40f65ddc286b5863ca106186e43f2f4a1a96bbaec4ca41a660494f29575dbd8
bs64+tp2+pp1.json ebd3b771aae84c7afba9bbe7afc7563216cfcb9320303a252723812d38fc7499
mllm_text_generation/chat/A100-SXM4-40GB/llava-hf/llava-1.5-7b-hf/
bs128+tp2+pp1.json 4b693d7f1a38619e6b62a309889cd490d9fa687c295b2fc97d3637a62861611b
bs16+tp1+pp1.json b3faa26dede39f593a61de0b5a8a1e9df4c85c026bbff814eed736369e23a8df
bs16+tp2+pp1.json 39785611855386243e76fcc24c0f82dea709e85c8b8455ead034975e26171ed9
bs32+tp1+pp1.json 086dcc4161fdf3136e82a81d8a122895167a93aa95205f2481ecabe3703215d1
bs32+tp2+pp1.json fea3d016747c04fe79254b7d1553d5e2cdb8d48e865562738b1ee203e400cf4b
bs64+tp1+pp1.json e3e0e03bf9566411a1e5c546848c1d1a626773a7a9b58b82065716665345989c
bs64+tp2+pp1.json 90c7b12140173fcf12d1f0783aa33426233663569de33a70ac8728a3893e61dd
mllm_text_generation/chat/A100-SXM4-40GB/microsoft/Phi-3-vision-128k-instruct/
bs16+tp1+pp1.json f794e114bf175493c6761c58277b4ad1f81ddae7055c46211d3251372e5ae051
bs16+tp2+pp1.json f2a427c50b7f1c5cb0dad41644a455c59d082c0ba0275c6436805393ec3ec54d
bs32+tp1+pp1.json 5cda187b6d623574eddcb9252c32fe72a1fba9273db2b353b21f231f2e17640c
bs32+tp2+pp1.json ab5acf93a97f053c0ae8a1241c761e5dbb68adf1bb8200189a92d99f944bf089
bs64+tp2+pp1.json 0479c3c9eb44f735a19be2764ecb1af3293d76ed26886e07b66a20b0414b0923
mllm_text_generation/chat/H100 80GB HBM3/facebook/chameleon-30b/
bs128+tp2+pp1.json 5c848dc90353351567cc30c90accf132efcd6e4e3798e3fead12050496cf6baf
bs64+tp2+pp1.json 0278af1f57a613de684f4f0b7c1b7db5d26992bc15df6802857cf84dca4b070e
mllm_text_generation/chat/H100 80GB HBM3/facebook/chameleon-7b/
bs64+tp1+pp1.json bc84b9ebaf237a63f5a63ff107303f2ec0c615b4031c037cef3a4805ab075887
mllm_text_generation/chat/H100 80GB HBM3/llava-hf/llama3-llava-next-8b-hf/
bs128+tp1+pp1.json 54a21b9cde4afaabf8e8145223635431edcbb41b52dad3f7eb0b28c3ec626ae4
bs64+tp1+pp1.json b926a3214766ce05720c5cab5aa957a86a629dfd25d9830969770ff8fc4340e0
mllm_text_generation/chat/H100 80GB HBM3/llava-hf/llava-1.5-13b-hf/
bs64+tp1+pp1.json d61f9732830872c3b0eacdf8b6e7ccbe0c51c3be6bd18104d57544cf2f69df79
mllm_text_generation/chat/H100 80GB HBM3/llava-hf/llava-1.5-7b-hf/
bs128+tp1+pp1.json fb0d3afa520913931777c3fac4dc6e9a1fb3d62d2a024cbf1f4185ba346976bc
bs64+tp1+pp1.json 48e5c51f739f4529e9fe191416d67a8e0c03e027c13b395da623545eea49712d
mllm_text_generation/chat/H100 80GB HBM3/microsoft/Phi-3-vision-128k-instruct/
bs64+tp1+pp1.json 1327cf2a7a6b80903723a1b7186dacf9837e404f5525ec58eee189ebb8729504
"""


def _parse_pins(text: str) -> tuple[tuple[str, str], ...]:
    pins, folder = [], ""
    for line in text.strip().splitlines():
        if line.endswith("/"):
            folder = line
        else:
            name, sha = line.rsplit(" ", 1)
            pins.append((folder + name, sha))
    return tuple(pins)


class MLEnergyV2Adapter(Adapter):
    """ML.ENERGY Leaderboard v2.0: LLM and MLLM text generation under vLLM 0.5.4 on A100-40GB and H100."""

    source = "mlenergy-v2"
    folder = "mlenergy_leaderboard_v2"
    title = "ML.ENERGY Leaderboard v2.0 (LLM and MLLM text generation, vLLM)"
    license = ('Apache-2.0 (repo LICENSE); docs/about.md adds "This leaderboard is a research preview intended for '
               'non-commercial use only."')
    measured_at = "2024-09-20"  # V2.0 release
    remote_files = tuple(
        RemoteFile(f"data/{path}", _raw_url(V2_REPO, V2_COMMIT, f"data/{path}"), sha)
        for path, sha in _parse_pins(_V2_PINS)
    )

    def read(self, folder: Path) -> AdapterOutput:
        out = AdapterOutput()
        data = folder / "data"
        if not data.is_dir():
            raise DatasetError(f"{self.source}: missing folder {data}")
        diffusion = [p for p in sorted((data / "diffusion").rglob("*.json")) if p.name != "models.json"]
        out.reject(DIFFUSION_REASON, len(diffusion))
        out.notes.append(f"counted {len(diffusion)} data/diffusion/**/*.json as rejected (diffusion)")
        seen: set[tuple] = set()
        for kind in ("llm_text_generation", "mllm_text_generation"):
            files = list(self._config_files(data / kind))
            out.notes.append(f"read {len(files)} data/{kind}/<task>/<GPU>/<org>/<model>/bs*+tp*+pp*.json")
            for task, path in files:
                self._map(_load_json(path, self.source), path, kind, task, out, seen)
        out.notes.append("not read: the derived mlenergy_v2_*_flat.csv files (the same JSON rows again)")
        return out

    @staticmethod
    def _config_files(root: Path) -> Iterator[tuple[str, Path]]:
        # <task>/<GPU>/<org>/<model>/<file>.json; models.json and schema.yaml sit one level up.
        for path in sorted(root.glob("*/*/*/*/*.json")):
            yield path.relative_to(root).parts[0], path

    def _map(self, j: dict[str, Any], path: Path, kind: str, task: str, out: AdapterOutput, seen: set[tuple]) -> None:
        model = j.get("Model")
        if kind == "mllm_text_generation" and model not in MLLM_TEXT_DECODER:
            out.reject(MLLM_UNKNOWN_REASON)
            return
        tp, pp = int(j.get("TP") or 1), int(j.get("PP") or 1)
        key = (kind, task, model, j.get("GPU"), tp, pp, j.get("Max BS (reqs)"))
        if key in seen:
            out.reject(DUPLICATE_REASON)
            return
        seen.add(key)
        # Token tput (tok/s): output tokens/s of the engine at steady state (all GPUs together).
        # Avg TPOT (s): mean time per output token per request.
        throughput, tpot = _num(j.get("Token tput (tok/s)")), _num(j.get("Avg TPOT (s)"))
        if throughput is None and tpot is None:
            out.reject(NO_METRIC_REASON)
            return
        output_tokens = _num(j.get("Avg Output Tokens"))  # mean output tokens per response (not forced)
        energy_per_request = _num(j.get("Energy/req (J)"))  # GPU energy per response, all GPUs (J)
        per_token = energy_per_request / output_tokens if energy_per_request and output_tokens else None
        gpu = j.get("GPU")
        out.rows.append({
            "source": self.source,
            "model_key": V2_MODEL_IDS.get(model, model),
            # "NVIDIA A100-SXM4-40GB" / "NVIDIA H100 80GB HBM3": the nvidia-smi names, as the catalog
            # knows them. The A100 here is the 40 GB SXM4 part (AWS p4d.24xlarge).
            "hardware_key": gpu,
            "device_name": gpu,
            # TP x PP GPUs (PP=2 runs span two 8-GPU nodes); the record has no pipeline field.
            "device_count": tp * pp,
            "tensor_parallel": tp,
            "engine": "vllm",
            "engine_version": V2_ENGINE_VERSION,
            "weight_source": "pretrained",
            # Not stated per model: the server ran with vLLM's default --dtype auto, i.e. the
            # checkpoint's 16-bit dtype (bfloat16 or float16 depending on the model). Left null rather
            # than guessed; both have the same width and peak FLOP/s on A100/H100.
            "dtype": None,
            "weight_dtype": None,
            # All requests submitted at t=0 to a vLLM server capped at "Max BS"; timing and energy over
            # the steady state: a serving run.
            "mode": "serving",
            # Max BS (reqs): configured maximum running batch of the whole server (max_num_seqs x PP).
            "batch_size": _count(j.get("Max BS (reqs)")),
            "concurrency": _count(j.get("Avg BS (reqs)")),  # measured mean running batch (>= 0.95 x max here)
            "input_tokens": None,
            "output_tokens": _count(output_tokens),
            "prompt_type": V2_PROMPT_TYPES.get((kind, task), f"{kind}/{task}"),
            "tpot_s": tpot,
            "output_throughput_tok_s": throughput,
            # Energy per output token = energy per response / mean output tokens per response (the
            # definition; no timing involved). Average power is not published and not derived.
            "energy_per_output_token_j": per_token,
            "power_source": "nvml-energy" if per_token is not None else "none",
            "power_scope": "all-devices" if per_token is not None else None,
            "status": "ok",
        })
        # The file name's bs is vLLM's --max-num-seqs, which applies per pipeline stage's scheduler:
        # "Max BS (reqs)" = bs x PP (checked on every file). Anything else is noted; content wins.
        match = _V2_FILE.match(path.name)
        if match and (int(match[1]) * pp, int(match[2]), int(match[3])) != (j.get("Max BS (reqs)"), tp, pp):
            out.notes.append(f"file name disagrees with content (content used): {path}")


# ================================================================================ v1 (2023)
#: v1 model names that are not Hugging Face ids -> the id of the same weights. The v1 benchmark
#: loaded local conversions (``/data/leaderboard/weights/metaai/...``): LLaMA-1 as released by Meta
#: (= huggyllama/*) and Llama-2-chat. Vicuna, Alpaca and Koala were rebuilt from published weight
#: deltas whose version is not stated; they keep the dataset's spelling (all LLaMA-1 architecture).
#: Every other name is already a Hugging Face id (the catalog matches ids case-insensitively).
V1_MODEL_IDS = {
    "metaai/llama-7B": "huggyllama/llama-7b",
    "metaai/llama-13B": "huggyllama/llama-13b",
    "metaai/Llama-2-7b-chat-hf": "meta-llama/Llama-2-7b-chat-hf",
    "metaai/Llama-2-13b-chat-hf": "meta-llama/Llama-2-13b-chat-hf",
}
_V1_FILE = re.compile(r"^(?P<gpu>[^_]+)_(?P<task>.+)_benchmark\.csv$")
_V1_PINS = (
    ("A100_chat-concise_benchmark.csv", "9ad083ea74d2b596072ec16fb21a3898829641d36868155604c359754de1ac07"),
    ("A100_chat_benchmark.csv", "905d820845ede9c0e02863b11c274fa3f95a704b6d8ad33fb6700e957d6b0167"),
    ("A100_instruct-concise_benchmark.csv", "6ff24bea31cc24e8c67408d4ceef09ba5ffa1b39cfd5cb7f50c51c53121195ee"),
    ("A100_instruct_benchmark.csv", "b4b272f379550b6c0dd943aba7e48de170b006c137db080db3f0fb0c05a163ea"),
    ("A40_chat-concise_benchmark.csv", "3e9eb1ecb8dbe2e5c2711bfabfbed0d4915b30f2117b3dc8fe7bdc4fde1b4398"),
    ("A40_chat_benchmark.csv", "7efdd298693d01bec46634107a570c4f6d0e86ec35b14e82f64d26c05e9ef944"),
    ("A40_instruct-concise_benchmark.csv", "fd16277d66e98f0b3390bc7c9473decf7a5d42354066412d2dfb75aa9c6cf496"),
    ("A40_instruct_benchmark.csv", "a8c82b399dab02cf8499096c3310668220aebbba190b87867f40ffa580d6b5dc"),
    ("V100_chat-concise_benchmark.csv", "3aa991d334b295b7733a62b82d599eb9eb6f8e7b478a09d1c424679974e91039"),
    ("V100_chat_benchmark.csv", "87bd5e23758a085f8c0c8abb26846a44cb23f39814d2d9066cccd1024e2da53a"),
    ("V100_instruct-concise_benchmark.csv", "2c7d2da2076ecf50d46e9532e10b7d066774a6d1897816fee1ed37e8b25f591b"),
    ("V100_instruct_benchmark.csv", "07b861dfe3aa8367b8dc5c263b553ce54e451dd8bf4f1bbc08db69a642f340b6"),
)


class MLEnergyV1Adapter(Adapter):
    """ML.ENERGY Leaderboard v1 (legacy): batch-1 transformers generation on V100, A40 and A100.

    Hardware is emitted as the files spell it (``A100``, ``A40``, ``V100``). The about page names
    only "NVIDIA A100 GPU" and "NVIDIA V100 GPU": the memory/form-factor variant is not stated
    (13B FP16 models ran on the V100, so it has 32 GB). Which catalog entry these names resolve to
    is the catalog's decision.
    """

    source = "mlenergy-v1"
    folder = "mlenergy_leaderboard_v2"
    title = "ML.ENERGY Leaderboard v1 (legacy, batch-1 transformers generation)"
    license = MLEnergyV2Adapter.license
    measured_at = "2023-07-06"  # legacy V1 release
    remote_files = tuple(
        RemoteFile(f"data/legacy/{name}", _raw_url(V2_REPO, V2_COMMIT, f"data/legacy/{name}"), sha)
        for name, sha in _V1_PINS
    )

    def read(self, folder: Path) -> AdapterOutput:
        out = AdapterOutput()
        legacy = folder / "data" / "legacy"
        files = sorted(legacy.glob("*_benchmark.csv"))
        if not files:
            raise DatasetError(f"{self.source}: no *_benchmark.csv under {legacy}")
        seen: set[tuple] = set()
        for path in files:
            match = _V1_FILE.match(path.name)
            if not match:
                continue
            gpu, task = match["gpu"], match["task"]
            try:
                rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                raise DatasetError(f"{self.source}: cannot parse {path}: {exc}") from exc
            out.notes.append(f"read data/legacy/{path.name}: {len(rows)} rows")
            for row in rows:
                self._map(row, gpu, task, out, seen)
        out.notes.append("not read: data/legacy/score.csv (ARC/HellaSwag/TruthfulQA accuracy, not a measurement)")
        return out

    def _map(self, r: dict[str, str], gpu: str, task: str, out: AdapterOutput, seen: set[tuple]) -> None:
        model = (r.get("model") or "").strip()
        key = (gpu, task, model)
        if key in seen:
            out.reject(DUPLICATE_REASON)
            return
        seen.add(key)
        # Per request, averaged over ~3000 ShareGPT prompts (scripts/benchmark.py): latency = wall time
        # of one batch-1 generation, prefill + decode (s); response_length = generated tokens;
        # throughput = mean of response_length / latency (tokens/s); energy = GPU energy of that
        # generation from Zeus/NVML (J).
        latency, throughput = _num(r.get("latency")), _num(r.get("throughput"))
        if latency is None and throughput is None:
            out.reject(NO_METRIC_REASON)
            return
        tokens, energy = _num(r.get("response_length")), _num(r.get("energy"))
        out.rows.append({
            "source": self.source,
            "model_key": V1_MODEL_IDS.get(model, model),
            "hardware_key": gpu,
            "device_name": gpu,
            "device_count": 1,
            "tensor_parallel": 1,
            # PyTorch 2.0.1 + FastChat's model loader and a hand-written generation loop over Hugging
            # Face transformers models: the transformers engine (its version is not recorded).
            "engine": "transformers",
            "weight_source": "pretrained",
            "dtype": "float16",  # "FP16" (about page)
            "weight_dtype": "float16",
            "mode": "offline",
            "batch_size": 1,  # "Batch size 1"
            "input_tokens": None,
            "output_tokens": _count(tokens),
            # Task = the system prompt variant (chat, chat-concise, instruct, instruct-concise) on the
            # same ShareGPT prompts.
            "prompt_type": task,
            "e2e_latency_s": latency,
            "output_throughput_tok_s": throughput,
            "energy_j": energy,
            "energy_per_output_token_j": energy / tokens if energy and tokens else None,
            # Mean energy / mean latency over the same requests = total energy / total time: the
            # average GPU power while generating (W).
            "avg_power_w": energy / latency if energy and latency else None,
            "power_source": "nvml-energy" if energy else "none",
            "power_scope": "device" if energy else None,
            "status": "ok",
        })


ADAPTERS = [MLEnergyV3Adapter(), MLEnergyV2Adapter(), MLEnergyV1Adapter()]
