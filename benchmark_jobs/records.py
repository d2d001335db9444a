"""Turning measured trials into measurement records (and failed points into status rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from benchmark_jobs import __version__
from benchmark_jobs.backends import Backend
from benchmark_jobs.constants import ERROR_MESSAGE_MAX_CHARS
from benchmark_jobs.device import device_name
from benchmark_jobs.schema import MeasurementRecord
from benchmark_jobs.spec import JobSpec, WorkloadPoint
from benchmark_jobs.stats import coefficient_of_variation
from benchmark_jobs.trackers import PowerSource


@dataclass
class EnergyWindow:
    """One energy reading: a window holding one or more consecutive timed trials.

    Attributes:
        energy_j: energy of the window (None where the counter did not move or no source).
        elapsed_s: wall seconds of the window.
        n_trials: timed trials run inside it.
    """

    energy_j: float | None
    elapsed_s: float
    n_trials: int


@dataclass
class Trials:
    """What the timed trials of one point produced.

    Attributes:
        timings: the backend's timing of each timed trial.
        windows: the energy windows the trials ran in (each trial in exactly one).
        peak_memory_gb: peak memory over all trials (see :class:`MemoryTracker`); None when
            the engine does not run in this process.
    """

    timings: list[Any]
    windows: list[EnergyWindow]
    peak_memory_gb: float | None


def ok_record(
    spec: JobSpec,
    point: WorkloadPoint,
    backend: Backend,
    source: PowerSource | None,
    idle_power_w: float | None,
    trials: Trials,
) -> MeasurementRecord:
    """The record of a measured point: the backend's summary of its trials, plus energy.

    Energy per trial (``energy_j``) is the energy of all windows divided by the trials they
    held; average power is that energy over the windows' wall time; energy per output token
    divides the energy per trial by the tokens one trial generated. Without a source, or if
    any window's counter did not move, power fields are null with ``power_source="none"``.
    """
    timings = trials.timings
    summary = backend.summarize(point, timings)
    energy_fields: dict[str, Any] = {"power_source": "none", "power_scope": None}
    windows = trials.windows
    if source is not None and windows and all(w.energy_j is not None for w in windows):
        total_energy_j = sum(w.energy_j for w in windows if w.energy_j is not None)
        energy_j = total_energy_j / sum(w.n_trials for w in windows)
        tokens = summary.output_tokens_per_trial
        energy_fields = {
            "power_source": source.name,
            "power_scope": source.scope,
            "avg_power_w": total_energy_j / sum(w.elapsed_s for w in windows),
            "energy_j": energy_j,
            "energy_per_output_token_j": energy_j / tokens if tokens else None,
        }
    return MeasurementRecord(
        **_identity(spec, point, backend, source),
        **summary.fields,
        peak_memory_gb=trials.peak_memory_gb,
        idle_power_w=idle_power_w,
        n_trials=len(timings),
        latency_cv=coefficient_of_variation([t.e2e_latency_s for t in timings]),
        status="ok",
        **energy_fields,
    )


def failed_record(
    spec: JobSpec,
    point: WorkloadPoint,
    backend: Backend,
    status: str,
    message: str,
    source: PowerSource | None = None,
) -> MeasurementRecord:
    """A row for a point that could not be measured: null metrics, status and message."""
    return MeasurementRecord(
        **_identity(spec, point, backend, source),
        status=status,
        error=message[:ERROR_MESSAGE_MAX_CHARS],
        power_source="none",
    )


def _identity(
    spec: JobSpec, point: WorkloadPoint, backend: Backend, source: PowerSource | None
) -> dict[str, object]:
    """Identity, provenance and workload fields shared by ok and failed rows.

    The device's name comes from the backend, else (for a device on this machine) from the
    power source (NVML and amdsmi know it without torch), else from the device itself.
    """
    device_count = getattr(source, "device_count", None) or 1
    local_name = None
    if backend.device_is_local:
        local_name = getattr(source, "device_name", None) or _safe_device_name(spec.device)
    return {
        "source": spec.source,
        "run_id": spec.run_id,
        "sweep": spec.sweep,
        "partition_key": spec.partition_key,
        "model_key": spec.model.key,
        "hardware_key": spec.hardware_key,
        "measured_at": datetime.now(UTC).isoformat(),
        "device_name": backend.device_name or local_name,
        "device_count": device_count,
        "driver_version": getattr(source, "driver_version", None),
        "engine": backend.engine_name or spec.backend,
        "engine_version": backend.engine_version,
        "harness_version": __version__,
        "weight_source": spec.weight_source,
        "dtype": point.dtype,
        "weight_dtype": point.dtype,
        "tensor_parallel": int(spec.backend_options.get("tensor_parallel_size", 1)),
        **backend.workload_fields(point),
    }


def _safe_device_name(device: str) -> str | None:
    try:
        return device_name(device)
    except Exception:  # noqa: BLE001 - a name is provenance, not worth failing a row over
        return None
