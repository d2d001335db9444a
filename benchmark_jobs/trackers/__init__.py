"""Trackers: context managers that measure a block (latency, peak memory, energy).

Each one synchronises the device before it reads its clock or counter, so asynchronous device
work is attributed to the block that launched it. Power sources (RAPL, the CPU estimate, NVML,
amdsmi) are counters the energy tracker reads at both ends of a block.
"""

from benchmark_jobs.trackers.energy import EnergyTracker, select_power_source
from benchmark_jobs.trackers.latency import LatencyTracker
from benchmark_jobs.trackers.memory import MemoryTracker
from benchmark_jobs.trackers.power_source import PowerSource, SampledPowerSource

__all__ = [
    "EnergyTracker",
    "LatencyTracker",
    "MemoryTracker",
    "PowerSource",
    "SampledPowerSource",
    "select_power_source",
]
