"""How much does going through Dagster cost for one benchmark partition?

Times the bare harness (``python -m benchmark_jobs run --spec``, a subprocess, as a user would run
it by hand) against materializing the same partition through Dagster (``benchmark_job``
in-process in a persistent instance: Pipes subprocess, parquet file, DuckDB landing, blocking
check). Both measure the same spec; runs alternate so drift hits both. Goal: ratio <= 1.3.

Usage:
    .venv/bin/python benchmarks/dagster_overhead.py [--sweep local-demo] [--model llama-small-55m] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    """Runs the benchmark and prints its report (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", default="local-demo")
    parser.add_argument("--model", default="llama-small-55m")
    parser.add_argument("--hardware", default="local-cpu")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    home_dir = Path(tempfile.mkdtemp(prefix="ie-overhead-"))
    os.environ["INFERENCE_ESTIMATION_HOME"] = str(home_dir)
    from inference_estimation.lib.home import activate_home

    activate_home(home_dir)
    import dagster as dg

    from inference_estimation.definitions import defs
    from inference_estimation.defs.benchmark_requests import benchmark_run_config
    from inference_estimation.defs.partitions import benchmark_partition_key
    from inference_estimation.launchers.local import LocalLauncher
    from inference_estimation.lib.catalog import load_catalog
    from inference_estimation.lib.sweeps.planning import build_job_spec

    instance = dg.DagsterInstance.get()
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    defs.resolve_job_def("catalog_job").execute_in_process(instance=instance, run_config=quiet)
    catalog = load_catalog()
    model, hw, sweep = catalog.model(args.model), catalog.hw(args.hardware), catalog.sweep(args.sweep)
    threads = LocalLauncher().threads

    bare_s, dagster_s = [], []
    for i in range(args.repeats):
        spec = build_job_spec(f"bare-{i}", model, hw, sweep, None).to_dict()
        spec["settings"]["threads"] = threads
        spec_path = home_dir / f"spec-{i}.json"
        spec_path.write_text(json.dumps(spec))
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "benchmark_jobs", "run", "--spec", str(spec_path), "--out",
                        str(home_dir / f"bare-{i}.jsonl")], check=True, env=env, stderr=subprocess.DEVNULL)
        bare_s.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        result = defs.resolve_job_def("benchmark_job").execute_in_process(
            instance=instance, partition_key=benchmark_partition_key(model.key, hw.key),
            run_config={**quiet, **benchmark_run_config(sweep.name)})
        dagster_s.append(time.perf_counter() - t0)
        assert result.success
        print(f"repeat {i}: bare {bare_s[-1]:.1f} s, through Dagster {dagster_s[-1]:.1f} s", flush=True)

    bare, through = statistics.median(bare_s), statistics.median(dagster_s)
    print(json.dumps({"sweep": sweep.name, "partition": f"{model.key}|{hw.key}", "points": len(sweep.batch_sizes)
                      * len(sweep.input_tokens) * len(sweep.output_tokens) * len(sweep.dtypes),
                      "bare_harness_s": round(bare, 2), "through_dagster_s": round(through, 2),
                      "overhead_ratio": round(through / bare, 3), "overhead_s": round(through - bare, 2)}, indent=2))


if __name__ == "__main__":
    main()
