"""The runner: trials, CV stopping, timeouts, failures as rows, and the records it emits."""

from __future__ import annotations

import math
import time
from datetime import datetime

import pytest

from benchmark_jobs import __version__
from benchmark_jobs.backends import Backend, GenerationTiming, PointTimeoutError
from benchmark_jobs.runner import BenchmarkSetupError, run_spec
from benchmark_jobs.schema import MeasurementRecord
from benchmark_jobs.spec import WorkloadPoint

METRIC_FIELDS = (
    "e2e_latency_s",
    "ttft_s",
    "tpot_s",
    "output_throughput_tok_s",
    "total_throughput_tok_s",
    "itl_p50_s",
    "peak_memory_gb",
    "avg_power_w",
    "energy_j",
    "energy_per_output_token_j",
)

REAL_POINTS = [
    WorkloadPoint(batch_size=1, input_tokens=16, output_tokens=16),
    WorkloadPoint(batch_size=1, input_tokens=250, output_tokens=16),  # longer than the 256 positions
    WorkloadPoint(batch_size=2, input_tokens=32, output_tokens=16),
]


@pytest.fixture(scope="module")
def tiny_sweep(make_spec):
    """One real sweep of the tiny GPT-2: (emitted records, returned records)."""
    emitted: list[MeasurementRecord] = []
    spec = make_spec(REAL_POINTS, min_trials=2, max_trials=3, target_cv=0.5)
    returned = run_spec(spec, emitted.append, lambda message: None)
    return emitted, returned


def _ok_records(tiny_sweep) -> list[MeasurementRecord]:
    return [r for r in tiny_sweep[1] if r.status == "ok"]


def test_runner_emits_every_record_as_measured_and_returns_the_same_list(tiny_sweep):
    emitted, returned = tiny_sweep
    assert emitted == returned
    assert [(r.batch_size, r.input_tokens) for r in returned] == [
        (p.batch_size, p.input_tokens) for p in REAL_POINTS
    ]
    for record in returned:
        assert MeasurementRecord.from_dict(record.to_dict()) == record


def test_a_point_longer_than_the_model_becomes_an_error_row_with_null_metrics_and_the_sweep_continues(
    tiny_sweep,
):
    statuses = [r.status for r in tiny_sweep[1]]
    assert statuses == ["ok", "error", "ok"]
    failed = tiny_sweep[1][1]
    assert "exceeds the model's 256 positions" in failed.error
    assert all(getattr(failed, name) is None for name in METRIC_FIELDS)
    assert failed.power_source == "none" and failed.n_trials is None


def test_ok_records_have_ttft_below_e2e_and_tpot_matching_the_decode_time_per_token(tiny_sweep):
    for record in _ok_records(tiny_sweep):
        assert 0 < record.ttft_s < record.e2e_latency_s
        decode_per_token_s = (record.e2e_latency_s - record.ttft_s) / (record.output_tokens - 1)
        assert record.tpot_s == pytest.approx(decode_per_token_s, rel=0.25, abs=1e-3)


def test_ok_records_derive_throughputs_from_the_median_e2e_latency(tiny_sweep):
    for record in _ok_records(tiny_sweep):
        batch, n_in, n_out = record.batch_size, record.input_tokens, record.output_tokens
        assert record.output_throughput_tok_s == pytest.approx(batch * n_out / record.e2e_latency_s)
        assert record.total_throughput_tok_s == pytest.approx(batch * (n_in + n_out) / record.e2e_latency_s)


def test_ok_records_have_ordered_ttft_and_itl_percentiles_and_a_trial_count_within_the_settings(tiny_sweep):
    for record in _ok_records(tiny_sweep):
        assert record.ttft_p50_s <= record.ttft_p90_s <= record.ttft_p99_s
        assert record.itl_p50_s <= record.itl_p90_s <= record.itl_p99_s
        assert 2 <= record.n_trials <= 3
        assert record.latency_cv is not None and record.latency_cv >= 0


def test_ok_records_report_positive_energy_from_a_named_source_and_scope_never_zero(tiny_sweep):
    for record in _ok_records(tiny_sweep):
        assert record.power_source in ("estimate", "rapl")
        assert record.power_scope == "cpu-package"
        assert record.energy_j > 0 and record.avg_power_w > 0
        assert record.energy_per_output_token_j == pytest.approx(
            record.energy_j / (record.batch_size * record.output_tokens)
        )
        # Idle power is only measured with a real sensor.
        assert (record.idle_power_w is None) == (record.power_source == "estimate")


