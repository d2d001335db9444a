"""LLM-Inference-Bench (Argonne National Laboratory): static-batch runs on nine kinds of accelerator.

Chitty-Venkata et al., "LLM-Inference-Bench: Inference Benchmarking of Large Language Models on AI
Accelerators" (SC'24 workshops, arXiv 2411.00136); https://github.com/argonne-lcf/LLM-Inference-Bench.

Files read (all ORIGINAL published CSVs, pinned in :attr:`ArgonneLLMInferenceBenchAdapter.remote_files`):

* ``Plots/All_results.csv`` -- the main results (4772 rows): hardware, device count, framework,
  model, "Input Output Length", batch size, latency, throughput.
* the TTFT files ``Plots/Fig_22/all_results_TTFT_ITL.csv`` and ``Plots/Fig_21/all_results_TTFT.csv``
  (the same 30 TTFT values; Fig_22 adds the full-length latency of the same configuration).
* the power files ``Plots/Fig_16_a_b/power_results.csv`` (main HEAD), ``Plots/Fig_16_a`` and
  ``Plots/Fig_16_b/power_results.csv`` (byte-identical subsets of it), the dashboard's
  ``gh-pages/docs/data/Power/All_results.csv`` and ``Plots/Fig_16_a_b/all_power_results.csv``
  (an earlier commit, deleted later; stacked sub-tables, a superset of the dashboard file).

Not read (ablation studies whose points are not separable in the record, or whose units are
unclear): KV-cache on/off, KV block size, KV-cache dtype/quantisation, speculative decoding,
parallelism type (TP/PP/EP), the TRT-LLM input x output heatmap, ``Fig_10``/``Fig_29`` (power in
mixed units, see SOURCE.md) and the dashboard's ``Best_Hardware_and_Framework`` view (a subset of
the main file: every point is in it).

Semantics (see the comments next to each conversion):

* Every run is a static batch (``mode=offline``): ``batch_size`` prompts of exactly L tokens each,
  generating exactly L tokens ("Input Output Length": input length = output length = L).
* ``Latency`` is seconds for the whole batch, prefill + decode -> ``e2e_latency_s``.
* ``Throughput`` counts INPUT + OUTPUT tokens of the whole batch per second (verified:
  Throughput x Latency = 2 x L x batch for every non-llama.cpp row; the benchmark scripts compute
  ``batch * (input_len + output_len) / latency``) -> ``total_throughput_tok_s``; the output
  share of the same run, ``batch * output_len / latency``, -> ``output_throughput_tok_s``.
* llama.cpp rows come from ``llama-bench -p L -n L -pg L,L -b B``: ONE sequence; ``-b`` is the
  logical prompt-processing chunk (n_batch), not concurrent sequences (Throughput x Latency = 2 x L
  for every B). They map to ``batch_size=1``; the four n_batch variants of a point are one
  workload point, so the largest n_batch (closest to llama.cpp's default) is kept and the others
  are counted as rejected. Multi-GPU llama.cpp splits layers, so ``tensor_parallel=1``.
* ``avg_power`` is in MILLIWATTS (NVML ``nvmlDeviceGetPowerUsage`` via py3nvml, sampled every
  0.1-0.25 s on GPU 0 during a second run of the same batch) -> ``avg_power_w`` = mW / 1000,
  ``power_source=nvml-power``, ``power_scope=device`` (all power rows are single-GPU runs).
* Energy: a power row carries its own latency, measured by the same script invocation, so
  ``energy_j = avg_power_w x e2e_latency_s`` of that row (the paper's "throughput per watt" is the
  same ratio); ``energy_per_output_token_j = energy_j / (batch_size x output_tokens)`` (prefill
  energy included). The A100/H100 scripts pad the power window with 1 s of sleep on each side,
  which biases the average power, and so the energy, slightly low for short runs.

Matching and de-duplication (one row per workload point; later files never overwrite earlier ones):

1. power files, in the order listed above -- a point's power row is kept whole (latency,
   throughput and power of ONE run). The HEAD power file's rows are copies of main-file rows plus
   ``avg_power`` (identical latency and throughput), so for those points nothing is lost; the
   dashboard / earlier-commit rows are other runs of a point (their latency differs from the main
   file's by 1-47%) and are kept for the points the HEAD file lacks (Mistral-7B, GH200 vLLM), so
   energy always pairs with the latency of the run that measured the power.
2. the main file -- a point already kept from a power file is counted as rejected ("duplicate of
   another file's row" when the values are equal, else "another run of a point already kept");
   a point repeated inside the main file keeps its first row (57 repeats).
3. TTFT files -- each TTFT row is its own measured point (input 1024, output 1, batch 16:
   ``e2e_latency_s = ttft_s`` = the TTFT value). Its value is also attached as ``ttft_s`` to the
   kept row of the same configuration at output 1024, with ``tpot_s = (e2e - ttft) / (1024 - 1)``
   (decode time per output token, as the paper's Fig. 22 "ITL" derives it).

Hardware: ``Intel PVC GPU`` and ``Intel Max 1550`` are the same device (Intel Data Center GPU Max
1550, "Ponte Vecchio"); their 24 common vLLM points keep the ``Intel Max 1550`` row (the PVC rows
carry ~18 s of fixed overhead per run: 128- and 256-token runs take nearly the same time).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from inference_estimation.lib.data.external.base import Adapter, AdapterOutput, DatasetError, RemoteFile

SOURCE = "argonne-llm-bench"
_REPO = "argonne-lcf/LLM-Inference-Bench"
_MAIN_COMMIT = "4211f5d4e9bc0145ed541b6d372d5d8223b44235"  # main, 2025-07-18
_OLD_COMMIT = "ae7e7a41173badc99f7b59da1657a0172813e5e5"  # last commit holding all_power_results.csv
_PAGES_COMMIT = "88c6378c07000618ee8a4716294198c80c4a0299"  # gh-pages (dashboard), 2024-10-29

MAIN_FILE = "Plots/All_results.csv"
#: Power files in priority order (first wins for a point).
POWER_FILES = (
    "Plots/Fig_16_a_b/power_results.csv",
    "Plots/Fig_16_a/power_results.csv",
    "Plots/Fig_16_b/power_results.csv",
    "gh-pages/docs/data/Power/All_results.csv",
    "Plots/Fig_16_a_b/all_power_results.csv",
)
#: TTFT files in priority order (Fig_22 has the full-length latency too; Fig_21 repeats its TTFT).
TTFT_FILES = ("Plots/Fig_22/all_results_TTFT_ITL.csv", "Plots/Fig_21/all_results_TTFT.csv")

_SHA256 = {
    MAIN_FILE: "631a12e08c786ce2d4bdfdc0f67b93234360682cb4b36c93806270ddcfd58412",
    "Plots/Fig_16_a_b/power_results.csv": "0b2ee7555fd76f00b6390d515d20e376077cc5abd4bce56ebc224d18be56adac",
    "Plots/Fig_16_a/power_results.csv": "5d18c0149b9630257a54964f33ca1a2b8afe4221ffdaf27aa0a80a0d75cf8e04",
    "Plots/Fig_16_b/power_results.csv": "5d18c0149b9630257a54964f33ca1a2b8afe4221ffdaf27aa0a80a0d75cf8e04",
    "gh-pages/docs/data/Power/All_results.csv": (
        "095f74883918f92596aefa2b4b21e4ce7b2af171202662972923c246c09255ea"
    ),
    "Plots/Fig_16_a_b/all_power_results.csv": (
        "517f97445e3389c1aad6e841057372d25607e4ae4e5b6eeb266efcfa57fab9b2"
    ),
    "Plots/Fig_22/all_results_TTFT_ITL.csv": (
        "97b406122a3015ecadfb8c96b57edcc3f31186f70ffbf3eddf100b51c02b452d"
    ),
    "Plots/Fig_21/all_results_TTFT.csv": "33046baa43ca27f8e5cff5dcf56d3167ceba7c74aac4171ceefd2a3ce0280341",
}


def _url(relative: str) -> str:
    if relative.startswith("gh-pages/"):
        return f"https://raw.githubusercontent.com/{_REPO}/{_PAGES_COMMIT}/{relative[len('gh-pages/') :]}"
    commit = _OLD_COMMIT if relative.endswith("all_power_results.csv") else _MAIN_COMMIT
    return f"https://raw.githubusercontent.com/{_REPO}/{commit}/{relative}"


#: Dataset framework spelling -> record engine (lower-case).
ENGINES = {
    "vLLM": "vllm",
    "TensorRT-LLM": "tensorrt-llm",
    "llama.cpp": "llama.cpp",
    "Deepspeed-MII": "deepspeed-mii",  # A100: DeepSpeed-MII pipeline
    "Deepspeed": "deepspeed",  # Gaudi2: optimum-habana text generation with Habana's DeepSpeed fork
    "sambaflow": "sambaflow",  # SambaNova SN40L
}
#: Engine -> dtype of weights and compute. vLLM scripts pass ``--dtype float16``; the TRT-LLM
#: heatmap file records ``precision=float16``; llama.cpp loads ``*_f16.gguf`` files (no
#: quantisation); DeepSpeed-MII's pipeline defaults to fp16. The Gaudi2 script passes no ``--bf16``
#: and SambaNova's precision is not stated: null (unknown), never guessed.
DTYPES = {
    "vllm": "float16",
    "tensorrt-llm": "float16",
    "llama.cpp": "float16",
    "deepspeed-mii": "float16",
    "deepspeed": None,
    "sambaflow": None,
}
#: Dataset hardware spellings that name the same device (for de-duplicating points only; the row
#: keeps the dataset's own spelling in ``hardware_key`` and ``device_name``).
SAME_DEVICE = {"Intel PVC GPU": "Intel Max 1550"}
#: The GH200 vLLM sub-table of all_power_results.csv has neither hardware nor framework columns:
#: its label line says "GH200:"; its columns (throughput, latency, Avg Power, tensor_parallel) are
#: those of the vLLM GH200 power script and it sits between the H100 and GH200 TensorRT-LLM tables.
_LABELS = {"GH200:": ("Nvidia GH200 GPU", "vLLM")}
#: Synthetic fixed-length prompts (random token ids for vLLM/llama.cpp/TRT-LLM, a repeated word for
#: DeepSpeed): with generation forced to a fixed length the prompt text does not change the timing.
PROMPT_TYPE = "random"

R_DUPLICATE = "duplicate of another file's row"
R_OTHER_RUN = "another run of a point already kept from a higher-priority file"
R_REPEAT = "repeat run of a point earlier in the same file (first kept)"
R_SAME_DEVICE = "same point under another spelling of the same device (Intel PVC GPU = Intel Max 1550)"
R_NBATCH = "llama.cpp n_batch variant of a single-stream point (largest n_batch kept)"
R_FRAMEWORK = "unknown framework"
R_INCOMPLETE = "missing model, hardware, lengths or batch size"
R_NO_METRIC = "no latency or throughput"

_HEADER_FIRST_CELLS = {"hardware", "model name", "model_name"}
_COLUMN_ALIASES = {
    "hardware": "hardware",
    "num of hardware": "devices",
    "tensor_parallel": "devices",
    "framework": "framework",
    "model": "model",
    "model name": "model",
    "input output length": "length",
    "input length": "input",
    "output length": "output",
    "batch size": "batch",
    "latency": "latency",
    "throughput": "throughput",
    "avg_power": "power_mw",
    "avg power": "power_mw",
    "ttft latency": "ttft",
    "end_latency": "end_latency",
}


class ArgonneLLMInferenceBenchAdapter(Adapter):
    """LLM-Inference-Bench: static-batch latency/throughput, TTFT and GPU power (BSD-3-Clause)."""

    source = SOURCE
    folder = "argonne_llm_inference_bench"
    title = "LLM-Inference-Bench (Argonne): static-batch latency, throughput, TTFT and GPU power"
    license = "BSD-3-Clause"
    measured_at = "2025-07-18"
    remote_files = tuple(
        RemoteFile(path, _url(path), _SHA256[path]) for path in (MAIN_FILE, *POWER_FILES, *TTFT_FILES)
    )

    def read(self, folder: Path) -> AdapterOutput:
        out = AdapterOutput()
        kept: dict[tuple, dict[str, Any]] = {}
        origin: dict[tuple, str] = {}

        def keep(key: tuple, row: dict[str, Any], relative: str) -> bool:
            if key not in kept:
                kept[key], origin[key] = row, relative
                return True
            previous = kept[key]
            if previous["hardware_key"] != row["hardware_key"]:
                out.reject(R_SAME_DEVICE)
            elif _same_values(previous, row):
                out.reject(R_DUPLICATE if origin[key] != relative else R_REPEAT)
            elif origin[key] == relative:
                out.reject(R_REPEAT)
            else:
                out.reject(R_OTHER_RUN)
            return False

        # 1. power files (a point's power row is kept whole: latency and power of one run)
        for relative in POWER_FILES:
            records = self._records(folder, relative)
            taken = sum(self._map(rec, relative, out, keep) for rec in records)
            out.notes.append(f"read {relative}: {len(records)} rows, {taken} points kept (with power)")

        # 2. main file; llama.cpp n_batch variants first collapse to one single-stream point
        records = self._records(folder, MAIN_FILE)
        largest_nbatch: dict[tuple, int] = {}
        for rec in records:
            if rec.get("framework") == "llama.cpp" and rec.get("batch") is not None:
                group = (rec.get("hardware"), rec.get("devices"), rec.get("model"), rec.get("length"))
                largest_nbatch[group] = max(largest_nbatch.get(group, 0), int(rec["batch"]))
        # the preferred spelling of a device goes first, so it wins points both spellings measured
        ordered = sorted(records, key=lambda r: r.get("hardware") in SAME_DEVICE)
        taken = 0
        for rec in ordered:
            if rec.get("framework") == "llama.cpp" and rec.get("batch") is not None:
                group = (rec.get("hardware"), rec.get("devices"), rec.get("model"), rec.get("length"))
                if int(rec["batch"]) != largest_nbatch[group]:
                    out.reject(R_NBATCH)
                    continue
            taken += self._map(rec, MAIN_FILE, out, keep)
        out.notes.append(f"read {MAIN_FILE}: {len(records)} rows, {taken} points kept")

        # 3. TTFT files: the 1-output-token run is its own point; its TTFT also goes to the
        #    full-length (output = input) row of the same configuration.
        attached = end_matches = 0
        for relative in TTFT_FILES:
            records = self._records(folder, relative)
            taken = 0
            for rec in records:
                if relative.endswith("all_results_TTFT.csv"):
                    rec["ttft"] = rec.pop("latency", None)  # Fig_21's "Latency" is the TTFT
                rec["latency"] = rec.get("ttft")  # output 1 token: end-to-end time = TTFT
                new = self._map(rec, relative, out, keep)
                taken += new
                if not new or rec.get("ttft") is None:
                    continue
                full_key = _point_key(
                    rec["hardware"],
                    rec["devices"],
                    ENGINES[rec["framework"]],
                    rec["model"],
                    rec["batch"],
                    rec["input"],
                    rec["input"],
                )
                full = kept.get(full_key)
                if full is None or full.get("e2e_latency_s") is None or full["e2e_latency_s"] <= rec["ttft"]:
                    continue
                full["ttft_s"] = rec["ttft"]
                # decode time per output token: (end-to-end - TTFT) / (output_tokens - 1)
                full["tpot_s"] = (full["e2e_latency_s"] - rec["ttft"]) / (full["output_tokens"] - 1)
                attached += 1
                if rec.get("end_latency") is not None and _close(rec["end_latency"], full["e2e_latency_s"]):
                    end_matches += 1
            out.notes.append(
                f"read {relative}: {len(records)} rows, {taken} points kept (input 1024, output 1)"
            )
        out.notes.append(
            f"TTFT attached to {attached} full-length rows (input = output = 1024, batch 16) with "
            f"tpot_s = (e2e - TTFT)/1023; {end_matches} of them have the file's end_latency equal "
            f"to the kept row's latency"
        )
        out.notes.append(
            "priority per point: HEAD power file > Fig_16_a/b > dashboard power > "
            "all_power_results (ae7e7a4) > main file > TTFT files; energy_j = avg_power_w x "
            "latency of the same row"
        )
        out.rows = list(kept.values())
        return out

    # ------------------------------------------------------------------------------------ parsing
    def _records(self, folder: Path, relative: str) -> list[dict[str, Any]]:
        """Data rows of a CSV that may stack several sub-tables (own headers, blank and label lines)."""
        path = self.require(folder, relative)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"{self.source}: cannot read {path}: {exc}") from exc
        header: list[str] | None = None
        label: tuple[str, str] | None = None
        records: list[dict[str, Any]] = []
        for line_no, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
            cells = [c.strip() for c in cells]
            if not any(cells):
                continue
            first = cells[0].lower()
            if first in _HEADER_FIRST_CELLS:
                header = [" ".join(c.lower().split()) for c in cells]
                if first == "hardware":
                    label = None
                continue
            if len([c for c in cells if c]) == 1 and cells[0] in _LABELS:
                label = _LABELS[cells[0]]
                continue
            if header is None:
                raise DatasetError(f"{self.source}: {path}: line {line_no}: data before any header")
            rec: dict[str, Any] = {"_line": line_no}
            for name, value in zip(header, cells, strict=False):
                field = _COLUMN_ALIASES.get(name)
                if field is None or value == "":
                    continue
                if field in ("hardware", "framework", "model"):
                    rec[field] = value
                else:
                    try:
                        rec[field] = float(value)
                    except ValueError:
                        raise DatasetError(
                            f"{self.source}: {path}: line {line_no}, column '{name}': "
                            f"{value!r} is not a number"
                        ) from None
            if "hardware" not in rec and label is not None:
                rec["hardware"], rec["framework"] = label
            if "length" in rec:
                rec.setdefault("input", rec["length"])
                rec.setdefault("output", rec["length"])
            for field in ("devices", "batch", "input", "output"):
                if field in rec:
                    rec[field] = int(rec[field])
            records.append(rec)
        return records

    # ------------------------------------------------------------------------------------ mapping
    def _map(self, rec: dict[str, Any], relative: str, out: AdapterOutput, keep) -> bool:
        """Maps one source row; returns True when it became a kept point."""
        framework = rec.get("framework")
        if framework not in ENGINES:
            out.reject(R_FRAMEWORK)
            return False
        if any(rec.get(f) is None for f in ("hardware", "model", "devices", "batch", "input", "output")):
            out.reject(R_INCOMPLETE)
            return False
        latency, throughput = rec.get("latency"), rec.get("throughput")
        if not latency and not throughput:
            out.reject(R_NO_METRIC)
            return False
        engine = ENGINES[framework]
        single_stream = engine == "llama.cpp"
        # llama.cpp: one sequence (the "Batch Size" column is llama-bench's n_batch), layer split.
        batch = 1 if single_stream else rec["batch"]
        devices = rec["devices"]
        row: dict[str, Any] = {
            "source": SOURCE,
            "model_key": rec["model"],  # the dataset spells models as Hugging Face ids
            "hardware_key": rec["hardware"],
            "device_name": rec["hardware"],
            "device_count": devices,
            # vLLM, TRT-LLM, DeepSpeed(-MII) and SambaFlow shard the model tensor-parallel over all
            # the devices of the run (the scripts pass --tensor-parallel-size = device count).
            "tensor_parallel": 1 if single_stream else devices,
            "engine": engine,
            "engine_version": None,
            "dtype": DTYPES[engine],
            "weight_dtype": DTYPES[engine],
            "mode": "offline",  # static batch, fixed lengths
            "batch_size": batch,
            "input_tokens": rec["input"],
            "output_tokens": rec["output"],
            "prompt_type": PROMPT_TYPE,
            # Latency: seconds for the whole batch (prefill + decode).
            "e2e_latency_s": latency or None,
            "ttft_s": rec.get("ttft") if rec["output"] == 1 else None,
            # Throughput: input + output tokens of the whole batch per second -> total, not output.
            "total_throughput_tok_s": throughput or None,
            # The output share of the same run: batch x output tokens / latency (= Throughput x
            # output / (input + output), the scripts' own formula), so the row also states the
            # output throughput the predictors answer.
            "output_throughput_tok_s": batch * rec["output"] / latency if latency else None,
            "n_trials": 1 if single_stream else None,  # llama-bench -r 1; others not stated
            "power_source": "none",
            "measured_at": self.measured_at,
        }
        power_mw = rec.get("power_mw")
        if power_mw:
            watts = power_mw / 1000.0  # avg_power is NVML milliwatts
            row["avg_power_w"] = watts
            row["power_source"] = "nvml-power"  # mean of sampled nvmlDeviceGetPowerUsage
            row["power_scope"] = "device"  # GPU 0 of a single-GPU run
            if latency:
                # energy of the batch = average power x latency of the same run (same row)
                row["energy_j"] = watts * latency
                row["energy_per_output_token_j"] = row["energy_j"] / (batch * rec["output"])
        key = _point_key(rec["hardware"], devices, engine, rec["model"], batch, rec["input"], rec["output"])
        return keep(key, row, relative)


def _point_key(
    hardware: str, devices: int, engine: str, model: str, batch: int, input_tokens: int, output_tokens: int
) -> tuple:
    return (SAME_DEVICE.get(hardware, hardware), devices, engine, model, batch, input_tokens, output_tokens)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)


def _same_values(a: dict[str, Any], b: dict[str, Any]) -> bool:
    for name in ("e2e_latency_s", "ttft_s", "avg_power_w"):
        x, y = a.get(name), b.get(name)
        if x is None or y is None:
            continue
        if not _close(x, y):
            return False
    return True


ADAPTERS = [ArgonneLLMInferenceBenchAdapter()]
