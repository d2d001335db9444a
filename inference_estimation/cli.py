"""The ``inference-estimation`` command: run sweeps through Dagster, predict, inspect the catalog.

``sweep`` materializes the whole graph for one sweep in the persistent Dagster instance inside
``$INFERENCE_ESTIMATION_HOME`` (so ``dagster dev`` afterwards shows every run, materialization
and its lineage): catalog facts, one run per benchmark partition, ``dbt build``, then one
training + SHAP run per target. ``predict`` loads model files and the catalog only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

#: The sweep of the main job when none is named.
DEFAULT_SWEEP = "local-demo"


def _sweep(args: argparse.Namespace) -> int:
    from inference_estimation.lib.home import activate_home

    home = activate_home(args.home)
    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    from inference_estimation import constants
    from inference_estimation.definitions import defs
    from inference_estimation.defs.benchmarks.config import benchmark_run_config
    from inference_estimation.defs.benchmarks.partitions import (
        benchmark_partition_key,
        ensure_benchmark_partitions,
    )
    from inference_estimation.lib.catalog import load_catalog

    catalog = load_catalog()
    sweeps = [catalog.sweep(name) for name in dict.fromkeys(args.sweep or [DEFAULT_SWEEP])]
    sweep = sweeps[0]  # its cv_folds train the predictors
    instance = dg.DagsterInstance.get()
    log_config = {"loggers": {"console": {"config": {"log_level": args.log_level}}}}
    started = time.perf_counter()

    def step(label: str, job_name: str, **kwargs: Any) -> dg.ExecuteInProcessResult:
        t0 = time.perf_counter()
        print(f"[{time.perf_counter() - started:7.1f}s] {label} ...", flush=True)
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, raise_on_error=False, **kwargs
        )
        status = "ok" if result.success else "FAILED"
        print(f"[{time.perf_counter() - started:7.1f}s] {label}: {status} in {time.perf_counter() - t0:.1f}s "
              f"(run {result.run_id[:8]})", flush=True)
        return result

    for each in sweeps:
        print(f"sweep {each.name!r} ({each.backend}): {len(each.models)} model(s) x {len(each.hardware)} hardware; "
              f"home {home.root}")
    failures = []
    if not step("catalog facts and hardware probe", "catalog_job", run_config=log_config).success:
        failures.append("catalog_job")
    added = ensure_benchmark_partitions(instance, load_catalog())  # model_specs adds them too; not if it failed
    if added:
        print(f"new benchmark partition keys: {added}", flush=True)
    warnings_out = []
    if not args.no_external:
        from inference_estimation.lib.external.registry import EXTERNAL_DIR_ENV, all_adapters

        from_path = args.external_from or os.environ.get(EXTERNAL_DIR_ENV)
        where = from_path or "their pinned public URLs"
        for source in all_adapters():
            config = {**log_config, "ops": {"external_benchmarks": {"config": {"from_path": from_path}}}}
            if not step(f"import {source} from {where}", "import_job", partition_key=source, run_config=config).success:
                warnings_out.append(f"import {source}")
    for each in sweeps:
        for hardware_key in each.hardware:
            host = catalog.hw(hardware_key).host
            for model_key in each.models:
                key = benchmark_partition_key(model_key, hardware_key)
                run_config = {**log_config, **benchmark_run_config(each.name)}
                result = step(f"benchmark {model_key} on {hardware_key} ({each.name})", "benchmark_job",
                              partition_key=key, run_config=run_config,
                              tags={constants.HOST_TAG: host, "sweep": each.name})
                if not result.success:
                    failures.append(f"benchmark {key} ({each.name})")
    if not step("dbt build", "transform_job", run_config=log_config).success:
        failures.append("transform_job")
        print("dbt failed; predictors not trained", file=sys.stderr)
        return 1
    training_config = {**log_config, "ops": {"predictors": {"config": {"cv_folds": sweep.cv_folds}}}}
    for target in constants.PRIMITIVES:
        result = step(f"train, evaluate, promote, explain {target}", "training_job", partition_key=target,
                      run_config=training_config)
        if not result.success:
            failures.append(f"training {target}")
            continue
        # A refusal to promote is an expected outcome recorded by promoted_predictors, not a failure.
        promotion = result.asset_materializations_for_node("promoted_predictors")
        meta = {k: v.value for k, v in promotion[-1].metadata.items()} if promotion else {}
        if meta.get("promoted") is False and "no trained predictor" not in str(meta.get("reason")):
            warnings_out.append(f"{target} not promoted ({meta.get('reason')})")
    if not step("score the coherent model (all answers from the primitives)", "performance_model_job",
                run_config=log_config).success:
        failures.append("performance_model_job")
    print(f"done in {time.perf_counter() - started:.1f}s; home {home.root}")
    if warnings_out:
        print("notes: " + "; ".join(warnings_out), file=sys.stderr)
    if failures:
        print("failed: " + "; ".join(failures), file=sys.stderr)
        return 1
    for target in constants.PRIMITIVES:
        card_path = home.models_dir / target / "card.json"
        if not card_path.exists():
            print(f"  {target:26s} not trained (too little usable data; power needs measured power)")
            continue
        m = json.loads(card_path.read_text())["metrics"]
        promoted = (home.models_dir / "promoted" / target / "card.json").exists()
        print(f"  {target:26s} grouped-by-model held-out MdAPE {m['holdout_mdape_pct']:6.1f}%  "
              f"90% coverage {m['holdout_interval_coverage_90']:.2f}"
              + (f"  | physics baseline MdAPE {m['baseline_physics_mdape_pct']:.1f}%"
                 if "baseline_physics_mdape_pct" in m else "")
              + ("  promoted" if promoted else "  NOT promoted"))
    return 0


def _import(args: argparse.Namespace) -> int:
    import warnings

    from inference_estimation.lib.home import activate_home

    home = activate_home(args.home)
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    from inference_estimation.definitions import defs
    from inference_estimation.lib.external.importer import USER_CSV_SOURCE
    from inference_estimation.lib.external.registry import all_adapters

    known = [*all_adapters(), USER_CSV_SOURCE]
    sources = [s for s in known if s != USER_CSV_SOURCE] if args.source == "all" else [args.source]
    unknown = [s for s in sources if s not in known]
    if unknown:
        print(f"error: unknown source(s) {unknown}; known: {', '.join(known)}, all", file=sys.stderr)
        return 2
    instance = dg.DagsterInstance.get()
    log_config = {"loggers": {"console": {"config": {"log_level": args.log_level}}}}
    status = 0
    started = time.perf_counter()
    if not defs.resolve_job_def("catalog_job").execute_in_process(instance=instance, run_config=log_config).success:
        return 1
    for source in sources:
        t0 = time.perf_counter()
        config = {**log_config, "ops": {"external_benchmarks": {"config": {"from_path": args.from_path}}}}
        result = defs.resolve_job_def("import_job").execute_in_process(
            instance=instance, partition_key=source, run_config=config, raise_on_error=False)
        if not result.success:
            status = 1
            print(f"{source:24s} FAILED (run {result.run_id[:8]})", flush=True)
            continue
        meta = {k: v.value for k, v in result.asset_materializations_for_node("external_benchmarks")[-1].metadata.items()}
        print(f"{source:24s} read {meta['rows_read']:6d}  mapped {meta['rows_mapped']:6d}  rejected "
              f"{meta['rows_rejected']:6d}  landed {meta['rows_landed']:6d}  in {time.perf_counter() - t0:5.1f}s",
              flush=True)
    print(f"imported {len(sources)} source(s) in {time.perf_counter() - started:.1f}s; home {home.root}")
    return status


def _lenient_catalog():
    """The catalog for predictions: an invalid overlay file is left out with a warning naming its file
    and field (predictions for everything else still work; ``inference-estimation catalog`` validates)."""
    from inference_estimation.lib.catalog import load_catalog

    catalog = load_catalog(strict=False)
    for error in catalog.skipped_overlays:
        print(f"warning: catalog overlay left out: {error}", file=sys.stderr)
    return catalog


def _predict(args: argparse.Namespace) -> int:
    from pathlib import Path

    from inference_estimation.lib.catalog import CatalogError
    from inference_estimation.lib.home import activate_home
    from inference_estimation.lib.predict import (
        BatchInputError,
        PredictorsMissingError,
        explain,
        predict,
        predict_batch,
        workload,
    )

    home = activate_home(args.home)
    if args.input:
        if not args.output:
            print("error: --input needs --output", file=sys.stderr)
            return 2
        try:
            t0 = time.perf_counter()
            n = predict_batch(_lenient_catalog(), home.models_dir, Path(args.input), Path(args.output),
                              allow_unpromoted=args.allow_unpromoted)
        except (BatchInputError, PredictorsMissingError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{n} rows predicted in {time.perf_counter() - t0:.2f}s -> {args.output}")
        return 0
    missing = [f"--{k.replace('_', '-')}" for k in ("model", "hardware", "batch_size", "input_tokens", "output_tokens")
               if getattr(args, k) is None]
    if missing:
        print(f"error: missing {', '.join(missing)} (or use --input FILE --output FILE)", file=sys.stderr)
        return 2
    try:
        work = workload(args.batch_size, args.input_tokens, args.output_tokens, engine=args.engine,
                        dtype=args.dtype, device_count=args.device_count, mode=args.mode, source=args.source,
                        concurrency=args.concurrency, request_rate_rps=args.request_rate)
        catalog = _lenient_catalog()
        result = predict(catalog, home.models_dir, args.model, args.hardware, work,
                         allow_unpromoted=args.allow_unpromoted)
    except (CatalogError, PredictorsMissingError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from inference_estimation.lib.predict import predictor_folders

    left_out = sorted(set(predictor_folders(home.models_dir, allow_unpromoted=True)) - set(result))
    if left_out:
        print(f"note: trained but not promoted, left out: {', '.join(left_out)} "
              "(--allow-unpromoted shows them, flagged)", file=sys.stderr)
    explanations = {}
    if args.explain:
        for target in (t for t, p in result.items() if p["value"] is not None):
            explanations[target] = explain(catalog, home.models_dir, args.model, args.hardware, work, target,
                                           allow_unpromoted=args.allow_unpromoted)
    if args.format == "json":
        if explanations:
            for target, ex in explanations.items():
                result[target]["explanation"] = {"physics_baseline": ex["physics_baseline"],
                                                 "contributions": ex["contributions"]}
        print(json.dumps(result, indent=2))
    else:
        for target, p in result.items():
            if p["value"] is None:
                print(f"{target:26s} n/a ({p.get('reason', 'no prediction')})")
                continue
            interval = (f"  [90%: {p['lower_90']:.4g} - {p['upper_90']:.4g}]" if p["lower_90"] is not None else "")
            flag = "" if p["promoted"] else "  (not promoted: did not beat its baselines)"
            print(f"{target:26s} {p['value']:.4g} {p['unit']}{interval}{flag}")
            if target in explanations:
                ex = explanations[target]
                base = "unknown" if ex["physics_baseline"] is None else f"{ex['physics_baseline']:.4g}"
                print(f"    physics baseline {base}; largest corrections:")
                for c in ex["contributions"]:
                    print(f"      x{c['factor']:.3f}  {c['feature']} = {c['value']}")
    return 0


def _recommend(args: argparse.Namespace) -> int:
    from inference_estimation.lib.catalog import CatalogError
    from inference_estimation.lib.home import activate_home
    from inference_estimation.lib.predict import PredictorsMissingError, recommend

    home = activate_home(args.home)
    try:
        table = recommend(_lenient_catalog(), home.models_dir, args.model, args.input_tokens, args.output_tokens,
                          max_ttft_s=args.max_ttft_ms / 1000 if args.max_ttft_ms else None,
                          max_tpot_s=args.max_tpot_ms / 1000 if args.max_tpot_ms else None, rps=args.rps,
                          engine=args.engine, dtype=args.dtype, allow_unpromoted=args.allow_unpromoted)
    except (CatalogError, PredictorsMissingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if table.empty:
        print("no hardware fits the model and meets the limits")
        return 1
    table = table.head(args.top)
    if args.format == "json":
        print(table.to_json(orient="records", indent=2))
    else:
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from inference_estimation import constants
    from inference_estimation.lib.home import activate_home

    home = activate_home(args.home)
    found = {}
    for target in constants.PRIMITIVES:
        path = home.reports_dir / target / "evaluation.json"
        if path.exists():
            found[target] = json.loads(path.read_text())
    coherent = home.reports_dir / "performance_model" / "evaluation.json"
    if not found:
        print(f"error: no evaluation in {home.reports_dir}; run `inference-estimation sweep` first", file=sys.stderr)
        return 2
    if args.format == "json":
        if coherent.exists():
            found["performance_model"] = json.loads(coherent.read_text())
        print(json.dumps(found, indent=2))
    else:
        from inference_estimation.lib.evaluation import TargetEvaluation, comparison_table

        for target in found:
            print((home.reports_dir / target / "evaluation.md").read_text())
        evaluations = [TargetEvaluation(target=d["target"], rows=d["rows"], splits=d["splits"], skipped=d["skipped"])
                       for d in found.values()]
        print("### Leave-one-hardware-out: MdAPE % by learner and baseline (best learner in bold)\n")
        print(comparison_table(evaluations, split="leave_one_hardware_out"))
        if coherent.exists():  # every answer target, derived from the primitives as predict serves them
            print()
            print((coherent.parent / "evaluation.md").read_text())
    return 0


def _catalog(args: argparse.Namespace) -> int:
    from inference_estimation.lib.catalog import CatalogError, load_catalog
    from inference_estimation.lib.home import activate_home

    activate_home(args.home)
    try:
        catalog = load_catalog()
    except CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"models ({len(catalog.models)}): {', '.join(catalog.models)}")
    print(f"hardware ({len(catalog.hardware)}): {', '.join(catalog.hardware)}")
    print(f"benchmarkable hardware: {', '.join(catalog.partition_hardware)}")
    print(f"sweeps: {', '.join(catalog.sweeps)}")
    print(f"files: {', '.join(catalog.files)}")
    if args.check_specs_from:
        from pathlib import Path

        from inference_estimation.lib.external.spec_crosscheck import (
            WATTGPU_FOLDER, SpecTableError, cross_check_wattgpu,
        )

        root = Path(args.check_specs_from).expanduser()
        folder = root / WATTGPU_FOLDER if (root / WATTGPU_FOLDER).is_dir() else root
        try:
            check = cross_check_wattgpu(catalog, folder, tolerance=args.spec_tolerance_pct / 100.0)
        except SpecTableError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"WattGPU cross-check: {check.compared} facts of {len(check.resolved)} GPUs compared, "
              f"{len(check.disagreements)} beyond {args.spec_tolerance_pct:g}%; not in the catalog: "
              f"{', '.join(check.unresolved) or 'none'}")
        for disagreement in check.disagreements:
            print(f"  {disagreement}")
    return 0


def _sync_partitions_before_ui() -> None:
    """Adds the catalog's benchmark partition keys, so a first UI visit shows them at once (the
    running ``catalog_partitions_sensor`` keeps them in step afterwards). An invalid overlay is
    left out with a warning naming its file and field (the sensor reports it in the UI too)."""
    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    from inference_estimation.defs.benchmarks.partitions import ensure_benchmark_partitions
    from inference_estimation.lib.catalog import CatalogError, load_catalog

    try:
        catalog = load_catalog(strict=False)
        for error in catalog.skipped_overlays:
            print(f"warning: catalog overlay left out: {error}", file=sys.stderr)
        with dg.DagsterInstance.get() as instance:
            ensure_benchmark_partitions(instance, catalog)
    except CatalogError as exc:  # the package catalog itself: the UI shows the load error
        print(f"catalog error (the UI will show it): {exc}", file=sys.stderr)


def _ui(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from inference_estimation.lib.home import REPO_ROOT, activate_home

    home = activate_home(args.home)
    _sync_partitions_before_ui()
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster) if dagster.exists() else "dagster", "dev", "-h", args.host, "-p", str(args.port),
               "-w", str(REPO_ROOT / "workspace.yaml")]
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={home.dagster_home})", flush=True)
    os.chdir(REPO_ROOT)
    os.execvpe(command[0], command, os.environ)
    return 0  # not reached


def _calibrate(args: argparse.Namespace) -> int:
    """Plans a device's next calibration points through Dagster (next_benchmarks) and, unless
    ``--dry-run``, benchmarks them (benchmark_job, the points in the run config) and refreshes."""
    import warnings

    from inference_estimation.lib.home import activate_home

    home = activate_home(args.home)
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    from inference_estimation import constants
    from inference_estimation.definitions import defs
    from inference_estimation.defs.benchmarks.config import benchmark_run_config
    from inference_estimation.defs.benchmarks.partitions import benchmark_partition_key, ensure_benchmark_partitions

    catalog = _lenient_catalog()
    hardware = catalog.hw(args.hardware)
    if hardware.key not in catalog.partition_hardware:
        print(f"error: hardware {hardware.key!r} has no launcher in the catalog, so it cannot be benchmarked; give "
              "it one (a local or dstack launcher) in an overlay file first", file=sys.stderr)
        return 2
    if args.points < 1:
        print(f"error: --points must be >= 1, got {args.points}", file=sys.stderr)
        return 2
    instance = dg.DagsterInstance.get()
    ensure_benchmark_partitions(instance, catalog)
    log_config = {"loggers": {"console": {"config": {"log_level": args.log_level}}}}
    plan_config = {**log_config, "ops": {"next_benchmarks": {"config": {
        "points": args.points, "sweep": args.sweep, "uncertainty": args.uncertainty}}}}

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
    if args.format == "json":
        print(json.dumps(meta, indent=2, default=str))
    else:
        print(f"calibration plan for {hardware.key} (sweep {meta['sweep']}; {meta['measured_rows']} measured rows "
              f"of it in the training data; home {home.root})")
        if meta.get("plan"):
            print(meta["plan"])
        if meta.get("notes", "none") != "none":
            print("notes: " + str(meta["notes"]).replace("\n", "; "))
    points = meta.get("points") or {}
    if args.dry_run or not points:
        return 0
    failures = []
    for model_key, model_points in points.items():
        key = benchmark_partition_key(model_key, hardware.key)
        t0 = time.perf_counter()
        result = defs.resolve_job_def("benchmark_job").execute_in_process(
            instance=instance, partition_key=key, raise_on_error=False,
            run_config={**log_config, **benchmark_run_config(meta["sweep"], model_points)},
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
    refresh = [("transform_job", None)] + [("training_job", t) for t in constants.PRIMITIVES]
    for job, partition in refresh:
        result = defs.resolve_job_def(job).execute_in_process(instance=instance, partition_key=partition,
                                                              run_config=log_config, raise_on_error=False)
        print(f"refresh {job}{'' if partition is None else f' {partition}'}: {'ok' if result.success else 'FAILED'}",
              flush=True)
    after = plan()
    if after is not None and after.get("planned_points"):
        print(f"after: {after['measured_rows']} measured rows of {hardware.key}; expected error of the next plan "
              f"{after['expected_error_before_pct']}% -> {after['expected_error_after_pct']}%")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (units in every flag name)."""
    parser = argparse.ArgumentParser(prog="inference-estimation", description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="state folder (default: $INFERENCE_ESTIMATION_HOME or ~/.inference-estimation)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sweep", help="materialize the whole graph for a sweep (the main job)")
    p.add_argument("--sweep", action="append", default=None,
                   help=f"sweep name from the catalog; repeat for several (default: {DEFAULT_SWEEP})")
    p.add_argument("--log-level", default="WARNING", help="Dagster console log level (INFO shows every event)")
    p.add_argument("--external-from", default=None,
                   help="folder holding the public dataset folders to import first (default: "
                        "$INFERENCE_ESTIMATION_EXTERNAL_DIR, else download them from their pinned public URLs)")
    p.add_argument("--no-external", action="store_true", help="do not import public datasets")
    p.set_defaults(func=_sweep)

    p = sub.add_parser("import", help="import a public dataset (or `all`, or `user-csv`) into the warehouse")
    p.add_argument("source", help="source name, `all` (every public dataset) or `user-csv`")
    p.add_argument("--from", dest="from_path", default=None,
                   help="folder holding the dataset folders (default: $INFERENCE_ESTIMATION_EXTERNAL_DIR, "
                        "else download the pinned public files); for user-csv, a folder of canonical CSVs")
    p.add_argument("--log-level", default="WARNING")
    p.set_defaults(func=_import)

    p = sub.add_parser("predict", help="predict latency/throughput for a configuration")
    p.add_argument("--model", help="model key or Hugging Face id")
    p.add_argument("--hardware", help="hardware key or alias")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--input-tokens", type=int)
    p.add_argument("--output-tokens", type=int)
    p.add_argument("--input", help="CSV of configurations to predict (see README); needs --output")
    p.add_argument("--output", help="CSV to write predictions to")
    p.add_argument("--explain", action="store_true", help="show the physics baseline and top SHAP corrections")
    p.add_argument("--engine", default="transformers")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--device-count", type=int, default=None)
    p.add_argument("--mode", choices=["offline", "serving"], default="offline")
    p.add_argument("--concurrency", type=int, default=None, help="requests in flight (serving)")
    p.add_argument("--request-rate", type=float, default=None, help="requests per second (serving)")
    p.add_argument("--source", default="local",
                   help="whose measurement conventions to predict (default local: this project's harness)")
    p.add_argument("--allow-unpromoted", action="store_true",
                   help="also use predictors that did not beat their baselines (flagged in the output)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=_predict)

    p = sub.add_parser("recommend", help="rank hardware for a model by cost per token and energy")
    p.add_argument("--model", required=True)
    p.add_argument("--input-tokens", type=int, required=True)
    p.add_argument("--output-tokens", type=int, required=True)
    p.add_argument("--max-ttft-ms", type=float, default=None)
    p.add_argument("--max-tpot-ms", type=float, default=None)
    p.add_argument("--rps", type=float, default=None, help="requests per second to serve (sizes the fleet)")
    p.add_argument("--engine", default="vllm")
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--allow-unpromoted", action="store_true")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=_recommend)

    p = sub.add_parser("evaluate", help="print the predictors' evaluation tables")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("ui", help="start the Dagster UI on this machine's loopback")
    p.add_argument("--host", default="127.0.0.1", help="bind address (loopback unless told otherwise)")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=_ui)

    p = sub.add_parser("calibrate", help="plan (and benchmark) the few points that calibrate a device best")
    p.add_argument("--hardware", required=True, help="hardware key or alias (it needs a launcher)")
    p.add_argument("--points", type=int, default=5, help="points to plan (k)")
    p.add_argument("--sweep", default=None, help="sweep whose grid and settings to use (default: one covering it)")
    p.add_argument("--uncertainty", choices=["distance", "ensemble"], default="distance")
    p.add_argument("--dry-run", action="store_true", help="print the plan only; benchmark nothing")
    p.add_argument("--no-refresh", action="store_true", help="benchmark the points but do not rebuild and retrain")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--log-level", default="WARNING")
    p.set_defaults(func=_calibrate)

    p = sub.add_parser("catalog", help="validate and list the catalog (package + overlays)")
    p.add_argument("--check-specs-from", default=None,
                   help="folder holding wattgpu_watt_counts (or that folder): list spec facts where the catalog "
                        "and WattGPU's GPU table differ beyond --spec-tolerance-pct (reports only; edits nothing)")
    p.add_argument("--spec-tolerance-pct", type=float, default=5.0)
    p.set_defaults(func=_catalog)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    from inference_estimation.lib.catalog import CatalogError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CatalogError as exc:  # e.g. `sweep` with a malformed overlay: the file and field, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
