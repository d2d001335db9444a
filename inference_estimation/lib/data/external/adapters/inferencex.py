"""SemiAnalysis InferenceX: online-serving sweeps of DeepSeek-R1-0528 and gpt-oss-120b on 8-GPU nodes.

What is read (ORIGINAL result files, never the curator's ``inferencex_flat.csv``):

* the dashboard's API fixtures ``app_api_fixtures/benchmarks(.shared).json`` (latest row per
  config) and ``benchmarks-history(.shared).json`` (newest dates per config) -- captured from the
  production API for DeepSeek-R1-0528 (files of SemiAnalysisAI/InferenceX-app, **GPL-3.0**: they are
  read where they lie or downloaded at run time, never copied into this project);
* the CI artifacts ``ci_agg_bmk/run_<github run id>/agg_bmk(.filtered).json`` of official sweep runs
  of SemiAnalysisAI/InferenceX (Apache-2.0), as cached unmodified by gminneci/mantile.

``*.shared.json`` / ``agg_bmk.filtered.json`` are the upstream files with the rows of MI355X, B300,
GB200 and GB300 removed (kept elsewhere as a hidden hold-out, see the dataset's SOURCE.md). Rows of
that hardware in a downloaded upstream file are counted as rejected ("hardware held out ...") so a
download yields the same rows as the shared folder.

Pinned downloads: the two fixtures at the fork vngcloud/InferenceX-app @7fe6d62 (SHA-256 as listed
in the upstream ``_manifest.json`` @00550b6) and the 12 CI runs that hold no held-out hardware, at
gminneci/mantile @72ff84e (SHA-256 of the unmodified files). The 6 CI runs that also hold held-out
hardware are read only from a local folder: the upstream files' checksums could not be computed
here (only the filtered copies exist on this machine).

Semantics (InferenceX ``benchmark_serving.py`` / ``process_result.py``, see SOURCE.md):

* ``mode = serving``: a server per config, a closed-loop client with ``--max-concurrency conc``
  (``concurrency = conc`` requests in flight), ``--request-rate inf``, random synthetic prompts
  with ``--ignore-eos``. ``input_tokens``/``output_tokens`` are the NOMINAL lengths ``isl``/``osl``
  (the client varies them with ``--random-range-ratio``); ``prompt_type = "random"``.
* ``dtype``: ``precision`` fp8 -> ``fp8``; fp4 -> ``fp4`` (DeepSeek-R1 as NVIDIA's NVFP4
  checkpoint, gpt-oss-120b as its MXFP4 release). The model is the base architecture
  (``deepseek-ai/DeepSeek-R1-0528`` for every ``dsr1`` row, ``openai/gpt-oss-120b`` for ``gptoss``).
* ``engine``: ``trt`` -> ``tensorrt-llm``; ``dynamo-sglang``/``dynamo-trt`` are SGLang/TRT-LLM
  workers orchestrated by NVIDIA Dynamo with prefill and decode on separate GPU pools ->
  ``engine = sglang``/``tensorrt-llm`` with ``disaggregated_prefill_decode = True``;
  ``engine_version`` is the container image.
* Devices: single-node rows run on ``tp`` GPUs of one node (the API's ``num_prefill_gpu`` =
  ``num_decode_gpu`` = tp x ep there is NOT a GPU count); multi-node (disaggregated) rows on
  ``num_prefill_gpu + num_decode_gpu`` GPUs, recorded as ``prefill_device_count`` /
  ``decode_device_count``, ``tensor_parallel``/``expert_parallel``/``attention_data_parallel`` of
  the DECODE workers, and ``node_count = ceil(GPUs / 8)`` (InferenceX runs 8-GPU nodes).
  ``speculative_decoding`` is ``spec_method``/``spec_decoding`` (``none`` or ``mtp``).
* Throughput: the source publishes tokens/s PER GPU. The record keeps the whole deployment's
  (``throughput_scope = "per-device"`` says it was converted): ``total_throughput_tok_s`` =
  ``tput_per_gpu`` (input + output tokens) x all GPUs; ``output_throughput_tok_s`` =
  ``output_tput_per_gpu`` x the GPUs it was divided by -- all GPUs on a single node, the DECODE
  GPUs for multi-node rows (checked: output x decode + input x prefill = total x all, on every row).
* Latency (seconds): ``ttft_s``/``tpot_s``/``e2e_latency_s`` are ``mean_ttft``/``mean_tpot``/
  ``mean_e2el`` with ``latency_statistic = "mean"``; history rows publish no means, so there they are
  the medians and ``latency_statistic = "p50"``. ``ttft_p50/p90/p99_s``, ``itl_p50/p90/p99_s``,
  ``e2e_p50/p90/p99_s`` are the published percentiles (p90 only in newer rows). With speculative
  decoding TPOT is per accepted token and an ITL gap spans several tokens.
* No row of the shared part carries power (``power_source = none``).

Identity and time: ``run_id = inferencex-<github run id>``, so each official sweep run is one run
and ``marts.measurements`` keeps the newest run per point. The same measurement appears in several
files (a fixture row and the CI artifact of the same run): the first file read wins (latest fixture,
history fixture, CI) and the others are counted ("same measurement in another file").
``measured_at`` is the fixture's ``date``; CI artifacts carry no date, so a CI run takes the date of
the same run in a fixture, else the date of the newest fixture run with a SMALLER GitHub run id (run
ids grow with time): a lower bound that keeps runs in order; a run older than every dated run is
rejected ("run date unknown").
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from inference_estimation.lib.catalog.vocabulary import VocabularyError, canonical_dtype, canonical_engine
from inference_estimation.lib.data.external.base import Adapter, AdapterOutput, DatasetError, RemoteFile

APP_REPOSITORY = "vngcloud/InferenceX-app"  # fork whose fixture bytes match upstream's _manifest.json
APP_COMMIT = "7fe6d62ad57a3df061be692e86578c7111d880c7"
APP_FIXTURE_DIR = "packages/app/cypress/fixtures/api"
CI_REPOSITORY = "gminneci/mantile"
CI_COMMIT = "72ff84ebfd56ee0b15bd17d7d49a70fbb4e50256"
CI_DIR = "reconcile/sources/inferencemax/raw"

FIXTURE_DIR = "app_api_fixtures"
#: Fixture kinds in reading order (the first file holding a measurement wins).
FIXTURES = ("benchmarks", "benchmarks-history")
CI_FOLDER = "ci_agg_bmk"
#: SHA-256 of the upstream fixtures (``_manifest.json`` of SemiAnalysisAI/InferenceX-app @00550b6).
_FIXTURE_SHA256 = {
    "benchmarks": "f46823a76cb63248705329f327e1494df02b4dfa4df0898b7ee084c75c20bd52",
    "benchmarks-history": "9e7efc17d018d25acd13095ac0c33ed3c20aaf0d86c225792c0a73bde8e12d15",
}
#: SHA-256 of the CI artifacts holding no held-out hardware (unmodified copies).
_CI_SHA256 = {
    "20218553330": "195026f647151c17561302f647540d109545d88c3fd9319abca7fda05e94485a",
    "20286929996": "462f01b5a8da8c5edfb184b50de2baab7ad98d0e21c25fd3c2dfdf08c3fe4d96",
    "20286968709": "4a23bf96862158b388229e9a47bcf9b2d39a934a73c4d14940a2d95e2e68c2cd",
    "20308883467": "9e4526374db49717269209a3c7c37a04b81fff024cef2518fade36ee4cc17b4a",
    "20316427102": "8086e10527485e87191572b80f59d160b5bb7f73ffe3ac043ab9770d8a72b20b",
    "20613446912": "73d24ce59d1e74e3f40aee00e7ac6cf502af265f12df1ffcafaae8a0b265daab",
    "20621824084": "8face5ab3c052b06ee0984d4823a3dac228b5fa27ccc93d11c0c52f6c889491e",
    "20662362255": "e0a7f8f3dd486d69ca11a517543dc8fb1a28e8652d9b8298c69e2457f601d9ef",
    "20667906037": "45ea7d46c1eddb7ed19aac47d951707f11f897cb8f12854fb762d5521436c331",
    "20860620516": "8bca00c9defc1bcf1d6077c227e7e6f29523a96d07228b4b5caddddcd9a85761",
    "20947681656": "1abce215cc52f5271432199507083dd00b7083d992bc937800d6ac799f30549f",
    "20972034325": "cc862bd0b95f156f66ca3eb158ece08394e93326f9187e7e18fdd15ba28c2fa3",
}
#: Hardware kept out of this dataset on purpose (evaluation hold-out; SOURCE.md "Split").
HELD_OUT_HARDWARE = frozenset({"mi355x", "b300", "gb300", "gb200"})
#: InferenceX model prefix -> Hugging Face id of the architecture.
MODELS = {"dsr1": "deepseek-ai/DeepSeek-R1-0528", "gptoss": "openai/gpt-oss-120b"}
#: Orchestrator-prefixed frameworks: the worker engine is the suffix (disaggregated via Dynamo).
ORCHESTRATOR_PREFIXES = ("dynamo-",)
#: GPUs per node of every InferenceX system in this dataset (H100/H200/B200 HGX, MI300X/MI325X).
GPUS_PER_NODE = 8

_RUN_URL = re.compile(r"/actions/runs/(?P<run>\d+)(?:/attempts/(?P<attempt>\d+))?")
_CI_RUN_DIR = re.compile(r"^run_(?P<run>\d+)$")


def base_hardware(name: str) -> str:
    """The hardware base name as InferenceX rows spell it: lower case, cut at the first ``-``/``_``
    (``b200-trt`` -> ``b200``, ``mi355x-amd_0`` -> ``mi355x``)."""
    return re.split(r"[-_]", str(name).strip().lower(), maxsplit=1)[0]


def _bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _num(metrics: dict[str, Any], name: str) -> float | None:
    value = metrics.get(name)
    if value is None or value == "":
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _times(value: float | None, n: int) -> float | None:
    return None if value is None else value * n


def row_to_canonical(row: dict[str, Any], *, kind: str, github_run: str, measured_at: str,
                     source: str = "inferencex") -> dict[str, Any]:
    """Maps one InferenceX result row (API fixture or CI artifact) onto a canonical row.

    Args:
        row: the JSON object as published.
        kind: ``fixture`` (metrics under ``metrics``, topology in ``prefill_*``/``decode_*``) or
            ``ci`` (metrics at top level, single-node topology in ``tp``/``ep``/``dp_attention``).
        github_run: the GitHub Actions run id of the sweep.
        measured_at: ISO date of the measurement (see the module docstring).
        source: the ``source`` of the row.

    Raises:
        KeyError, TypeError, ValueError: for a row lacking or mangling a required field.
    """
    metrics = row["metrics"] if kind == "fixture" else row
    prefix = row["model"] if kind == "fixture" else row["infmax_model_prefix"]
    framework = str(row["framework"]).strip().lower()
    worker = next((framework[len(p):] for p in ORCHESTRATOR_PREFIXES if framework.startswith(p)), framework)
    multinode = bool(_bool(row.get("is_multinode")))
    disaggregated = bool(_bool(row.get("disagg")))
    spec = row.get("spec_method", row.get("spec_decoding"))
    if multinode:
        prefill_gpus, decode_gpus = int(row["num_prefill_gpu"]), int(row["num_decode_gpu"])
        gpus = prefill_gpus + decode_gpus
        output_gpus = decode_gpus  # the source divides output tokens/s by the decode GPUs
        tp, ep, dp_attention = row["decode_tp"], row["decode_ep"], row["decode_dp_attention"]
        nodes = math.ceil(gpus / GPUS_PER_NODE)
    else:
        if kind == "fixture":
            if int(row["prefill_tp"]) != int(row["decode_tp"]):
                raise ValueError("single-node row with different prefill and decode TP")
            tp, ep, dp_attention = row["decode_tp"], row["decode_ep"], row["decode_dp_attention"]
        else:
            tp, ep, dp_attention = row["tp"], row["ep"], row["dp_attention"]
        gpus = output_gpus = int(tp)
        prefill_gpus = decode_gpus = None
        nodes = 1
    mean_ttft, mean_tpot, mean_e2e = (_num(metrics, f"mean_{m}") for m in ("ttft", "tpot", "e2el"))
    has_means = any(v is not None for v in (mean_ttft, mean_tpot, mean_e2e))
    statistic = "mean" if has_means else "p50"
    pick = "mean" if has_means else "median"
    return {
        "source": source,
        "run_id": f"{source}-{github_run}",
        "measured_at": measured_at,
        "model_key": MODELS[prefix],
        "hardware_key": base_hardware(row["hardware"] if kind == "fixture" else row["hw"]),
        "device_count": gpus,
        "engine": canonical_engine(worker),
        "engine_version": row.get("image") or None,
        "dtype": canonical_dtype(row["precision"]),
        "tensor_parallel": int(tp),
        "mode": "serving",
        "input_tokens": int(row["isl"]),
        "output_tokens": int(row["osl"]),
        "concurrency": int(row["conc"]),
        "prompt_type": "random",
        "e2e_latency_s": _num(metrics, f"{pick}_e2el"),
        "ttft_s": _num(metrics, f"{pick}_ttft"),
        "tpot_s": _num(metrics, f"{pick}_tpot"),
        "output_throughput_tok_s": _times(_num(metrics, "output_tput_per_gpu"), output_gpus),
        "total_throughput_tok_s": _times(_num(metrics, "tput_per_gpu"), gpus),
        "ttft_p50_s": _num(metrics, "median_ttft"),
        "ttft_p90_s": _num(metrics, "p90_ttft"),
        "ttft_p99_s": _num(metrics, "p99_ttft"),
        "itl_p50_s": _num(metrics, "median_itl"),
        "itl_p90_s": _num(metrics, "p90_itl"),
        "itl_p99_s": _num(metrics, "p99_itl"),
        "e2e_p50_s": _num(metrics, "median_e2el"),
        "e2e_p90_s": _num(metrics, "p90_e2el"),
        "e2e_p99_s": _num(metrics, "p99_e2el"),
        "power_source": "none",
        "status": "ok",
        "disaggregated_prefill_decode": disaggregated,
        "prefill_device_count": prefill_gpus,
        "decode_device_count": decode_gpus,
        "node_count": nodes,
        "expert_parallel": int(ep),
        "attention_data_parallel": _bool(dp_attention),
        "speculative_decoding": str(spec).strip().lower() if spec not in (None, "") else None,
        "throughput_scope": "per-device",
        "latency_statistic": statistic,
    }


#: Fields that identify one measurement of a run (a fixture row and its CI twin share them).
_MEASUREMENT_KEY = ("run_id", "model_key", "hardware_key", "engine", "dtype", "device_count", "tensor_parallel",
                    "input_tokens", "output_tokens", "concurrency", "disaggregated_prefill_decode",
                    "prefill_device_count", "decode_device_count", "expert_parallel", "attention_data_parallel",
                    "speculative_decoding")


class InferenceXAdapter(Adapter):
    """InferenceX serving sweeps (DeepSeek-R1-0528 FP8/FP4, gpt-oss-120b) on H100/H200/B200/MI300X/MI325X."""

    source = "inferencex"
    folder = "inferencex"
    title = "SemiAnalysis InferenceX serving sweeps (API fixtures + CI artifacts)"
    license = "Apache-2.0 (InferenceX results); fixture files GPL-3.0 (InferenceX-app), read in place, not vendored"
    measured_at = "2026-08-21"
    remote_files = (
        *(RemoteFile(f"{FIXTURE_DIR}/{name}.json",
                     f"https://raw.githubusercontent.com/{APP_REPOSITORY}/{APP_COMMIT}/{APP_FIXTURE_DIR}/{name}.json", sha)
          for name, sha in _FIXTURE_SHA256.items()),
        *(RemoteFile(f"{CI_FOLDER}/run_{run}/agg_bmk.json",
                     f"https://raw.githubusercontent.com/{CI_REPOSITORY}/{CI_COMMIT}/{CI_DIR}/run_{run}/agg_bmk.json", sha)
          for run, sha in sorted(_CI_SHA256.items())),
    )

    def _files(self, folder: Path) -> list[tuple[str, Path, str | None]]:
        """(kind, path, github run id or None) of every result file, in reading order."""
        files: list[tuple[str, Path, str | None]] = []
        for name in FIXTURES:
            for candidate in (f"{name}.shared.json", f"{name}.json"):
                path = folder / FIXTURE_DIR / candidate
                if path.exists():
                    files.append(("fixture", path, None))
                    break
        ci_root = folder / CI_FOLDER
        for run_dir in sorted(ci_root.iterdir()) if ci_root.is_dir() else []:
            match = _CI_RUN_DIR.match(run_dir.name)
            if not match:
                continue
            for candidate in ("agg_bmk.filtered.json", "agg_bmk.json"):
                if (run_dir / candidate).exists():
                    files.append(("ci", run_dir / candidate, match["run"]))
                    break
        if not files:
            raise DatasetError(f"{self.source}: no result files under {folder} (expected {FIXTURE_DIR}/"
                               f"benchmarks(.shared).json or {CI_FOLDER}/run_<id>/agg_bmk(.filtered).json)")
        return files

    def read(self, folder: Path) -> AdapterOutput:
        files = self._files(folder)
        out = AdapterOutput(notes=[f"read {len(files)} files: " + ", ".join(str(p.relative_to(folder)) for _, p, _ in files)])
        loaded = [(kind, path, run, self.read_json_list(path, "result rows")) for kind, path, run in files]
        # Dates of GitHub runs, from the fixtures (CI artifacts carry none).
        run_dates: dict[int, str] = {}
        for kind, _path, _, rows in loaded:
            if kind != "fixture":
                continue
            for row in rows:
                match = _RUN_URL.search(str(row.get("run_url", "")))
                if match and row.get("date"):
                    run_dates[int(match["run"])] = max(run_dates.get(int(match["run"]), ""), str(row["date"]))
        dated = sorted(run_dates)
        for kind, _path, ci_run, rows in loaded:
            for row in rows:
                hardware = base_hardware(row.get("hardware") or row.get("hw") or "")
                if hardware in HELD_OUT_HARDWARE:
                    out.reject(f"hardware held out for evaluation ({', '.join(sorted(HELD_OUT_HARDWARE))})")
                    continue
                if kind == "fixture":
                    match = _RUN_URL.search(str(row.get("run_url", "")))
                    if match is None or not row.get("date"):
                        out.reject("fixture row without run_url or date")
                        continue
                    github_run, date = match["run"], str(row["date"])
                else:
                    github_run = ci_run
                    earlier = [r for r in dated if r <= int(github_run)]
                    if not earlier:
                        out.reject("run date unknown")
                        continue
                    date = run_dates[earlier[-1]]
                prefix = row.get("model") if kind == "fixture" else row.get("infmax_model_prefix")
                if prefix not in MODELS:
                    out.reject(f"model not mapped ({prefix})")
                    continue
                try:
                    mapped = row_to_canonical(row, kind=kind, github_run=github_run, measured_at=f"{date}T00:00:00+00:00",
                                              source=self.source)
                except VocabularyError as exc:
                    out.reject(f"unknown engine or precision ({str(exc).split(':')[0]})")
                    continue
                except (KeyError, TypeError, ValueError):
                    out.reject("row lacks required fields")
                    continue
                key = tuple(mapped[f] for f in _MEASUREMENT_KEY)
                if out.first_time(key, "same measurement in another file (fixture/CI overlap or repeated row)"):
                    out.rows.append(mapped)
        return out


ADAPTERS = [InferenceXAdapter()]
