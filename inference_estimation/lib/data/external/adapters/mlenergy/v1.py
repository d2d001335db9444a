"""ML.ENERGY Leaderboard v1 (``mlenergy-v1``, legacy, 2023): batch-1 transformers generation.

The twelve ``data/legacy/<GPU>_<task>_benchmark.csv`` files kept in github ml-energy/leaderboard-v2
at the commit pinned in ``pins/v1.json`` (the same folder and commit as v2, a different source).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from inference_estimation.lib.data.external.adapters.mlenergy.common import (
    DUPLICATE_REASON,
    NO_METRIC_REASON,
    count,
    num,
    pinned_files,
)
from inference_estimation.lib.data.external.adapters.mlenergy.v2 import MLEnergyV2Adapter
from inference_estimation.lib.data.external.base import Adapter, AdapterOutput, DatasetError

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
#: The legacy files name their GPU only "A100"/"V100", which the catalog refuses as ambiguous (two
#: memory sizes each). ML.ENERGY ran 13B models in FP16 on one V100, which needs the 32 GB part
#: (SXM2 vs PCIe is not stated; SXM2 is the likelier reading); for the A100 the catalog has long
#: read it as the 80 GB SXM4 part, kept here. "A40" has one variant and passes through.
V1_HARDWARE_KEYS = {"A100": "nvidia-a100-sxm4-80gb", "V100": "nvidia-v100-sxm2-32gb"}
_V1_FILE = re.compile(r"^(?P<gpu>[^_]+)_(?P<task>.+)_benchmark\.csv$")


class MLEnergyV1Adapter(Adapter):
    """ML.ENERGY Leaderboard v1 (legacy): batch-1 transformers generation on V100, A40 and A100.

    The files spell hardware ``A100``, ``A40``, ``V100``; the about page names only "NVIDIA A100
    GPU" and "NVIDIA V100 GPU", so the memory/form-factor variant is this adapter's reading
    (:data:`V1_HARDWARE_KEYS`), and ``device_name`` keeps the files' spelling.
    """

    source = "mlenergy-v1"
    folder = "mlenergy_leaderboard_v2"
    title = "ML.ENERGY Leaderboard v1 (legacy, batch-1 transformers generation)"
    license = MLEnergyV2Adapter.license
    measured_at = "2023-07-06"  # legacy V1 release
    remote_files = pinned_files("v1")

    def read(self, folder: Path) -> AdapterOutput:
        """Maps the twelve legacy CSVs under ``folder``; unmapped rows are counted by reason."""
        out = AdapterOutput()
        legacy = folder / "data" / "legacy"
        files = sorted(legacy.glob("*_benchmark.csv"))
        if not files:
            raise DatasetError(f"{self.source}: no *_benchmark.csv under {legacy}")
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
                self._map(row, gpu, task, out)
        out.notes.append("not read: data/legacy/score.csv (ARC/HellaSwag/TruthfulQA accuracy, not a measurement)")
        return out

    def _map(self, r: dict[str, str], gpu: str, task: str, out: AdapterOutput) -> None:
        model = (r.get("model") or "").strip()
        if not out.first_time((gpu, task, model), DUPLICATE_REASON):
            return
        # Per request, averaged over ~3000 ShareGPT prompts (scripts/benchmark.py): latency = wall time
        # of one batch-1 generation, prefill + decode (s); response_length = generated tokens;
        # throughput = mean of response_length / latency (tokens/s); energy = GPU energy of that
        # generation from Zeus/NVML (J).
        latency, throughput = num(r.get("latency")), num(r.get("throughput"))
        if latency is None and throughput is None:
            out.reject(NO_METRIC_REASON)
            return
        tokens, energy = num(r.get("response_length")), num(r.get("energy"))
        out.rows.append({
            "source": self.source,
            "model_key": V1_MODEL_IDS.get(model, model),
            "hardware_key": V1_HARDWARE_KEYS.get(gpu, gpu),
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
            "output_tokens": count(tokens),
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