def test_ok_records_carry_identity_and_provenance_from_the_spec_and_the_engine(tiny_sweep):
    import transformers

    record = _ok_records(tiny_sweep)[0]
    assert (record.source, record.run_id, record.sweep) == ("local", "test-run", "test-tiny")
    assert (record.model_key, record.hardware_key, record.partition_key) == (
        "tiny-gpt2",
        "local-cpu",
        "local-cpu|tiny",
    )
    assert (record.engine, record.engine_version) == ("transformers", transformers.__version__)
    assert record.harness_version == __version__
    assert (record.dtype, record.weight_dtype, record.weight_source, record.mode) == (
        "float32",
        "float32",
        "random",
        "offline",
    )
    assert record.device_count == 1 and record.device_name
    assert datetime.fromisoformat(record.measured_at).utcoffset().total_seconds() == 0
    assert record.peak_memory_gb > 0.01


class FakeBackend(Backend):
    """A backend whose generations take prescribed (synthetic) latencies, for runner logic."""

    engine_name = "fake"

    def __init__(self, latencies_s=(0.01,), fail_batch_sizes=(), failure=None, sleep_s=0.0, load_error=None):
        self.latencies_s = list(latencies_s)
        self.fail_batch_sizes = set(fail_batch_sizes)
        self.failure = failure or ValueError("boom")
        self.sleep_s = sleep_s
        self.load_error = load_error
        self.generate_calls = 0
        self.loaded_dtypes: list[str] = []

    @property
    def engine_version(self) -> str:
        return "0"

    @property
    def device_name(self) -> str | None:
        return "fake device"

    def load(self, model_spec, dtype, device, weight_source, *, threads=None, seed=0):
        if self.load_error is not None:
            raise self.load_error
        self.loaded_dtypes.append(dtype)

    def generate(self, batch_size, input_tokens, output_tokens, *, deadline_s=None):
        if batch_size in self.fail_batch_sizes:
            raise self.failure
        latency_s = self.latencies_s[self.generate_calls % len(self.latencies_s)]
        self.generate_calls += 1
        if self.sleep_s:
            time.sleep(self.sleep_s)
        if deadline_s is not None and time.perf_counter() > deadline_s:
            raise PointTimeoutError("fake deadline passed")
        step_s = latency_s / (output_tokens + 1)
        return GenerationTiming(
            start_s=0.0, token_times_s=tuple(step_s * (i + 1) for i in range(output_tokens)), end_s=latency_s
        )

    def unload(self):
        pass


def _run_fake(spec, backend: FakeBackend) -> list[MeasurementRecord]:
    return run_spec(spec, lambda record: None, lambda message: None, backend_factory=lambda name: backend)


def test_trials_stop_at_min_trials_once_latencies_are_stable(make_spec, point):
    backend = FakeBackend(latencies_s=[0.1])
    (record,) = _run_fake(
        make_spec([point], warmup_runs=2, min_trials=3, max_trials=10, target_cv=0.01), backend
    )
    assert record.n_trials == 3
    assert record.latency_cv == pytest.approx(0.0, abs=1e-12)
    assert backend.generate_calls == 2 + 3  # warm-ups are run but not counted


def test_trials_stop_at_max_trials_when_the_cv_target_is_never_reached(make_spec, point):
    backend = FakeBackend(latencies_s=[0.1, 0.2])
    (record,) = _run_fake(
        make_spec([point], warmup_runs=0, min_trials=2, max_trials=7, target_cv=0.01), backend
    )
    assert record.n_trials == 7
    assert record.latency_cv > 0.01
    assert backend.generate_calls == 7


def test_trials_continue_past_min_trials_until_the_sample_cv_falls_below_target(make_spec, point):
    # Sample CVs: [1, 2] -> 0.47; [1, 2, 1.5] -> 0.33; [1, 2, 1.5, 1.5] -> 0.27 <= 0.3.
    backend = FakeBackend(latencies_s=[1.0, 2.0, 1.5, 1.5, 1.5, 1.5])
    (record,) = _run_fake(
        make_spec([point], warmup_runs=0, min_trials=2, max_trials=10, target_cv=0.3), backend
    )
    assert record.n_trials == 4
    assert record.latency_cv == pytest.approx(0.2722, abs=1e-3)
    assert record.e2e_latency_s == pytest.approx(1.5)


def test_a_point_that_raises_becomes_an_error_row_and_later_points_are_still_measured(make_spec):
    points = [WorkloadPoint(batch_size=b, input_tokens=8, output_tokens=4) for b in (1, 2, 4)]
    backend = FakeBackend(fail_batch_sizes={2}, failure=KeyError("no such kernel"))
    records = _run_fake(make_spec(points), backend)
    assert [r.status for r in records] == ["ok", "error", "ok"]
    assert records[1].error == "KeyError: 'no such kernel'"
    assert records[1].e2e_latency_s is None


