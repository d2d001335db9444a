"""Speed benchmark of the predictors: training + SHAP, batch prediction, a cold CLI prediction.

What it measures (a benchmark that prints figures, not a timed test):

1. **Training**: all targets trained the way the ``predictors`` asset trains them (CatBoost, the
   grouped 4-fold out-of-fold scoring that sizes the 90% interval, the final fit, files written)
   plus the SHAP report the ``shap_reports`` asset draws, on ~10k rows of the public datasets
   (sampled to ``--rows``, or topped up to it by resampling rows with 5% log-normal noise on the
   targets). Goal: <= 60 s on 2 cores.
2. **Grouped evaluation** (``predictor_evaluation``: four splits x every learner and baseline),
   reported separately; skip it with ``--no-evaluate``.
3. **Batch prediction**: ``predict_batch`` (the public API behind ``predict --input``) on a CSV of
   ``--batch-rows`` random configurations over the catalog: CSV in, features, every target's
   prediction and interval, CSV out. Goal: >= 50k rows/s.
4. **Cold CLI prediction**: ``inference-estimation predict ...`` in a fresh Python process,
   median of ``--cli-runs`` runs. Goal: <= 2 s.

``--cores 2`` pins this process (and the CLI children) to two CPUs, so the figures mean "on 2
cores" on a bigger machine too.

Usage:
    .venv/bin/python benchmarks/predictor_speed.py [--from ../shared/data/external] [--home DIR]
        [--skip-import] [--rows 10000] [--batch-rows 50000] [--cores 2] [--no-evaluate]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

GOALS = {"train_shap_s": 60.0, "batch_rows_per_s": 50_000.0, "cli_cold_s": 2.0}


def import_public_data(home_dir: Path, from_path: str) -> None:
    """Lands the public datasets and builds the marts, as benchmarks/accuracy.py does (not timed)."""
    import dagster as dg

    from inference_estimation.definitions import defs
    from inference_estimation.lib.data.external.registry import all_adapters

    instance = dg.DagsterInstance.get()
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    defs.resolve_job_def("catalog_job").execute_in_process(instance=instance, run_config=quiet)
    for source in all_adapters():
        defs.resolve_job_def("import_job").execute_in_process(
            instance=instance, partition_key=source,
            run_config={**quiet, "ops": {"external_benchmarks": {"config": {"from_path": from_path}}}})
    defs.resolve_job_def("transform_job").execute_in_process(instance=instance, run_config=quiet)


def resize(frame, rows: int, seed: int = 0):
    """Samples ``frame`` to ``rows`` rows, or tops it up by resampling rows with noisy targets."""
    import numpy as np
    import pandas as pd

    from inference_estimation import constants

    rng = np.random.default_rng(seed)
    if len(frame) >= rows:
        return frame.sample(rows, random_state=seed).reset_index(drop=True)
    extra = frame.iloc[rng.integers(0, len(frame), rows - len(frame))].copy()
    for target in constants.TARGETS:
        if target in extra:
            extra[target] = extra[target] * np.exp(rng.normal(0.0, 0.05, len(extra)))
    extra["point_id"] = extra["point_id"].astype(str) + "-topup-" + np.arange(len(extra)).astype(str)
    return pd.concat([frame, extra], ignore_index=True)


def time_training(frame, predictors_dir: Path, reports_dir: Path) -> dict[str, dict[str, float]]:
    """Per primitive: seconds to train (incl. grouped out-of-fold scoring) + save, and to draw SHAP."""
    from inference_estimation import constants
    from inference_estimation.lib.ml.modeling import (
        TrainingDataError,
        card_matrix,
        save_predictor,
        select_rows,
        train_predictor,
    )
    from inference_estimation.lib.ml.shap_report import write_shap_report

    out = {}
    for target in constants.PRIMITIVES:
        t0 = time.perf_counter()
        try:
            trained = train_predictor(frame, target)
        except TrainingDataError as exc:
            out[target] = {"rows": 0, "train_s": time.perf_counter() - t0, "shap_s": 0.0, "note": str(exc)[:60]}
            continue
        save_predictor(trained, predictors_dir / "promoted" / target)
        t1 = time.perf_counter()
        rows = select_rows(frame, target)
        if len(rows) > constants.SHAP_MAX_ROWS:
            rows = rows.sample(constants.SHAP_MAX_ROWS, random_state=0)
        X, _ = card_matrix(trained.card, rows)
        write_shap_report(trained.model, X, target, reports_dir / target)
        out[target] = {"rows": trained.card["n_rows"], "train_s": t1 - t0, "shap_s": time.perf_counter() - t1}
    return out


def time_evaluation(frame) -> dict[str, float]:
    """Seconds of the grouped evaluation (four splits, every learner and baseline) per target."""
    from inference_estimation import constants
    from inference_estimation.lib.ml.evaluation import evaluate_target

    out = {}
    for target in constants.PRIMITIVES:
        t0 = time.perf_counter()
        evaluate_target(frame, target)
        out[target] = time.perf_counter() - t0
    return out


def batch_csv(path: Path, rows: int, seed: int = 0) -> None:
    """A CSV of random configurations over the catalog's models and accelerators."""
    import numpy as np
    import pandas as pd

    from inference_estimation.lib.catalog import load_catalog

    catalog = load_catalog()
    rng = np.random.default_rng(seed)
    models = [k for k, m in catalog.models.items() if m.architecture is not None]
    hardware = [k for k, h in catalog.hardware.items() if h.kind != "cpu" and h.specs.memory_bandwidth_gb_s]
    pd.DataFrame({
        "model": rng.choice(models, rows), "hardware": rng.choice(hardware, rows),
        "batch_size": rng.choice([1, 2, 4, 8, 16, 32, 64], rows),
        "input_tokens": rng.choice([128, 512, 1024, 2048], rows),
        "output_tokens": rng.choice([64, 128, 256, 512], rows),
        "engine": "vllm", "dtype": "bfloat16",
    }).to_csv(path, index=False)


