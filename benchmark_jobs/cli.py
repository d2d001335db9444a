"""Command line of the harness.

    python -m benchmark_jobs run --spec spec.json [--out rows.jsonl]   # standalone
    python -m benchmark_jobs run --pipes                               # under Dagster Pipes
    python -m benchmark_jobs probe [--seconds 3]                       # CPU roofline + power probe

Standalone, records go to ``--out`` (or stdout) as JSON lines -- or, when ``--out`` ends in
``.csv``, as a canonical CSV (one column per record field), which ``inference-estimation import
user-csv`` lands as it is -- and progress to stderr. Under
Pipes, the spec comes from the ``spec`` extra and each record is sent as a custom message
``{"type": "measurement", "record": {...}}`` as soon as it is measured. A fatal error (bad spec,
model cannot be built) exits non-zero with a message; failing points are rows with a status.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import IO

from benchmark_jobs.schema import MeasurementRecord
from benchmark_jobs.spec import JobSpec, SpecError

#: Custom-message type of a measurement row (the orchestrator filters on it).
MEASUREMENT_MESSAGE_TYPE = "measurement"

EXIT_OK = 0
EXIT_FATAL = 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parses arguments and runs the chosen command; returns the process exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "probe":
        return _probe(args.seconds)
    if args.pipes:
        return _run_pipes()
    return _run_standalone(args.spec, args.out)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmark_jobs", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="measure the points of a job spec")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--spec", help="path of a JSON job spec (standalone mode)")
    source.add_argument(
        "--pipes", action="store_true", help="read the spec from Dagster Pipes and report through it"
    )
    run.add_argument("--out", help="output file (standalone; default stdout): JSON lines, or a canonical CSV "
                                   "for `inference-estimation import user-csv` when the name ends in .csv")
    probe = commands.add_parser(
        "probe", help="measure peak matmul GFLOP/s and memory GB/s of this CPU; name the power sources"
    )
    probe.add_argument("--seconds", type=float, default=3.0, help="time budget of the probe in seconds")
    return parser


def _stderr_log(message: str) -> None:
    print(f"[benchmark_jobs] {message}", file=sys.stderr, flush=True)


def _fatal(message: str) -> int:
    print(f"benchmark_jobs: error: {message}", file=sys.stderr, flush=True)
    return EXIT_FATAL


def _run_standalone(spec_path: str, out_path: str | None) -> int:
    from benchmark_jobs.runner import BenchmarkSetupError, run_spec

    try:
        spec = JobSpec.from_file(spec_path)
    except (SpecError, OSError) as exc:
        return _fatal(str(exc))
    with contextlib.ExitStack() as stack:
        out: IO[str] = (stack.enter_context(open(out_path, "w", encoding="utf-8", newline=""))
                        if out_path else sys.stdout)
        as_csv = bool(out_path) and out_path.lower().endswith(".csv")
        writer = csv.DictWriter(out, fieldnames=[f.name for f in dataclasses.fields(MeasurementRecord)])
        if as_csv:
            writer.writeheader()

        def emit(record: MeasurementRecord) -> None:
            if as_csv:  # empty = null; booleans as true/false (what the canonical reader parses)
                writer.writerow({k: "" if v is None else str(v).lower() if isinstance(v, bool) else v
                                 for k, v in record.to_dict().items()})
            else:
                out.write(json.dumps(record.to_dict()) + "\n")
            out.flush()  # a crash later still leaves the rows measured so far

        try:
            records = run_spec(spec, emit, _stderr_log)
        except BenchmarkSetupError as exc:
            return _fatal(str(exc))
    failed = sum(r.status != "ok" for r in records)
    _stderr_log(f"done: {len(records)} records ({failed} not ok)")
    return EXIT_OK


def _run_pipes() -> int:
    # Imported here: dagster_pipes is only needed (and only installed) where Pipes is used.
    from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

    from benchmark_jobs.pipes_transport import TransportError, message_writer
    from benchmark_jobs.runner import BenchmarkSetupError, run_spec

    if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
        return _fatal("--pipes given but this process was not launched by Dagster Pipes")
    try:
        # Leaving the block with an exception reports it to the orchestrator (which then lands
        # nothing) before it propagates; expected fatal errors are then printed as one line.
        with open_dagster_pipes(message_writer=message_writer()) as pipes:
            try:
                spec_data = pipes.extras.get("spec")
                if spec_data is None:
                    raise SpecError("the Pipes extras have no 'spec'")
                spec = JobSpec.from_dict(spec_data)

                def emit(record: MeasurementRecord) -> None:
                    pipes.report_custom_message({"type": MEASUREMENT_MESSAGE_TYPE, "record": record.to_dict()})

                records = run_spec(spec, emit, pipes.log.info)
            except (SpecError, BenchmarkSetupError) as exc:
                pipes.log.error(f"benchmark_jobs: {exc}")  # the reason, in the orchestrator's run log
                raise
            pipes.log.info(f"done: {len(records)} records ({sum(r.status != 'ok' for r in records)} not ok)")
    except (SpecError, BenchmarkSetupError, TransportError) as exc:
        return _fatal(str(exc))
    return EXIT_OK


def _probe(seconds: float) -> int:
    from benchmark_jobs.probe import probe_cpu, probe_power_sources

    result: dict[str, object] = dict(probe_cpu(max_seconds=seconds))
    result["power_sources"] = probe_power_sources()
    print(json.dumps(result))
    return EXIT_OK
