"""The CPU probe (matmul GFLOP/s and memory GB/s)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_probe_command_prints_positive_measured_peaks_and_machine_facts_within_its_budget():
    completed = subprocess.run(
        [sys.executable, "-m", "benchmark_jobs", "probe", "--seconds", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(completed.stdout)
    assert set(result) == {
        "peak_matmul_gflops",
        "memory_bandwidth_gb_s",
        "cpu_model",
        "logical_cores",
        "memory_gb",
        "probe_seconds",
        "power_sources",
    }
    assert result["peak_matmul_gflops"] > 1
    assert result["memory_bandwidth_gb_s"] > 0.5
    assert result["logical_cores"] >= 1 and result["memory_gb"] > 0
    assert 0 < result["probe_seconds"] < 3
    assert result["power_sources"]["cpu"]["power_source"] in ("rapl", "estimate")
    assert result["power_sources"]["cpu"]["power_scope"] == "cpu-package"
