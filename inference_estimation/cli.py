"""The ``inference-estimation`` command: run sweeps through Dagster, predict, inspect the catalog.

``sweep`` materializes the whole graph for one sweep in the persistent Dagster instance inside
``$INFERENCE_ESTIMATION_HOME`` (so ``dagster dev`` afterwards shows every run, materialization
and its lineage): catalog facts, one run per benchmark partition, ``dbt build``, then one
training + SHAP run per target. ``predict`` loads model files and the catalog only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

from inference_estimation.constants import DEFAULT_SWEEP  # constants only: a light import

#: How a derived answer follows from the primitives (printed next to it).
IDENTITY_TEXT = {
    "e2e_latency_s": "ttft + (out - 1) x tpot",
    "output_throughput_tok_s": "batch x out / e2e",
    "energy_per_output_token_j": "power x e2e / (batch x out)",
}
#: The same when serving: the batch is the concurrency in flight.
SERVING_IDENTITY_TEXT = {
    "e2e_latency_s": "ttft + (out - 1) x tpot",
    "output_throughput_tok_s": "in flight x out / e2e",
    "energy_per_output_token_j": "power x e2e / (in flight x out)",
}


def _gate_refusal(result: Any) -> str | None:
    """The promotion gate's reason when it refused a predictor (a designed outcome), else None.

    Either form of the refusal: ``promoted_predictors`` materialized with ``promoted: false`` and a
    ``reason`` (a successful run), or the blocking ``beats_baselines`` check alone failing the run.
    """
    if result.success:
        try:
            materializations = result.asset_materializations_for_node("promoted_predictors")
        except Exception:  # noqa: BLE001 - a job without that node
            return None
        for materialization in materializations:
            meta = materialization.metadata
            if "promoted" in meta and meta["promoted"].value is False:
                return str(meta["reason"].value) if "reason" in meta else "did not beat its baselines"
        return None
    gate = [e for e in result.get_asset_check_evaluations() if e.check_name == "beats_baselines"]
    other_failures = [e for e in result.all_events if e.is_step_failure
                      and e.event_specific_data.error.cls_name != "DagsterAssetCheckFailedError"]
    if gate and not gate[0].passed and not other_failures:
        reason = gate[0].metadata.get("reason")
        return str(reason.value) if reason is not None else "did not beat its baselines"
    return None


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
        """Runs one job; prints one status line (a designed refusal reads as one, with its reason)
        and, for a real failure, its errors with their stack traces."""
        import contextlib
        import io

        t0 = time.perf_counter()
        print(f"[{time.perf_counter() - started:7.1f}s] {label} ...", flush=True)
        # Quiet success: what the job prints (dbt's log lines) is kept and shown only if it fails.
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured) if not args.verbose else contextlib.nullcontext():
            result = defs.resolve_job_def(job_name).execute_in_process(
                instance=instance, raise_on_error=False, **kwargs
            )
        refusal = _gate_refusal(result) if job_name == "training_job" else None
        status = f"not promoted: {refusal}" if refusal else "ok" if result.success else "FAILED"
        print(f"[{time.perf_counter() - started:7.1f}s] {label}: {status} in {time.perf_counter() - t0:.1f}s "
              f"(run {result.run_id[:8]})", flush=True)
        if not result.success and not refusal:
            tail = captured.getvalue().strip().splitlines()[-40:]
            if tail:
                print("  output of the failed job (last lines):\n    " + "\n    ".join(tail), file=sys.stderr)
            for event in result.all_events:
                if event.is_step_failure:
                    print(f"  {event.step_key}: {event.event_specific_data.error.to_string()}", file=sys.stderr)
        return result

    refresh_only = getattr(args, "refresh_only", False)
    if refresh_only:
        sweeps = []
        print(f"refresh: dbt, the predictors and their evaluation from what is in the warehouse; home {home.root}")
    for each in sweeps:
        print(f"sweep {each.name!r} ({each.backend}): {len(each.models)} model(s) x {len(each.hardware)} hardware; "
              f"home {home.root}")
    failures = []
    if not refresh_only and not step("catalog facts and hardware probe", "catalog_job", run_config=log_config).success:
        failures.append("catalog_job")
    added = [] if refresh_only else ensure_benchmark_partitions(instance, load_catalog())
    if added:
        print(f"new benchmark partition keys: {added}", flush=True)
    warnings_out = []
    if not args.no_external and not refresh_only:
        from inference_estimation.lib.data.external.registry import EXTERNAL_DIR_ENV, all_adapters

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
        refusal = _gate_refusal(result)
        if refusal and "no trained predictor" not in refusal:
            warnings_out.append(f"{target} not promoted ({refusal})")
        elif not result.success:
            failures.append(f"training {target}")
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
        card_path = home.predictors_dir / target / "card.json"
        if not card_path.exists():
            print(f"  {target:26s} not trained (too little usable data; power needs measured power)")
            continue
        m = json.loads(card_path.read_text())["metrics"]
        promoted = (home.predictors_dir / "promoted" / target / "card.json").exists()
        print(f"  {target:26s} grouped-by-model held-out MdAPE {m['holdout_mdape_pct']:6.1f}%  "
              f"90% coverage {m['holdout_interval_coverage_90']:.2f}"
              + (f"  | physics baseline MdAPE {m['baseline_physics_mdape_pct']:.1f}%"
                 if "baseline_physics_mdape_pct" in m else "")
              + ("  promoted" if promoted else "  NOT promoted"))
    return 0


def _import_sources() -> list[str]:
    """Every source `import` takes: the public datasets' adapters, then `user-csv`."""
    from inference_estimation.lib.data.external.importer import USER_CSV_SOURCE
    from inference_estimation.lib.data.external.registry import all_adapters

    return [*all_adapters(), USER_CSV_SOURCE]


