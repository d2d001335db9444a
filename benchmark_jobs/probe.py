"""A short CPU probe: measured peak matmul throughput and memory bandwidth.

A VM's CPU name says little about what it delivers (shared hosts, turbo, vCPU counts), so the
local CPU's roofline facts come from measuring: the best of several float32 matmuls (numpy's
BLAS, all cores) and the best of several large array copies (bytes read + bytes written,
split across threads). Both are "best of" because interference only ever makes a run slower.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from benchmark_jobs.constants import BYTES_PER_GB
from benchmark_jobs.device import cpu_model_name, logical_cores, total_memory_gb

#: Array size (per buffer) of the bandwidth probe: well past any last-level cache.
BANDWIDTH_BUFFER_BYTES = 128 * 2**20
#: Matmul sizes tried, small to large; the largest that fits the time budget is used.
MATMUL_SIZES = (512, 1024, 2048)
#: Repetitions of each probe at most ("best of").
MAX_REPEATS = 5


def probe_cpu(max_seconds: float = 3.0) -> dict[str, float | int | str | None]:
    """Measures this CPU's peak float32 matmul rate and memory bandwidth in about ``max_seconds``.

    Args:
        max_seconds: time budget of the whole probe (split between matmul and bandwidth).

    Returns:
        ``peak_matmul_gflops`` (GFLOP/s, 2n^3 per n x n matmul), ``memory_bandwidth_gb_s``
        (GB/s, read + write bytes of a copy), ``cpu_model``, ``logical_cores``, ``memory_gb``,
        ``probe_seconds`` (how long the probe took).
    """
    start_s = time.perf_counter()
    peak_matmul_gflops = _probe_matmul_gflops(max_seconds * 0.55)
    remaining_s = max(max_seconds - (time.perf_counter() - start_s), 0.1)
    memory_bandwidth_gb_s = _probe_bandwidth_gb_s(remaining_s * 0.9)
    return {
        "peak_matmul_gflops": peak_matmul_gflops,
        "memory_bandwidth_gb_s": memory_bandwidth_gb_s,
        "cpu_model": cpu_model_name(),
        "logical_cores": logical_cores(),
        "memory_gb": total_memory_gb(),
        "probe_seconds": time.perf_counter() - start_s,
    }


def _probe_matmul_gflops(budget_s: float) -> float:
    """Best float32 matmul rate; grows the size while a run takes well under the budget."""
    deadline_s = time.perf_counter() + budget_s
    rng = np.random.default_rng(0)
    best_gflops = 0.0
    for n in MATMUL_SIZES:
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        a @ b  # warm-up: thread pool start, page faults
        flops = 2.0 * n**3
        for _ in range(MAX_REPEATS):
            t0 = time.perf_counter()
            a @ b
            elapsed_s = time.perf_counter() - t0
            best_gflops = max(best_gflops, flops / elapsed_s / 1e9)
            if time.perf_counter() + elapsed_s > deadline_s:
                return best_gflops
        # The next size is 8x the work: only try it if that still fits the budget.
        if time.perf_counter() + 8 * (flops / (best_gflops * 1e9)) * 2 > deadline_s:
            break
    return best_gflops


def _probe_bandwidth_gb_s(budget_s: float) -> float:
    """Best copy bandwidth of a large buffer, the copy split across all cores."""
    n_threads = logical_cores()
    src = np.ones(BANDWIDTH_BUFFER_BYTES // 8, dtype=np.float64)
    dst = np.zeros_like(src)  # touched now, so page faults stay out of the timing
    chunks = np.array_split(np.arange(src.size), n_threads)
    bounds = [(int(c[0]), int(c[-1]) + 1) for c in chunks if c.size]

    def copy_range(lo: int, hi: int) -> None:
        np.copyto(dst[lo:hi], src[lo:hi])  # numpy releases the GIL for large copies

    def one_copy_s() -> float:
        threads = [threading.Thread(target=copy_range, args=b) for b in bounds]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - t0

    deadline_s = time.perf_counter() + budget_s
    best_s = one_copy_s()
    for _ in range(MAX_REPEATS - 1):
        if time.perf_counter() + best_s > deadline_s:
            break
        best_s = min(best_s, one_copy_s())
    return 2 * src.nbytes / best_s / BYTES_PER_GB


def probe_power_sources() -> dict[str, dict[str, str | None] | None]:
    """Which power source a run would use on this machine's CPU and on its GPU (if any).

    Imports NVML and amdsmi lazily and quietly (amdsmi prints to stdout when ROCm is absent),
    so the probe's JSON on stdout stays valid on any machine.

    Returns:
        ``{"cpu": {...}, "gpu": {...} or None}``, each with ``power_source``, ``power_scope``,
        ``device_name`` and ``driver_version``.
    """
    from benchmark_jobs.trackers import select_power_source

    found: dict[str, dict[str, str | None] | None] = {}
    for label, device in (("cpu", "cpu"), ("gpu", "cuda")):
        source = select_power_source(device)
        found[label] = (
            None
            if source is None
            else {
                "power_source": source.name,
                "power_scope": source.scope,
                "device_name": source.device_name or (cpu_model_name() if label == "cpu" else None),
                "driver_version": source.driver_version,
            }
        )
    return found
