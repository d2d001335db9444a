"""IBM LLM-Pilot: online serving (TGI) of 2023-era LLMs on A10/A100-40GB/H100/T4/V100, 1-4 GPUs.

What is read: ``llm_pilot_aggregates.csv`` -- one row per (model, GPU profile, concurrent users),
DERIVED by the dataset's curator from the 829k published requests with the definitions of the
upstream notebook ``preprocess_data/Preprocess_data.ipynb`` plus extra statistics; its medians
were verified against the upstream ``expected_predictions_LLM-Pilot.csv`` for all 526 recomputed
cases (see SOURCE.md) -- and the upstream feature table ``predict_performance/llm_features.csv``
(IBM/LLM-performance-prediction @3c66483, Apache-2.0) for each model's dtype and whether it is an
encoder-decoder. The raw measurements are CDLA-Permissive-2.0 (LICENSE-DATA.md travels with them).

Without the aggregates (a download, or a clone of the upstream repository), the ORIGINAL raw
per-case files ``preprocess_data/performance_characterization_data_raw/results_*.csv`` are read
and aggregated here by :func:`aggregate_requests` with the same definitions (a test checks that it
reproduces the curator's aggregates on the unmodified ``raw_sample/`` files). The 526 raw files
(383 MB) are pinned with their SHA-256 together with ``llm_features.csv``: data in
``pins/ibm_llm_pilot.json``, whose ``about`` says how the checksums were obtained.

Measurement (README + paper, arXiv 2410.02425): each LLM served as a streaming text-generation
service (Hugging Face TGI, per the paper) on 1/2/4 GPUs of one type with tensor-parallel
sharding; a closed-loop load generator with N concurrent users replays production-trace requests
for 120 s (input median 85 tokens, output median 12).

Conversions (all source times in ms -> seconds):

* ``mode = serving``, ``concurrency = num_users`` (closed loop, no request rate), ``engine = tgi``,
  ``device_count = tensor_parallel = n_gpus``, ``dtype`` = the model's ``model_torch_dtype``.
* ``input_tokens``/``output_tokens`` = the case's MEAN request lengths, rounded (requests vary;
  ``prompt_type = "llm-pilot-trace"`` says so).
* ``ttft_s`` = ``mean_ttft_ms``, ``tpot_s`` = ``mean_itl_ms`` (mean over all inter-token gaps of
  the case, i.e. token-weighted), ``latency_statistic = "mean"``; ``e2e_latency_s`` is null (no
  mean e2e is published). TTFT follows the notebook: element 1 of ``latency_ms_per_token``, which
  leaves out element 0 (the first streamed message, median 5 ms).
  ``ttft_p50/p90/p99_s`` = median/p90/p99 TTFT, ``itl_p50/p90/p99_s`` likewise,
  ``e2e_p50_s``/``e2e_p90_s`` = median/p90 request latency.
* ``output_throughput_tok_s`` = ``throughput_tok_s`` = output tokens of all successful requests /
  120 s -- already the whole service's (``throughput_scope = "system"``);
  ``request_throughput_rps`` = ``requests_per_s``; ``total_throughput_tok_s`` =
  ``requests_per_s`` x (mean input + mean output tokens), the same sum over requests / 120 s.
* No power: ``power_source = none``.

Rejected, with counted reasons: encoder-decoder models (Flan-T5, Flan-UL2, mT0 -- the catalog and
the features model decoder-only transformers; set :data:`INCLUDE_ENCODER_DECODER` once the catalog
has their architecture), cases where more than :data:`MAX_FAILED_SHARE` of the requests failed
(failed requests are left out of every aggregate, so such cases look faster than the service
was), and the 2 cases whose raw file is missing (only two upstream medians, no lengths).
"""

from __future__ import annotations

import csv
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from inference_estimation.lib.catalog.vocabulary import canonical_dtype
from inference_estimation.lib.data.external.base import Adapter, AdapterOutput, DatasetError, RemoteFile

