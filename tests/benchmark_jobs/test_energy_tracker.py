"""Energy sources: RAPL discovery and wrap-around on a fake sysfs, the CPU estimate, no source."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmark_jobs.constants import ESTIMATED_CPU_W_PER_BUSY_CORE
from benchmark_jobs.trackers import EnergyTracker, PowerSource, select_power_source
from benchmark_jobs.trackers.energy import EstimatedCpuSource, RaplSource, measure_idle_power_w


def _zone(root: Path, name: str, label: str, energy_uj: int, max_uj: int = 1_000_000_000) -> Path:
    zone = root / name
    zone.mkdir()
    (zone / "name").write_text(label + "\n")
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return zone


def test_rapl_discovery_keeps_only_readable_top_level_package_domains(tmp_path):
    _zone(tmp_path, "intel-rapl:0", "package-0", 5)
    _zone(tmp_path, "intel-rapl:0:0", "core", 5)  # a subzone: inside package-0 already
    _zone(tmp_path, "intel-rapl:1", "package-1", 5)
    _zone(tmp_path, "intel-rapl:2", "psys", 5)  # platform scope, not the CPU package
    source = RaplSource.discover(tmp_path)
    assert [d.name for d in source.domains] == ["intel-rapl:0", "intel-rapl:1"]
    assert (source.name, source.scope, source.measures_idle) == ("rapl", "cpu-package", True)


def test_rapl_energy_sums_packages_and_survives_a_counter_wrap(tmp_path):
    zone0 = _zone(tmp_path, "intel-rapl:0", "package-0", 990_000_000)
    zone1 = _zone(tmp_path, "intel-rapl:1", "package-1", 1_000_000)
    source = RaplSource.discover(tmp_path)
    start = source.read()
    (zone0 / "energy_uj").write_text("10000000\n")  # wrapped: 10 J to the top, 10 J after
    (zone1 / "energy_uj").write_text("6000000\n")  # +5 J
    assert source.energy_between_j(start, source.read()) == pytest.approx(25.0)


def test_power_source_selection_prefers_rapl_then_the_cpu_estimate_and_never_uses_them_for_a_gpu(tmp_path):
    assert isinstance(select_power_source("cpu", powercap_root=tmp_path / "absent"), EstimatedCpuSource)
    _zone(tmp_path, "intel-rapl:0", "package-0", 1)
    assert isinstance(select_power_source("cpu", powercap_root=tmp_path), RaplSource)
    # A GPU run measures the GPU (NVML, amdsmi) or nothing: this machine has neither.
    assert select_power_source("cuda:0", powercap_root=tmp_path) is None


@pytest.mark.serial  # counts the busy cores of one spinning thread: another test worker beside it skews that
def test_cpu_estimate_is_the_per_core_constant_times_busy_cores_for_a_busy_loop():
    with EnergyTracker(EstimatedCpuSource(), "cpu") as tracker:
        deadline = time.perf_counter() + 0.2
        while time.perf_counter() < deadline:
            pass
    busy_cores = tracker.avg_power_w / ESTIMATED_CPU_W_PER_BUSY_CORE
    assert 0.3 < busy_cores < 1.5  # one Python thread spinning (less if the machine is contended)
    assert tracker.energy_j == pytest.approx(tracker.avg_power_w * tracker.elapsed_s)
    assert (tracker.power_source, tracker.power_scope) == ("estimate", "cpu-package")


def test_without_a_source_the_tracker_reports_none_with_null_energy_and_power():
    with EnergyTracker(None, "cpu") as tracker:
        time.sleep(0.01)
    assert tracker.power_source == "none" and tracker.power_scope is None
    assert tracker.energy_j is None and tracker.avg_power_w is None


class _ConstantPowerSource(PowerSource):
    """A fake sensor drawing a constant 5 W."""

    name = "rapl"
    scope = "cpu-package"
    measures_idle = True

    def read(self) -> float:
        return time.perf_counter() * 5.0

    def energy_between_j(self, start: float, end: float) -> float:
        return end - start


class _FrozenCounterSource(_ConstantPowerSource):
    def read(self) -> float:
        return 42.0


def test_idle_power_is_measured_only_with_a_real_sensor():
    assert measure_idle_power_w(_ConstantPowerSource(), 0.2) == pytest.approx(5.0, rel=0.05)
    assert measure_idle_power_w(EstimatedCpuSource(), 0.05) is None
    assert measure_idle_power_w(None, 0.05) is None


def test_a_counter_that_did_not_move_is_reported_as_not_measured_rather_than_zero_joules():
    with EnergyTracker(_FrozenCounterSource(), "cpu") as tracker:
        pass
    assert tracker.energy_j is None and tracker.avg_power_w is None
