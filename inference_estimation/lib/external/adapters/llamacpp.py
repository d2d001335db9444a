"""XiongjieDai "GPU-Benchmarks-on-LLM-Inference": llama.cpp ``llama-bench`` on 20 GPU types.

What is read: ``llama3_llamacpp_bench_from_README.csv`` -- a file DERIVED by the dataset's
curator (see SOURCE.md): the three "LLaMA 3" tables of the repository's README.md at commit
aa72e0ec86c356c41f8281c9733e9a13c3675800 converted to long format, values unchanged. The
repository publishes no data file (notebooks and a README only), so there is no original table
file to read. ``remote_files`` is empty on purpose: the original is
https://raw.githubusercontent.com/XiongjieDai/GPU-Benchmarks-on-LLM-Inference/aa72e0ec86c356c41f8281c9733e9a13c3675800/README.md
but this adapter parses the derived CSV, not the README's Markdown tables, so pinning the README
would download a file the adapter cannot read. The dataset therefore needs a local copy
(``--from`` or ``$INFERENCE_ESTIMATION_EXTERNAL_DIR``).

Measurement (README): ``llama-bench -p 512,1024,4096,8192 -n 512,1024,4096,8192`` with LLaMA-3
8B/70B GGUF in Q4_K_M or F16, every layer offloaded to the GPU(s) (``-ngl 10000``), one stream
(batch 1), multi-GPU by llama.cpp's default layer split. Values are average tokens/s.

Semantics of the two tests (llama-bench):

* ``tg N`` (text_generation): N tokens are generated one at a time from an empty context (no
  prompt) and tokens/s = N / generation time. -> decode: ``output_tokens = N``,
  ``output_throughput_tok_s = tok/s``, ``tpot_s = 1 / (tok/s)`` (mean time per generated token,
  over a context growing from 0 to N). ``input_tokens`` is null: the prompt length is 0, and the
  record only accepts positive lengths (null = no prompt phase measured).
* ``pp N`` (prompt_processing): one N-token prompt is evaluated and tokens/s = N / prompt time.
  -> prefill: ``input_tokens = N``, ``ttft_s = N / (tok/s)``. That is the prefill TIME of the
  prompt derived from the throughput, not a TTFT measured by a client (no sampling, no
  scheduling or network); ``output_tokens`` stays null (nothing is generated).

Both: ``batch_size = 1``, ``mode = offline``, ``engine = llama.cpp`` (build not stated -> no
version), ``tensor_parallel = 1`` (llama.cpp splits LAYERS across GPUs -- pipeline-style, not
tensor parallelism -- so each layer runs on one device), ``device_count = num_gpus``.
Quantisation: Q4_K_M -> ``int4`` (4-bit k-quant weights, ~4.8 bits/weight on average; the record
has no finer type), F16 -> ``float16``. "OOM" cells -> ``status = oom`` with an error and no
metrics.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from inference_estimation.lib.external.base import Adapter, AdapterOutput, DatasetError

CSV_FILE = "llama3_llamacpp_bench_from_README.csv"
REPOSITORY = "XiongjieDai/GPU-Benchmarks-on-LLM-Inference"
COMMIT = "aa72e0ec86c356c41f8281c9733e9a13c3675800"

#: The README's model names -> Hugging Face ids. The benchmark command loads
#: ``./models/8B-v3/ggml-model-*.gguf`` (the base model; the instruct model lives in
#: ``8B-v3-instruct`` and is used only for the chat example), so these are the base models.
MODELS = {
    "LLaMA 3 8B": "meta-llama/Meta-Llama-3-8B",
    "LLaMA 3 70B": "meta-llama/Meta-Llama-3-70B",
}
#: llama.cpp weight formats -> record dtype (weights and compute share the name here).
DTYPES = {"Q4_K_M": "int4", "F16": "float16"}
#: The README's GPU names -> NVIDIA's product names (as nvidia-smi reports them). Apple Silicon
#: keeps the README's spelling, which names the GPU-core variant and memory the catalog needs
#: (e.g. "M2 Ultra 76-Core GPU 192GB"); unknown names pass through unchanged.
GPU_NAMES = {
    "3070 8GB": "NVIDIA GeForce RTX 3070",
    "3080 10GB": "NVIDIA GeForce RTX 3080",
    "3080 Ti 12GB": "NVIDIA GeForce RTX 3080 Ti",
    "4070 Ti 12GB": "NVIDIA GeForce RTX 4070 Ti",
    "4080 16GB": "NVIDIA GeForce RTX 4080",
    "3090 24GB": "NVIDIA GeForce RTX 3090",
    "4090 24GB": "NVIDIA GeForce RTX 4090",
    "RTX 4000 Ada 20GB": "NVIDIA RTX 4000 Ada Generation",
    "RTX 5000 Ada 32GB": "NVIDIA RTX 5000 Ada Generation",
    "RTX 6000 Ada 48GB": "NVIDIA RTX 6000 Ada Generation",
    "RTX A6000 48GB": "NVIDIA RTX A6000",
    "A40 48GB": "NVIDIA A40",
    "L40S 48GB": "NVIDIA L40S",
    "A100 PCIe 80GB": "NVIDIA A100 80GB PCIe",
    "A100 SXM 80GB": "NVIDIA A100-SXM4-80GB",
    "H100 PCIe 80GB": "NVIDIA H100 PCIe",
}
TESTS = {"text_generation": "tg", "prompt_processing": "pp"}


class LlamaCppGpuBenchAdapter(Adapter):
    """llama.cpp batch-1 decode (tg) and prefill (pp) tokens/s for LLaMA 3 on consumer/pro GPUs and Apple."""

    source = "llamacpp-gpu-bench"
    folder = "xiongjiedai_llamacpp_gpu_bench"
    title = "GPU-Benchmarks-on-LLM-Inference (llama.cpp, LLaMA 3)"
    license = "none stated (no LICENSE file in the repository; numbers cited from its README)"
    measured_at = "2024-05-12"
    remote_files = ()  # see the module docstring: only a derived CSV exists for these tables

    def read(self, folder: Path) -> AdapterOutput:
        path = self.require(folder, CSV_FILE)
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                raw_rows = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DatasetError(f"{self.source}: cannot parse {path}: {exc}") from exc
        missing = {"gpu", "num_gpus", "model", "quantization", "test", "num_tokens", "tokens_per_s", "oom"} - set(
            raw_rows[0] if raw_rows else {})
        if missing:
            raise DatasetError(f"{self.source}: {path} lacks column(s) {sorted(missing)}")
        note = (f"read {CSV_FILE} (derived by the dataset curator from README.md tables of "
                f"{REPOSITORY}@{COMMIT[:7]}): {len(raw_rows)} rows")
        out = AdapterOutput(notes=[note])
        seen: set[tuple] = set()
        for raw in raw_rows:
            row = self._map(raw, out)
            if row is None:
                continue
            identity = tuple(raw[c] for c in ("gpu", "num_gpus", "model", "quantization", "test", "num_tokens"))
            if identity in seen:
                out.reject("duplicate row")
                continue
            seen.add(identity)
            out.rows.append(row)
        return out

    def _map(self, raw: dict[str, str], out: AdapterOutput) -> dict[str, Any] | None:
        model = MODELS.get(raw["model"].strip())
        if model is None:
            out.reject(f"unknown model spelling {raw['model']!r}")
            return None
        dtype = DTYPES.get(raw["quantization"].strip())
        if dtype is None:
            out.reject(f"unknown quantisation {raw['quantization']!r}")
            return None
        test = TESTS.get(raw["test"].strip())
        if test is None:
            out.reject(f"unknown test {raw['test']!r}")
            return None
        try:
            num_tokens = int(raw["num_tokens"])
            num_gpus = int(raw["num_gpus"])
        except ValueError:
            out.reject("unparsable token or GPU count")
            return None
        gpu = raw["gpu"].strip()
        row: dict[str, Any] = {
            "source": self.source,
            "model_key": model,
            "hardware_key": GPU_NAMES.get(gpu, gpu),
            "device_name": gpu,
            "device_count": num_gpus,
            "tensor_parallel": 1,  # layer split across GPUs, not tensor parallelism
            "engine": "llama.cpp",
            "dtype": dtype,
            "weight_dtype": dtype,
            "weight_source": "pretrained",
            "mode": "offline",
            "batch_size": 1,  # llama-bench runs one sequence
            "prompt_type": f"llama-bench-{test}",
            "power_source": "none",
        }
        if test == "tg":
            row["output_tokens"] = num_tokens  # tokens generated; no prompt (input_tokens null)
        else:
            row["input_tokens"] = num_tokens  # prompt length; nothing generated (output_tokens null)

        if raw["oom"].strip().lower() == "true":
            row["status"] = "oom"
            row["error"] = "out of memory (README table cell 'OOM')"
            return row
        try:
            tok_s = float(raw["tokens_per_s"])
        except ValueError:
            out.reject("no latency or throughput")
            return None
        if tok_s <= 0:
            out.reject("no latency or throughput")
            return None
        row["status"] = "ok"
        if test == "tg":
            # Average generated tokens/s at batch 1: tokens/s is the output throughput and its
            # inverse the mean time per output token (s).
            row["output_throughput_tok_s"] = tok_s
            row["tpot_s"] = 1.0 / tok_s
        else:
            # Prompt tokens/s -> time to process the whole prompt (s): a prefill time, not a
            # client-measured TTFT.
            row["ttft_s"] = num_tokens / tok_s
        return row


ADAPTERS = [LlamaCppGpuBenchAdapter()]