AGGREGATES_FILE = "llm_pilot_aggregates.csv"
LLM_FEATURES_FILE = "predict_performance/llm_features.csv"
RAW_DIR = "preprocess_data/performance_characterization_data_raw"
REPOSITORY = "IBM/LLM-performance-prediction"
COMMIT = "3c66483f55d7a55e03410880c33c098c6233f892"
#: The SHA-256 pins (data, read once): ``llm_features_sha256`` and ``raw_sha256`` (raw file name -> hash).
_PINS = json.loads(resources.files(__package__).joinpath("pins/ibm_llm_pilot.json").read_text(encoding="utf-8"))
LLM_FEATURES_SHA256: str = _PINS["llm_features_sha256"]
RAW_SHA256: dict[str, str] = _PINS["raw_sha256"]
#: HTTP status of a successful request in the raw files (408 = timeout, 9999 = client error).
STATUS_OK = 200
#: Encoder-decoder models are left out until the catalog models them (see the module docstring).
INCLUDE_ENCODER_DECODER = False
#: A case whose failed-request share exceeds this is rejected (its aggregates omit the failures).
MAX_FAILED_SHARE = 0.10
#: The source's ``gpu_type`` -> the catalog spelling of that exact device. The dataset's own GPU
#: table (``predict_performance/gpu_features.csv``) gives memory and form factor: A100 40 GB
#: non-SXM, V100 16 GB non-SXM, H100 80 GB SXM, A10 24 GB, T4 16 GB (a bare "A100"/"V100" would
#: resolve to other variants).
GPU_NAMES = {
    "A10": "A10",
    "A100": "A100-PCIE-40GB",
    "H100": "H100-SXM5-80GB",
    "T4": "T4",
    "V100": "V100-PCIE-16GB",
}
ENGINE = "tgi"
R_ENCODER_DECODER = "encoder-decoder model (not in the decoder-only catalog)"
R_FAILED = f"over {MAX_FAILED_SHARE:.0%} of requests failed (aggregates omit failures)"
R_NO_RAW = "case without raw requests (only upstream medians)"
R_UNKNOWN_GPU = "GPU type not mapped"
R_UNKNOWN_FEATURES = "model missing from llm_features.csv"


def _float(value: str | None) -> float | None:
    return None if value is None or value.strip() == "" else float(value)


def _ms(value: str | None) -> float | None:
    number = _float(value)
    return None if number is None else number / 1000.0


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "mean": None, "p90": None, "p99": None}
    array = np.asarray(values, dtype=float)
    p50, p90, p99 = np.percentile(array, [50, 90, 99])  # numpy's default linear interpolation
    return {"median": float(p50), "mean": float(array.mean()), "p90": float(p90), "p99": float(p99)}


def _text(value: float | int | None) -> str:
    return "" if value is None else repr(value)


