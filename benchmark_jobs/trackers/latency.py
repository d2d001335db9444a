"""Wall-clock latency of a block, with the device synchronised at both ends."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Self

from benchmark_jobs.device import is_cuda


def synchronize(device: str) -> None:
    """Waits for queued device work to finish (a no-op on CPU, where work is synchronous)."""
    if is_cuda(device):
        import torch

        torch.cuda.synchronize(torch.device(device))


class LatencyTracker:
    """Measures the wall time of a ``with`` block on ``time.perf_counter``.

    Attributes:
        start_s: clock after the device was synchronised on entry.
        end_s: clock after the device was synchronised on exit (None inside the block).
    """

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.start_s: float = 0.0
        self.end_s: float | None = None

    def __enter__(self) -> Self:
        synchronize(self.device)
        self.start_s = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        synchronize(self.device)
        self.end_s = time.perf_counter()

    @property
    def elapsed_s(self) -> float:
        """Seconds the block took (so far, if still inside it)."""
        end_s = self.end_s if self.end_s is not None else time.perf_counter()
        return end_s - self.start_s
