"""The GPU check script, through its CPU path (no GPU here): it must run from source and pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import benchmark_jobs
from benchmark_jobs.gpu_check import format_table
from benchmark_jobs.schema import MeasurementRecord

SCRIPT = Path(benchmark_jobs.__file__).parent / "gpu_check.py"


def test_gpu_check_cpu_quick_path_runs_from_source_by_file_path_and_prints_figures_and_power_sources(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--quick", "--out", str(tmp_path)],
        cwd=tmp_path,  # not the repository: the script finds the package itself
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    out = completed.stdout
    assert "power source: " in out and "GPU CHECK PASSED" in out
    assert "GPU CHECK PASSED" in (tmp_path / "gpu_check_report.txt").read_text()
    header = next(line for line in out.splitlines() if line.strip().startswith("case"))
    for column in ("e2e_s", "ttft_ms", "tpot_ms", "power_w", "energy_j", "source", "scope"):
        assert column in header
    rows = [json.loads(line) for line in (tmp_path / "gpu_check_rows.jsonl").read_text().splitlines()]
    cases = {row.pop("case") for row in rows}
    assert {"tiny-gpt2", "serving-tiny-server"} <= cases
    records = [MeasurementRecord.from_dict(row) for row in rows]
    assert all(r.status == "ok" for r in records)
    assert {r.mode for r in records} == {"offline", "serving"}


def test_gpu_check_table_shows_nulls_as_dashes_and_scales_units():
    record = MeasurementRecord(
        source="local", run_id="r", sweep=None, partition_key=None, model_key="m", hardware_key="h",
        measured_at="2026-01-01T00:00:00+00:00", batch_size=4, ttft_s=0.0123, power_source="nvml-energy",
        power_scope="device", avg_power_w=512.5, energy_j=3.0,
    )  # fmt: skip
    table = format_table([("case-a", record)])
    header, line = table.splitlines()
    assert "12.3" in line  # ttft in ms
    assert "nvml-energy" in line and "512" in line and " - " in line
    assert len(header) == len(line)
