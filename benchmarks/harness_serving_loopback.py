"""Serving figures: the openai-server backend against the tiny loopback server.

Starts ``tests/benchmark_jobs/support/tiny_openai_server.py`` (a random-weight GPT-2 that
generates token by token, one forward pass at a time under a lock), then loads it at several
Poisson request rates and fixed concurrencies and prints vLLM-style serving metrics: TTFT, ITL
and e2e mean and percentiles, output and request throughput, and goodput under TTFT/TPOT limits.

Usage:
    .venv/bin/python benchmarks/harness_serving_loopback.py [--requests 40] [--input 64] [--output 32]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests" / "benchmark_jobs" / "support"))

from tiny_openai_server import running_server  # noqa: E402

from benchmark_jobs.runner import run_spec  # noqa: E402
from benchmark_jobs.spec import JobSpec, MeasurementSettings, ModelSpec, ServingSettings, serving_points  # noqa: E402

SERVER_MODEL = {"n_layer": 4, "n_embd": 128, "n_head": 4, "vocab_size": 8000, "n_positions": 512}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e3:.1f}"


def main() -> None:
    """Runs the benchmark and prints its report (see the module docstring)."""
    load_before = os.getloadavg()[0]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--input", type=int, default=64)
    parser.add_argument("--output", type=int, default=32)
    parser.add_argument("--ttft-limit-s", type=float, default=0.1)
    parser.add_argument("--tpot-limit-s", type=float, default=0.02)
    args = parser.parse_args()

    server_args = ["--max-requests", "100000", "--max-seconds", "900", "--threads", "1"]
    for key, value in SERVER_MODEL.items():
        server_args += [f"--{key.replace('_', '-')}", str(value)]
    points = serving_points(args.requests, [args.input], [args.output], [5.0, 20.0, 50.0, None], [None]) + serving_points(
        args.requests, [args.input], [args.output], [None], [1, 4, 16]
    )
    with running_server(*server_args) as url:
        spec = JobSpec(
            run_id="serving-loopback",
            source="local",
            sweep="serving-loopback",
            partition_key=None,
            hardware_key="local-cpu",
            device="cpu",
            backend="openai-server",
            weight_source="random",
            model=ModelSpec(key="tiny-server-gpt2", hf_id=None, family="gpt2", architecture={"vocab_size": SERVER_MODEL["vocab_size"]}),
            points=points,
            settings=MeasurementSettings(warmup_runs=1, min_trials=2, max_trials=3, target_cv=0.05, point_timeout_s=300),
            serving=ServingSettings(base_url=url, ttft_limit_s=args.ttft_limit_s, tpot_limit_s=args.tpot_limit_s),
        )
        records = run_spec(spec, lambda r: None, lambda m: print(m, file=sys.stderr, flush=True))

    print(
        f"tiny server: GPT-2 {SERVER_MODEL['n_layer']} layers x {SERVER_MODEL['n_embd']}, 1 torch thread; "
        f"{args.requests} requests/trial, {args.input} in, {args.output} out; goodput limits TTFT <= "
        f"{args.ttft_limit_s * 1e3:g} ms, TPOT <= {args.tpot_limit_s * 1e3:g} ms"
    )
    print(
        "| rate rps | conc | trials | TTFT mean/p50/p90/p99 ms | ITL p50/p90/p99 ms | TPOT mean ms | "
        "e2e mean/p50/p90/p99 ms | out tok/s | req/s | goodput req/s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in records:
        if r.status != "ok":
            print(f"| {r.request_rate_rps or 'inf'} | {r.concurrency or '-'} | {r.status}: {r.error} |")
            continue
        print(
            f"| {r.request_rate_rps or 'inf'} | {r.concurrency or '-'} | {r.n_trials} | "
            f"{_ms(r.ttft_s)}/{_ms(r.ttft_p50_s)}/{_ms(r.ttft_p90_s)}/{_ms(r.ttft_p99_s)} | "
            f"{_ms(r.itl_p50_s)}/{_ms(r.itl_p90_s)}/{_ms(r.itl_p99_s)} | {_ms(r.tpot_s)} | "
            f"{_ms(r.e2e_latency_s)}/{_ms(r.e2e_p50_s)}/{_ms(r.e2e_p90_s)}/{_ms(r.e2e_p99_s)} | "
            f"{r.output_throughput_tok_s:.0f} | {r.request_throughput_rps:.2f} | {r.goodput_rps:.2f} |"
        )

    print(f"(1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} cores; other work on the machine inflates latency and spread)")

if __name__ == "__main__":
    main()
