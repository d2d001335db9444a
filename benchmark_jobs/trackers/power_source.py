"""What every power source is: a cumulative energy counter (read at both ends of a window).

Sensors that only report instantaneous power (NVML on GPUs without an energy counter, amdsmi
power) become counters through :class:`SampledPowerSource`, which integrates samples taken in
a thread while a window is open.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from benchmark_jobs.constants import MIN_SENSOR_ENERGY_WINDOW_S, POWER_SAMPLE_HZ


class PowerSource(ABC):
    """A cumulative energy counter.

    Attributes:
        name: the ``power_source`` value of records measured with it.
        scope: the ``power_scope`` value (what the counter covers).
        measures_idle: whether idle power can be measured with it (a real sensor); an estimate
            driven by this process's CPU time would only report its own idleness.
        min_window_s: shortest energy window worth reading (the counter's resolution in time);
            the default when a sweep does not set ``min_energy_window_s``.
        device_name: the device as the sensor's library names it (None if unknown).
        driver_version: the device driver's version (None if unknown).
        device_count: devices the counter sums over.
    """

    name: str = ""
    scope: str = ""
    measures_idle: bool = False
    min_window_s: float = MIN_SENSOR_ENERGY_WINDOW_S
    device_name: str | None = None
    driver_version: str | None = None
    device_count: int = 1

    def start(self) -> None:  # noqa: B027 - optional hook
        """Called when a window opens (sampled sources start their thread)."""

    def stop(self) -> None:  # noqa: B027 - optional hook
        """Called when a window closes."""

    @abstractmethod
    def read(self) -> Any:
        """Reads the counter; the value is opaque, pass it to :meth:`energy_between_j`."""

    @abstractmethod
    def energy_between_j(self, start: Any, end: Any) -> float:
        """Joules spent between two readings."""


class SampledPowerSource(PowerSource):
    """An energy counter integrated from power samples taken in a thread.

    While at least one window is open (``start`` .. ``stop``), a daemon thread reads the power
    every ``1 / sample_hz`` seconds; energy is the trapezoidal integral of the samples.
    ``read`` takes one more sample at once, so a window's ends are exact in time. Between
    windows nothing is sampled and nothing is integrated.

    Attributes:
        samples: power readings taken so far (the thread's and ``read``'s).
    """

    def __init__(
        self,
        read_power_w: Callable[[], float],
        *,
        name: str,
        scope: str,
        sample_hz: float = POWER_SAMPLE_HZ,
        measures_idle: bool = True,
    ) -> None:
        if sample_hz <= 0:
            raise ValueError("sample_hz must be > 0")
        self._read_power_w = read_power_w
        self.name = name
        self.scope = scope
        self.measures_idle = measures_idle
        self.interval_s = 1.0 / sample_hz
        self.samples = 0
        self._lock = threading.Lock()
        self._energy_j = 0.0
        self._last: tuple[float, float] | None = None  # (perf_counter, watts) of the last sample
        self._windows_open = 0
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _sample_locked(self) -> None:
        power_w = float(self._read_power_w())
        now_s = time.perf_counter()
        if self._last is not None:
            last_s, last_w = self._last
            self._energy_j += (last_w + power_w) / 2.0 * (now_s - last_s)
        self._last = (now_s, power_w)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            try:
                with self._lock:
                    self._sample_locked()
            except Exception as exc:  # noqa: BLE001 - reported by the next read()
                self._error = exc
                return

    def start(self) -> None:
        with self._lock:
            self._windows_open += 1
            if self._windows_open > 1:
                return
            self._last = None
            self._error = None
            self._sample_locked()
            self._stop_event.clear()
            self._thread = threading.Thread(target=self._run, name=f"{self.name}-sampler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._windows_open = max(self._windows_open - 1, 0)
            if self._windows_open:
                return
            thread, self._thread = self._thread, None
            self._stop_event.set()
        if thread is not None:
            thread.join()
        with self._lock:
            self._last = None  # the gap until the next window is not integrated

    def read(self) -> float:
        with self._lock:
            if self._error is None:
                try:
                    self._sample_locked()
                except Exception as exc:  # noqa: BLE001 - reported below, like the thread's
                    self._error = exc
            if self._error is not None:
                raise RuntimeError(f"{self.name} power sampling failed: {self._error!r}") from self._error
            return self._energy_j

    def energy_between_j(self, start: float, end: float) -> float:
        return end - start
