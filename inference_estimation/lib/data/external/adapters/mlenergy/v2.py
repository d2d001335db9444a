"""ML.ENERGY Leaderboard v2.0 (``mlenergy-v2``): vLLM 0.5.4 on A100-SXM4-40GB and H100 (2024).

One JSON file per configuration under ``data/{llm,mllm}_text_generation/<task>/<GPU>/<org>/<model>/``
of github ml-energy/leaderboard-v2 at the commit pinned in ``pins/v2.json`` (every configuration
file, diffusion included so that its rows are counted as rejected).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from inference_estimation.lib.data.external.adapters.mlenergy.common import (
    DIFFUSION_REASON,
    DUPLICATE_REASON,
    MLLM_TEXT_DECODER,
    MLLM_UNKNOWN_REASON,
    NO_METRIC_REASON,
    count,
    load_json,
    num,
    pinned_files,
)
from inference_estimation.lib.data.external.base import Adapter, AdapterOutput, DatasetError

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


class MLEnergyV2Adapter(Adapter):
    """ML.ENERGY Leaderboard v2.0: LLM and MLLM text generation under vLLM 0.5.4 on A100-40GB and H100."""

    source = "mlenergy-v2"
    folder = "mlenergy_leaderboard_v2"
    title = "ML.ENERGY Leaderboard v2.0 (LLM and MLLM text generation, vLLM)"
    license = ('Apache-2.0 (repo LICENSE); docs/about.md adds "This leaderboard is a research preview intended for '
               'non-commercial use only."')
    measured_at = "2024-09-20"  # V2.0 release
    remote_files = pinned_files("v2")

    def read(self, folder: Path) -> AdapterOutput:
        """Maps every configuration JSON (diffusion counted as rejected) under ``folder``; unmapped rows are counted by reason."""
        out = AdapterOutput()
        data = folder / "data"
        if not data.is_dir():
            raise DatasetError(f"{self.source}: missing folder {data}")
        diffusion = [p for p in sorted((data / "diffusion").rglob("*.json")) if p.name != "models.json"]
        out.reject(DIFFUSION_REASON, len(diffusion))
        out.notes.append(f"counted {len(diffusion)} data/diffusion/**/*.json as rejected (diffusion)")
        for kind in ("llm_text_generation", "mllm_text_generation"):
            files = list(self._config_files(data / kind))
            out.notes.append(f"read {len(files)} data/{kind}/<task>/<GPU>/<org>/<model>/bs*+tp*+pp*.json")
            for task, path in files:
                self._map(load_json(path, self.source), path, kind, task, out)
        out.notes.append("not read: the derived mlenergy_v2_*_flat.csv files (the same JSON rows again)")
        return out

    @staticmethod
    def _config_files(root: Path) -> Iterator[tuple[str, Path]]:
        # <task>/<GPU>/<org>/<model>/<file>.json; models.json and schema.yaml sit one level up.
        for path in sorted(root.glob("*/*/*/*/*.json")):
            yield path.relative_to(root).parts[0], path

    def _map(self, j: dict[str, Any], path: Path, kind: str, task: str, out: AdapterOutput) -> None:
        model = j.get("Model")
        if kind == "mllm_text_generation" and model not in MLLM_TEXT_DECODER:
            out.reject(MLLM_UNKNOWN_REASON)
            return
        tp, pp = int(j.get("TP") or 1), int(j.get("PP") or 1)
        key = (kind, task, model, j.get("GPU"), tp, pp, j.get("Max BS (reqs)"))
        if not out.first_time(key, DUPLICATE_REASON):
            return
        # Token tput (tok/s): output tokens/s of the engine at steady state (all GPUs together).
        # Avg TPOT (s): mean time per output token per request.
        throughput, tpot = num(j.get("Token tput (tok/s)")), num(j.get("Avg TPOT (s)"))
        if throughput is None and tpot is None:
            out.reject(NO_METRIC_REASON)
            return
        output_tokens = num(j.get("Avg Output Tokens"))  # mean output tokens per response (not forced)
        energy_per_request = num(j.get("Energy/req (J)"))  # GPU energy per response, all GPUs (J)
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
            "batch_size": count(j.get("Max BS (reqs)")),
            "concurrency": count(j.get("Avg BS (reqs)")),  # measured mean running batch (>= 0.95 x max here)
            "input_tokens": None,
            "output_tokens": count(output_tokens),
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
