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
    dg = dagster_quietly()
    from inference_estimation import constants
    from inference_estimation.definitions import defs
    from inference_estimation.defs.benchmark_requests import benchmark_run_config
    from inference_estimation.defs.partitions import (
        benchmark_partition_key,
        ensure_benchmark_partitions,
    )

    catalog = lenient_catalog()
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
    logs = log_config(args.log_level)
    plan_config = {**logs, "ops": {"next_benchmarks": {"config": {
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
    refresh = [("transform_job", None)] + [("training_job", t) for t in constants.PRIMITIVES]
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


