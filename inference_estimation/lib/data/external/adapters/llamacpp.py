"""XiongjieDai "GPU-Benchmarks-on-LLM-Inference": llama.cpp ``llama-bench`` on 20 GPU types.

What is read: the ORIGINAL ``README.md`` of the repository at commit
aa72e0ec86c356c41f8281c9733e9a13c3675800 -- the repository publishes no data file (notebooks and a
README only), so its Markdown tables are the data. Only the three tables of the "### LLaMA 3"
section are parsed ("#### NVIDIA Gaming GPUs ...", "#### NVIDIA Professional GPUs ...",
"#### Apple Silicon ..."): not the "## Overview" summary tables at the top (they repeat the
tg 1024 / pp 1024 columns) and not the older LLaMA 2 / LLaMA tables. Each table row
``| GPU | Model | tg 512 | ... | pp 8192 |`` becomes eight long rows (one per test and length),
the same long format as the curator's derived CSV (below): an empty GPU cell continues the GPU of
the row above, "3090 24GB * 2" is 2 GPUs of "3090 24GB", bold cells (``**144.49**``) are plain
values, "OOM" cells are kept as ``oom=True`` rows, and the README's U+2011 non-breaking hyphens in
Apple names (e.g. in "M1 7-Core GPU 8GB") become "-". A malformed table raises :class:`DatasetError`
naming the file and line.

Pinned file: ``README.md`` at
https://raw.githubusercontent.com/XiongjieDai/GPU-Benchmarks-on-LLM-Inference/aa72e0ec86c356c41f8281c9733e9a13c3675800/README.md
Its SHA-256 was computed from the README text at that commit as served by a code index (25,781
characters, written as UTF-8), because the machine this adapter was written on has no internet;
should a real download differ, :func:`~inference_estimation.lib.data.external.base.fetch` raises its
checksum error naming the URL.

Fallback: a folder without ``README.md`` is read from ``llama3_llamacpp_bench_from_README.csv`` --
a file DERIVED by the dataset's curator (see its SOURCE.md): the same three tables converted to
long format, values unchanged (what ``../shared/data/external`` holds). Both paths yield the same
800 rows and go through the same mapping.

Measurement (README): ``llama-bench -p 512,1024,4096,8192 -n 512,1024,4096,8192`` with LLaMA-3
8B/70B GGUF in Q4_K_M or F16, every layer offloaded to the GPU(s) (``-ngl 10000``), one stream
(batch 1), multi-GPU by llama.cpp's default layer split. Values are average tokens/s.

Semantics of the two tests (llama-bench):

* ``tg N`` (text_generation): N tokens are generated one at a time from an empty context (no
  prompt) and tokens/s = N / generation time. -> decode: ``output_tokens = N``,
  ``output_throughput_tok_s = tok/s``, ``tpot_s = 1 / (tok/s)`` (mean time per generated token,
  over a context growing from 0 to N). ``input_tokens = 0``: the prompt is empty (the record's
  0 = no prompt, null = not known).
* ``pp N`` (prompt_processing): one N-token prompt is evaluated and tokens/s = N / prompt time.
  -> prefill: ``input_tokens = N``, ``ttft_s = N / (tok/s)``. That is the prefill TIME of the
  prompt derived from the throughput, not a TTFT measured by a client (no sampling, no
  scheduling or network); ``output_tokens = 1`` (the forward pass yields one token) and
  ``e2e_latency_s = ttft_s``.

Both: ``batch_size = 1``, ``mode = offline``, ``engine = llama.cpp`` (build not stated -> no
version), ``tensor_parallel = 1`` (llama.cpp splits LAYERS across GPUs -- pipeline-style, not
tensor parallelism -- so each layer runs on one device), ``device_count = num_gpus``.
Quantisation: Q4_K_M -> ``int4`` (4-bit k-quant weights, ~4.8 bits/weight on average; the record
has no finer type), F16 -> ``float16``. "OOM" cells -> ``status = oom`` with an error and no
metrics.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from inference_estimation.lib.data.external.base import Adapter, AdapterOutput, DatasetError, RemoteFile

README_FILE = "README.md"
CSV_FILE = "llama3_llamacpp_bench_from_README.csv"
REPOSITORY = "XiongjieDai/GPU-Benchmarks-on-LLM-Inference"
COMMIT = "aa72e0ec86c356c41f8281c9733e9a13c3675800"
#: SHA-256 of README.md at COMMIT (see the module docstring for how it was obtained).
README_SHA256 = "1222c372f95d48c023dc738bb4578e6c02eee7dd308ee564d6b05ce688604d17"
README_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/{README_FILE}"
#: Columns of the long-format rows, in the derived CSV's order (both read paths yield these).
LONG_COLUMNS = ("section", "gpu", "num_gpus", "model", "quantization", "test", "num_tokens", "tokens_per_s", "oom")
#: llama-bench test -> ``prompt_type``: what the row's workload is (the record says it too:
#: tg rows have 0 input tokens, pp rows 1 output token).
PROMPT_TYPES = {
    "tg": "llama-bench-tg: decode from an empty prompt, batch 1",
    "pp": "llama-bench-pp: prefill of the prompt, 1 output token, batch 1",
}
#: The README section whose tables are read (a level-3 heading, e.g. "### LLaMA 3 🦙🦙🦙:"); the
#: model family its "Model" cells ("8B Q4_K_M") belong to.
README_SECTION = re.compile(r"LLaMA 3(?![\d.])")
MODEL_FAMILY = "LLaMA 3"

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
_TEST_NAMES = {short: name for name, short in TESTS.items()}
_TEST_COLUMN = re.compile(r"(tg|pp)\s+(\d+)", re.IGNORECASE)
_SEPARATOR_CELL = re.compile(r":?-+:?")
_GPU_COUNT = re.compile(r"(.+?)\s*\*\s*(\d+)")
_MODEL_CELL = re.compile(r"(\d+(?:\.\d+)?B)\s+(\S+)")
NON_BREAKING_HYPHEN = "\u2011"


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table line ``| a | b |`` (outer pipes optional), stripped."""
    body = line.strip().removeprefix("|").removesuffix("|")
    return [cell.strip() for cell in body.split("|")]


