"""Turning measured trials into measurement records (and failed points into status rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from benchmark_jobs import __version__
from benchmark_jobs.backends import Backend, GenerationTiming
from benchmark_jobs.constants import ERROR_MESSAGE_MAX_CHARS
from benchmark_jobs.device import device_name
from benchmark_jobs.schema import MeasurementRecord
from benchmark_jobs.spec import JobSpec, WorkloadPoint
from benchmark_jobs.stats import coefficient_of_variation, median, percentiles
from benchmark_jobs.trackers import PowerSource


@dataclass
class Trials:
    """What the timed trials of one point produced.

    Attributes:
        timings: clock readings of each timed trial.
        energies_j: energy of each trial (None where the counter measured nothing).
        elapsed_s: wall seconds of each trial, as the energy tracker saw them.
        peak_memory_gb: peak memory over all trials (see :class:`MemoryTracker`).
    """

    timings: list[GenerationTiming]
    energies_j: list[float | None]
    elapsed_s: list[float]
    peak_memory_gb: float | None


def ok_record(
    spec: JobSpec,
    point: WorkloadPoint,
    backend: Backend,
    source: PowerSource | None,
    idle_power_w: float | None,
    trials: Trials,
) -> MeasurementRecord:
    """The record of a measured point: medians over trials, percentiles, energy per batch.

    Energy per batch is the energy of all timed trials divided by their number; average power is
    that energy over the trials' wall time. Without a source, or if any trial's counter did not
    move, power fields are null with ``power_source="none"``.
    """
    timings = trials.timings
    n_trials = len(timings)
    e2e_s = median([t.e2e_latency_s for t in timings])
    ttfts_s = [t.ttft_s for t in timings]
    itls_s = [gap for t in timings for gap in t.itl_s]
    ttft_p50, ttft_p90, ttft_p99 = percentiles(ttfts_s)
    itl_p50, itl_p90, itl_p99 = percentiles(itls_s)
    output_tokens_total = point.batch_size * point.output_tokens
    all_tokens_total = point.batch_size * (point.input_tokens + point.output_tokens)

    energy_fields: dict[str, float | str | None] = {"power_source": "none", "power_scope": None}
    if source is not None and all(e is not None for e in trials.energies_j):
        total_energy_j = sum(e for e in trials.energies_j if e is not None)
        energy_j = total_energy_j / n_trials
        energy_fields = {
            "power_source": source.name,
            "power_scope": source.scope,
            "avg_power_w": total_energy_j / sum(trials.elapsed_s),
            "energy_j": energy_j,
            "energy_per_output_token_j": energy_j / output_tokens_total,
        }
    return MeasurementRecord(
        **_identity(spec, point, backend),
        e2e_latency_s=e2e_s,
        ttft_s=median(ttfts_s),
        tpot_s=median([t.tpot_s for t in timings]),
        output_throughput_tok_s=output_tokens_total / e2e_s if e2e_s else None,
        total_throughput_tok_s=all_tokens_total / e2e_s if e2e_s else None,
        ttft_p50_s=ttft_p50,
        ttft_p90_s=ttft_p90,
        ttft_p99_s=ttft_p99,
        itl_p50_s=itl_p50,
        itl_p90_s=itl_p90,
        itl_p99_s=itl_p99,
        peak_memory_gb=trials.peak_memory_gb,
        idle_power_w=idle_power_w,
        n_trials=n_trials,
        latency_cv=coefficient_of_variation([t.e2e_latency_s for t in timings]),
        status="ok",
        **energy_fields,
    )


def failed_record(
    spec: JobSpec, point: WorkloadPoint, backend: Backend, status: str, message: str
) -> MeasurementRecord:
    """A row for a point that could not be measured: null metrics, status and message."""
    return MeasurementRecord(
        **_identity(spec, point, backend),
        status=status,
        error=message[:ERROR_MESSAGE_MAX_CHARS],
        power_source="none",
    )


def _identity(spec: JobSpec, point: WorkloadPoint, backend: Backend) -> dict[str, object]:
    """Identity, provenance and workload fields shared by ok and failed rows."""
    return {
        "source": spec.source,
        "run_id": spec.run_id,
        "sweep": spec.sweep,
        "partition_key": spec.partition_key,
        "model_key": spec.model.key,
        "hardware_key": spec.hardware_key,
        "measured_at": datetime.now(UTC).isoformat(),
        "device_name": backend.device_name or _safe_device_name(spec.device),
        "device_count": 1,
        "engine": backend.engine_name or spec.backend,
        "engine_version": backend.engine_version,
        "harness_version": __version__,
        "weight_source": spec.weight_source,
        "dtype": point.dtype,
        "weight_dtype": point.dtype,
        "tensor_parallel": 1,
        "mode": "offline",
        "batch_size": point.batch_size,
        "input_tokens": point.input_tokens,
        "output_tokens": point.output_tokens,
        "prompt_type": point.prompt_type,
    }


def _safe_device_name(device: str) -> str | None:
    try:
        return device_name(device)
    except Exception:  # noqa: BLE001 - a name is provenance, not worth failing a row over
        return None
