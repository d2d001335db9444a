"""``calibrate``: plan the few benchmark points that calibrate a device best, then measure and retrain."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from inference_estimation.cli.args import dagster_quietly, lenient_catalog, log_config


def calibrate_command(args: argparse.Namespace) -> int:
    """Plans a device's next calibration points through Dagster (next_benchmarks) and, unless
    ``--dry-run``, benchmarks them (benchmark_job, the points in the run config) and refreshes."""
    from inference_estimation.lib.home import activate_home

    home = activate_home(args.home)
    catalog = lenient_catalog()
    if getattr(args, "from_csv", None):
        return _calibrate_from_csv(args, catalog, home)
    if not args.hardware:
        print("error: --hardware is required (or --from FILE.csv to calibrate from your measurements)", file=sys.stderr)
        return 2
    hardware = catalog.hw(args.hardware)
    if args.points < 1:
        print(f"error: --points must be >= 1, got {args.points}", file=sys.stderr)
        return 2
    if hardware.key not in catalog.partition_hardware:  # no partition: planned here, without Dagster
        if not args.dry_run:
            print(f"error: hardware {hardware.key!r} has no launcher in the catalog, so this tool cannot benchmark "
                  "it; `--dry-run` plans its points to measure by hand (and says how), or give it a launcher "
                  "(local or dstack) in an overlay file", file=sys.stderr)
            return 2
        return _plan_by_hand(args, catalog, hardware, home)
    dg = dagster_quietly()
    from inference_estimation.definitions import defs
    from inference_estimation.defs.partitions import ensure_benchmark_partitions
    instance = dg.DagsterInstance.get()
    ensure_benchmark_partitions(instance, catalog)
    logs = log_config(args.log_level)
    plan_config = {**logs, "ops": {"next_benchmarks": {"config": {
        "points": args.points, "sweep": args.sweep, "uncertainty": args.uncertainty,
        "models": _model_keys(catalog, args)}}}}

    def plan() -> dict[str, Any] | None:
        result = defs.resolve_job_def("calibration_job").execute_in_process(
            instance=instance, partition_key=hardware.key, run_config=plan_config, raise_on_error=False)
        if not result.success:
            failure = next((e for e in result.all_events if e.is_step_failure), None)
            reason = failure.event_specific_data.error.message.strip() if failure else "see the run's logs"
            print(f"error: planning {hardware.key} failed (run {result.run_id[:8]}): {reason}", file=sys.stderr)
            return None
        events = result.asset_materializations_for_node("next_benchmarks")
        return {k: v.value for k, v in events[-1].metadata.items()}

    meta = plan()
    if meta is None:
        return 1
    _print_plan(args, hardware, home, meta)
    points = meta.get("points") or {}
    if args.dry_run or not points:
        return 0
    return _benchmark_and_refresh(args, hardware, meta, instance, logs, plan)


def _model_keys(catalog: Any, args: argparse.Namespace) -> list[str] | None:
    """The catalog keys of ``--model`` (None: the sweep's models)."""
    return [catalog.model(m).key for m in args.models] if getattr(args, "models", None) else None


def _print_plan(args: argparse.Namespace, hardware: Any, home: Any, meta: dict[str, Any]) -> None:
    """The plan as JSON, or as text with the serving points and the next step."""
    if args.format == "json":
        print(json.dumps(meta, indent=2, default=str))
    else:
        print(f"calibration plan for {hardware.key} (sweep {meta['sweep']}; {meta['measured_rows']} measured rows "
              f"of it in the training data; home {home.root})")
        if meta.get("plan"):
            print(meta["plan"])
        if meta.get("notes", "none") != "none":
            print("notes: " + str(meta["notes"]).replace("\n", "; "))
        _print_serving_points(meta.get("serving_points") or [])
        if meta.get("points"):
            how = (f"through dstack ({hardware.launcher.type} launcher)" if hardware.launcher.type == "dstack"
                   else f"on this machine ({hardware.launcher.type} launcher)")
            print(f"next: `inference-estimation calibrate --hardware {hardware.key} --points {args.points}"
                  f"{'' if args.sweep is None else f' --sweep {args.sweep}'}` benchmarks the offline points {how}, "
                  "then rebuilds and retrains; the serving points need the engine's OpenAI-compatible server up "
                  "and a sweep with backend openai-server (serving.concurrencies)")


def _benchmark_and_refresh(args: argparse.Namespace, hardware: Any, meta: dict[str, Any], instance: Any,
                           logs: dict[str, Any], plan: Any) -> int:
    """Benchmarks the planned points (one run per model), then rebuilds the marts, retrains the
    primitives and the step model (and the calibrations) and plans again."""
    from inference_estimation import constants
    from inference_estimation.definitions import defs
    from inference_estimation.defs.benchmark_requests import benchmark_run_config
    from inference_estimation.defs.partitions import benchmark_partition_key

    points = meta.get("points") or {}
    failures = []
    for model_key, model_points in points.items():
        key = benchmark_partition_key(model_key, hardware.key)
        t0 = time.perf_counter()
        result = defs.resolve_job_def("benchmark_job").execute_in_process(
            instance=instance, partition_key=key, raise_on_error=False,
            run_config={**logs, **benchmark_run_config(meta["sweep"], model_points)},
            tags={constants.HOST_TAG: hardware.host, "sweep": meta["sweep"], "calibration_plan": str(meta["plan_id"])})
        status = "ok" if result.success else "FAILED"
        print(f"benchmark {model_key} on {hardware.key}: {len(model_points)} point(s) {status} in "
              f"{time.perf_counter() - t0:.1f}s (run {result.run_id[:8]})", flush=True)
        if not result.success:
            failures.append(str(key))
    if failures:
        print("failed: " + "; ".join(failures), file=sys.stderr)
        return 1
    if args.no_refresh:
        return 0
    refresh = ([("transform_job", None)] + [("training_job", t) for t in constants.SERVED_PRIMITIVES]
               + [("step_model_job", None)])
    for job, partition in refresh:
        result = defs.resolve_job_def(job).execute_in_process(instance=instance, partition_key=partition,
                                                              run_config=logs, raise_on_error=False)
        print(f"refresh {job}{'' if partition is None else f' {partition}'}: {'ok' if result.success else 'FAILED'}",
              flush=True)
    after = plan()
    if after is not None and after.get("planned_points"):
        print(f"after: {after['measured_rows']} measured rows of {hardware.key}; expected error of the next plan "
              f"{after['expected_error_before_pct']}% -> {after['expected_error_after_pct']}%")
    return 0


def _print_serving_points(serving: list[dict[str, Any]]) -> None:
    if not serving:
        return
    print("serving points (beside the offline ones; a deployment is sized by serving):")
    for p in serving:
        print(f"  {p['model']}: concurrency {p['concurrency']}, {p['input_tokens']} input / {p['output_tokens']} "
              f"output tokens, {p['dtype']}")


def _plan_by_hand(args: argparse.Namespace, catalog: Any, hardware: Any, home: Any) -> int:
    """``--dry-run`` for a device without a launcher: the plan, its harness specs and the next step.

    Nothing is benchmarked and nothing is recorded in Dagster (the device is no partition). The
    offline points are written as harness job specs under the home, so they can be measured on
    the device itself and imported with ``import user-csv``.
    """
    from pathlib import Path

    import duckdb
    import pandas as pd

    from benchmark_jobs.spec import WorkloadPoint
    from inference_estimation.lib.catalog import CatalogError
    from inference_estimation.lib.ml.calibration import axes_sweep, plan_for_hardware, with_device_in_sweep
    from inference_estimation.lib.sweeps.planning import build_job_spec

    sweep = args.sweep or axes_sweep(catalog, hardware.key)
    if sweep is None:
        print(f"error: no sweep has a device of kind {hardware.kind!r} to plan {hardware.key} over; name one with "
              "--sweep", file=sys.stderr)
        return 2
    try:
        planning = with_device_in_sweep(catalog, hardware.key, sweep)
    except CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    frame = pd.DataFrame(columns=["hardware_key", "model_key"])
    if home.warehouse_path.exists():
        try:
            with duckdb.connect(str(home.warehouse_path), read_only=True) as con:
                frame = con.execute("select * from marts.training_features").df()
        except duckdb.Error:
            pass  # no marts yet: plan by coverage
    result = plan_for_hardware(planning, home.predictors_dir, frame, hardware.key, args.points, sweep=sweep,
                               method=args.uncertainty, models=_model_keys(catalog, args))
    points = result.points_by_model()
    serving = result.serving_points() if result.plan else []
    folder = home.root / "calibration" / hardware.key
    specs: list[Path] = []
    entry = planning.sweep(sweep)
    for model_key, model_points in points.items():
        spec = build_job_spec(f"calibration-{hardware.key}-{model_key}-{result.plan_id}", planning.model(model_key),
                              hardware, entry, None, tuple(WorkloadPoint(**p) for p in model_points))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{model_key}.spec.json"
        path.write_text(json.dumps(spec.to_dict(), indent=2))
        specs.append(path)
    next_step = (
        f"{hardware.key} has no launcher, so measure the points by hand on the device: copy this repository "
        "there with the spec files and run "
        + "; ".join(f"`python -m benchmark_jobs run --spec {p.name} --out {p.name.replace('.spec.json', '.csv')}`"
                    for p in specs)
        + " (the harness "
        "writes a canonical CSV: source, model_key, hardware_key, engine, dtype, batch_size, input_tokens, "
        "output_tokens, ttft_s, tpot_s, e2e_latency_s, output_throughput_tok_s, avg_power_w, energy_j, ...); "
        "bring the CSVs back and run here `inference-estimation calibrate --from FILE.csv` (seconds: the step "
        "model is calibrated to your points, and predict says so); to retrain every predictor on them too, "
        "`inference-estimation import user-csv --from FOLDER` then `inference-estimation refresh` (a full retrain). "
        "Serving points: measure at each concurrency against the engine's server (the harness's openai-server "
        "backend, or your own load generator) and add rows with mode=serving and concurrency to a CSV of the "
        "same columns. Or give the device a dstack launcher in an overlay to have calibrate run them.")
    if args.format == "json":
        print(json.dumps({"hardware": hardware.key, "sweep": sweep, "measured_rows": result.measured_rows,
                          "planned_points": len(result.plan.points) if result.plan else 0, "points": points,
                          "serving_points": serving, "notes": result.notes, "specs": [str(p) for p in specs],
                          "next_step": next_step}, indent=2, default=str))
        return 0
    print(f"calibration plan for {hardware.key} (no launcher: planned here, benchmarking nothing; grid of sweep "
          f"{sweep}; {result.measured_rows} measured rows of it in the training data; home {home.root})")
    if result.plan is not None:
        print(result.plan.markdown())
    if result.notes:
        print("notes: " + "; ".join(result.notes))
    _print_serving_points(serving)
    if specs:
        print("harness specs of the offline points: " + ", ".join(str(p) for p in specs))
    print("next: " + next_step)
    return 0


def _calibrate_from_csv(args: argparse.Namespace, catalog: Any, home: Any) -> int:
    """``calibrate --from mine.csv``: your measurements calibrate the step model for their device(s).

    The CSV is the canonical one (``import user-csv``'s format, checked the same way, every bad
    cell named at once). Each device x engine in it gets a calibration file beside the shared model
    (seconds; nothing is retrained and no other device's answers move). The rows are not stored in
    the warehouse: ``import user-csv`` keeps them, and ``refresh`` then calibrates from there too.
    """
    from pathlib import Path

    from inference_estimation.lib.data.external.canonical import CanonicalFormatError, check_canonical_csv
    from inference_estimation.lib.ml.step_calibration import calibrations_from_rows, describe, fact_rows
    from inference_estimation.lib.ml.step_serving import load_step_model

    path = Path(args.from_csv)
    if not path.is_file():
        print(f"error: --from: no such file {path}", file=sys.stderr)
        return 2
    try:
        records = check_canonical_csv(path, catalog)
    except CanonicalFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    model, promoted = load_step_model(home.predictors_dir, allow_unpromoted=True)
    if model is None:
        print(f"error: no step model in {home.predictors_dir}; run `inference-estimation sweep` (or `refresh`) first",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    frame = fact_rows([r.to_dict() for r in records], catalog)
    if args.hardware:
        frame = frame[frame["hardware_key"] == catalog.hw(args.hardware).key]
    calibrations, skipped = calibrations_from_rows(model, frame)
    for cal in calibrations:
        cal.save(home.predictors_dir)
    took = time.perf_counter() - started
    summary = [describe(c) for c in calibrations]
    if args.format == "json":
        print(json.dumps({"calibrated": summary, "not_calibrated": skipped, "seconds": round(took, 3),
                          "step_model_promoted": promoted}, indent=2))
        return 0 if calibrations else 1
    for d in summary:
        print(f"calibrated {d['hardware']} with {d['engine']} from {d['rows']} rows: decode x{d['decode_factor']:.3g}, "
              f"TTFT x{d['ttft_factor']:.3g} against the shared model, plus a local correction that reproduces "
              "your points")
    for line in skipped:
        print(f"not calibrated: {line}", file=sys.stderr)
    print(f"({took:.2f}s; `predict` on these devices now answers with your calibration by default; "
          f"`import user-csv --from {path.parent}` keeps the rows in the warehouse)")
    return 0 if calibrations else 1