def _failure_message(result: Any) -> tuple[str, str]:
    """(exception class, first message line) of a failed in-process run's first step failure."""
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error
            while error.cause is not None and error.cls_name in ("DagsterExecutionStepExecutionError",):
                error = error.cause
            return error.cls_name, error.message.strip()
    return "", "the run failed (see the Dagster UI for its log)"


#: Exceptions that are the user's to fix (their file, folder or catalog): one line, exit 2.
USER_ERROR_CLASSES = ("CanonicalFormatError", "DatasetError", "CatalogError", "VocabularyError")


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

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
        from inference_estimation.lib.data.external.canonical import (
            CanonicalFormatError,
            read_canonical_csv,
            to_records,
        )

        folder = Path(args.from_path) if args.from_path else home.root / "imports"
        paths = sorted(folder.glob("*.csv")) if folder.is_dir() else []
        if not paths:
            print(f"error: no *.csv file in {folder} (put canonical CSVs there or pass --from FOLDER)", file=sys.stderr)
            return 2
        try:
            catalog = _lenient_catalog()
            for path in paths:
                to_records(read_canonical_csv(path), catalog, origin=str(path), strict=True)
        except (CanonicalFormatError, CatalogError) as exc:
            for line in str(exc).splitlines():
                print(f"error: {line}", file=sys.stderr)
            return 2
    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    from inference_estimation.definitions import defs

    instance = dg.DagsterInstance.get()
    log_config = {"loggers": {"console": {"config": {"log_level": args.log_level}}}}
    status = 0
    imported = 0
    started = time.perf_counter()
    catalog_run = defs.resolve_job_def("catalog_job").execute_in_process(
        instance=instance, run_config=log_config, raise_on_error=False)
    if not catalog_run.success:
        print(f"error: catalog facts: {_failure_message(catalog_run)[1].splitlines()[0]}", file=sys.stderr)
        return 1
    for source in sources:
        t0 = time.perf_counter()
        config = {**log_config, "ops": {"external_benchmarks": {"config": {"from_path": args.from_path}}}}
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
    return status


def _lenient_catalog():
    """The catalog for predictions: an invalid overlay file is left out with a warning naming its file
    and field (predictions for everything else still work; ``inference-estimation catalog`` validates)."""
    from inference_estimation.lib.catalog import load_catalog

    catalog = load_catalog(strict=False)
    for error in catalog.skipped_overlays:
        print(f"warning: catalog overlay left out: {error}", file=sys.stderr)
    return catalog


#: Exit status of a setup that cannot run (a refusal: the reason, no numbers).
EXIT_REFUSED = 3


def _print_error(exc: BaseException) -> None:
    for line in str(exc).strip().splitlines() or [type(exc).__name__]:
        print(f"error: {line}", file=sys.stderr)


