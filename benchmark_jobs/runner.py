"""Runs a job spec: builds the model once per dtype and measures every workload point.

Per point: untimed warm-up trials, then timed trials until the e2e latency is stable (sample
CV <= ``target_cv``, at least ``min_trials``, at most ``max_trials``), with a cooldown between
energy windows, all under ``point_timeout_s``. Energy is read over windows of at least
``min_energy_window_s``: a trial shorter than that is repeated back to back inside the window
(each repetition is a timed trial too), because power counters update only every 20-100 ms.
A point that fails becomes a row with status ``oom``/``timeout``/``error``, null metrics and the
error message, and the sweep goes on; only failing to build the model at all (or invalid backend
options) is fatal (:class:`BenchmarkSetupError`).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmark_jobs.backends import Backend, PointTimeoutError, create_backend
from benchmark_jobs.constants import ERROR_MESSAGE_MAX_CHARS, IDLE_POWER_WINDOW_S, RANDOM_SEED
from benchmark_jobs.device import is_cuda
from benchmark_jobs.records import EnergyWindow, Trials, failed_record, ok_record
from benchmark_jobs.schema import MeasurementRecord
from benchmark_jobs.spec import JobSpec, MeasurementSettings, WorkloadPoint
from benchmark_jobs.stats import coefficient_of_variation
from benchmark_jobs.trackers import EnergyTracker, MemoryTracker, PowerSource, select_power_source
from benchmark_jobs.trackers.energy import measure_idle_power_w

#: Error messages (lower case) of engines running out of device or host memory.
_OOM_MESSAGES = (
    "out of memory",
    "no available memory for the cache blocks",  # vLLM: weights leave no room for a KV cache
    "larger than the maximum number of tokens that can be stored in kv cache",  # vLLM
    "insufficient memory",
)

Emit = Callable[[MeasurementRecord], None]
Log = Callable[[str], None]


class BenchmarkSetupError(RuntimeError):
    """The run cannot start (e.g. the model cannot be built); nothing is measured."""


def _start(spec: JobSpec, log: Log, backend_factory: Callable[[str], Backend],
           power_source: PowerSource | None | str) -> tuple[Backend, PowerSource | None, float, float | None]:
    """The configured backend, its power source, the energy window and the idle power before any load.

    Raises:
        BenchmarkSetupError: the backend cannot be created or rejected its options.
    """
    try:
        backend = backend_factory(spec.backend)
        backend.configure(spec)
    except Exception as exc:
        raise BenchmarkSetupError(f"backend {spec.backend!r} cannot start: {_describe(exc)}") from exc
    if power_source == "auto":
        tensor_parallel = int(spec.backend_options.get("tensor_parallel_size", 1))
        power_source = select_power_source(spec.device, device_count=tensor_parallel)
    source = backend.usable_power_source(power_source)
    window_s = energy_window_s(spec.settings, source)
    log(
        f"run {spec.run_id}: model {spec.model.key} on {spec.hardware_key} ({spec.device}), "
        f"{len(spec.points)} points, backend {spec.backend}, power source "
        f"{f'{source.name} ({source.scope})' if source else 'none'}, energy window >= {window_s:g} s"
    )
    idle_power_w = measure_idle_power_w(source, IDLE_POWER_WINDOW_S, _tracker_device(spec, backend))
    if idle_power_w is not None:
        log(f"idle power {idle_power_w:.1f} W over {IDLE_POWER_WINDOW_S:.1f} s")
    return backend, source, window_s, idle_power_w


def run_spec(
    spec: JobSpec,
    emit: Emit,
    log: Log,
    *,
    backend_factory: Callable[[str], Backend] = create_backend,
    power_source: PowerSource | None | str = "auto",
) -> list[MeasurementRecord]:
    """Measures every point of ``spec``, emitting each record as soon as it is measured.

    Points are grouped by dtype (in order of first appearance, keeping their order within a
    dtype) so the model is built once per dtype.

    Args:
        spec: the job.
        emit: called with each finished record (e.g. sends a Pipes message, writes a line).
        log: progress messages for a human.
        backend_factory: creates the backend by name (a parameter so tests can inject one).
        power_source: ``"auto"`` picks the best source for the device; tests may pass one.

    Returns:
        All records, in the order they were emitted.

    Raises:
        BenchmarkSetupError: the model could not be built (other than running out of memory),
            or the backend rejected its options.
    """
    backend, source, window_s, idle_power_w = _start(spec, log, backend_factory, power_source)
    records: list[MeasurementRecord] = []
    done = 0
    for dtype, points in _group_by_dtype(spec.points).items():
        log(f"building {spec.model.key} ({spec.weight_source} weights, {dtype}) on {spec.device}")
        try:
            backend.load(
                spec.model,
                dtype,
                spec.device,
                spec.weight_source,
                threads=spec.settings.threads,
                seed=RANDOM_SEED,
            )
        except Exception as exc:
            if not _is_oom(exc):
                raise BenchmarkSetupError(
                    f"cannot build model {spec.model.key!r} ({dtype}): {_describe(exc)}"
                ) from exc
            log(f"model does not fit ({dtype}): {_describe(exc)}")
            _release_device_memory(spec.device)
            for point in points:
                record = failed_record(
                    spec, point, backend, "oom", f"loading the model: {_describe(exc)}", source
                )
                emit(record)
                records.append(record)
            done += len(points)
            continue
        try:
            for point in points:
                done += 1
                log(f"point {done}/{len(spec.points)}: {_point_summary(point)}")
                record = measure_point(spec, point, backend, source, idle_power_w, log, window_s=window_s)
                emit(record)
                records.append(record)
        finally:
            backend.unload()
    return records


def energy_window_s(settings: MeasurementSettings, source: PowerSource | None) -> float:
    """Shortest energy window for a run: the sweep's setting, else the source's own minimum.

    Without a power source there is no energy to window: 0.
    """
    if source is None:
        return 0.0
    if settings.min_energy_window_s is not None:
        return settings.min_energy_window_s
    return source.min_window_s


def measure_point(
    spec: JobSpec,
    point: WorkloadPoint,
    backend: Backend,
    source: PowerSource | None,
    idle_power_w: float | None,
    log: Log,
    *,
    window_s: float = 0.0,
) -> MeasurementRecord:
    """Warm-up, timed trials and summary of one point; failures become a status row.

    Returns:
        The record (status ``ok``, or ``oom``/``timeout``/``error`` with null metrics).
    """
    settings = spec.settings
    deadline_s = time.perf_counter() + settings.point_timeout_s
    try:
        for _ in range(settings.warmup_runs):
            backend.run(point, deadline_s=deadline_s)
        trials = _timed_trials(spec, point, backend, source, window_s, deadline_s, log)
    except PointTimeoutError as exc:
        log(f"  timeout: {exc}")
        return failed_record(
            spec,
            point,
            backend,
            "timeout",
            f"point exceeded point_timeout_s={settings.point_timeout_s:g}: {exc}",
            source,
        )
    except Exception as exc:  # noqa: BLE001 - a failing point must not end the sweep
        status = "oom" if _is_oom(exc) else "error"
        if status == "oom":
            _release_device_memory(spec.device)
        log(f"  {status}: {_describe(exc)}")
        return failed_record(spec, point, backend, status, _describe(exc), source)
    record = ok_record(spec, point, backend, source, idle_power_w, trials)
    log(
        f"  ok: {record.n_trials} trials, cv {_fmt(record.latency_cv)}, e2e {_fmt(record.e2e_latency_s)} s, "
        f"ttft {_fmt(record.ttft_s)} s, tpot {_fmt(record.tpot_s)} s, power {_fmt(record.avg_power_w)} W "
        f"({record.power_source})"
    )
    return record


def _timed_trials(
    spec: JobSpec,
    point: WorkloadPoint,
    backend: Backend,
    source: PowerSource | None,
    window_s: float,
    deadline_s: float,
    log: Log,
) -> Trials:
    """Runs energy windows of timed trials until the CV target, the cap or the budget stops them.

    Each window repeats the trial back to back until it has lasted ``window_s`` (one trial
    when trials are longer); the stopping rule is checked between windows, so with short
    trials a point may hold more than ``max_trials`` trials. Once ``min_trials`` are done,
    running out of budget ends the point with the trials so far (status ok) -- a window cut
    short by the deadline keeps its trials' timings but not its energy; before that, it is a
    timeout (raised by the backend or here).
    """
    settings = spec.settings
    device = _tracker_device(spec, backend)
    timings: list[Any] = []
    windows: list[EnergyWindow] = []
    memory_tracker = MemoryTracker(spec.device) if backend.runs_in_process else contextlib.nullcontext()
    with memory_tracker as memory:
        while True:
            in_window = 0
            try:
                with EnergyTracker(source, device) as energy:
                    while True:
                        timings.append(backend.run(point, deadline_s=deadline_s))
                        in_window += 1
                        if energy.running_s >= window_s:
                            break
                        remaining_s = deadline_s - time.perf_counter()
                        if remaining_s < _trial_s(timings[-1]):
                            log(f"  time budget ends the energy window at {energy.running_s:.2f} s")
                            break
            except PointTimeoutError:
                if len(timings) < settings.min_trials:
                    raise
                log(f"  time budget ran out during trial {len(timings) + 1}; keeping {len(timings)} trials")
                break
            windows.append(EnergyWindow(energy.energy_j, energy.elapsed_s, in_window))
            n_trials = len(timings)
            cv = coefficient_of_variation([t.e2e_latency_s for t in timings])
            if n_trials >= settings.max_trials:
                break
            if n_trials >= settings.min_trials and cv is not None and cv <= settings.target_cv:
                break
            remaining_s = deadline_s - time.perf_counter()
            if n_trials >= settings.min_trials:
                # Stop rather than start a trial that cannot finish in the budget.
                if remaining_s < settings.cooldown_s + max(_trial_s(t) for t in timings):
                    log(
                        f"  time budget too short for another trial; keeping {n_trials} trials (cv {_fmt(cv)})"
                    )
                    break
            elif remaining_s <= 0:
                raise PointTimeoutError(f"only {n_trials} of {settings.min_trials} trials done")
            if settings.cooldown_s > 0:
                time.sleep(settings.cooldown_s)
    peak_memory_gb = memory.peak_memory_gb if isinstance(memory, MemoryTracker) else None
    return Trials(timings, windows, peak_memory_gb)


def _point_summary(point: WorkloadPoint) -> str:
    load = ""
    if point.request_rate_rps is not None or point.concurrency is not None:
        load = f", rate {point.request_rate_rps or 'inf'} rps, concurrency {point.concurrency or 'unbounded'}"
    return f"batch {point.batch_size}, {point.input_tokens} in, {point.output_tokens} out, {point.dtype}{load}"


def _trial_s(timing: Any) -> float:
    """Wall time of one trial: a load's duration (serving), else its e2e latency."""
    return getattr(timing, "duration_s", None) or timing.e2e_latency_s


def _tracker_device(spec: JobSpec, backend: Backend) -> str:
    """The device trackers synchronise: the spec's, unless the engine computes elsewhere."""
    return spec.device if backend.runs_in_process else "cpu"


def _group_by_dtype(points: tuple[WorkloadPoint, ...]) -> dict[str, list[WorkloadPoint]]:
    groups: dict[str, list[WorkloadPoint]] = {}
    for point in points:
        groups.setdefault(point.dtype, []).append(point)
    return groups


def _is_oom(exc: BaseException) -> bool:
    """Whether an exception means the device or host ran out of memory.

    Matches ``MemoryError``, ``torch.cuda.OutOfMemoryError`` / ``torch.OutOfMemoryError`` (by
    name, so torch is not imported here) and Runtime/ValueErrors whose message says the
    memory ran out (CPU allocator failures, older CUDA builds, vLLM's KV-cache checks).
    """
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    message = str(exc).lower()
    return isinstance(exc, RuntimeError | ValueError) and any(m in message for m in _OOM_MESSAGES)


def _release_device_memory(device: str) -> None:
    if is_cuda(device) and "torch" in sys.modules:
        sys.modules["torch"].cuda.empty_cache()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_MESSAGE_MAX_CHARS]


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
