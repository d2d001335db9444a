"""Memory and latency trackers on the CPU."""

from __future__ import annotations

import time

import numpy as np
import pytest

from benchmark_jobs.trackers import LatencyTracker, MemoryTracker
from benchmark_jobs.trackers.memory import current_rss_bytes


def test_memory_tracker_catches_a_short_lived_allocation_as_peak_rss():
    baseline_gb = current_rss_bytes() / 1e9
    with MemoryTracker("cpu") as tracker:
        block = np.ones(200_000_000 // 8)  # 200 MB, touched
        time.sleep(0.1)  # ten samples at 100 Hz
        del block
    assert tracker.peak_memory_gb == tracker.peak_rss_gb
    assert tracker.peak_rss_gb > baseline_gb + 0.15
    assert tracker.peak_device_memory_gb is None


def test_latency_tracker_measures_the_wall_time_of_its_block():
    with LatencyTracker("cpu") as tracker:
        time.sleep(0.05)
    assert 0.05 <= tracker.elapsed_s < 0.5
    assert tracker.end_s - tracker.start_s == tracker.elapsed_s


def test_memory_tracker_uses_the_kernels_high_water_mark_without_a_thread_where_linux_has_it():
    with MemoryTracker("cpu") as tracker:
        block = np.ones(150_000_000 // 8)  # 150 MB, touched and freed at once: no sampler would see it
        del block
    if not tracker.uses_kernel_peak:
        pytest.skip("this kernel cannot reset the RSS high-water mark")
    assert tracker._thread is None
    assert tracker.peak_rss_gb > current_rss_bytes() / 1e9 + 0.12


def test_memory_tracker_falls_back_to_sampling_the_rss_in_a_thread():
    with MemoryTracker("cpu", use_kernel_peak=False) as tracker:
        block = np.ones(200_000_000 // 8)
        time.sleep(0.1)
        del block
    assert not tracker.uses_kernel_peak
    assert tracker.peak_rss_gb > current_rss_bytes() / 1e9 + 0.15