def time_batch(predictors_dir: Path, input_csv: Path, output_csv: Path, repeats: int = 3) -> float:
    """Best-of-``repeats`` rows/s of predict_batch (the catalog is loaded once, as the CLI does)."""
    from inference_estimation.lib.catalog import load_catalog
    from inference_estimation.lib.ml.batch_predict import predict_batch

    catalog = load_catalog()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = predict_batch(catalog, predictors_dir, input_csv, output_csv)
        best = min(best, time.perf_counter() - t0)
    return n / best


def time_cli(home_dir: Path, runs: int) -> tuple[float, str]:
    """Median wall seconds of a cold ``predict`` in a fresh process, and its output."""
    command = [sys.executable, "-m", "inference_estimation.cli", "--home", str(home_dir), "predict",
               "--model", "llama-3.1-8b", "--hardware", "nvidia-h100-sxm-80gb", "--batch-size", "8",
               "--input-tokens", "512", "--output-tokens", "128", "--engine", "vllm", "--dtype", "bfloat16"]
    walls, output = [], ""
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        walls.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise RuntimeError(f"predict failed: {done.stderr[-2000:]}")
        output = done.stdout
    return statistics.median(walls), output


def main() -> None:
    """Runs the benchmark and prints its report (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="from_path",
                        default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "external"))
    parser.add_argument("--home", default=None)
    parser.add_argument("--skip-import", action="store_true", help="reuse the home's warehouse as it is")
    parser.add_argument("--rows", type=int, default=10_000, help="training-frame rows (sampled or topped up)")
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--cli-runs", type=int, default=5)
    parser.add_argument("--cores", type=int, default=2, help="pin to this many CPUs (0: no pinning)")
    parser.add_argument("--no-evaluate", action="store_true", help="skip the grouped evaluation timing")
    args = parser.parse_args()

    if args.cores and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[: args.cores]
        os.sched_setaffinity(0, cpus)  # inherited by the CLI children
    home_dir = Path(args.home or tempfile.mkdtemp(prefix="ie-speed-"))
    os.environ["INFERENCE_ESTIMATION_HOME"] = str(home_dir)
    from inference_estimation.lib.home import activate_home

    home = activate_home(home_dir)
    warnings.filterwarnings("ignore")
    if not args.skip_import:
        t0 = time.perf_counter()
        import_public_data(home_dir, args.from_path)
        print(f"import + dbt (not part of the figures): {time.perf_counter() - t0:.1f}s; home {home_dir}")
    import duckdb

    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    public = con.execute("select * from marts.training_features").df()
    con.close()
    frame = resize(public, args.rows)
    print(f"training frame: {len(frame)} rows ({len(public)} public, "
          f"{'topped up' if len(public) < args.rows else 'sampled'}); CPUs {len(os.sched_getaffinity(0))}\n")

    t0 = time.perf_counter()
    training = time_training(frame, home.predictors_dir, home.reports_dir)
    train_total = time.perf_counter() - t0
    print("| target | rows | train + grouped OOF + save (s) | SHAP (s) |")
    print("|---|---|---|---|")
    for target, t in training.items():
        print(f"| {target} | {t['rows']} | {t['train_s']:.1f} | {t['shap_s']:.1f} |" + (f" {t['note']}" if "note" in t else ""))
    evaluation = None if args.no_evaluate else time_evaluation(frame)

    input_csv = home_dir / "speed_batch.csv"
    batch_csv(input_csv, args.batch_rows)
    rows_per_s = time_batch(home.predictors_dir, input_csv, home_dir / "speed_batch_out.csv")
    cli_s, cli_out = time_cli(home_dir, args.cli_runs)

    print("\n## Predictor speed")
    print("| measure | value | goal | met |")
    print("|---|---|---|---|")
    shap_total = sum(t["shap_s"] for t in training.values())
    rows = [
        ("train all targets + SHAP (s)", train_total, GOALS["train_shap_s"], train_total <= GOALS["train_shap_s"]),
        ("  of which SHAP (s)", shap_total, None, None),
        (f"batch prediction, {args.batch_rows} rows (rows/s)", rows_per_s, GOALS["batch_rows_per_s"],
         rows_per_s >= GOALS["batch_rows_per_s"]),
        (f"cold CLI predict, median of {args.cli_runs} (s)", cli_s, GOALS["cli_cold_s"], cli_s <= GOALS["cli_cold_s"]),
    ]
    if evaluation is not None:
        rows.insert(2, ("grouped evaluation, 4 splits x all methods (s)", sum(evaluation.values()), None, None))
    for name, value, goal, met in rows:
        fmt = f"{value:,.0f}" if value >= 1000 else f"{value:.2f}"
        print(f"| {name} | {fmt} | {'' if goal is None else f'{goal:,.0f}'} | "
              f"{'' if met is None else ('yes' if met else 'NO')} |")
    if evaluation is not None:
        print("\nevaluation seconds per target: " + ", ".join(f"{k} {v:.0f}" for k, v in evaluation.items()))
    print("\ncold CLI output:\n" + cli_out)


if __name__ == "__main__":
    main()
