"""SplitwiseSim profiling database (``data/perf_model.csv``): Llama-2-70B and BLOOM-176B on DGX machines.

Patel et al., "Splitwise: Efficient Generative LLM Inference Using Phase Splitting" (ISCA 2024);
https://github.com/Mutinifni/splitwise-sim (MIT). The simulator's database performance model
interpolates this file's prefill and decode times.

The adapter reads the ORIGINAL published CSV (1260 rows). Semantics (see the comments next to each
conversion):

* A row is one static batch (``mode=offline``) of ``batch_size`` requests, each with
  ``prompt_size`` input tokens and ``token_size`` output tokens, on ``tensor_parallel`` GPUs of a
  DGX-A100 (80 GB) or DGX-H100 machine (``device_count = tensor_parallel``). The sweeps are
  one-factor-at-a-time around prompt 512 / batch 1 / output 128.
* Times are MILLISECONDS (SplitwiseSim divides them by 1000): ``prompt_time`` is the prefill of the
  batch -> ``ttft_s``; ``token_time`` is one decode iteration of the batch, i.e. the time per output
  token of every sequence -> ``tpot_s``; ``e2e_time`` is the whole batch -> ``e2e_latency_s``.
* ``e2e_time`` is kept only where it agrees (within 10%) with prefill + (output - 1) x decode
  iteration of the same point. Elsewhere it does not describe the stated output length: for long
  outputs (mostly >= 512 tokens) it saturates around 12-87 s, as if generation stopped early, and
  for two batch-64 points on two GPUs it is 15-17x the sum. Those points keep their TTFT and TPOT,
  with ``e2e_latency_s`` null (the count is in the notes).
* Each configuration was run 5 times (5 rows with different values): the 5 repeats are ONE workload
  point, so they are averaged (mean of each time) with ``n_trials=5`` and ``latency_cv`` = sample
  standard deviation / mean of ``e2e_time`` (null when ``e2e_time`` is not kept).
* The baseline point (512/1/128) appears in each of the three sweeps: those rows are byte-for-byte
  copies (120 rows) and are counted as rejected duplicates.
* ``h100-80gb-pcap`` (power-capped H100) rows are derived, not measured: their ``prompt_time`` is
  exactly 1.3 x the ``h100-80gb`` row's and ``token_time``/``e2e_time`` are copied from it (the
  adapter verifies this and says how many rows match in the notes). They are rejected; the catalog
  also resolves that spelling to the same H100 entry, where they would duplicate the H100 points.
* ``peak_power`` / ``average_power`` are NOT power in watts: dimensionless values ~0.17-1.09,
  apparently normalised to a rated value that the repository does not document, and 0.0 (= not
  recorded) for every H100 row. Mapping them to ``avg_power_w`` would invent a unit, so
  ``power_source`` is ``none`` and no power or energy is set.
* Precision: the simulator's model sizes are ``llama2-70b-fp16`` / ``bloom-176b-fp16`` ->
  ``dtype=float16``. The serving stack is not stated in the file or the repository -> ``engine``
  null. Prompt content is not stated (the paper sends prompts of the required length and forces the
  output length) -> ``prompt_type`` null.
"""

from __future__ import annotations

import csv
import io
import statistics
from pathlib import Path
from typing import Any

from inference_estimation.lib.data.external.base import Adapter, AdapterOutput, DatasetError, RemoteFile

SOURCE = "splitwise"
DATA_FILE = "data/perf_model.csv"
_COMMIT = "8f99e7dc9b407f4ce2488d03dd44c0b8b946dab0"  # 2024-04-25
_SHA256 = "dbbe505d1d64fc4bd1ec03c50edf944643586de4f68a81e94cbd55dd5bdfbf41"