def _setup_line(echo: dict[str, Any], defaulted: list[str]) -> str:
    load = (f", concurrency {echo['concurrency']}" if echo.get("concurrency") else "") + \
        (f", {echo['request_rate_rps']:g} req/s" if echo.get("request_rate_rps") else "")
    taken = f" (defaults: {', '.join(defaulted)})" if defaulted else ""
    # a serving question is about the load, not a batch (the batch formed is what the load keeps in flight)
    batch = "" if echo["mode"] == "serving" else f"batch {echo['batch_size']}, "
    return (f"setup: {echo['model']} on {echo['device_count']} x {echo['hardware']}, {echo['engine']}, "
            f"{echo['dtype']}, {batch}{echo['input_tokens']}+{echo['output_tokens']} tokens, "
            f"{echo['mode']}{load}, source {echo['source']}{taken}")


def _predict(args: argparse.Namespace) -> int:
    from pathlib import Path

    from inference_estimation.lib.catalog import CatalogError
    from inference_estimation.lib.home import activate_home
    from inference_estimation.lib.ml.batch_predict import predict_batch
    from inference_estimation.lib.ml.predict import (
        BatchInputError,
        PredictorsMissingError,
        SetupRefused,
        explain_prediction,
        predict_setup,
        predictor_folders,
        resolve_setup,
        workload,
    )

    home = activate_home(args.home)
    if args.input:
        if not args.output:
            print("error: --input needs --output", file=sys.stderr)
            return 2
        try:
            t0 = time.perf_counter()
            stats: dict[str, int] = {}
            n = predict_batch(_lenient_catalog(), home.predictors_dir, Path(args.input), Path(args.output),
                              allow_unpromoted=args.allow_unpromoted, stats=stats)
        except (BatchInputError, PredictorsMissingError) as exc:
            _print_error(exc)
            return 2
        refused = f"; {stats['refused']} refused (see the refusal column)" if stats.get("refused") else ""
        print(f"{n} rows predicted in {time.perf_counter() - t0:.2f}s{refused} -> {args.output}")
        return 0
    required = ["model", "hardware", "input_tokens", "output_tokens"]
    if args.mode == "offline" or (args.concurrency is None and args.request_rate_rps is None):
        required.insert(2, "batch_size")
    missing = [f"--{k.replace('_', '-')}" for k in required if getattr(args, k) is None]
    if missing:
        print(f"error: missing {', '.join(missing)} (or use --input FILE --output FILE; a serving question "
              "takes --mode serving with --concurrency or --request-rate-rps instead of --batch-size)", file=sys.stderr)
        return 2
    defaulted = [name for name, value in (("engine", args.engine), ("dtype", args.dtype),
                                          ("device count", args.device_count)) if value is None]
    try:
        work = workload(args.batch_size, args.input_tokens, args.output_tokens, engine=args.engine,
                        dtype=args.dtype, device_count=args.device_count, mode=args.mode, source=args.source,
                        concurrency=args.concurrency, request_rate_rps=args.request_rate_rps)
        catalog = _lenient_catalog()
        setup = resolve_setup(catalog, args.model, args.hardware, work)
        echo = setup.echo()
        if setup.refusal:
            raise SetupRefused(setup)
        result = predict_setup(setup, home.predictors_dir, allow_unpromoted=args.allow_unpromoted)
        explanations = {}
        if args.explain:
            for target in (t for t, p in result.items() if p["value"] is not None):
                explanations[target] = explain_prediction(catalog, home.predictors_dir, args.model, args.hardware, work, target,
                                               allow_unpromoted=args.allow_unpromoted)
    except SetupRefused as exc:
        if args.format == "json":
            print(json.dumps({"setup": exc.setup.echo(), "refusal": str(exc)}, indent=2))
        else:
            print(_setup_line(exc.setup.echo(), defaulted))
            print(f"refused: {exc}")
        return EXIT_REFUSED
    except (CatalogError, PredictorsMissingError, ValueError) as exc:
        _print_error(exc)
        return 2
    left_out = sorted(set(predictor_folders(home.predictors_dir, allow_unpromoted=True)) - set(result))
    if left_out:
        print(f"note: trained but not promoted, left out: {', '.join(left_out)} "
              "(--allow-unpromoted shows them, flagged)", file=sys.stderr)
    if args.format == "json":
        for target, ex in explanations.items():
            result[target]["explanation"] = {k: v for k, v in ex.items() if k != "target"}
        print(json.dumps({"setup": echo, "notes": setup.notes, "predictions": result}, indent=2))
        return 0
    print(_setup_line(echo, defaulted))
    if "memory" in echo:
        m = echo["memory"]
        print(f"memory: needs about {m['required_gb']:.1f} GB of {m['usable_gb']:.1f} GB usable "
              f"(weights {m['weights_gb']:.1f} GB); the KV cache holds up to {m['max_batch']} sequences of "
              f"{echo['input_tokens'] + echo['output_tokens']} tokens at once")
    for note in setup.notes:
        print(f"note: {note}")
    for warning in dict.fromkeys(w for p in result.values() for w in p.get("warnings", [])):
        print(f"warning: {warning}")
    seen = next((p["measurements_seen"] for t, p in result.items() if t in ("tpot_s", "ttft_s")
                 and "measurements_seen" in p), None)
    if seen is not None:
        print(f"seen in training: {seen['hardware']} measurements on this hardware, {seen['model']} of this model"
              + (" (new hardware: predicted from its spec sheet)" if seen["hardware"] == 0 else ""))
    in_flight = next((p["concurrency_in_flight"] for p in result.values() if "concurrency_in_flight" in p), None)
    saturated = any("saturates" in w for p in result.values() for w in p.get("warnings", []))
    if in_flight is not None and not saturated:
        print(f"note: {in_flight:g} requests in flight at that rate (Little's law: rate x e2e)")
    for target, p in result.items():
        if p["value"] is None:
            print(f"{target:26s} n/a ({p.get('reason', 'no prediction')})")
            continue
        interval = (f"  [90%: {p['lower_90']:.4g} - {p['upper_90']:.4g}]" if p["lower_90"] is not None else "")
        flag = "" if p["promoted"] else "  (not promoted: did not beat its baselines)"
        identities = SERVING_IDENTITY_TEXT if echo["mode"] == "serving" else IDENTITY_TEXT
        derived = f"  (= {identities[target]})" if target in identities else ""
        print(f"{target:26s} {p['value']:.4g} {p['unit']}{interval}{flag}{derived}")
        if target in explanations and "physics_known" in explanations[target]:
            ex = explanations[target]
            base = "physics baseline" if ex["physics_known"] else "constant baseline (physics unknown)"
            device = (f" x this device's own measurements {ex['hardware_correction_factor']:.3f}"
                      if abs(ex.get("hardware_correction_factor", 1.0) - 1.0) > 1e-9 else "")
            print(f"    = {base} {ex['physics_baseline']:.4g} x base correction {ex['base_correction']:.3f}"
                  f" x the factors below x remainder {ex['remainder']:.3f} (all other features){device}")
            for c in ex["contributions"]:
                value = f"{c['value']:.4g}" if isinstance(c["value"], float) else c["value"]
                print(f"      x{c['factor']:.3f}  {c['feature']} = {value}")
    return 0


