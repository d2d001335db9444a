"""LLMPerf Leaderboard (Anyscale / Ray, Dec 2023): hosted LLM APIs measured from one client.

What is read: the 19 ORIGINAL ``raw_data/summary/<provider>_<size>.json`` files of
ray-project/llmperf-leaderboard at commit 27aa9b6 (one per provider x Llama-2-chat size). The
flattened ``llmperf_summary_flat.csv`` is a derived copy of the same 19 summaries and is not read.

Measurement (README): LLMPerf ``token_benchmark_ray.py`` against each provider's endpoint, 150
requests, 5 concurrent, prompts of 550 tokens asking for 150 output tokens, client in AWS
us-west-2. Times include the network and the provider's queueing.

Hardware: the providers do not say what hardware (or how many devices) served the requests, so a
row cannot be tied to a catalog hardware entry. ``PROVIDER_HARDWARE`` maps a provider to
(hardware name, device count) where that is known from the dataset; it is EMPTY because the
dataset states none. Rows of unmapped providers are rejected with the reason
"hardware unknown: hosted API" (Groq separately: its hardware is known to be Groq LPUs, but not
how many served the 70B model). :func:`summary_to_row` still converts every summary, so a
provider added to the map (with a cited source) yields rows without further code.

Conversions (:func:`summary_to_row`; all source times are in seconds, throughputs in tokens/s):
``mode = serving`` with ``concurrency = num_concurrent_requests``; ``input_tokens`` /
``output_tokens`` are the REQUESTED lengths (``mean_input_tokens`` / ``mean_output_tokens`` with
stddev 0) -- providers did not always stop at 150 tokens (observed means 122-172), so the output
length is nominal; ``ttft_s`` / ``e2e_latency_s`` / ``tpot_s`` are the means over requests of
TTFT, end-to-end latency and inter-token latency; p50/p90/p99 of TTFT and ITL come from the
quantiles; ``output_throughput_tok_s`` is ``results_mean_output_throughput_token_per_s`` (output
tokens/s of the whole run across the 5 concurrent requests, not per request).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inference_estimation.lib.data.external.base import Adapter, AdapterOutput, DatasetError, RemoteFile

REPOSITORY = "ray-project/llmperf-leaderboard"
COMMIT = "27aa9b6a6c4282f6d5599b9199fbb57256a2dcd8"
SUMMARY_DIR = "raw_data/summary"
_SHA256 = {
    "anyscale_13b.json": "2d78330c7f5cb98d0ec0505ebde1be8934ea6ee9e2ca7002dc2390c04cd65cdd",
    "anyscale_70b.json": "bc102960479bb04214bd0ceb75ece84da4d3137521c464a5aecb074b4709c3ee",
    "anyscale_7b.json": "0bcffed2581ae120e7f5a872a4d2793bd791590c80081b8612ff9bd5e76793ec",
    "bedrock_13b.json": "8f8471456a8028430c7cac0a4238d4c57a5dfd6775669391b031e56c467cf31a",
    "bedrock_70b.json": "9b57938ac2bacb2ac352ec6b15b36b271b18f9849ba48dc4397014ba9ae1604a",
    "fireworks_13b.json": "e560c3a82910016dae1fa01001e17ea5c3ece39fee20c95575a37b9574d9259d",
    "fireworks_70b.json": "8debf61c2aee1fbba1d2bb3fe4ef0fe40bbc384697e1c43fcda03b112f2f0d7e",
    "fireworks_7b.json": "54c0687233ed5ec34d95e38f591287feb8c439caaf08cb6fab4520cbd2714be7",
    "groq_70b.json": "09de95de0eb38a493eaf5fa9ddd75c2bd1e3f5fb808a30d084bcfc3f0f9fec6e",
    "lepton_13b.json": "6078c7978da674fad5cb3b9d952e7c1a5f5d83c11257cc89c78385a96ef89326",
    "lepton_70b.json": "475b3f39407ffbc54e039704033c2d6678f13a3268ba6c7098f1dea387e31400",
    "lepton_7b.json": "d8e137cf381b98384710ec1bf72c57d0f447ba0ed4bbe3d16bf4ee922cbe7020",
    "perplexity_70b.json": "5af686e6e4f9f87acad19de93c83daee5f02024931a00db5e59b4e452a9f7a21",
    "replicate_13b.json": "caf0cbddb56573220c06b9ee7ddd7872ef4f0be0fdc6f0f3a14411baaa16d509",
    "replicate_70b.json": "aa173799e068d995bfdddcb63071af088b4dabf387cb7b85324bb4d4796d8a71",
    "replicate_7b.json": "c0ed67231323cf9347e82d3d6488f360e2074d53c8bb7d487c8955bc1cb65ac3",
    "together_13b.json": "49a9b885a00a2a21206869a241d205e2053b98bb44bdaec8353a323ebfa29a69",
    "together_70b.json": "bf860079bf52ee7030f3e192d1fea08b31dc8e95bed8f274e82419f630e2ee76",
    "together_7b.json": "01c1aabbd396aad3c84b5090cdf8a3f7a65c66f99215ff408ab442796d129cc5",
}

#: Every summary is a Llama-2 chat model; the file name gives the size.
MODELS = {
    "7b": "meta-llama/Llama-2-7b-chat-hf",
    "13b": "meta-llama/Llama-2-13b-chat-hf",
    "70b": "meta-llama/Llama-2-70b-chat-hf",
}
#: provider -> (hardware name the catalog resolves, device count). Empty: the dataset names no
#: hardware for any provider (see the module docstring).
PROVIDER_HARDWARE: dict[str, tuple[str, int]] = {}
#: Providers whose hardware family is public but whose device count is not.
KNOWN_FAMILY_UNKNOWN_COUNT = {"groq": "Groq LPU"}

_FILE = re.compile(r"^(?P<provider>[a-z]+)_(?P<size>\d+b)\.json$")


def summary_to_row(summary: dict[str, Any], *, provider: str, size: str, hardware: str,
                   device_count: int, source: str = "llmperf") -> dict[str, Any]:
    """Converts one LLMPerf summary to a canonical row on the given hardware.

    Raises:
        KeyError: when a required summary field is missing.
        ValueError: for an unknown model size.
    """
    if size not in MODELS:
        raise ValueError(f"unknown Llama-2 size {size!r}")

    def num(name: str) -> float | None:
        value = summary.get(name)
        return None if value in (None, "") else float(value)

    return {
        "source": source,
        "model_key": MODELS[size],
        "hardware_key": hardware,
        "device_count": device_count,
        "mode": "serving",  # concurrent requests against a live endpoint
        "concurrency": int(summary["num_concurrent_requests"]),
        # Requested lengths (stddev 0 in the summary); actual output lengths vary by provider.
        "input_tokens": int(summary["mean_input_tokens"]),
        "output_tokens": int(summary["mean_output_tokens"]),
        "prompt_type": f"llmperf-{provider}",
        # Means over completed requests, seconds.
        "ttft_s": num("results_ttft_s_mean"),
        "e2e_latency_s": num("results_end_to_end_latency_s_mean"),
        "tpot_s": num("results_inter_token_latency_s_mean"),
        "ttft_p50_s": num("results_ttft_s_quantiles_p50"),
        "ttft_p90_s": num("results_ttft_s_quantiles_p90"),
        "ttft_p99_s": num("results_ttft_s_quantiles_p99"),
        "itl_p50_s": num("results_inter_token_latency_s_quantiles_p50"),
        "itl_p90_s": num("results_inter_token_latency_s_quantiles_p90"),
        "itl_p99_s": num("results_inter_token_latency_s_quantiles_p99"),
        # Output tokens/s of the whole run (all concurrent requests together), not per request.
        "output_throughput_tok_s": num("results_mean_output_throughput_token_per_s"),
        "power_source": "none",
        "status": "ok",
        # ``timestamp``: Unix seconds when the benchmark finished (UTC).
        "measured_at": (datetime.fromtimestamp(int(summary["timestamp"]), tz=UTC).isoformat()
                        if summary.get("timestamp") else None),
    }


class LLMPerfLeaderboardAdapter(Adapter):
    """LLMPerf leaderboard: TTFT/ITL/e2e of hosted Llama-2 APIs (hardware unknown)."""

    source = "llmperf"
    folder = "llmperf_leaderboard"
    title = "LLMPerf Leaderboard (hosted LLM API providers, Dec 2023)"
    license = "Apache-2.0"
    measured_at = "2024-01-09"
    remote_files = tuple(
        RemoteFile(f"{SUMMARY_DIR}/{name}",
                   f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/{SUMMARY_DIR}/{name}", sha)
        for name, sha in sorted(_SHA256.items())
    )

    def read(self, folder: Path) -> AdapterOutput:
        summary_dir = folder / SUMMARY_DIR
        if not summary_dir.is_dir():
            raise DatasetError(f"{self.source}: missing folder {summary_dir}")
        files = sorted(summary_dir.glob("*.json"))
        if not files:
            raise DatasetError(f"{self.source}: no summary JSON files in {summary_dir}")
        note = (f"read {len(files)} files {SUMMARY_DIR}/*.json ({REPOSITORY}@{COMMIT[:7]}); "
                "llmperf_summary_flat.csv is a derived copy and is not read")
        out = AdapterOutput(notes=[note])
        unmapped: list[str] = []
        for path in files:
            match = _FILE.match(path.name)
            if match is None or match["size"] not in MODELS:
                out.reject("unrecognised summary file name")
                continue
            provider, size = match["provider"], match["size"]
            try:
                summary = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise DatasetError(f"{self.source}: cannot parse {path}: {exc}") from exc
            if not summary.get("results_num_completed_requests"):
                out.reject("no completed requests")
                continue
            if provider not in PROVIDER_HARDWARE:
                family = KNOWN_FAMILY_UNKNOWN_COUNT.get(provider)
                out.reject(f"hardware unknown: hosted API ({family}, device count unknown)" if family
                           else "hardware unknown: hosted API")
                unmapped.append(path.stem)
                continue
            hardware, count = PROVIDER_HARDWARE[provider]
            try:
                out.rows.append(summary_to_row(summary, provider=provider, size=size, hardware=hardware,
                                               device_count=count, source=self.source))
            except (KeyError, TypeError, ValueError):
                out.reject("summary lacks required fields")
        if unmapped:
            out.notes.append("rejected (hosted API, hardware not stated): " + ", ".join(unmapped))
        return out


ADAPTERS = [LLMPerfLeaderboardAdapter()]