@pytest.mark.parametrize(
    "failure",
    [
        MemoryError(),
        RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        type("OutOfMemoryError", (RuntimeError,), {})("CUDA error"),
    ],
    ids=["MemoryError", "runtime-error-message", "torch-OutOfMemoryError-by-name"],
)
def test_out_of_memory_failures_of_a_point_are_recorded_as_status_oom(make_spec, point, failure):
    (record,) = _run_fake(make_spec([point]), FakeBackend(fail_batch_sizes={1}, failure=failure))
    assert record.status == "oom"
    assert record.error


def test_a_point_that_cannot_finish_its_min_trials_in_the_budget_is_a_timeout_row(make_spec, point):
    backend = FakeBackend(sleep_s=0.05)
    spec = make_spec([point], warmup_runs=1, min_trials=3, max_trials=5, point_timeout_s=0.12)
    (record,) = _run_fake(spec, backend)
    assert record.status == "timeout"
    assert "point_timeout_s=0.12" in record.error
    assert record.e2e_latency_s is None and record.n_trials is None


def test_a_real_generation_past_the_point_timeout_is_abandoned_and_recorded_as_timeout(make_spec, point):
    records = run_spec(make_spec([point], point_timeout_s=1e-6), lambda r: None, lambda m: None)
    assert records[0].status == "timeout"


def test_running_out_of_budget_after_min_trials_keeps_the_trials_measured_so_far(make_spec, point):
    backend = FakeBackend(latencies_s=[0.01, 0.03], sleep_s=0.04)
    spec = make_spec(
        [point], warmup_runs=0, min_trials=2, max_trials=100, target_cv=0.01, point_timeout_s=0.3
    )
    (record,) = _run_fake(spec, backend)
    assert record.status == "ok"
    assert 2 <= record.n_trials < 100


def test_the_model_is_built_once_per_dtype_with_points_grouped_by_dtype(make_spec):
    points = [
        WorkloadPoint(batch_size=1, input_tokens=8, output_tokens=4, dtype="float32"),
        WorkloadPoint(batch_size=1, input_tokens=8, output_tokens=4, dtype="bfloat16"),
        WorkloadPoint(batch_size=2, input_tokens=8, output_tokens=4, dtype="float32"),
    ]
    backend = FakeBackend()
    records = _run_fake(make_spec(points), backend)
    assert backend.loaded_dtypes == ["float32", "bfloat16"]
    assert [(r.dtype, r.batch_size) for r in records] == [("float32", 1), ("float32", 2), ("bfloat16", 1)]


def test_a_model_that_cannot_be_built_is_fatal_and_emits_nothing(make_spec, point):
    emitted = []
    backend = FakeBackend(load_error=ValueError("Unrecognized model identifier: nope"))
    with pytest.raises(BenchmarkSetupError, match="cannot build model 'tiny-gpt2'.*nope"):
        run_spec(make_spec([point]), emitted.append, lambda m: None, backend_factory=lambda name: backend)
    assert emitted == []


def test_a_real_unknown_model_family_is_fatal(make_spec, point, tiny_gpt2):
    from benchmark_jobs.spec import ModelSpec

    model = ModelSpec(key="bad", hf_id=None, family="not-a-family", architecture={})
    with pytest.raises(BenchmarkSetupError, match="cannot build model 'bad'"):
        run_spec(make_spec([point], model=model), lambda r: None, lambda m: None)


def test_a_model_too_large_to_load_gives_oom_rows_for_all_its_points_instead_of_failing_the_run(make_spec):
    points = [WorkloadPoint(batch_size=b, input_tokens=8, output_tokens=4) for b in (1, 2)]
    records = _run_fake(make_spec(points), FakeBackend(load_error=MemoryError("cannot allocate")))
    assert [r.status for r in records] == ["oom", "oom"]
    assert all("loading the model" in r.error for r in records)


def test_without_a_power_source_records_say_none_with_null_power_never_zero(make_spec, point):
    records = run_spec(
        make_spec([point]),
        lambda r: None,
        lambda m: None,
        backend_factory=lambda name: FakeBackend(),
        power_source=None,
    )
    record = records[0]
    assert record.status == "ok"
    assert record.power_source == "none" and record.power_scope is None
    assert record.avg_power_w is None and record.energy_j is None and record.energy_per_output_token_j is None
    assert not any(isinstance(v, float) and math.isnan(v) for v in record.to_dict().values())