#: Dataset model spelling -> Hugging Face id (the models the simulator's configs describe).
MODELS = {
    "llama2-70b": "meta-llama/Llama-2-70b-hf",
    "bloom-176b": "bigscience/bloom",
}
#: Dataset hardware spelling -> the spelling emitted (the catalog resolves both as aliases):
#: DGX-A100 80 GB = A100 SXM4 80 GB; DGX-H100 = H100 SXM 80 GB.
HARDWARE = {"a100-80gb": "a100-80gb", "h100-80gb": "h100-80gb"}
POWER_CAPPED = "h100-80gb-pcap"
#: Relative tolerance within which e2e_time must match prefill + (output - 1) x decode iteration.
E2E_TOLERANCE = 0.10

R_EXACT_DUPLICATE = "exact duplicate row (baseline point repeated in each one-factor sweep)"
R_POWER_CAPPED = (
    "h100-80gb-pcap: derived from h100-80gb rows (prompt_time x 1.3, other times copied), not a measurement"
)
R_MODEL = "model unknown"
R_HARDWARE = "hardware unknown"
R_NO_METRIC = "no latency or throughput"

_COLUMNS = (
    "model",
    "hardware",
    "prompt_size",
    "batch_size",
    "token_size",
    "peak_power",
    "average_power",
    "prompt_time",
    "token_time",
    "e2e_time",
    "tensor_parallel",
)