def aggregate_requests(path: Path) -> dict[str, str]:
    """Aggregates one raw per-case file (one row per request) the way ``llm_pilot_aggregates.csv`` does.

    Definitions (the upstream notebook's, successful requests only): throughput = output tokens /
    ``experiment_duration_s``; TTFT = element 1 of ``latency_ms_per_token`` (requests with at least
    two elements); ITL = elements 2.. pooled over requests; e2e = ``latency_ms``; percentiles are
    numpy's linear ones. Returns the aggregate as CSV text cells keyed like the aggregates file.

    Raises:
        DatasetError: naming the file when it is empty, unparsable or mixes cases.
    """
    csv.field_size_limit(min(sys.maxsize, 1 << 30))
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"ibm_llm_pilot: cannot read {path}: {exc}") from exc
    if not rows:
        raise DatasetError(f"ibm_llm_pilot: {path} has no requests")
    first = rows[0]
    keys = ("model", "gpu_type", "n_gpus", "num_users")
    if any(tuple(r[k] for k in keys) != tuple(first[k] for k in keys) for r in rows):
        raise DatasetError(f"ibm_llm_pilot: {path} mixes (model, gpu_type, n_gpus, num_users) cases")
    try:
        ok = [r for r in rows if int(float(r["status"])) == STATUS_OK]
        duration_s = float(first["experiment_duration_s"])
        ttft_ms, itl_ms, e2e_ms = [], [], []
        for r in ok:
            gaps = json.loads(r["latency_ms_per_token"]) if r["latency_ms_per_token"] else []
            if len(gaps) >= 2:
                ttft_ms.append(float(gaps[1]))
            itl_ms.extend(float(g) for g in gaps[2:])
            e2e_ms.append(float(r["latency_ms"]))
        n_in = [float(r["n_input_tokens"]) for r in ok]
        n_out = [float(r["n_output_tokens"]) for r in ok]
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"ibm_llm_pilot: {path}: cannot parse requests ({exc})") from exc
    ttft, itl, e2e = _percentiles(ttft_ms), _percentiles(itl_ms), _percentiles(e2e_ms)
    n_gpus = int(float(first["n_gpus"]))
    return {
        "model": first["model"], "gpu": f"{n_gpus} x {first['gpu_type']}", "n_gpus": str(n_gpus),
        "gpu_type": first["gpu_type"], "num_users": str(int(float(first["num_users"]))), "source_file": path.name,
        "n_requests_ok": str(len(ok)), "n_requests_failed": str(len(rows) - len(ok)),
        "experiment_duration_s": _text(duration_s),
        "throughput_tok_s": _text(sum(n_out) / duration_s if ok else None),
        "requests_per_s": _text(len(ok) / duration_s if ok else None),
        "mean_input_tokens": _text(float(np.mean(n_in)) if ok else None),
        "mean_output_tokens": _text(float(np.mean(n_out)) if ok else None),
        **{f"{stat}_ttft_ms": _text(ttft[stat]) for stat in ("median", "mean", "p90", "p99")},
        **{f"{stat}_itl_ms": _text(itl[stat]) for stat in ("median", "mean", "p90", "p99")},
        "median_e2e_latency_ms": _text(e2e["median"]), "p90_e2e_latency_ms": _text(e2e["p90"]),
        "aggregate_source": "aggregated from the raw file by the adapter",
    }


def aggregate_to_row(case: dict[str, str], *, dtype: str, source: str = "ibm_llm_pilot") -> dict[str, Any]:
    """Maps one aggregate case (a CSV row of ``llm_pilot_aggregates.csv``) onto a canonical row.

    Raises:
        KeyError: for an unmapped GPU type or a missing column.
        ValueError: for an unparsable number.
    """
    requests_per_s = _float(case["requests_per_s"])
    mean_in, mean_out = _float(case["mean_input_tokens"]), _float(case["mean_output_tokens"])
    n_gpus = int(float(case["n_gpus"]))
    return {
        "source": source,
        "model_key": case["model"],
        "hardware_key": GPU_NAMES[case["gpu_type"]],
        "device_count": n_gpus,
        "tensor_parallel": n_gpus,
        "engine": ENGINE,
        "dtype": canonical_dtype(dtype),
        "mode": "serving",
        "concurrency": int(float(case["num_users"])),
        "input_tokens": round(mean_in),
        "output_tokens": round(mean_out),
        "prompt_type": "llm-pilot-trace",
        "ttft_s": _ms(case["mean_ttft_ms"]),
        "tpot_s": _ms(case["mean_itl_ms"]),
        "ttft_p50_s": _ms(case["median_ttft_ms"]),
        "ttft_p90_s": _ms(case["p90_ttft_ms"]),
        "ttft_p99_s": _ms(case["p99_ttft_ms"]),
        "itl_p50_s": _ms(case["median_itl_ms"]),
        "itl_p90_s": _ms(case["p90_itl_ms"]),
        "itl_p99_s": _ms(case["p99_itl_ms"]),
        "e2e_p50_s": _ms(case["median_e2e_latency_ms"]),
        "e2e_p90_s": _ms(case["p90_e2e_latency_ms"]),
        "output_throughput_tok_s": _float(case["throughput_tok_s"]),
        "total_throughput_tok_s": requests_per_s * (mean_in + mean_out),
        "request_throughput_rps": requests_per_s,
        "power_source": "none",
        "status": "ok",
        "throughput_scope": "system",
        "latency_statistic": "mean",
        "node_count": 1,
        "disaggregated_prefill_decode": False,
        "speculative_decoding": "none",
    }


