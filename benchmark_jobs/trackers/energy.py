"""Energy of a block from the best power source the machine offers.

Sources, best first:
    * NVIDIA GPU: NVML's total-energy counter (``nvml-energy``, Volta and newer), else NVML
      power sampled at :data:`POWER_SAMPLE_HZ` and integrated (``nvml-power``); scope
      ``device`` (``all-devices`` when summed over several), see :mod:`.nvml`.
    * AMD GPU (torch calls ROCm devices ``cuda`` too): amdsmi's energy accumulator, else its
      socket power sampled (``amdsmi``), see :mod:`.amd`.
    * CPU: RAPL package counters (``rapl``, scope ``cpu-package``) when
      ``/sys/class/powercap/intel-rapl:N/energy_uj`` is readable (often root-only, and absent
      in most VMs).
    * CPU fallback: an estimate (``estimate``, scope ``cpu-package``): busy cores (process CPU
      time / wall time) x :data:`ESTIMATED_CPU_W_PER_BUSY_CORE`. A rough ballpark, flagged as
      such; predictors never train power targets on it.

A missing sensor is never reported as 0 W: it is ``power_source="none"`` with null values.
Every source is a monotonically increasing energy counter read at both ends of the block. GPU
libraries are imported lazily and fail soft: without them a GPU run reports ``none``.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from benchmark_jobs.constants import ESTIMATED_CPU_W_PER_BUSY_CORE
from benchmark_jobs.device import is_cuda
from benchmark_jobs.trackers.latency import synchronize
from benchmark_jobs.trackers.power_source import PowerSource, SampledPowerSource

POWERCAP_ROOT = Path("/sys/class/powercap")
_RAPL_PACKAGE_DIR = re.compile(r"^intel-rapl:\d+$")  # top-level zones; subzones are intel-rapl:N:M


class RaplSource(PowerSource):
    """Sum of the RAPL package domains (``intel-rapl:N``; AMD exposes the same interface).

    Counters wrap at ``max_energy_range_uj``; a reading lower than the previous one is taken as
    one wrap. Read at least once per wrap period (minutes at full load) -- trials are shorter.
    """

    name = "rapl"
    scope = "cpu-package"
    measures_idle = True

    def __init__(self, domains: list[Path]) -> None:
        self.domains = domains
        self.max_range_uj = [_read_int(d / "max_energy_range_uj") for d in domains]

    @classmethod
    def discover(cls, root: Path = POWERCAP_ROOT) -> RaplSource | None:
        """Finds the readable package domains under ``root``; None if there are none."""
        if not root.is_dir():
            return None
        domains = []
        for zone in sorted(root.iterdir()):
            if not _RAPL_PACKAGE_DIR.match(zone.name):
                continue
            try:
                name = (zone / "name").read_text().strip()
                _read_int(zone / "energy_uj")
                _read_int(zone / "max_energy_range_uj")
            except (OSError, ValueError):
                continue  # unreadable (permissions) or not a counter
            if name.startswith("package"):  # skip psys/dram-only top-level zones
                domains.append(zone)
        return cls(domains) if domains else None

    def read(self) -> list[int]:
        return [_read_int(d / "energy_uj") for d in self.domains]

    def energy_between_j(self, start: list[int], end: list[int]) -> float:
        total_uj = 0
        for begin_uj, end_uj, range_uj in zip(start, end, self.max_range_uj, strict=False):
            delta_uj = end_uj - begin_uj
            if delta_uj < 0:  # the counter wrapped once
                delta_uj += range_uj
            total_uj += delta_uj
        return total_uj / 1e6


class EstimatedCpuSource(PowerSource):
    """CPU power estimated from this process's CPU time (children included).

    The counter is ``w_per_busy_core`` x CPU seconds, so over a block the average power is
    ``w_per_busy_core`` x busy cores, where busy cores = CPU seconds / wall seconds. It counts
    only this process's work (not other load on the machine, nor uncore or idle power).
    """

    name = "estimate"
    scope = "cpu-package"
    measures_idle = False
    min_window_s = 0.0  # CPU time has nanosecond resolution: any window is long enough

    def __init__(self, w_per_busy_core: float = ESTIMATED_CPU_W_PER_BUSY_CORE) -> None:
        self.w_per_busy_core = w_per_busy_core

    def read(self) -> float:
        # process_time has ns resolution (threads included); children come from os.times.
        children = os.times()
        return time.process_time() + children.children_user + children.children_system

    def energy_between_j(self, start: float, end: float) -> float:
        return max(end - start, 0.0) * self.w_per_busy_core


def select_power_source(
    device: str, powercap_root: Path = POWERCAP_ROOT, *, device_count: int = 1
) -> PowerSource | None:
    """Picks the best power source for ``device``; None when nothing can be measured.

    Args:
        device: torch device string of the run.
        powercap_root: where RAPL zones live (a parameter so tests can fake sysfs).
        device_count: GPUs the run uses from ``device`` on (tensor parallelism); their
            energies are summed (scope ``all-devices``).
    """
    if is_cuda(device):
        from benchmark_jobs.trackers.amd import amdsmi_power_source
        from benchmark_jobs.trackers.nvml import nvml_power_source

        return nvml_power_source(device, device_count) or amdsmi_power_source(device, device_count)
    return RaplSource.discover(powercap_root) or EstimatedCpuSource()


class EnergyTracker:
    """Energy and average power of a ``with`` block.

    Attributes:
        energy_j: joules spent in the block; None without a source (or if nothing was counted).
        elapsed_s: wall seconds of the block.
    """

    def __init__(self, source: PowerSource | None, device: str = "cpu") -> None:
        self.source = source
        self.device = device
        self.energy_j: float | None = None
        self.elapsed_s: float = 0.0
        self._start_reading: Any = None
        self._start_s = 0.0

    @property
    def power_source(self) -> str:
        """``power_source`` value of what was measured (``none`` without a source)."""
        return self.source.name if self.source is not None else "none"

    @property
    def power_scope(self) -> str | None:
        """``power_scope`` value (None without a source)."""
        return self.source.scope if self.source is not None else None

    @property
    def avg_power_w(self) -> float | None:
        """Average power over the block; None when energy was not measured."""
        if self.energy_j is None or self.elapsed_s <= 0:
            return None
        return self.energy_j / self.elapsed_s

    def __enter__(self) -> Self:
        if self.source is not None:
            self.source.start()
        synchronize(self.device)
        before_s = time.perf_counter()
        if self.source is not None:
            try:
                self._start_reading = self.source.read()
            except BaseException:
                self.source.stop()
                raise
        # The clock brackets the counter reading: its midpoint is when the reading was taken.
        self._start_s = (before_s + time.perf_counter()) / 2
        return self

    @property
    def running_s(self) -> float:
        """Wall seconds since the block started (inside it), without synchronising."""
        return time.perf_counter() - self._start_s

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            synchronize(self.device)
            before_s = time.perf_counter()
            end_reading = self.source.read() if self.source is not None else None
            self.elapsed_s = (before_s + time.perf_counter()) / 2 - self._start_s
            if self.source is not None:
                energy_j = self.source.energy_between_j(self._start_reading, end_reading)
                # A counter that did not move measured nothing; 0 J would be a false reading.
                self.energy_j = energy_j if energy_j > 0 else None
        finally:
            if self.source is not None:
                self.source.stop()


def measure_idle_power_w(source: PowerSource | None, window_s: float, device: str = "cpu") -> float | None:
    """Average power over an idle window, only for sources that are real sensors.

    Returns:
        Watts, or None when the source cannot measure idle power (estimate, no source).
    """
    if source is None or not source.measures_idle or window_s <= 0:
        return None
    with EnergyTracker(source, device) as tracker:
        time.sleep(window_s)
    return tracker.avg_power_w


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


__all__ = [
    "EnergyTracker",
    "EstimatedCpuSource",
    "PowerSource",
    "RaplSource",
    "SampledPowerSource",
    "measure_idle_power_w",
    "select_power_source",
]
