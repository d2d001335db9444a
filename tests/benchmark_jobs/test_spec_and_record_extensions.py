"""Spec fields added for serving, tabular and energy windows, and the record fields of schema 1.1."""

from __future__ import annotations

import dataclasses

import pytest

from benchmark_jobs.runner import _is_oom
from benchmark_jobs.schema import MeasurementRecord, field_names
from benchmark_jobs.spec import JobSpec, SpecError, WorkloadPoint, serving_points, tabular_points


def test_a_spec_without_the_new_fields_still_loads_with_their_defaults(make_spec, point, spec_as_dict):
    data = spec_as_dict(make_spec([point]))
    for name in ("backend_options", "serving"):
        data.pop(name)
    data["settings"].pop("min_energy_window_s")
    for p in data["points"]:
        p.pop("request_rate_rps")
        p.pop("concurrency")
    spec = JobSpec.from_dict(data)
    assert spec.backend_options == {} and spec.serving is None
    assert spec.settings.min_energy_window_s is None
    assert spec.points[0].request_rate_rps is None and spec.points[0].concurrency is None


def test_backend_options_and_load_fields_round_trip_through_json(make_spec, spec_as_dict):
    spec = make_spec(list(serving_points(10, [32], [8], [2.5], [4])))
    spec = dataclasses.replace(spec, backend_options={"gpu_memory_utilization": 0.5})
    assert JobSpec.from_dict(spec_as_dict(spec)) == spec


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"request_rate_rps": 0.0}, "request_rate_rps"),
        ({"request_rate_rps": True}, "request_rate_rps"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 1.5}, "concurrency"),
    ],
)
def test_invalid_load_fields_of_a_point_are_rejected_naming_the_field(fields, message):
    with pytest.raises(SpecError, match=message):
        WorkloadPoint(batch_size=4, input_tokens=8, output_tokens=8, **fields)


def test_point_helpers_expand_serving_loads_and_tabular_batches_in_order():
    points = serving_points(16, [64], [8, 4], [None, 1.0], [2])
    assert [(p.request_rate_rps, p.output_tokens) for p in points] == [(None, 4), (None, 8), (1.0, 4), (1.0, 8)]
    assert all(p.batch_size == 16 and p.concurrency == 2 for p in points)
    assert [p.batch_size for p in tabular_points([1024, 1])] == [1, 1024]


def test_records_of_schema_1_1_add_serving_and_tabular_fields_after_schema_version_with_null_defaults():
    names = field_names()
    new = ["e2e_p50_s", "e2e_p90_s", "e2e_p99_s", "request_throughput_rps", "goodput_rps", "row_throughput_rows_s"]
    start = names.index("schema_version") + 1
    assert names[start : start + len(new)] == new
    record = MeasurementRecord(
        source="local", run_id="r", sweep=None, partition_key=None, model_key="m", hardware_key="h",
        measured_at="2026-01-01T00:00:00+00:00",
    )  # fmt: skip
    assert all(getattr(record, name) is None for name in new)
    assert MeasurementRecord.from_dict({**record.to_dict(), "goodput_rps": 0.0}).goodput_rps == 0.0


@pytest.mark.parametrize(
    "message",
    [
        "No available memory for the cache blocks. Try increasing `gpu_memory_utilization`",
        "The model's max seq len (4096) is larger than the maximum number of tokens that can be stored in KV cache (2048)",
    ],
)
def test_vllm_kv_cache_shortages_count_as_out_of_memory(message):
    assert _is_oom(ValueError(message))
    assert not _is_oom(ValueError("max_model_len must be positive"))


def test_an_unknown_backend_is_fatal_with_the_available_names(make_spec, point):
    from benchmark_jobs.runner import BenchmarkSetupError, run_spec

    spec = dataclasses.replace(make_spec([point]), backend="tgi-native")
    with pytest.raises(BenchmarkSetupError, match="available: openai-server, tabular, transformers, vllm"):
        run_spec(spec, lambda r: None, lambda m: None)