def _recommend_text(rec: Any, show_dropped: bool, top: int, width: int = 100) -> str:
    """The ranked table and the dropped hardware in ``width`` columns."""
    import textwrap

    table = rec.table.head(top)
    cols = [("hardware", "hardware", 30, "s"), ("devices", "dev", 3, "d"), ("batch_size", "batch", 5, "d"),
            ("dtype", "dtype", 8, "s"), ("ttft_s", "TTFT ms", 8, "ms"), ("tpot_s", "TPOT ms", 8, "ms"),
            ("output_throughput_tok_s", "tok/s", 8, "g"), ("usd_per_million_tokens", "$/Mtok", 7, "g"),
            ("energy_per_output_token_j", "J/tok", 6, "g"), ("devices_for_rps", "dev@rps", 7, "g")]
    cols = [c for c in cols if c[0] in table]

    def cell(value: Any, kind: str, size: int) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-".rjust(size)
        if kind == "s":
            text = str(value)
            return (text if len(text) <= size else text[:size - 1] + "~").ljust(size)
        if kind == "d":
            return f"{int(value)}".rjust(size)
        if kind == "ms":
            value *= 1000
        return (f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}").rjust(size)

    s = rec.setup
    lines = textwrap.wrap(f"{s['model']}: {s['input_tokens']}+{s['output_tokens']} tokens, engine {s['engine']}, "
                          f"dtype {s['dtype']}"
                          + (f", TTFT <= {s['max_ttft_s'] * 1000:g} ms" if s["max_ttft_s"] else "")
                          + (f", TPOT <= {s['max_tpot_s'] * 1000:g} ms" if s["max_tpot_s"] else "")
                          + (f", {s['rps']:g} req/s" if s["rps"] else ""), width=width, subsequent_indent="  ")
    if not table.empty:
        lines.append(" ".join(h.ljust(size) if kind == "s" else h.rjust(size) for _, h, size, kind in cols))
        for _, row in table.iterrows():
            lines.append(" ".join(cell(row[c], kind, size) for c, _, size, kind in cols))
    if table.empty:
        lines.append("no hardware fits the model and meets the limits; why each was dropped:")
    if show_dropped or table.empty:
        lines.append(f"dropped ({len(rec.dropped)}):")
        for _, row in rec.dropped.iterrows():
            lines.extend(textwrap.wrap(f"{row['hardware']}: {row['reason']}", width=width, initial_indent="  ",
                                       subsequent_indent="      "))
    elif len(rec.dropped):
        lines.append(f"{len(rec.dropped)} hardware dropped (--show-dropped says why)")
    return "\n".join(line.rstrip() for line in lines)