def _plain(cell: str) -> str:
    """A cell without Markdown bold (``**144.49**``) and with U+2011 hyphens as "-"."""
    text = cell.strip()
    while len(text) >= 4 and text[:2] == text[-2:] and text[:2] in ("**", "__"):
        text = text[2:-2].strip()
    return text.replace(NON_BREAKING_HYPHEN, "-")


def parse_readme(path: Path, source: str = "llamacpp-gpu-bench") -> tuple[list[dict[str, str]], int]:
    """The long-format rows of the "### LLaMA 3" tables of the repository's README.md.

    Walks the Markdown line by line: the section starts at a level-3 heading naming LLaMA 3 and
    ends at the next heading of level 1-3; each level-4 heading inside it names the ``section`` of
    the table below it (the heading text before " ("). Fenced code blocks are skipped.

    Returns:
        The rows (dicts keyed by :data:`LONG_COLUMNS`, values as strings, exactly as the derived
        CSV spells them) and the number of tables read.

    Raises:
        DatasetError: naming the file and line of a malformed table, or when the section or its
            tables are missing.
    """
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{source}: cannot parse {path}: {exc}") from exc

    def fail(lineno: int, message: str) -> DatasetError:
        return DatasetError(f"{source}: {path}, line {lineno}: {message}")

    rows: list[dict[str, str]] = []
    tables = 0
    in_section = found_section = in_code = False
    subsection: str | None = None
    columns: list[tuple[str, str]] | None = None  # (test name, num_tokens) of the table being read
    separator_seen = False
    gpu: tuple[str, str] | None = None  # (name, count) of the last row that named its GPU
    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code, columns = not in_code, None
            continue
        if in_code:
            continue
        heading = re.match(r"(#{1,6})\s+(.*)", stripped)
        if heading:
            level, title = len(heading.group(1)), heading.group(2).strip()
            columns = None
            if level <= 3:
                in_section = level == 3 and README_SECTION.match(title) is not None
                found_section = found_section or in_section
                subsection = None
            elif level == 4 and in_section:
                subsection = title.split(" (")[0].strip()
            continue
        if not in_section:
            continue
        if not stripped.startswith("|"):
            columns = None  # a blank line or text ends a table
            continue
        cells = _cells(stripped)
        if columns is None:  # the header row of a new table
            if subsection is None:
                raise fail(lineno, "table outside a '####' subsection of the LLaMA 3 section")
            tests = [_TEST_COLUMN.fullmatch(c) for c in cells[2:]]
            if [c.lower() for c in cells[:2]] != ["gpu", "model"] or not tests or not all(tests):
                raise fail(lineno, f"unexpected table header {cells} (expected GPU | Model | tg N ... | pp N ...)")
            columns = [(_TEST_NAMES[m.group(1).lower()], m.group(2)) for m in tests if m]
            separator_seen, gpu = False, None
            tables += 1
            continue
        if len(cells) != len(columns) + 2:
            raise fail(lineno, f"table row has {len(cells)} cells, its header {len(columns) + 2}")
        if not separator_seen:
            if not all(_SEPARATOR_CELL.fullmatch(c) for c in cells):
                raise fail(lineno, "expected the header separator row (| --- | --- | ...)")
            separator_seen = True
            continue
        name = _plain(cells[0])
        if name:
            counted = _GPU_COUNT.fullmatch(name)
            gpu = (counted.group(1), str(int(counted.group(2)))) if counted else (name, "1")
            if gpu[1] == "0":
                raise fail(lineno, f"GPU count 0 in {cells[0]!r}")
        elif gpu is None:
            raise fail(lineno, "empty GPU cell with no row above it to continue")
        model = _MODEL_CELL.fullmatch(_plain(cells[1]))
        if model is None:
            raise fail(lineno, f"model cell {cells[1]!r} is not '<size> <quantisation>' (e.g. '8B Q4_K_M')")
        for (test, num_tokens), cell in zip(columns, cells[2:], strict=False):
            value = _plain(cell)
            oom = value.upper() == "OOM"
            if not oom:
                try:
                    value = repr(float(value))  # the derived CSV's spelling: "9382.00" -> "9382.0"
                except ValueError:
                    raise fail(lineno, f"cell {cell!r} is neither tokens/s nor OOM") from None
            rows.append({
                "section": subsection or "",
                "gpu": gpu[0],
                "num_gpus": gpu[1],
                "model": f"{MODEL_FAMILY} {model.group(1)}",
                "quantization": model.group(2),
                "test": test,
                "num_tokens": num_tokens,
                "tokens_per_s": "" if oom else value,
                "oom": str(oom),
            })
    if not found_section:
        raise DatasetError(f"{source}: {path} has no '### {MODEL_FAMILY}' section")
    if not rows:
        raise DatasetError(f"{source}: {path}: the '### {MODEL_FAMILY}' section holds no benchmark table rows")
    return rows, tables


