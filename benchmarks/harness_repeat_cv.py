"""How repeatable is one fixed CPU point across independent harness runs?

Runs the same spec N times, each in a fresh process (``python -m benchmark_jobs run --spec``,
model built anew each time), and reports every run's median e2e latency, TTFT, TPOT and
within-run CV, then the coefficient of variation of those medians across runs -- the noise
floor a prediction or a comparison between two runs has to beat on this machine.

Usage:
    .venv/bin/python benchmarks/harness_repeat_cv.py [--runs 5] [--batch 1] [--input 64] [--output 32]
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

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmark_jobs.spec import JobSpec, MeasurementSettings, ModelSpec, WorkloadPoint  # noqa: E402

#: The catalog's llama-small-55m (8 layers, 512 hidden, 8 heads sharing 2 KV heads).
LLAMA_SMALL_55M = {
    "hidden_size": 512, "intermediate_size": 1408, "num_hidden_layers": 8, "num_attention_heads": 8,
    "num_key_value_heads": 2, "vocab_size": 32000, "max_position_embeddings": 2048, "tie_word_embeddings": False,
}  # fmt: skip


def main() -> None:
    """Runs the benchmark and prints its report (see the module docstring)."""
    load_before = os.getloadavg()[0]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--input", type=int, default=64)
    parser.add_argument("--output", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    spec = JobSpec(
        run_id="repeat-cv",
        source="local",
        sweep="repeat-cv",
        partition_key=None,
        hardware_key="local-cpu",
        device="cpu",
        backend="transformers",
        weight_source="random",
        model=ModelSpec(key="llama-small-55m", hf_id=None, family="llama", architecture=LLAMA_SMALL_55M),
        points=(WorkloadPoint(batch_size=args.batch, input_tokens=args.input, output_tokens=args.output),),
        settings=MeasurementSettings(warmup_runs=2, min_trials=5, max_trials=10, target_cv=0.03, threads=args.threads),
    )
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        spec_path = Path(folder) / "spec.json"
        spec_path.write_text(json.dumps(spec.to_dict()))
        for run in range(args.runs):
            out_path = Path(folder) / f"run{run}.jsonl"
            started_s = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "benchmark_jobs", "run", "--spec", str(spec_path), "--out", str(out_path)],
                cwd=REPO_ROOT,
                check=True,
                capture_output=True,
            )
            record = json.loads(out_path.read_text().splitlines()[0])
            record["wall_s"] = time.perf_counter() - started_s
            rows.append(record)
            print(
                f"run {run + 1}: e2e {record['e2e_latency_s']:.4f} s, ttft {record['ttft_s'] * 1e3:.2f} ms, "
                f"tpot {record['tpot_s'] * 1e3:.2f} ms, {record['n_trials']} trials, within-run cv "
                f"{record['latency_cv'] * 100:.2f}%, {record['avg_power_w']:.1f} W ({record['power_source']}), "
                f"{record['wall_s']:.1f} s",
                flush=True,
            )

    def cv(name: str) -> float:
        values = [r[name] for r in rows]
        return statistics.stdev(values) / statistics.fmean(values)

    print()
    print(f"point: llama-small-55m, batch {args.batch}, {args.input} in, {args.output} out, float32, {args.threads} threads")
    print("| metric | mean over runs | CV across runs |")
    print("| --- | --- | --- |")
    for name, unit, scale in (("e2e_latency_s", "s", 1), ("ttft_s", "ms", 1e3), ("tpot_s", "ms", 1e3), ("energy_j", "J", 1)):
        print(f"| {name} | {statistics.fmean(r[name] for r in rows) * scale:.4g} {unit} | {cv(name) * 100:.2f}% |")
    within = [r["latency_cv"] for r in rows]
    print(f"| within-run latency CV | median {statistics.median(within) * 100:.2f}% | max {max(within) * 100:.2f}% |")

    print(f"(1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} cores; other work on the machine inflates latency and spread)")

if __name__ == "__main__":
    main()
