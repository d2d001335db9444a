"""What does measuring cost? The same point with and without the trackers and power samplers.

Builds one model once, then times generations of one fixed point under each variant, the
variants interleaved round by round (in a shuffled order) so drift and interference hit all of
them alike:

* ``bare``: the backend's generate alone;
* ``energy-estimate``: inside the energy tracker with the CPU estimate (what runs here);
* ``sampler-20hz``: inside the energy tracker with a power source sampled in a thread at
  20 Hz -- the NVML/amdsmi power fallback's rate -- reading a sysfs-like file per sample
  (a stand-in for one NVML call: a syscall, tens of microseconds);
* ``sampler-100hz``: the same at 100 Hz (five times the default rate);
* ``memory``: inside the memory tracker as runs use it (on Linux the kernel's RSS high-water
  mark: no thread);
* ``memory-sampled-100hz``: the memory tracker's fallback, RSS sampled in a thread at 100 Hz;
* ``all``: memory tracker + 20 Hz sampler, as a GPU run without an energy counter has them.

Reports each variant's median latency and its overhead against ``bare`` (median of the
per-round ratios, with a bootstrap 95% interval), and -- immune to interference from other work
on the machine -- the CPU time each sampler thread itself burns per second of sampling, as a
share of one core: the most it can take from the measured work. Goal: <= 1%.

Usage:
    .venv/bin/python benchmarks/harness_sampler_overhead.py [--rounds 20] [--batch 1] [--output 32]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmark_jobs.backends import create_backend  # noqa: E402
from benchmark_jobs.spec import ModelSpec  # noqa: E402
from benchmark_jobs.trackers import EnergyTracker, MemoryTracker, SampledPowerSource  # noqa: E402
from benchmark_jobs.trackers.energy import EstimatedCpuSource  # noqa: E402

LLAMA_SMALL_55M = {
    "hidden_size": 512, "intermediate_size": 1408, "num_hidden_layers": 8, "num_attention_heads": 8,
    "num_key_value_heads": 2, "vocab_size": 32000, "max_position_embeddings": 2048,
}  # fmt: skip


def _sysfs_power_w() -> float:
    """A stand-in power reading that costs a syscall, as an NVML query does."""
    with open("/proc/loadavg") as f:
        return 100.0 + float(f.read().split()[0])


def _variants() -> dict[str, Callable[[], contextlib.AbstractContextManager]]:
    def sampled(hz: float) -> Callable[[], contextlib.AbstractContextManager]:
        return lambda: EnergyTracker(SampledPowerSource(_sysfs_power_w, name="nvml-power", scope="device", sample_hz=hz))

    def everything() -> contextlib.AbstractContextManager:
        stack = contextlib.ExitStack()
        stack.enter_context(MemoryTracker("cpu"))
        stack.enter_context(sampled(20.0)())
        return stack

    return {
        "bare": contextlib.nullcontext,
        "energy-estimate": lambda: EnergyTracker(EstimatedCpuSource()),
        "sampler-20hz": sampled(20.0),
        "sampler-100hz": sampled(100.0),
        "memory": lambda: MemoryTracker("cpu"),
        "memory-sampled-100hz": lambda: MemoryTracker("cpu", use_kernel_peak=False),
        "all": everything,
    }


def _sampler_cpu_share(make: Callable[[], contextlib.AbstractContextManager], seconds: float = 3.0) -> float:
    """CPU seconds per wall second that a tracker's background work costs (main thread asleep)."""
    cpu_start_s, wall_start_s = time.process_time(), time.perf_counter()
    with make():
        time.sleep(seconds)
    return (time.process_time() - cpu_start_s) / (time.perf_counter() - wall_start_s)


def _bootstrap_median_ci(values: list[float], n: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(n))
    return medians[int(0.025 * n)], medians[int(0.975 * n)]


def main() -> None:
    """Runs the benchmark and prints its report (see the module docstring)."""
    load_before = os.getloadavg()[0]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--input", type=int, default=64)
    parser.add_argument("--output", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    backend = create_backend("transformers")
    backend.load(ModelSpec(key="llama-small-55m", hf_id=None, family="llama", architecture=LLAMA_SMALL_55M), "float32", "cpu", "random", threads=args.threads)
    variants = _variants()
    for _ in range(3):  # warm-up
        backend.generate(args.batch, args.input, args.output)
    latencies: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    rng = random.Random(1)
    for round_index in range(args.rounds):
        rng.shuffle(order)
        for name in order:
            with variants[name]():
                timing = backend.generate(args.batch, args.input, args.output)
            latencies[name].append(timing.e2e_latency_s)
        print(f"round {round_index + 1}/{args.rounds}", file=sys.stderr, flush=True)

    bare = latencies["bare"]
    print(f"point: llama-small-55m, batch {args.batch}, {args.input} in, {args.output} out, {args.rounds} rounds")
    print("| variant | median e2e (s) | overhead vs bare (median of per-round ratios) | 95% CI |")
    print("| --- | --- | --- | --- |")
    for name, values in latencies.items():
        ratios = [v / b - 1 for v, b in zip(values, bare, strict=False)]
        low, high = _bootstrap_median_ci(ratios)
        print(
            f"| {name} | {statistics.median(values):.4f} | {statistics.median(ratios) * 100:+.2f}% | "
            f"[{low * 100:+.2f}%, {high * 100:+.2f}%] |"
        )
    spread = statistics.stdev(bare) / statistics.fmean(bare)
    print(f"(bare run-to-run CV {spread * 100:.2f}%: differences below it are noise)")
    print()
    print("| tracker | CPU time it costs, share of one core |")
    print("| --- | --- |")
    for name in ("energy-estimate", "sampler-20hz", "sampler-100hz", "memory", "memory-sampled-100hz", "all"):
        print(f"| {name} | {_sampler_cpu_share(variants[name]) * 100:.3f}% |")

    print(f"(1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} cores; other work on the machine inflates latency and spread)")

if __name__ == "__main__":
    main()
