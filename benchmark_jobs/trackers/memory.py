"""Peak memory of a block: process RSS sampled in a thread, plus the CUDA allocator's peak.

On CPU the model lives in the process's memory, so ``peak_memory_gb`` is the peak resident set
size (which includes the Python and torch runtime, a few hundred MB). On CUDA it is the peak
that torch's allocator handed out on the device during the block (weights, KV cache,
activations), which is what decides whether a workload fits.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType
from typing import Self

from benchmark_jobs.constants import BYTES_PER_GB, MEMORY_SAMPLE_HZ
from benchmark_jobs.device import is_cuda

_PROC_STATUS = Path("/proc/self/status")


def current_rss_bytes() -> int | None:
    """Resident set size of this process in bytes; None where it cannot be read."""
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024  # the kernel reports kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - psutil missing, or unsupported on this platform
        return None


class MemoryTracker:
    """Records the peak memory while a ``with`` block runs.

    Attributes:
        peak_rss_gb: highest process RSS seen (sampled at ``sample_hz``), None if unreadable.
        peak_device_memory_gb: CUDA allocator peak on ``device`` (None on CPU).
    """

    def __init__(self, device: str = "cpu", sample_hz: float = MEMORY_SAMPLE_HZ) -> None:
        self.device = device
        self.interval_s = 1.0 / sample_hz
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
        self._sample()
        if self._peak_rss_bytes is not None:
            self.peak_rss_gb = self._peak_rss_bytes / BYTES_PER_GB
