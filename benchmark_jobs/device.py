"""Facts about the machine the harness runs on, read without torch where possible."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from benchmark_jobs.constants import BYTES_PER_GB


def is_cuda(device: str) -> bool:
    """Whether a torch device string names a CUDA (or ROCm, which torch also calls cuda) device."""
    return device.startswith("cuda")


def cpu_model_name() -> str | None:
    """The CPU model as the kernel reports it (``model name`` in /proc/cpuinfo).

    Falls back to :func:`platform.processor` where /proc is not available; None if both are empty.
    """
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model name", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def logical_cores() -> int:
    """Logical cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def total_memory_gb() -> float | None:
    """Physical memory of the machine in GB (10^9 bytes); None if unknown."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / BYTES_PER_GB
    except (ValueError, OSError, AttributeError):
        return None


def device_name(device: str) -> str | None:
    """The device as it reports itself: the CUDA device name, else the CPU model name."""
    if is_cuda(device):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    return cpu_model_name()


def is_loopback_url(url: str) -> bool:
    """Whether an http(s) URL points at this machine (localhost, 127.0.0.0/8, ::1)."""
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
