"""AMD GPU power through amdsmi, imported lazily, quietly and failing soft.

``import amdsmi`` on a machine without ROCm does not raise ImportError: the PyPI package prints
two lines about ``libamd_smi.so`` to stdout and raises KeyError. The harness's stdout may be a
JSON document (``probe``) or JSON lines (``run``), so the import runs with stdout redirected --
Python's ``sys.stdout`` and file descriptor 1, for messages printed by C code -- and any
exception means "no amdsmi".

Sources (``power_source="amdsmi"``, scope ``device``/``all-devices``):
    * the energy accumulator (``amdsmi_get_energy_count``: ticks x ``counter_resolution`` uJ);
    * else socket power (``amdsmi_get_power_info``) sampled at :data:`POWER_SAMPLE_HZ`.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any

from benchmark_jobs.constants import POWER_SAMPLE_HZ
from benchmark_jobs.trackers.power_source import PowerSource, SampledPowerSource

#: Keys of ``amdsmi_get_power_info`` holding watts, best first (ROCm 7 unified field, MI300
#: current power, older average power; a field may read "N/A").
_POWER_KEYS = ("socket_power", "current_socket_power", "average_socket_power")
#: Environment variables that select AMD GPUs, most specific first.
_VISIBLE_ENV = ("ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")

_import_result: tuple[ModuleType | None, str | None] | None = None


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[io.StringIO]:
    """Redirects Python's stdout and file descriptor 1 into buffers for the block."""
    captured = io.StringIO()
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - a closed or odd stdout: nothing to flush
        pass
    try:
        saved_fd = os.dup(1)
    except OSError:  # no fd 1 at all: only Python-level output can be caught
        with contextlib.redirect_stdout(captured):
            yield captured
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            with contextlib.redirect_stdout(captured):
                yield captured
        finally:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)
            sink.seek(0)
            captured.write(sink.read().decode(errors="replace"))


def import_amdsmi() -> tuple[ModuleType | None, str | None]:
    """Imports amdsmi once, quietly.

    Returns:
        (module, None), or (None, why not) -- the reason includes anything it printed.
    """
    global _import_result
    if _import_result is None:
        module: ModuleType | None = None
        reason: str | None = None
        with _stdout_silenced() as printed:
            try:
                module = importlib.import_module("amdsmi")
            except Exception as exc:  # noqa: BLE001 - KeyError without ROCm, ImportError if absent
                reason = f"{type(exc).__name__}: {exc}"
        if reason is not None and printed.getvalue().strip():
            reason = f"{reason} (it printed: {printed.getvalue().strip()[:300]})"
        _import_result = (module, reason)
    return _import_result


class AmdsmiEnergySource(PowerSource):
    """Sum of amdsmi energy accumulators of the given processor handles."""

    name = "amdsmi"
    measures_idle = True

    def __init__(self, amdsmi: ModuleType, handles: list[Any], **facts: Any) -> None:
        self.amdsmi = amdsmi
        self.handles = handles
        self.scope = "device" if len(handles) == 1 else "all-devices"
        self.device_count = len(handles)
        self.device_name = facts.get("device_name")
        self.driver_version = facts.get("driver_version")

    def read(self) -> list[float]:
        return [energy_uj(self.amdsmi.amdsmi_get_energy_count(h)) for h in self.handles]

    def energy_between_j(self, start: list[float], end: list[float]) -> float:
        return sum(e - s for s, e in zip(start, end, strict=False)) / 1e6


def energy_uj(reading: Mapping[str, Any]) -> float:
    """Microjoules of an ``amdsmi_get_energy_count`` reading (key names differ by version)."""
    ticks = reading.get("energy_accumulator", reading.get("power"))
    if ticks is None:
        raise KeyError("amdsmi energy reading has neither 'energy_accumulator' nor 'power'")
    return float(ticks) * float(reading["counter_resolution"])


def socket_power_w(info: Mapping[str, Any]) -> float:
    """Watts from an ``amdsmi_get_power_info`` reading (the first numeric power field)."""
    for key in _POWER_KEYS:
        value = info.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
    raise KeyError(f"no numeric power field among {_POWER_KEYS} in {dict(info)}")


def amdsmi_power_source(
    device: str,
    device_count: int = 1,
    *,
    amdsmi: ModuleType | None = None,
    environ: Mapping[str, str] | None = None,
    sample_hz: float = POWER_SAMPLE_HZ,
) -> PowerSource | None:
    """The amdsmi source for ``device`` (and the next ``device_count - 1``), or None."""
    if amdsmi is None:
        amdsmi, _ = import_amdsmi()
        if amdsmi is None:
            return None
    try:
        amdsmi.amdsmi_init()
        all_handles = list(amdsmi.amdsmi_get_processor_handles())
    except Exception:  # noqa: BLE001 - no driver, no GPU
        return None
    indices = _visible_indices(device, device_count, os.environ if environ is None else environ)
    if not indices or max(indices) >= len(all_handles):
        return None
    handles = [all_handles[i] for i in indices]
    facts = {"device_name": _device_name(amdsmi, handles[0]), "driver_version": _driver_version(amdsmi, handles[0])}
    try:
        for handle in handles:
            energy_uj(amdsmi.amdsmi_get_energy_count(handle))
        return AmdsmiEnergySource(amdsmi, handles, **facts)
    except Exception:  # noqa: BLE001 - no energy counter: sample power instead
        pass
    try:
        for handle in handles:
            socket_power_w(amdsmi.amdsmi_get_power_info(handle))
    except Exception:  # noqa: BLE001 - no power sensor either
        return None

    def read_power_w() -> float:
        return sum(socket_power_w(amdsmi.amdsmi_get_power_info(h)) for h in handles)

    source = SampledPowerSource(
        read_power_w, name="amdsmi", scope="device" if len(handles) == 1 else "all-devices", sample_hz=sample_hz
    )
    source.device_name = facts["device_name"]
    source.driver_version = facts["driver_version"]
    source.device_count = len(handles)
    return source


def _visible_indices(device: str, device_count: int, environ: Mapping[str, str]) -> list[int]:
    """Amdsmi handle indices of ``device`` onwards, through the ROCm visibility variables."""
    _, _, index_text = device.partition(":")
    first = int(index_text) if index_text else 0
    wanted = range(first, first + max(device_count, 1))
    for variable in _VISIBLE_ENV:
        visible = environ.get(variable)
        if visible is not None:
            entries = [e.strip() for e in visible.split(",") if e.strip()]
            if len(entries) < wanted.stop or not all(entries[i].isdigit() for i in wanted):
                return []  # too few, or UUIDs: not mapped here
            return [int(entries[i]) for i in wanted]
    return list(wanted)


def _device_name(amdsmi: ModuleType, handle: Any) -> str | None:
    try:
        return str(amdsmi.amdsmi_get_gpu_asic_info(handle)["market_name"]) or None
    except Exception:  # noqa: BLE001 - provenance only
        return None


def _driver_version(amdsmi: ModuleType, handle: Any) -> str | None:
    try:
        return str(amdsmi.amdsmi_get_gpu_driver_info(handle)["driver_version"]) or None
    except Exception:  # noqa: BLE001 - provenance only
        return None
