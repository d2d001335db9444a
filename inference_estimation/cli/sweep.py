"""The job sequencer: ``sweep``, ``refresh`` and ``import`` run Dagster jobs one after another.

``sweep`` materializes the whole graph for one sweep in the persistent Dagster instance inside
``$INFERENCE_ESTIMATION_HOME`` (so ``dagster dev`` afterwards shows every run, materialization
and its lineage): catalog facts, the public datasets, one run per benchmark partition,
``dbt build``, one training + SHAP run per primitive target, then the coherent model's score.
Each job is one :class:`StepRunner` call, one status line; a card summary of the predictors ends
a good run. ``refresh`` is the same from ``dbt build`` on; ``import`` lands datasets only.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from inference_estimation.cli.args import dagster_quietly, lenient_catalog, log_config
from inference_estimation.constants import DEFAULT_SWEEP  # constants only: a light import

#: Environment variable: seconds between the "still running" lines of a long step (0: none).
#: Unset, a terminal gets one every :data:`HEARTBEAT_TERMINAL_S` and a pipe or file none.
HEARTBEAT_ENV = "INFERENCE_ESTIMATION_HEARTBEAT_S"
#: Seconds between "still running" lines when stdout is a terminal.
HEARTBEAT_TERMINAL_S = 60.0

#: Exceptions that are the user's to fix (their file, folder or catalog): one line, exit 2.
USER_ERROR_CLASSES = ("CanonicalFormatError", "DatasetError", "CatalogError", "VocabularyError")


def heartbeat_interval_s(stream: TextIO | None = None) -> float | None:
    """Seconds between the "still running" lines of a step, or None for none (see :data:`HEARTBEAT_ENV`)."""
    text = os.environ.get(HEARTBEAT_ENV, "").strip()
    if text:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value or None
        print(f"warning: {HEARTBEAT_ENV}={text!r} is not a number of seconds >= 0; ignored", file=sys.stderr)
    stream = sys.stdout if stream is None else stream
    return HEARTBEAT_TERMINAL_S if getattr(stream, "isatty", lambda: False)() else None


class StepRunner:
    """Runs jobs one at a time in one Dagster instance, each as one status line.

    A call runs the job in process and prints ``[elapsed] label: ok|FAILED|not promoted: <reason>
    in <s> (run <id>)``: a good run of the whole graph fits on one screen. On a terminal the line
    ``[elapsed] label ...`` shows what runs until the status line overwrites it; with a heartbeat
    it stays, and while a job runs longer than ``heartbeat_s`` a line every ``heartbeat_s`` says it
    still does, so a long benchmark is not minutes of silence. What the job prints (dbt's log
    lines) is kept and shown only if it fails, followed by its failed steps' errors; a designed
    refusal of the promotion gate is not a failure.

    Args:
        defs: The definitions whose jobs are run (resolved by name).
        instance: The Dagster instance that records the runs.
        verbose: Show what each job prints while it runs instead of only on failure.
        heartbeat_s: Seconds between "still running" lines; None for none.
        live: Whether stdout is a terminal (the start line is overwritten by the status line).
    """

    def __init__(self, defs: Any, instance: Any, *, verbose: bool = False, heartbeat_s: float | None = None,
                 live: bool = False):
        self.defs = defs
        self.instance = instance
        self.verbose = verbose
        self.heartbeat_s = heartbeat_s
        self.live = live
        self.started = time.perf_counter()

    def clock(self) -> str:
        """Seconds since the runner started, as the ``[  123.4s]`` prefix of its lines."""
        return f"[{time.perf_counter() - self.started:7.1f}s]"

    def __call__(self, label: str, job_name: str, quiet: bool = False, **kwargs: Any) -> Any:
        """Runs job ``job_name`` (``kwargs`` go to ``execute_in_process``) and returns its result.

        Args:
            label: what the step does, for its lines.
            job_name: the job.
            quiet: print nothing unless it fails (a step summarised by its caller).
            **kwargs: ``execute_in_process`` arguments (partition key, run config, tags).
        """
        t0 = time.perf_counter()
        if not quiet and self.heartbeat_s is not None:
            print(f"{self.clock()} {label} ...", flush=True)
        elif not quiet and self.live and not self.verbose:
            print(f"{self.clock()} {label} ...", end="\r", flush=True)
        captured = io.StringIO()
        keep_output = contextlib.redirect_stdout(captured) if not self.verbose else contextlib.nullcontext()
        with self._heartbeat(label, t0, out=sys.stdout), keep_output:
            result = self.defs.resolve_job_def(job_name).execute_in_process(
                instance=self.instance, raise_on_error=False, **kwargs)
        refusal = gate_refusal(result) if job_name == "training_job" else None
        status = f"not promoted: {refusal}" if refusal else "ok" if result.success else "FAILED"
        if not quiet or not (result.success or refusal):
            print(f"{self.clock()} {label}: {status} in {time.perf_counter() - t0:.1f}s (run {result.run_id[:8]})",
                  flush=True)
        if not result.success and not refusal:
            tail = captured.getvalue().strip().splitlines()[-40:]
            if tail:
                print("  output of the failed job (last lines):\n    " + "\n    ".join(tail), file=sys.stderr)
            for event in result.all_events:
                if event.is_step_failure:
                    print(f"  {event.step_key}: {event.event_specific_data.error.to_string()}", file=sys.stderr)
        return result

    @contextlib.contextmanager
    def _heartbeat(self, label: str, t0: float, out: TextIO) -> Iterator[None]:
        """While the block runs, a daemon thread writes a "still running" line to ``out`` (the real
        stdout: the job's own output is redirected) every ``heartbeat_s``; it is joined on exit."""
        if self.heartbeat_s is None:
            yield
            return
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.heartbeat_s):
                minutes = (time.perf_counter() - t0) / 60
                print(f"{self.clock()}   ... still running {label} ({minutes:.1f} min)", file=out, flush=True)

        thread = threading.Thread(target=beat, name=f"heartbeat: {label}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def gate_refusal(result: Any) -> str | None:
    """The promotion gate's reason when it refused a predictor (a designed outcome), else None.

    A refusal is the blocking ``beats_baselines`` check failing (ERROR) and nothing else failing in
    the run. A target with too little data to train is no refusal: its check only warns and the run
    succeeds (``promoted_predictors`` records ``trained: false``), so a successful run gives None.
    """
    if result.success:
        return None
    gate = [e for e in result.get_asset_check_evaluations() if e.check_name == "beats_baselines"]
    other_failures = [e for e in result.all_events if e.is_step_failure
                      and e.event_specific_data.error.cls_name != "DagsterAssetCheckFailedError"]
    if gate and not gate[0].passed and not other_failures:
        reason = gate[0].metadata.get("reason")
        return str(reason.value) if reason is not None else "did not beat its baselines"
    return None


def sweep_command(args: argparse.Namespace) -> int:
    """``sweep`` (and ``refresh``, with ``args.refresh_only``): the graph's jobs in order, one line each."""
    from inference_estimation.lib.home import activate_home

    home = activate_home(args.home)
    dg = dagster_quietly()
    from inference_estimation import constants
    from inference_estimation.definitions import defs
    from inference_estimation.defs.benchmark_requests import benchmark_run_request
    from inference_estimation.defs.partitions import ensure_benchmark_partitions
    from inference_estimation.lib.catalog import load_catalog

    catalog = load_catalog()
    sweeps = [catalog.sweep(name) for name in dict.fromkeys(args.sweep or [DEFAULT_SWEEP])]
    instance = dg.DagsterInstance.get()
    logs = log_config(args.log_level)
    run = StepRunner(defs, instance, verbose=args.verbose, heartbeat_s=heartbeat_interval_s(),
                     live=sys.stdout.isatty())
    refresh_only = getattr(args, "refresh_only", False)
    if refresh_only:
        sweeps = []
        print(f"refresh: dbt, the predictors and their evaluation from what is in the warehouse; home {home.root}")
    for each in sweeps:
        print(f"sweep {each.name!r} ({each.backend}): {len(each.models)} model(s) x {len(each.hardware)} hardware; "
              f"home {home.root}")
    failures: list[str] = []  # steps that failed: exit 1
    notes: list[str] = []  # steps that did not deliver but are no failure (an import, a refused promotion)

    # 1. catalog facts and the hardware probe; the catalog's benchmark partitions exist from here on
    if not refresh_only and not run("catalog facts and hardware probe", "catalog_job", run_config=logs).success:
        failures.append("catalog_job")
    added = [] if refresh_only else ensure_benchmark_partitions(instance, load_catalog())  # after the probe
    if added:
        print(f"new benchmark partition keys: {added}", flush=True)

    # 2. the public datasets
    if not args.no_external and not refresh_only:
        notes += _import_public_datasets(run, args, logs)

    # 3. one benchmark run per (model, hardware) partition of each sweep
    for each in sweeps:
        for hardware_key in each.hardware:
            for model_key in each.models:
                request = benchmark_run_request(catalog, each.name, model_key, hardware_key, run_key=None)
                result = run(f"benchmark {model_key} on {hardware_key} ({each.name})", "benchmark_job",
                             partition_key=request.partition_key, run_config={**logs, **request.run_config},
                             tags=request.tags)
                if not result.success:
                    failures.append(f"benchmark {request.partition_key} ({each.name})")

    # 4. the marts
    if not run("dbt build", "transform_job", run_config=logs).success:
        print("dbt failed; predictors not trained", file=sys.stderr)
        return 1

    # 5. the predictors: one per primitive, then the step-time model
    _train(run, logs, notes, failures, getattr(args, "all_primitives", False))

    # 6. the full comparison with the previous design (every split, calibrated campaigns) is the weekly
    # performance_model_job and benchmarks/accuracy.py; the main job scores the step model on unseen
    # hardware (step_model_evaluation, in step_model_job above)

    print(f"done in {time.perf_counter() - run.started:.1f}s; home {home.root}")
    if notes:
        print("notes: " + "; ".join(notes), file=sys.stderr)
    if failures:
        print("failed: " + "; ".join(failures), file=sys.stderr)
        return 1
    _print_card_summary(home.predictors_dir, constants.PRIMITIVES if getattr(args, "all_primitives", False)
                        else constants.SERVED_PRIMITIVES)
    print("  time targets (TTFT, TPOT, e2e, throughput) are answered by the step-time model "
          "(`predict --explain` takes an answer apart)")
    return 0


def _import_public_datasets(run: StepRunner, args: argparse.Namespace, logs: dict[str, Any]) -> list[str]:
    """Imports every public dataset (one status line for all); returns a note per failed import."""
    from inference_estimation.lib.data.external.registry import EXTERNAL_DIR_ENV, all_adapters

    notes: list[str] = []
    from_path = args.external_from or os.environ.get(EXTERNAL_DIR_ENV)
    where = from_path or "their pinned public URLs"
    sources, t0 = all_adapters(), time.perf_counter()
    if run.live:
        print(f"{run.clock()} import {len(sources)} public datasets ...", end="\r", flush=True)
    for source in sources:  # one line for all of them; a failed import says so on its own line
        config = {**logs, "ops": {"external_benchmarks": {"config": {"from_path": from_path}}}}
        if not run(f"import {source} from {where}", "import_job", quiet=True, partition_key=source,
                   run_config=config).success:
            notes.append(f"import {source}")
    imported = len(sources) - len([n for n in notes if n.startswith("import ")])
    print(f"{run.clock()} import {imported} of {len(sources)} public datasets from {where}: "
          f"{'ok' if imported == len(sources) else 'see the lines above'} in {time.perf_counter() - t0:.1f}s",
          flush=True)
    return notes


def _train(run: StepRunner, logs: dict[str, Any], notes: list[str], failures: list[str],
           all_primitives: bool = False) -> None:
    """Trains, evaluates, promotes and explains each served primitive (every primitive with
    ``all_primitives``; a refused promotion is a note, not a failure), then fits, checks, promotes,
    calibrates and scores the step-time model."""
    from inference_estimation import constants

    for target in constants.PRIMITIVES if all_primitives else constants.SERVED_PRIMITIVES:
        result = run(f"train, evaluate, promote, explain {target}", "training_job", partition_key=target,
                     run_config=logs)
        refusal = gate_refusal(result)
        if refusal:  # designed: it did not beat its baselines (too little data to train is no refusal)
            notes.append(f"{target} not promoted ({refusal})")
        elif not result.success:
            failures.append(f"training {target}")

    # 5b. the step-time model (what `predict` answers time targets with), checked and promoted
    if not run("fit, check, promote, calibrate and score the step-time model", "step_model_job",
               run_config=logs).success:
        failures.append("step_model_job")


def _print_card_summary(predictors_dir: Path, targets: Sequence[str]) -> None:
    """One line per target from its predictor card: held-out MdAPE, interval coverage, promoted or not."""
    from inference_estimation.lib.ml import predictor_store

    for target in targets:
        trained = predictor_store.read_pointer(predictors_dir, predictor_store.TRAINED, target)
        if trained is None:
            print(f"  {target:26s} not trained (too little usable data; power needs measured power)")
            continue
        m = json.loads((trained.folder / "card.json").read_text())["metrics"]
        promoted_pointer = predictor_store.read_pointer(predictors_dir, predictor_store.PROMOTED, target)
        promoted = promoted_pointer is not None and promoted_pointer.version == trained.version
        print(f"  {target:26s} grouped-by-model held-out MdAPE {m['holdout_mdape_pct']:6.1f}%  "
              f"90% coverage {m['holdout_interval_coverage_90']:.2f}"
              + (f"  | physics baseline MdAPE {m['baseline_physics_mdape_pct']:.1f}%"
                 if "baseline_physics_mdape_pct" in m else "")
              + ("  promoted" if promoted else "  NOT promoted"))


def _import_sources() -> list[str]:
    """Every source `import` takes: the public datasets' adapters, then `user-csv`."""
    from inference_estimation.lib.data.external.importer import USER_CSV_SOURCE
    from inference_estimation.lib.data.external.registry import all_adapters

    return [*all_adapters(), USER_CSV_SOURCE]


def import_description() -> str:
    """The ``import`` command's description, naming its sources (built only when help is shown)."""
    return ("Import public measurement datasets (or your own canonical CSVs) into the warehouse. "
            f"Sources: {', '.join(_import_sources())}; `all` imports every public dataset.")


def _failure_message(result: Any) -> tuple[str, str]:
    """(exception class, first message line) of a failed in-process run's first step failure."""
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error
            while error.cause is not None and error.cls_name in ("DagsterExecutionStepExecutionError",):
                error = error.cause
            return error.cls_name, error.message.strip()
    return "", "the run failed (see the Dagster UI for its log)"


def import_command(args: argparse.Namespace) -> int:
    """``import``: land public datasets (or the user's canonical CSVs), one line per source."""
    from inference_estimation.lib.data.external.importer import USER_CSV_SOURCE

    known = _import_sources()
    sources = [s for s in known if s != USER_CSV_SOURCE] if args.source == "all" else [args.source]
    unknown = [s for s in sources if s not in known]
    if unknown:
        print(f"error: unknown source {', '.join(unknown)}; known: {', '.join(known)}, all", file=sys.stderr)
        return 2
    if args.from_path is not None and not Path(args.from_path).is_dir():
        print(f"error: --from {args.from_path}: no such folder", file=sys.stderr)
        return 2
    from inference_estimation.lib.home import activate_home

    home = activate_home(args.home)
    if USER_CSV_SOURCE in sources:  # the user's own files: every bad row named before anything runs
        from inference_estimation.lib.catalog import CatalogError
        from inference_estimation.lib.data.external.canonical import CanonicalFormatError, check_canonical_csv

        folder = Path(args.from_path) if args.from_path else home.root / "imports"
        paths = sorted(folder.glob("*.csv")) if folder.is_dir() else []
        if not paths:
            print(f"error: no *.csv file in {folder} (put canonical CSVs there or pass --from FOLDER)", file=sys.stderr)
            return 2
        try:
            catalog = lenient_catalog()
        except CatalogError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        bad_files = 0
        for path in paths:  # every file's bad cells, each file in one pass
            try:
                check_canonical_csv(path, catalog)
            except CanonicalFormatError as exc:
                bad_files += 1
                for line in str(exc).splitlines():
                    print(f"error: {line}", file=sys.stderr)
        if bad_files:
            print(f"error: {bad_files} of {len(paths)} file(s) refused; nothing was imported", file=sys.stderr)
            return 2
    dg = dagster_quietly()
    from inference_estimation.definitions import defs

    instance = dg.DagsterInstance.get()
    logs = log_config(args.log_level)
    status = 0
    imported = 0
    started = time.perf_counter()
    catalog_run = defs.resolve_job_def("catalog_job").execute_in_process(
        instance=instance, run_config=logs, raise_on_error=False)
    if not catalog_run.success:
        print(f"error: catalog facts: {_failure_message(catalog_run)[1].splitlines()[0]}", file=sys.stderr)
        return 1
    for source in sources:
        t0 = time.perf_counter()
        config = {**logs, "ops": {"external_benchmarks": {"config": {"from_path": args.from_path}}}}
        result = defs.resolve_job_def("import_job").execute_in_process(
            instance=instance, partition_key=source, run_config=config, raise_on_error=False)
        if not result.success:
            cls, message = _failure_message(result)
            user_error = cls in USER_ERROR_CLASSES
            status = max(status, 2 if user_error else 1)
            first = message.splitlines()[0] if message else cls
            print(f"{source:24s} {'error' if user_error else 'FAILED'}: {first} (run {result.run_id[:8]})",
                  file=sys.stderr, flush=True)
            continue
        imported += 1
        meta = {k: v.value for k, v in result.asset_materializations_for_node("external_benchmarks")[-1].metadata.items()}
        print(f"{source:24s} read {meta['rows_read']:6d}  mapped {meta['rows_mapped']:6d}  rejected "
              f"{meta['rows_rejected']:6d}  landed {meta['rows_landed']:6d}  in {time.perf_counter() - t0:5.1f}s",
              flush=True)
    print(f"imported {imported} of {len(sources)} source(s) in {time.perf_counter() - started:.1f}s; home {home.root}")
    _print_usage(home, sources)
    return status


def _print_usage(home: Any, sources: list[str]) -> None:
    """Rows used per source and target in the last built ``marts.training_features`` (if built).

    The marts are rebuilt by the transform step (``sweep`` or the Dagster UI), not by ``import``,
    so the lines say which build they describe.
    """
    import duckdb

    from inference_estimation.lib.data.row_usage import REPORT_TARGETS, step_training_rows, usage_report

    path = home.warehouse_path
    if not Path(path).exists():
        return
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            frame = con.execute("select * from marts.training_features").df()
    except duckdb.Error:
        return  # marts not built yet
    frame = frame[frame["source"].isin(sources)]
    if frame.empty:
        return
    report = usage_report(frame)
    from inference_estimation.targets import REGISTRY

    print("rows used for training / rows measured, per target (marts.training_features as last transformed; "
          "reasons in the dataset report):")
    for source, lines in report.groupby("source"):
        cells = [f"{REGISTRY[t].short} {int(r.used)}/{int(r.present)}" for t in REPORT_TARGETS
                 for r in lines[lines["target"] == t].itertuples() if r.present]
        print(f"  {source:24s} " + "  ".join(cells))
    step = step_training_rows(frame).set_index("source").loc["all"]
    print(f"rows that train the step model: {step['train']:,} of {step['rows']:,} "
          f"({step['train_with_workload']:,} with a stated prompt and output length)")