class SplitwisePerfModelAdapter(Adapter):
    """SplitwiseSim's profiling database: prefill, decode-iteration and batch times (MIT)."""

    source = SOURCE
    folder = "splitwise_perf_model"
    title = "SplitwiseSim profiling database (Llama-2-70B, BLOOM-176B on DGX-A100/H100)"
    license = "MIT"
    measured_at = "2024-04-25"
    remote_files = (
        RemoteFile(
            DATA_FILE,
            f"https://raw.githubusercontent.com/Mutinifni/splitwise-sim/{_COMMIT}/{DATA_FILE}",
            _SHA256,
        ),
    )

    def read(self, folder: Path) -> AdapterOutput:
        out = AdapterOutput()
        raw_rows = self._rows(folder)
        trials: dict[tuple, list[dict[str, Any]]] = {}
        capped: list[dict[str, Any]] = []
        for raw in raw_rows:
            if not out.first_time(tuple(raw[c] for c in _COLUMNS), R_EXACT_DUPLICATE):
                continue
            if raw["hardware"] == POWER_CAPPED:
                capped.append(raw)
                continue
            if raw["model"] not in MODELS:
                out.reject(R_MODEL)
                continue
            if raw["hardware"] not in HARDWARE:
                out.reject(R_HARDWARE)
                continue
            if raw["prompt_time"] is None and raw["token_time"] is None and raw["e2e_time"] is None:
                out.reject(R_NO_METRIC)
                continue
            key = (
                raw["model"],
                raw["hardware"],
                raw["tensor_parallel"],
                raw["batch_size"],
                raw["prompt_size"],
                raw["token_size"],
            )
            trials.setdefault(key, []).append(raw)

        derived = self._check_capped_rows_are_derived(capped, trials)
        out.reject(R_POWER_CAPPED, len(capped))

        e2e_dropped = 0
        for (model, hardware, tp, batch, prompt, tokens), runs in trials.items():
            row, kept_e2e = self._point(model, hardware, tp, batch, prompt, tokens, runs)
            e2e_dropped += not kept_e2e
            out.rows.append(row)

        out.notes.append(f"read {DATA_FILE} (Mutinifni/splitwise-sim@{_COMMIT[:7]}): {len(raw_rows)} rows")
        out.notes.append(
            f"{sum(len(r) for r in trials.values())} repeat-run rows averaged into {len(trials)} points "
            f"(n_trials = repeats per point)"
        )
        out.notes.append(
            f"{len(capped)} h100-80gb-pcap rows rejected; {derived} of them are exactly an h100-80gb "
            f"row with prompt_time x 1.3"
        )
        out.notes.append(
            f"e2e_latency_s left null for {e2e_dropped} points whose e2e_time disagrees by more than "
            f"{E2E_TOLERANCE:.0%} with prefill + (output - 1) x decode iteration"
        )
        out.notes.append(
            "peak_power/average_power are normalised (undocumented reference) and not mapped: "
            "power_source none"
        )
        return out

    def _rows(self, folder: Path) -> list[dict[str, Any]]:
        path = self.require(folder, DATA_FILE)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"{self.source}: cannot read {path}: {exc}") from exc
        reader = csv.DictReader(io.StringIO(text))
        missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{self.source}: {path}: line 1: missing column(s) {missing}")
        rows = []
        for line_no, raw in enumerate(reader, start=2):
            row: dict[str, Any] = {"model": raw["model"].strip(), "hardware": raw["hardware"].strip()}
            try:
                for name in ("prompt_size", "batch_size", "token_size", "tensor_parallel"):
                    row[name] = int(raw[name])
                for name in ("peak_power", "average_power", "prompt_time", "token_time", "e2e_time"):
                    value = raw[name].strip()
                    row[name] = float(value) if value else None
            except (TypeError, ValueError) as exc:
                raise DatasetError(f"{self.source}: {path}: line {line_no}: {exc}") from None
            rows.append(row)
        return rows

    @staticmethod
    def _check_capped_rows_are_derived(capped: list[dict[str, Any]], trials: dict[tuple, list]) -> int:
        """How many power-capped rows equal an h100-80gb row with prompt_time x 1.3 (other times equal)."""
        matched = 0
        for raw in capped:
            key = (
                raw["model"],
                "h100-80gb",
                raw["tensor_parallel"],
                raw["batch_size"],
                raw["prompt_size"],
                raw["token_size"],
            )
            for base in trials.get(key, []):
                if (
                    base["token_time"] == raw["token_time"]
                    and base["e2e_time"] == raw["e2e_time"]
                    and base["prompt_time"] is not None
                    and raw["prompt_time"] is not None
                    and abs(raw["prompt_time"] - 1.3 * base["prompt_time"]) <= 1e-9 * raw["prompt_time"]
                ):
                    matched += 1
                    break
        return matched

    def _point(
        self,
        model: str,
        hardware: str,
        tp: int,
        batch: int,
        prompt: int,
        tokens: int,
        runs: list[dict[str, Any]],
    ) -> tuple[dict[str, Any], bool]:
        def mean_s(name: str) -> float | None:
            values = [r[name] for r in runs if r[name] is not None]
            return statistics.fmean(values) / 1000.0 if values else None  # milliseconds -> seconds

        ttft = mean_s("prompt_time")  # prefill of the whole batch = time to the first output token
        tpot = mean_s("token_time")  # one decode iteration = time per output token of each sequence
        e2e = mean_s("e2e_time")  # the whole batch, prefill + decode
        kept_e2e = False
        latency_cv = None
        if e2e is not None and ttft is not None and tpot is not None:
            expected = ttft + (tokens - 1) * tpot
            kept_e2e = abs(e2e / expected - 1.0) <= E2E_TOLERANCE
        if not kept_e2e:
            e2e = None
        else:
            e2e_values = [r["e2e_time"] for r in runs if r["e2e_time"] is not None]
            if len(e2e_values) > 1:
                latency_cv = statistics.stdev(e2e_values) / statistics.fmean(e2e_values)
        row = {
            "source": SOURCE,
            "model_key": MODELS[model],
            "hardware_key": HARDWARE[hardware],
            "device_name": hardware,
            "device_count": tp,  # only the tensor-parallel GPUs of the DGX run the model
            "tensor_parallel": tp,
            "engine": None,  # not stated in the file or the repository
            "dtype": "float16",  # configs/model_repo/sizes/<model>-fp16.yaml
            "weight_dtype": "float16",
            "mode": "offline",  # fixed batch, fixed lengths
            "batch_size": batch,
            "input_tokens": prompt,
            "output_tokens": tokens,
            "prompt_type": None,
            "e2e_latency_s": e2e,
            "ttft_s": ttft,
            "tpot_s": tpot,
            "n_trials": len(runs),
            "latency_cv": latency_cv,
            # peak_power/average_power are normalised, not watts: no power source.
            "power_source": "none",
            "measured_at": self.measured_at,
        }
        return row, kept_e2e


ADAPTERS = [SplitwisePerfModelAdapter()]
