"""Trackers: context managers that measure a block (latency, peak memory, energy).

Each one synchronises the device before it reads its clock or counter, so asynchronous device
work is attributed to the block that launched it.
"""

from benchmark_jobs.trackers.energy import EnergyTracker, PowerSource, select_power_source
from benchmark_jobs.trackers.latency import LatencyTracker
from benchmark_jobs.trackers.memory import MemoryTracker

__all__ = ["EnergyTracker", "LatencyTracker", "MemoryTracker", "PowerSource", "select_power_source"]