def _recommend(args: argparse.Namespace) -> int:
    from inference_estimation.lib.catalog import CatalogError
    from inference_estimation.lib.home import activate_home
    from inference_estimation.lib.ml.predict import PredictorsMissingError, SetupRefused
    from inference_estimation.lib.ml.recommend import recommend

    home = activate_home(args.home)
    try:
        rec = recommend(_lenient_catalog(), home.predictors_dir, args.model, args.input_tokens, args.output_tokens,
                        max_ttft_s=args.max_ttft_ms / 1000 if args.max_ttft_ms else None,
                        max_tpot_s=args.max_tpot_ms / 1000 if args.max_tpot_ms else None, rps=args.rps,
                        engine=args.engine, dtype=args.dtype, source=args.source, max_devices=args.max_devices,
                        allow_unpromoted=args.allow_unpromoted)
    except SetupRefused as exc:
        print(f"refused: {exc}")
        return EXIT_REFUSED
    except (CatalogError, PredictorsMissingError, ValueError) as exc:
        _print_error(exc)
        return 2
    if args.format == "json":
        print(json.dumps({"setup": rec.setup,
                          "recommendations": json.loads(rec.table.head(args.top).to_json(orient="records")),
                          "dropped": rec.dropped.to_dict(orient="records")}, indent=2))
    else:
        print(_recommend_text(rec, args.show_dropped, args.top))
    return 0 if not rec.table.empty else 1


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
        from inference_estimation.lib.ml.evaluation import TargetEvaluation, comparison_table

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
        _print_error(exc)
        return 2
    if args.action == "show":
        return _catalog_show(catalog, args.key)
    if args.key:
        print(f"error: unexpected {args.key!r}; use `catalog show KEY`", file=sys.stderr)
        return 2
    print(f"models ({len(catalog.models)}): {', '.join(catalog.models)}")
    print(f"hardware ({len(catalog.hardware)}): {', '.join(catalog.hardware)}")
    print(f"benchmarkable hardware: {', '.join(catalog.partition_hardware)}")
    print(f"sweeps: {', '.join(catalog.sweeps)}")
    print(f"files: {', '.join(catalog.files)}")
    if args.check_specs_from:
        from pathlib import Path

        from inference_estimation.lib.data.external.spec_crosscheck import (
            WATTGPU_FOLDER,
            SpecTableError,
            cross_check_wattgpu,
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
    print("`inference-estimation catalog show KEY` shows one entry (specs, aliases, spec sources)")
    return 0


def _catalog_show(catalog: Any, key: str | None) -> int:
    """One catalog entry (hardware, model or sweep; a key or any alias) as YAML, with each spec fact's source."""
    import yaml

    from inference_estimation.lib.catalog import CatalogError

    if not key:
        print("error: `catalog show` needs a KEY (a model, hardware or sweep key, or an alias)", file=sys.stderr)
        return 2
    found, errors = [], []
    for kind, lookup in (("hardware", catalog.hw), ("model", catalog.model), ("sweep", catalog.sweep)):
        try:
            found.append((kind, lookup(key)))
        except CatalogError as exc:
            errors.append(str(exc))
    if not found:
        for line in errors:
            print(f"error: {line}", file=sys.stderr)
        return 2
    for kind, entry in found:
        data = entry.model_dump(mode="json", exclude_none=True)
        print(f"# {kind} {entry.key if hasattr(entry, 'key') else entry.name}")
        if kind == "hardware":
            data["spec_sources"] = {fact: entry.source_of(fact) for fact in data.get("specs", {})}
        print(yaml.safe_dump(data, sort_keys=False, width=100).rstrip())
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


def _die_with_parent() -> None:
    """In the child before exec: default SIGINT/SIGTERM (a shell that started us in the background
    ignores SIGINT, and ``dagster dev`` maps SIGTERM onto SIGINT's handler, so both would be
    ignored), and SIGTERM when the parent dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``)."""
    import ctypes
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # not Linux: SIGTERM to the parent still stops the tree
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


#: Seconds ``ui`` waits for ``dagster dev`` to stop its webserver, daemon and code server after a
#: signal before it kills the whole process group.
UI_STOP_GRACE_S = 30


def run_process_tree(command: list[str], cwd: str) -> int:
    """Runs ``command`` as a child in its own process group, and stops the whole group with us.

    SIGTERM, SIGINT or SIGHUP to this process sends SIGINT to the child (``dagster dev`` then shuts
    down its webserver, daemon and code server), waits :data:`UI_STOP_GRACE_S`, then SIGKILLs the
    group. If this process is killed outright (SIGKILL), the child gets SIGTERM from the kernel
    (``PR_SET_PDEATHSIG``), so nothing is left orphaned.

    Returns:
        The child's exit status (0 after a requested stop).
    """
    import signal
    import subprocess

    class _Stop(Exception):
        pass

    def stop(signum: int, frame: Any) -> None:
        raise _Stop(signum)

    child = subprocess.Popen(command, cwd=cwd, start_new_session=True, preexec_fn=_die_with_parent)  # noqa: PLW1509
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        return child.wait()
    except _Stop:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)  # one stop at a time
        try:
            child.send_signal(signal.SIGINT)
            child.wait(timeout=UI_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(child.pid, signal.SIGKILL)  # stragglers of the group
        except ProcessLookupError:
            pass
        child.wait()
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ui(args: argparse.Namespace) -> int:
    from pathlib import Path

    from inference_estimation.lib.home import REPO_ROOT, activate_home

    home = activate_home(args.home)
    _sync_partitions_before_ui()
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster) if dagster.exists() else "dagster", "dev", "-h", args.host, "-p", str(args.port),
               "-w", str(REPO_ROOT / "workspace.yaml")]
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={home.dagster_home}); "
          f"stop with Ctrl-C or `kill {os.getpid()}`", flush=True)
    return run_process_tree(command, cwd=str(REPO_ROOT))


