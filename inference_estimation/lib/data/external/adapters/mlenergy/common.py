"""What the three ML.ENERGY sources share.

The reasons rows are rejected, the multimodal models' text decoders, value parsing (null = not
measured, never 0) and the pinned published files.

The pins -- the repository, commit and SHA-256 of every published file an adapter reads -- are
data, one JSON file per version under ``pins/``, read once at import.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from inference_estimation.lib.data.external.base import DatasetError, RemoteFile

DIFFUSION_REASON = "diffusion model (not an LLM)"
DUPLICATE_REASON = "duplicate: repeated run of a configuration already mapped"
NO_METRIC_REASON = "no latency or throughput"
MLLM_UNKNOWN_REASON = "MLLM without a known base LLM architecture"
PRECISION_REASON = "unknown weight precision"

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


def num(value: Any) -> float | None:
    """A finite, strictly positive float, else None (null = not measured, never 0)."""
    if value is None or value == "":
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) and out > 0 else None


def count(value: Any) -> int | None:
    """A mean count (tokens, requests) rounded to a positive integer, else None."""
    number = num(value)
    return max(1, round(number)) if number is not None else None


def ms_to_s(value: Any) -> float | None:
    """Milliseconds -> seconds (positive and finite, else None)."""
    number = num(value)
    return number / 1000.0 if number is not None else None


def raw_url(repo: str, commit: str, path: str) -> str:
    """The raw.githubusercontent.com address of ``path`` at ``commit`` (spaces and ``+`` quoted)."""
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{quote(path)}"


def load_json(path: Path, source: str) -> Any:
    """Parses a JSON file of the dataset.

    Raises:
        DatasetError: naming the source and file when it cannot be read or parsed.
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{source}: cannot parse {path}: {exc}") from exc


def pinned_files(version: str) -> tuple[RemoteFile, ...]:
    """The published files one version's adapter reads, pinned to a commit (from ``pins/<version>.json``).

    Args:
        version: ``v1``, ``v2`` or ``v3``.

    Returns:
        One :class:`RemoteFile` per pinned file, in the file's order; the URL points at the raw file
        of the pinned commit.

    Raises:
        DatasetError: when the pin file is missing a field (names the file and the field).
    """
    name = f"pins/{version}.json"
    pins = json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))
    for key in ("repo", "commit", "files"):
        if key not in pins:
            raise DatasetError(f"{__package__}/{name}: missing field {key!r}")
    return tuple(RemoteFile(path, raw_url(pins["repo"], pins["commit"], path), sha)
                 for path, sha in pins["files"].items())
