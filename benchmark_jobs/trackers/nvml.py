"""NVIDIA power sources through NVML (``nvidia-ml-py``, imported as ``pynvml``), lazily.

* ``nvml-energy``: ``nvmlDeviceGetTotalEnergyConsumption`` -- millijoules since the driver
  loaded, a hardware counter on Volta and newer. Preferred: no sampling, no aliasing.
* ``nvml-power``: where that call is not supported, ``nvmlDeviceGetPowerUsage`` (milliwatts)
  sampled in a thread at :data:`POWER_SAMPLE_HZ` and integrated.

Both cover the whole board of each device (scope ``device``; ``all-devices`` when several are
summed for tensor parallelism). Which physical GPU ``cuda:N`` is follows
``CUDA_VISIBLE_DEVICES`` (indices or UUIDs), as CUDA numbers them. Without the library, the
driver, or an NVIDIA GPU, :func:`nvml_power_source` returns None and the run reports ``none``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from benchmark_jobs.constants import POWER_SAMPLE_HZ
from benchmark_jobs.trackers.power_source import PowerSource, SampledPowerSource


class NvmlEnergySource(PowerSource):
    """Sum of NVML total-energy counters (mJ) of the given device handles."""

    name = "nvml-energy"
    measures_idle = True

    def __init__(
        self,
        nvml: ModuleType,
        handles: list[Any],
        *,
        device_name: str | None = None,
        driver_version: str | None = None,
    ) -> None:
        self.nvml = nvml
        self.handles = handles
        self.scope = "device" if len(handles) == 1 else "all-devices"
        self.device_count = len(handles)
        self.device_name = device_name
        self.driver_version = driver_version

    def read(self) -> list[int]:
        return [int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(h)) for h in self.handles]

    def energy_between_j(self, start: list[int], end: list[int]) -> float:
        return sum(e - s for s, e in zip(start, end, strict=False)) / 1e3


def nvml_power_source(
    device: str,
    device_count: int = 1,
    *,
    nvml: ModuleType | None = None,
    environ: Mapping[str, str] | None = None,
    sample_hz: float = POWER_SAMPLE_HZ,
) -> PowerSource | None:
    """The NVML source for ``device`` (and the next ``device_count - 1``), or None.

    Args:
        device: torch device string (``cuda``, ``cuda:1``).
        device_count: devices to sum over, from ``device`` on.
        nvml: the NVML module (default: ``import pynvml``; tests pass a stand-in).
        environ: environment to read ``CUDA_VISIBLE_DEVICES`` from (default: ``os.environ``).
        sample_hz: sampling rate of the power fallback.
    """
    if nvml is None:
        try:
            import pynvml as nvml
        except Exception:  # noqa: BLE001 - not installed, or a broken install: no source
            return None
    try:
        nvml.nvmlInit()
    except Exception:  # noqa: BLE001 - NVMLError_LibraryNotFound/DriverNotLoaded: not an NVIDIA machine
        return None
    selectors = visible_device_selectors(device, device_count, os.environ if environ is None else environ)
    if not selectors:
        return None
    try:
        handles = [_handle(nvml, selector) for selector in selectors]
        name = _text(nvml.nvmlDeviceGetName(handles[0]))
    except Exception:  # noqa: BLE001 - no such device
        return None
    driver = _optional_text(lambda: nvml.nvmlSystemGetDriverVersion())
    try:
        for handle in handles:
            nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        return NvmlEnergySource(nvml, handles, device_name=name, driver_version=driver)
    except Exception:  # noqa: BLE001 - NVMLError_NotSupported before Volta: sample power instead
        pass
    try:
        for handle in handles:
            nvml.nvmlDeviceGetPowerUsage(handle)
    except Exception:  # noqa: BLE001 - no power sensor either
        return None

    def read_power_w() -> float:
        return sum(nvml.nvmlDeviceGetPowerUsage(h) for h in handles) / 1e3

    source = SampledPowerSource(
        read_power_w,
        name="nvml-power",
        scope="device" if len(handles) == 1 else "all-devices",
        sample_hz=sample_hz,
    )
    source.device_name = name
    source.driver_version = driver
    source.device_count = len(handles)
    return source


def visible_device_selectors(device: str, device_count: int, environ: Mapping[str, str]) -> list[int | str]:
    """NVML selectors (index or UUID) of the devices ``device`` .. ``device + count - 1``.

    CUDA numbers devices within ``CUDA_VISIBLE_DEVICES`` when it is set, so ``cuda:0`` with
    ``CUDA_VISIBLE_DEVICES=3,1`` is physical GPU 3; entries may also be UUIDs (``GPU-...``).
    Returns an empty list when the devices are not visible.
    """
    _, _, index_text = device.partition(":")
    first = int(index_text) if index_text else 0
    wanted = range(first, first + max(device_count, 1))
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return list(wanted)
    entries = [entry.strip() for entry in visible.split(",") if entry.strip()]
    if len(entries) < wanted.stop:
        return []
    return [int(entries[i]) if entries[i].isdigit() else entries[i] for i in wanted]


def _handle(nvml: ModuleType, selector: int | str) -> Any:
    if isinstance(selector, int):
        return nvml.nvmlDeviceGetHandleByIndex(selector)
    return nvml.nvmlDeviceGetHandleByUUID(selector)


def _text(value: str | bytes) -> str:
    """Older NVML bindings return bytes."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _optional_text(getter: Any) -> str | None:
    try:
        return _text(getter())
    except Exception:  # noqa: BLE001 - provenance only
        return None