class IBMLLMPilotAdapter(Adapter):
    """LLM-Pilot: TGI serving of 10 LLMs on 5 NVIDIA GPU types, 1-128 concurrent users."""

    source = "ibm_llm_pilot"
    folder = "ibm_llm_pilot"
    title = "IBM LLM-Pilot performance characterisation (TGI serving, 2024)"
    license = "CDLA-Permissive-2.0 (measurements); Apache-2.0 (feature tables)"
    measured_at = "2024-06-27"
    remote_files = (
        RemoteFile(LLM_FEATURES_FILE, f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/{LLM_FEATURES_FILE}",
                   LLM_FEATURES_SHA256),
        *(RemoteFile(f"{RAW_DIR}/{name}", f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/{RAW_DIR}/{name}",
                     sha) for name, sha in sorted(RAW_SHA256.items())),
    )

    def _features(self, folder: Path) -> dict[str, dict[str, str]]:
        path = self.require(folder, LLM_FEATURES_FILE)
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        if not rows or "model_is_encoder_decoder" not in rows[0] or "model_torch_dtype" not in rows[0]:
            raise DatasetError(f"{self.source}: {path} lacks model_is_encoder_decoder/model_torch_dtype columns")
        return {r["model"]: r for r in rows}

    def read(self, folder: Path) -> AdapterOutput:
        features = self._features(folder)
        path = folder / AGGREGATES_FILE
        if path.exists():
            with path.open(newline="", encoding="utf-8") as handle:
                cases = list(csv.DictReader(handle))
            note = (f"read {AGGREGATES_FILE} ({len(cases)} cases, derived from the raw requests of "
                    f"{REPOSITORY}@{COMMIT[:7]}) and {LLM_FEATURES_FILE}")
        else:
            raw_files = sorted((folder / RAW_DIR).glob("results_*.csv"))
            if not raw_files:
                raise DatasetError(f"{self.source}: neither {path} nor raw files {folder / RAW_DIR}/results_*.csv")
            cases = [aggregate_requests(raw) for raw in raw_files]
            note = f"aggregated {len(raw_files)} raw files {RAW_DIR}/results_*.csv ({REPOSITORY}@{COMMIT[:7]})"
        out = AdapterOutput(notes=[note])
        for line, case in enumerate(cases, start=2):
            try:
                model = features.get(case["model"])
                if model is None:
                    out.reject(R_UNKNOWN_FEATURES)
                    continue
                if model["model_is_encoder_decoder"].strip().upper() == "TRUE" and not INCLUDE_ENCODER_DECODER:
                    out.reject(R_ENCODER_DECODER)
                    continue
                if not case.get("n_requests_ok"):
                    out.reject(R_NO_RAW)
                    continue
                ok, failed = float(case["n_requests_ok"]), float(case["n_requests_failed"] or 0)
                if failed / (ok + failed) > MAX_FAILED_SHARE:
                    out.reject(R_FAILED)
                    continue
                if case["gpu_type"] not in GPU_NAMES:
                    out.reject(R_UNKNOWN_GPU)
                    continue
                out.rows.append(aggregate_to_row(case, dtype=model["model_torch_dtype"], source=self.source))
            except (KeyError, TypeError, ValueError) as exc:
                raise DatasetError(f"{self.source}: {path}: line {line}: cannot map case ({exc})") from exc
        return out


ADAPTERS = [IBMLLMPilotAdapter()]
