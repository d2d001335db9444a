"""Accuracy benchmark: import the public datasets, build features, evaluate every target.

Prints the held-out table per target and split (random, leave-one-hardware-out,
leave-one-model-out, leave-one-source-out) for CatBoost, HistGradientBoosting, a ridge on log
features, their CatBoost + HistGradientBoosting ensemble, CatBoost without physics and the
calibrated physics baseline (same folds), the learner comparison on unseen hardware, then the
leave-one-hardware-out figures against the goals:
MdAPE <= 7% for TPOT and throughput, <= 3% for power, Kendall tau >= 0.85, 90% intervals
covering 88-92%, and error >= 3x lower than the roofline baseline.

Usage:
    .venv/bin/python benchmarks/accuracy.py [--from ../shared/data/external] [--home DIR] [--targets ...]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

GOALS = {"tpot_s": 7.0, "output_throughput_tok_s": 7.0, "avg_power_w": 3.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="from_path", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "external"))
    parser.add_argument("--home", default=None)
    parser.add_argument("--targets", nargs="*", default=None)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--skip-import", action="store_true", help="reuse the home's warehouse as it is")
    args = parser.parse_args()

    home_dir = Path(args.home or tempfile.mkdtemp(prefix="ie-accuracy-"))
    os.environ["INFERENCE_ESTIMATION_HOME"] = str(home_dir)
    from inference_estimation.lib.home import activate_home

    activate_home(home_dir)
    import dagster as dg

    warnings.filterwarnings("ignore")
    import duckdb

    from inference_estimation import constants
    from inference_estimation.definitions import defs
    from inference_estimation.lib.evaluation import (
        comparison_table,
        comparison_verdict,
        evaluate_target,
        markdown_table,
    )
    from inference_estimation.lib.external.registry import all_adapters

    instance = dg.DagsterInstance.get()
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    t0 = time.perf_counter()
    if not args.skip_import:
        defs.resolve_job_def("catalog_job").execute_in_process(instance=instance, run_config=quiet)
        for source in all_adapters():
            defs.resolve_job_def("import_job").execute_in_process(
                instance=instance, partition_key=source,
                run_config={**quiet, "ops": {"external_benchmarks": {"config": {"from_path": args.from_path}}}})
        defs.resolve_job_def("transform_job").execute_in_process(instance=instance, run_config=quiet)
    print(f"import + dbt: {time.perf_counter() - t0:.1f}s (home {home_dir})")
    con = duckdb.connect(str(home_dir / "warehouse.duckdb"), read_only=True)
    frame = con.execute("select * from marts.training_features").df()
    con.close()
    print(f"training_features: {len(frame)} rows, {frame['hardware_key'].nunique()} hardware, "
          f"{frame['model_key'].nunique()} models, {frame['source'].nunique()} sources\n")

    summary, evaluations = {}, []
    for target in args.targets or constants.TARGETS:
        t1 = time.perf_counter()
        evaluation = evaluate_target(frame, target, n_folds=args.folds)
        print(markdown_table(evaluation))
        print(f"({time.perf_counter() - t1:.1f}s)\n")
        summary[target] = evaluation.splits.get("leave_one_hardware_out", {})
        evaluations.append(evaluation)

    print("## Learners on the same folds: leave-one-hardware-out MdAPE % (best learner in bold)")
    print(comparison_table(evaluations, split="leave_one_hardware_out"))
    print()
    for evaluation in evaluations:
        print("- " + comparison_verdict(evaluation))
    print()

    print("## Leave-one-hardware-out against the goals")
    print("| target | CatBoost MdAPE % | goal | τ (goal ≥0.85) | 90% coverage (goal 0.88–0.92) | "
          "physics MdAPE % | physics / CatBoost (goal ≥3×) |")
    print("|---|---|---|---|---|---|---|")
    for target, scores in summary.items():
        if "catboost" not in scores:
            print(f"| {target} | n/a | | | | | |")
            continue
        c, p = scores["catboost"], scores.get("physics_calibrated", {})
        ratio = (p["mdape_pct"] / c["mdape_pct_on_physics_rows"]) if p and c.get("mdape_pct_on_physics_rows") else None
        print(f"| {target} | {c['mdape_pct']:.1f} | {GOALS.get(target, '')} | {c.get('kendall_tau', float('nan')):.2f} | "
              f"{c['interval_coverage_90']:.2f} | {p.get('mdape_pct', float('nan')):.1f} | "
              f"{'' if ratio is None else f'{ratio:.2f}×'} |")
    (home_dir / "accuracy.json").write_text(json.dumps(summary, indent=2, default=float))


if __name__ == "__main__":
    main()
