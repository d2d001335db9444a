"""Energy windows: short trials are repeated inside a window of at least ``min_energy_window_s``."""

from __future__ import annotations

import time

import pytest

from benchmark_jobs.backends import Backend, GenerationTiming
from benchmark_jobs.runner import energy_window_s, run_spec
from benchmark_jobs.spec import MeasurementSettings, SpecError
from benchmark_jobs.trackers import PowerSource
from benchmark_jobs.trackers.energy import EstimatedCpuSource


class FixedPowerSensor(PowerSource):
    """A stand-in sensor drawing a constant 40 W (a counter of 40 J per wall second)."""

    name = "nvml-energy"
    scope = "device"
    measures_idle = True

    def __init__(self) -> None:
        self.windows_opened = 0

    def start(self) -> None:
        self.windows_opened += 1

    def read(self) -> float:
        return 40.0 * time.perf_counter()

    def energy_between_j(self, start: float, end: float) -> float:
        return end - start


class SleepingBackend(Backend):
    """A stand-in engine whose every generation sleeps ``trial_s`` (a short trial)."""

    engine_name = "sleeping"

    def __init__(self, trial_s: float) -> None:
        self.trial_s = trial_s
        self.calls = 0

    @property
    def engine_version(self) -> str:
        return "0"

    @property
    def device_name(self) -> str | None:
        return "stand-in"

    def load(self, model_spec, dtype, device, weight_source, *, threads=None, seed=0):
        pass

    def generate(self, batch_size, input_tokens, output_tokens, *, deadline_s=None):
        self.calls += 1
        start_s = time.perf_counter()
        time.sleep(self.trial_s)
        end_s = time.perf_counter()
        step_s = (end_s - start_s) / (output_tokens + 1)
        return GenerationTiming(start_s, tuple(start_s + step_s * (i + 1) for i in range(output_tokens)), end_s)

    def unload(self):
        pass


def _run(make_spec, point, backend, source, **settings):
    spec = make_spec([point], **{"warmup_runs": 0, "min_trials": 2, "max_trials": 3, "target_cv": 10.0, **settings})
    (record,) = run_spec(spec, lambda r: None, lambda m: None, backend_factory=lambda name: backend, power_source=source)
    return record


def test_trials_shorter_than_the_window_repeat_inside_it_and_energy_is_per_trial(make_spec, point):
    sensor = FixedPowerSensor()
    backend = SleepingBackend(trial_s=0.01)
    record = _run(make_spec, point, backend, sensor, min_energy_window_s=0.15)
    assert record.status == "ok"
    assert record.avg_power_w == pytest.approx(40.0, rel=1e-3)
    # energy_j is per trial: the window's 40 W x its length, shared by the trials inside it.
    window_s = record.energy_j * record.n_trials / 40.0
    assert window_s >= 0.15
    assert record.n_trials == backend.calls > 3  # the window outgrew max_trials
    assert sensor.windows_opened == 2  # the idle window, then one measuring window


def test_without_a_window_each_trial_is_its_own_energy_reading(make_spec, point):
    sensor = FixedPowerSensor()
    backend = SleepingBackend(trial_s=0.01)
    record = _run(make_spec, point, backend, sensor, min_energy_window_s=0.0)
    assert record.n_trials == 2 == backend.calls
    assert sensor.windows_opened == 1 + 2


def test_the_window_defaults_to_the_sources_minimum_and_the_sweep_setting_overrides_it():
    sensor = FixedPowerSensor()
    assert energy_window_s(MeasurementSettings(), sensor) == 1.0  # real sensors: 1 s
    assert energy_window_s(MeasurementSettings(), EstimatedCpuSource()) == 0.0  # CPU time: any window
    assert energy_window_s(MeasurementSettings(min_energy_window_s=0.25), sensor) == 0.25
    assert energy_window_s(MeasurementSettings(min_energy_window_s=5.0), None) == 0.0  # nothing to window
    with pytest.raises(SpecError, match="min_energy_window_s"):
        MeasurementSettings(min_energy_window_s=-1.0)


def test_a_window_shortened_by_the_point_budget_after_min_trials_still_reads_its_energy(make_spec, point):
    sensor = FixedPowerSensor()
    backend = SleepingBackend(trial_s=0.02)
    record = _run(make_spec, point, backend, sensor, min_energy_window_s=30.0, point_timeout_s=0.3)
    assert record.status == "ok" and record.n_trials >= 2
    assert record.avg_power_w == pytest.approx(40.0, rel=1e-3)  # the shortened window still read energy
