"""Serving mode against a real server process on loopback that really generates.

The server (``support/tiny_openai_server.py``) runs a random-weight GPT-2 token by token behind
an OpenAI-style ``/v1/completions`` streaming endpoint; the harness talks HTTP to it. Nothing is
canned: every chunk is a token the model just produced. Assertions are about structure and
arithmetic (forced lengths, ordering, throughput identities), never about how fast it was.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from benchmark_jobs.backends.openai_server import OpenAIServerBackend
from benchmark_jobs.backends.serving_load import (
    RequestPlan,
    RequestResult,
    ServingTrial,
    arrival_offsets_s,
    make_prompt,
    run_load,
    sample_lengths,
)
from benchmark_jobs.metrics import meets_limits, serving_summary
from benchmark_jobs.runner import BenchmarkSetupError, run_spec
from benchmark_jobs.spec import (
    JobSpec,
    MeasurementSettings,
    ModelSpec,
    ServingSettings,
    SpecError,
    serving_points,
)
from benchmark_jobs.trackers.power_source import SampledPowerSource

SUPPORT = Path(__file__).parent / "support" / "tiny_openai_server.py"
N_REQUESTS = 8


def _support_module():
    spec = importlib.util.spec_from_file_location("tiny_openai_server", SUPPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server_url():
    """A tiny server on a free loopback port, bounded to 300 requests and 120 s."""
    with _support_module().running_server("--max-requests", "300", "--max-seconds", "120") as url:
        yield url


def _serving_spec(url: str, points, **serving) -> JobSpec:
    return JobSpec(
        run_id="serving-test",
        source="local",
        sweep="test-tiny",
        partition_key=None,
        hardware_key="local-cpu",
        device="cpu",
        backend="openai-server",
        weight_source="random",
        model=ModelSpec(key="tiny-gpt2", hf_id=None, family="gpt2", architecture={"vocab_size": 1000}),
        points=tuple(points),
        settings=MeasurementSettings(warmup_runs=1, min_trials=1, max_trials=2, target_cv=0.5, point_timeout_s=60),
        serving=ServingSettings(base_url=url, **serving),
    )


@pytest.fixture(scope="module")
def serving_records(server_url):
    """One serving sweep: a Poisson load, a closed loop at concurrency 2, and a strict-limit run."""
    points = serving_points(N_REQUESTS, [16], [6], [40.0], [None]) + serving_points(N_REQUESTS, [16], [6], [None], [2])
    generous = run_spec(_serving_spec(server_url, points, ttft_limit_s=60.0, tpot_limit_s=60.0), lambda r: None, lambda m: None)
    strict = run_spec(
        _serving_spec(server_url, points[:1], ttft_limit_s=1e-6), lambda r: None, lambda m: None
    )
    return generous, strict


def test_serving_rows_against_a_real_loopback_server_carry_the_load_and_vllm_style_metrics(serving_records):
    generous, _ = serving_records
    poisson, closed_loop = generous
    assert (poisson.request_rate_rps, poisson.concurrency) == (40.0, None)
    assert (closed_loop.request_rate_rps, closed_loop.concurrency) == (None, 2)
    for record in generous:
        assert record.status == "ok", record.error
        assert (record.mode, record.batch_size, record.input_tokens, record.output_tokens) == ("serving", None, 16, 6)
        assert (record.engine, record.engine_version) == ("tiny-openai-server", "tiny-openai-server 0.1")
        assert 0 < record.ttft_s < record.e2e_latency_s and record.tpot_s > 0
        assert record.ttft_p50_s <= record.ttft_p90_s <= record.ttft_p99_s
        assert record.itl_p50_s <= record.itl_p90_s <= record.itl_p99_s
        assert record.e2e_p50_s <= record.e2e_p90_s <= record.e2e_p99_s
        assert 1 <= record.n_trials <= 2


def test_serving_throughputs_follow_from_the_forced_lengths_the_server_reported(serving_records):
    for record in serving_records[0]:
        # Every request generated exactly 6 tokens from a 16-token prompt (the server's usage says so).
        assert record.output_throughput_tok_s == pytest.approx(6 * record.request_throughput_rps)
        assert record.total_throughput_tok_s == pytest.approx(22 * record.request_throughput_rps)


def test_goodput_is_the_request_throughput_under_generous_limits_and_zero_under_impossible_ones(serving_records):
    generous, strict = serving_records
    for record in generous:
        assert record.goodput_rps == pytest.approx(record.request_throughput_rps)
    assert strict[0].status == "ok" and strict[0].goodput_rps == 0.0


def test_serving_on_this_cpu_reports_no_power_because_the_estimate_counts_only_the_client(serving_records):
    for record in serving_records[0]:
        assert record.power_source == "none" and record.energy_j is None and record.peak_memory_gb is None


def test_a_request_the_server_rejects_makes_an_error_row_and_the_next_point_is_still_measured(server_url):
    too_long = serving_points(2, [250], [16], [None], [None])  # 266 tokens > the server's 256
    fine = serving_points(2, [8], [4], [None], [None])
    records = run_spec(_serving_spec(server_url, too_long + fine), lambda r: None, lambda m: None)
    assert [r.status for r in records] == ["error", "ok"]
    assert "HTTP 400" in records[0].error and "exceeds the context" in records[0].error


def test_text_prompts_with_a_uniform_length_spread_are_served_and_named_in_the_prompt_type(server_url):
    points = serving_points(6, [20], [4], [None], [3])
    spec = _serving_spec(server_url, points, prompt_format="text", input_length_distribution="uniform", input_length_spread=0.5)
    (record,) = run_spec(spec, lambda r: None, lambda m: None)
    assert record.status == "ok", record.error
    assert record.prompt_type == "random;in=uniform:0.5;out=fixed"
    prompt_tokens_per_request = (record.total_throughput_tok_s - record.output_throughput_tok_s) / record.request_throughput_rps
    assert 10 <= prompt_tokens_per_request <= 30  # the server counted words of 10..30-word prompts


def test_a_server_that_never_answers_is_fatal_before_any_row(monkeypatch):
    monkeypatch.setattr("benchmark_jobs.backends.openai_server.SERVER_READY_TIMEOUT_S", 0.3)
    spec = _serving_spec("http://127.0.0.1:9", serving_points(1, [4], [2], [None], [None]))
    with pytest.raises(BenchmarkSetupError, match="no answer from GET /v1/models"):
        run_spec(spec, lambda r: None, lambda m: None)


def test_serving_uses_a_power_sensor_only_when_the_server_is_on_this_machine(point):
    sensor = SampledPowerSource(lambda: 300.0, name="nvml-power", scope="device")
    for url, expected in (("http://127.0.0.1:8000", sensor), ("http://localhost:8000", sensor), ("http://10.1.2.3:8000", None)):
        backend = OpenAIServerBackend()
        backend.configure(_serving_spec(url, [point]))
        assert backend.usable_power_source(sensor) is expected
        assert backend.device_is_local is (expected is not None)
    from benchmark_jobs.trackers.energy import EstimatedCpuSource

    assert backend.usable_power_source(EstimatedCpuSource()) is None


def test_gamma_arrivals_have_the_requested_mean_rate_and_the_spread_burstiness_sets():
    rng = np.random.default_rng(7)
    poisson_gaps = np.diff(arrival_offsets_s(rng, 4001, rate_rps=20.0, burstiness=1.0))
    assert poisson_gaps.mean() == pytest.approx(1 / 20.0, rel=0.05)
    assert poisson_gaps.std() / poisson_gaps.mean() == pytest.approx(1.0, abs=0.08)  # exponential gaps
    regular_gaps = np.diff(arrival_offsets_s(rng, 4001, rate_rps=20.0, burstiness=4.0))
    assert regular_gaps.std() / regular_gaps.mean() == pytest.approx(0.5, abs=0.05)  # 1 / sqrt(shape)
    assert arrival_offsets_s(rng, 5, rate_rps=None) == [0.0] * 5


def test_length_distributions_stay_around_their_mean_and_never_below_one_token():
    rng = np.random.default_rng(3)
    assert sample_lengths(rng, 100, "fixed", 0.9, 4) == [100] * 4
    uniform = sample_lengths(rng, 100, "uniform", 0.5, 2000)
    assert 50 <= min(uniform) and max(uniform) <= 150 and statistics.mean(uniform) == pytest.approx(100, rel=0.03)
    normal = sample_lengths(rng, 10, "normal", 2.0, 2000)
    assert min(normal) == 1  # clipped


def test_prompts_are_token_ids_in_the_vocabulary_or_words():
    rng = np.random.default_rng(0)
    ids = make_prompt(rng, 30, "token-ids", 1000)
    assert len(ids) == 30 and all(100 <= t < 1000 for t in ids)
    assert len(make_prompt(rng, 30, "text", None).split()) == 30
    with pytest.raises(ValueError, match="vocab_size"):
        make_prompt(rng, 3, "token-ids", None)


def test_a_concurrency_cap_keeps_at_most_that_many_requests_in_flight():
    lock = threading.Lock()
    in_flight = [0]
    peak = [0]

    def stand_in_send(plan: RequestPlan) -> RequestResult:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.01)
        with lock:
            in_flight[0] -= 1
        return RequestResult(ok=True, prompt_tokens=plan.prompt_tokens, output_tokens=plan.output_tokens, ttft_s=0.001, e2e_s=0.01)

    plans = [RequestPlan(prompt=[1], prompt_tokens=1, output_tokens=2, send_offset_s=0.0) for _ in range(12)]
    trial = run_load(plans, stand_in_send, concurrency=3)
    assert len(trial.requests) == 12 and trial.failures == []
    assert 1 <= peak[0] <= 3


def test_serving_summary_pools_requests_and_counts_goodput_per_limit():
    def result(ttft_s, e2e_s, tokens=5):
        return RequestResult(ok=True, prompt_tokens=10, output_tokens=tokens, ttft_s=ttft_s, itl_s=[0.1] * (tokens - 1), e2e_s=e2e_s)

    trial = ServingTrial(requests=[result(0.1, 0.5), result(0.3, 0.7), result(0.2, 1.4)], duration_s=2.0)
    summary = serving_summary([trial], ttft_limit_s=0.25, tpot_limit_s=0.2)
    fields = summary.fields
    assert fields["ttft_s"] == pytest.approx(0.2) and fields["e2e_latency_s"] == pytest.approx(2.6 / 3)
    assert fields["tpot_s"] == pytest.approx(statistics.fmean([0.1, 0.1, 0.3]))  # (e2e - ttft) / 4
    assert fields["request_throughput_rps"] == pytest.approx(1.5)
    assert fields["goodput_rps"] == pytest.approx(0.5)  # only the first meets both limits
    assert fields["output_throughput_tok_s"] == pytest.approx(7.5) and summary.output_tokens_per_trial == 15
    assert serving_summary([trial]).fields["goodput_rps"] is None  # no limits: not measured
    assert meets_limits(0.1, None, 9.0, 0.2, 0.01, None)  # one-token requests have no TPOT to miss


def test_serving_settings_are_validated_and_travel_through_the_spec_json(server_url):
    spec = _serving_spec(server_url, serving_points(4, [8], [4], [2.0], [1]), ttft_limit_s=0.5, output_length_distribution="normal", output_length_spread=0.2)
    assert JobSpec.from_dict(dataclasses.asdict(spec)) == spec
    with pytest.raises(SpecError, match="serving field 'input_length_spread'"):
        ServingSettings(base_url="http://h", input_length_distribution="uniform", input_length_spread=1.5)
    with pytest.raises(SpecError, match="'serving' is required"):
        dataclasses.replace(spec, serving=None)
