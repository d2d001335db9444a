"""Peak memory of a block: the process's peak RSS, plus the CUDA allocator's peak.

On CPU the model lives in the process's memory, so ``peak_memory_gb`` is the peak resident set
size (which includes the Python and torch runtime, a few hundred MB). On CUDA it is the peak
that torch's allocator handed out on the device during the block (weights, KV cache,
activations), which is what decides whether a workload fits.

The RSS peak comes from the kernel where it can: Linux keeps the high-water mark (``VmHWM``)
and resets it to the current RSS when ``5`` is written to ``/proc/self/clear_refs`` (Linux 4.0+),
so the peak of a block is exact and costs nothing while it runs. Elsewhere a thread samples the
RSS at :data:`MEMORY_SAMPLE_HZ` (which costs about 3% of a core at 100 Hz and can miss
allocations shorter than a sample period).
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType
from typing import Self

from benchmark_jobs.constants import BYTES_PER_GB, MEMORY_SAMPLE_HZ
from benchmark_jobs.device import is_cuda

_PROC_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_RESET_PEAK_RSS = "5"  # clear_refs command: reset VmHWM to the current RSS


def _status_bytes(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status in bytes; None where it cannot be read."""
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024  # the kernel reports kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def reset_peak_rss() -> bool:
    """Resets the kernel's RSS high-water mark to the current RSS; False where unsupported."""
    try:
        _CLEAR_REFS.write_text(_RESET_PEAK_RSS)
    except OSError:
        return False
    return _status_bytes("VmHWM") is not None


def current_rss_bytes() -> int | None:
    """Resident set size of this process in bytes; None where it cannot be read."""
    rss = _status_bytes("VmRSS")
    if rss is not None:
        return rss
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - psutil missing, or unsupported on this platform
        return None


class MemoryTracker:
    """Records the peak memory while a ``with`` block runs.

    Attributes:
        peak_rss_gb: highest process RSS of the block (the kernel's high-water mark, else
            sampled at ``sample_hz``), None if unreadable.
        peak_device_memory_gb: CUDA allocator peak on ``device`` (None on CPU).
        uses_kernel_peak: whether the kernel's high-water mark was used (no sampling thread).
    """

    def __init__(self, device: str = "cpu", sample_hz: float = MEMORY_SAMPLE_HZ, *, use_kernel_peak: bool = True) -> None:
        self.device = device
        self.interval_s = 1.0 / sample_hz
        self.use_kernel_peak = use_kernel_peak
        self.uses_kernel_peak = False
        self.peak_rss_gb: float | None = None
        self.peak_device_memory_gb: float | None = None
        self._peak_rss_bytes: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def peak_memory_gb(self) -> float | None:
        """The figure reported as ``peak_memory_gb``: device memory on CUDA, process RSS on CPU."""
        if is_cuda(self.device):
            return self.peak_device_memory_gb
        return self.peak_rss_gb

    def _sample(self) -> None:
        rss = current_rss_bytes()
        if rss is not None and (self._peak_rss_bytes is None or rss > self._peak_rss_bytes):
            self._peak_rss_bytes = rss

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __enter__(self) -> Self:
        if is_cuda(self.device):
            import torch

            torch.cuda.synchronize(torch.device(self.device))
            torch.cuda.reset_peak_memory_stats(torch.device(self.device))
        self._sample()
        self.uses_kernel_peak = self.use_kernel_peak and reset_peak_rss()
        if not self.uses_kernel_peak:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="memory-tracker", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if is_cuda(self.device):
            import torch

            torch.cuda.synchronize(torch.device(self.device))
            self.peak_device_memory_gb = (
                torch.cuda.max_memory_allocated(torch.device(self.device)) / BYTES_PER_GB
            )
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._sample()
        if self.uses_kernel_peak:
            peak = _status_bytes("VmHWM")
            if peak is not None and (self._peak_rss_bytes is None or peak > self._peak_rss_bytes):
                self._peak_rss_bytes = peak
        if self._peak_rss_bytes is not None:
            self.peak_rss_gb = self._peak_rss_bytes / BYTES_PER_GB