class LlamaCppGpuBenchAdapter(Adapter):
    """llama.cpp batch-1 decode (tg) and prefill (pp) tokens/s for LLaMA 3 on consumer/pro GPUs and Apple."""

    source = "llamacpp-gpu-bench"
    folder = "xiongjiedai_llamacpp_gpu_bench"
    title = "GPU-Benchmarks-on-LLM-Inference (llama.cpp, LLaMA 3)"
    license = "none stated (no LICENSE file in the repository; numbers cited from its README)"
    measured_at = "2024-05-12"
    remote_files = (RemoteFile(README_FILE, README_URL, README_SHA256),)

    def read(self, folder: Path) -> AdapterOutput:
        """Maps the README's LLaMA 3 tables, or the derived CSV where the folder has no README.md."""
        readme = folder / README_FILE
        if readme.exists():
            raw_rows, tables = parse_readme(readme, self.source)
            note = (f"read {README_FILE} of {REPOSITORY}@{COMMIT[:7]} (the original): {tables} tables of the "
                    f"'### {MODEL_FAMILY}' section -> {len(raw_rows)} rows")
        elif (folder / CSV_FILE).exists():
            raw_rows = self._read_csv(folder / CSV_FILE)
            note = (f"read {CSV_FILE} (derived by the dataset curator from README.md tables of "
                    f"{REPOSITORY}@{COMMIT[:7]}): {len(raw_rows)} rows")
        else:
            raise DatasetError(f"{self.source}: missing file {readme} (or the derived {CSV_FILE} beside it)")
        out = AdapterOutput(notes=[note])
        for raw in raw_rows:
            row = self._map(raw, out)
            if row is None:
                continue
            identity = tuple(raw[c] for c in ("gpu", "num_gpus", "model", "quantization", "test", "num_tokens"))
            if out.first_time(identity, "duplicate row"):
                out.rows.append(row)
        return out

    def _read_csv(self, path: Path) -> list[dict[str, str]]:
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                raw_rows = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DatasetError(f"{self.source}: cannot parse {path}: {exc}") from exc
        missing = {"gpu", "num_gpus", "model", "quantization", "test", "num_tokens", "tokens_per_s", "oom"} - set(
            raw_rows[0] if raw_rows else {})
        if missing:
            raise DatasetError(f"{self.source}: {path} lacks column(s) {sorted(missing)}")
        return raw_rows

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
            "prompt_type": PROMPT_TYPES[test],
            "power_source": "none",
        }
        if test == "tg":
            # A decode from an empty context: no prompt (0 input tokens), N generated tokens.
            row["input_tokens"] = 0
            row["output_tokens"] = num_tokens
        else:
            # A prefill of the N-token prompt; the test's one forward pass yields one token.
            row["input_tokens"] = num_tokens
            row["output_tokens"] = 1

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
            # client-measured TTFT. With one output token the whole run is that prefill
            # (e2e = ttft + (1 - 1) tpot).
            row["ttft_s"] = num_tokens / tok_s
            row["e2e_latency_s"] = row["ttft_s"]
        return row


ADAPTERS = [LlamaCppGpuBenchAdapter()]