class _Parser(argparse.ArgumentParser):
    """Errors in one line (``prog: error: ...``, exit 2) instead of usage + error; ``describe``, a
    callable, fills the description only when help is shown (e.g. the import sources)."""

    def __init__(self, *args: Any, describe: Any = None, **kwargs: Any):
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)
        self._describe = describe

    def format_help(self) -> str:
        if self._describe is not None:
            self.description = self._describe()
        return super().format_help()

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _Help(argparse.HelpFormatter):
    """Shows every flag's default, except where there is none or the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _batch_size_arg(text: str) -> int | str:
    if text.strip().lower() == "max":
        return "max"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 1 or 'max'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 1 or 'max'")
    return value


def _vocabulary_arg(kind: str):
    def parse(text: str) -> str:
        from inference_estimation.lib.catalog.vocabulary import (
            VocabularyError,
            canonical_dtype,
            canonical_engine,
        )

        try:
            return canonical_dtype(text) if kind == "dtype" else canonical_engine(text)
        except VocabularyError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1]) from None

    parse.__name__ = kind
    return parse


def _import_description() -> str:
    return ("Import public measurement datasets (or your own canonical CSVs) into the warehouse. "
            f"Sources: {', '.join(_import_sources())}; `all` imports every public dataset.")


_DEFAULTS_HELP = "default: the hardware's (GPU: vllm + bfloat16, float16 without bfloat16 math; CPU: transformers + float32)"


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
    from inference_estimation.defs.benchmarks.partitions import (
        benchmark_partition_key,
        ensure_benchmark_partitions,
    )

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
    """The argument parser (units in every flag name; ``--home`` before or after the subcommand)."""
    home_help = "state folder (default: $INFERENCE_ESTIMATION_HOME or ~/.inference-estimation)"
    parser = _Parser(prog="inference-estimation", description=__doc__.splitlines()[0])
    parser.add_argument("--home", help=home_help)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help=home_help)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("sweep", parents=[common], help="materialize the whole graph for a sweep (the main job)")
    p.add_argument("--sweep", action="append", default=None,
                   help=f"sweep name from the catalog; repeat for several (default: {DEFAULT_SWEEP})")
    p.add_argument("--log-level", default="CRITICAL",
                   help="Dagster console log level (INFO shows every event; failures are summarised either way)")
    p.add_argument("--external-from", default=None,
                   help="folder holding the public dataset folders to import first (default: "
                        "$INFERENCE_ESTIMATION_EXTERNAL_DIR, else download them from their pinned public URLs)")
    p.add_argument("--no-external", action="store_true", help="do not import public datasets")
    p.add_argument("--verbose", action="store_true",
                   help="show what each job prints (dbt's log lines); by default only a failed job's output is shown")
    p.set_defaults(func=_sweep)

    p = sub.add_parser("refresh", parents=[common],
                       help="rebuild the marts and retrain, evaluate and promote the predictors from what is already "
                            "in the warehouse (after `import user-csv` or an import), benchmarking nothing")
    p.add_argument("--log-level", default="CRITICAL", help="Dagster console log level")
    p.add_argument("--verbose", action="store_true", help="show what each job prints (dbt's log lines)")
    p.set_defaults(func=_sweep, refresh_only=True, sweep=None, no_external=True, external_from=None)

    p = sub.add_parser("import", parents=[common], describe=_import_description,
                       help="import a public dataset (or `all`, or `user-csv`) into the warehouse; "
                            "`import --help` lists the sources")
    p.add_argument("source", help="source name (see above), `all` (every public dataset) or `user-csv`")
    p.add_argument("--from", dest="from_path", default=None,
                   help="folder holding the dataset folders (default: $INFERENCE_ESTIMATION_EXTERNAL_DIR, "
                        "else download the pinned public files); for user-csv, a folder of canonical CSVs "
                        "(default: $INFERENCE_ESTIMATION_HOME/imports)")
    p.add_argument("--log-level", default="CRITICAL",
                   help="Dagster console log level (INFO shows every event; a failure prints one line either way)")
    p.set_defaults(func=_import)

    p = sub.add_parser("predict", parents=[common], help="predict latency/throughput/power for a configuration",
                       description="Predict every target for one configuration (or a CSV of them). A setup that "
                                   f"cannot run is refused with the reason (exit {EXIT_REFUSED}), never answered.")
    p.add_argument("--model", help="model key, Hugging Face id or alias")
    p.add_argument("--hardware", help="hardware key or alias")
    p.add_argument("--batch-size", type=_batch_size_arg,
                   help="sequences per batch, or `max` (the largest batch whose KV cache fits); not needed "
                        "with --mode serving and --concurrency or --request-rate-rps")
    p.add_argument("--input-tokens", type=int, help="prompt tokens per sequence")
    p.add_argument("--output-tokens", type=int, help="generated tokens per sequence")
    p.add_argument("--input", help="CSV of configurations to predict (columns: see the README); needs --output")
    p.add_argument("--output", help="CSV to write predictions to")
    p.add_argument("--explain", action="store_true",
                   help="take each prediction apart: baseline x base correction x top SHAP factors x remainder")
    p.add_argument("--engine", type=_vocabulary_arg("engine"), default=None,
                   help=f"engine (vllm, sglang, tensorrt-llm, transformers, llama.cpp, ... or a synonym); {_DEFAULTS_HELP}")
    p.add_argument("--dtype", type=_vocabulary_arg("dtype"), default=None,
                   help=f"weights dtype (float32, bfloat16, float16, fp8, int8, fp4, int4 or a synonym such as "
                        f"bf16, nvfp4, mxfp4, awq, q4_k_m); {_DEFAULTS_HELP}")
    p.add_argument("--device-count", type=int, default=None,
                   help="devices the model is spread over (default: the hardware entry's count)")
    p.add_argument("--mode", choices=["offline", "serving"], default="offline",
                   help="offline: a fixed batch; serving: a concurrency or a request rate")
    p.add_argument("--concurrency", type=int, default=None, help="requests in flight (with --mode serving)")
    p.add_argument("--request-rate-rps", "--request-rate", dest="request_rate_rps", type=float, default=None,
                   help="requests per second (with --mode serving)")
    p.add_argument("--source", default="local",
                   help="whose measurement conventions to predict (local: this project's harness; or a source "
                        "the predictors were trained on)")
    p.add_argument("--allow-unpromoted", action="store_true",
                   help="also use predictors that did not beat their baselines (flagged in the output)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.set_defaults(func=_predict)

    p = sub.add_parser("recommend", parents=[common], help="rank hardware for a model by cost per token and energy",
                       description="Rank every accelerator of the catalog for serving a model: device counts "
                                   "1, 2, 4, 8 and batch sizes up to the largest whose KV cache fits are searched; "
                                   "each hardware keeps its cheapest candidate within the limits.")
    p.add_argument("--model", required=True, help="model key, Hugging Face id or alias")
    p.add_argument("--input-tokens", type=int, required=True, help="prompt tokens per request")
    p.add_argument("--output-tokens", type=int, required=True, help="generated tokens per request")
    p.add_argument("--max-ttft-ms", type=float, default=None, help="limit on the predicted time to first token (ms)")
    p.add_argument("--max-tpot-ms", type=float, default=None, help="limit on the predicted time per output token (ms)")
    p.add_argument("--rps", type=float, default=None, help="requests per second to serve (sizes the fleet)")
    p.add_argument("--engine", type=_vocabulary_arg("engine"), default=None, help=f"engine; {_DEFAULTS_HELP}")
    p.add_argument("--dtype", type=_vocabulary_arg("dtype"), default=None,
                   help=f"weights dtype; {_DEFAULTS_HELP}; a device without that math is dropped")
    p.add_argument("--max-devices", type=int, default=8, help="most devices per replica to consider")
    p.add_argument("--source", default="local", help="whose measurement conventions to predict")
    p.add_argument("--top", type=int, default=10, help="rows of the ranking to show")
    p.add_argument("--show-dropped", action="store_true", help="say why each hardware left out was dropped")
    p.add_argument("--allow-unpromoted", action="store_true",
                   help="also use predictors that did not beat their baselines")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.set_defaults(func=_recommend)

    p = sub.add_parser("evaluate", parents=[common], help="print the predictors' evaluation tables")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("ui", parents=[common], help="start the Dagster UI on this machine's loopback")
    p.add_argument("--host", default="127.0.0.1", help="bind address (loopback unless told otherwise)")
    p.add_argument("--port", type=int, default=3000, help="port")
    p.set_defaults(func=_ui)

    p = sub.add_parser("calibrate", parents=[common], help="plan (and benchmark) the few points that calibrate a device best")
    p.add_argument("--hardware", required=True, help="hardware key or alias (it needs a launcher)")
    p.add_argument("--points", type=int, default=5, help="points to plan (k)")
    p.add_argument("--sweep", default=None, help="sweep whose grid and settings to use (default: one covering it)")
    p.add_argument("--uncertainty", choices=["distance", "ensemble"], default="distance")
    p.add_argument("--dry-run", action="store_true", help="print the plan only; benchmark nothing")
    p.add_argument("--no-refresh", action="store_true", help="benchmark the points but do not rebuild and retrain")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--log-level", default="WARNING")
    p.set_defaults(func=_calibrate)

    p = sub.add_parser("catalog", parents=[common], help="validate and list the catalog, or `catalog show KEY`")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list",
                   help="list every key, or show one entry (specs, aliases, spec sources)")
    p.add_argument("key", nargs="?", help="for show: a model, hardware or sweep key, or an alias")
    p.add_argument("--check-specs-from", default=None,
                   help="folder holding wattgpu_watt_counts (or that folder): list spec facts where the catalog "
                        "and WattGPU's GPU table differ beyond --spec-tolerance-pct (reports only; edits nothing)")
    p.add_argument("--spec-tolerance-pct", type=float, default=5.0, help="tolerance of the spec cross-check, %%")
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
