"""Schema 1.2: deployment-topology fields and the meaning of published figures."""

from __future__ import annotations

import pytest

from benchmark_jobs.schema import (
    POINT_KEY_FIELDS,
    SCHEMA_VERSION,
    MeasurementRecord,
    RecordValidationError,
    arrow_type_names,
    field_names,
)

NEW_FIELDS = ["disaggregated_prefill_decode", "prefill_device_count", "decode_device_count", "node_count",
              "expert_parallel", "attention_data_parallel", "speculative_decoding", "throughput_scope",
              "latency_statistic"]


def _record(**fields) -> MeasurementRecord:
    return MeasurementRecord(source="s", run_id="r", sweep=None, partition_key=None, model_key="m", hardware_key="h",
                             measured_at="2026-01-01T00:00:00+00:00", **fields)


def test_schema_1_2_appends_deployment_fields_after_the_1_1_fields_with_null_defaults():
    assert SCHEMA_VERSION == "1.2"
    assert field_names()[-len(NEW_FIELDS):] == NEW_FIELDS
    assert all(getattr(_record(), name) is None for name in NEW_FIELDS)
    types = arrow_type_names()
    assert types["disaggregated_prefill_decode"] == "bool" and types["attention_data_parallel"] == "bool"
    assert types["node_count"] == "int64" and types["speculative_decoding"] == "string"


def test_deployments_that_differ_only_in_topology_or_speculation_are_different_points():
    for name in ("disaggregated_prefill_decode", "prefill_device_count", "decode_device_count", "node_count",
                 "expert_parallel", "attention_data_parallel", "speculative_decoding"):
        assert name in POINT_KEY_FIELDS
    # what a figure means is not part of the point: the same point cannot be published two ways
    assert "throughput_scope" not in POINT_KEY_FIELDS and "latency_statistic" not in POINT_KEY_FIELDS


def test_a_disaggregated_record_keeps_its_pool_sizes_summing_to_the_device_count():
    record = _record(device_count=64, disaggregated_prefill_decode=True, prefill_device_count=8,
                     decode_device_count=56, node_count=8, speculative_decoding="mtp", throughput_scope="per-device",
                     latency_statistic="p50")
    assert record.to_dict()["decode_device_count"] == 56
    with pytest.raises(RecordValidationError, match="prefill_device_count"):
        _record(device_count=64, prefill_device_count=8, decode_device_count=48)


@pytest.mark.parametrize(("fields", "field"), [
    ({"throughput_scope": "per-node"}, "throughput_scope"),
    ({"latency_statistic": "p95"}, "latency_statistic"),
    ({"disaggregated_prefill_decode": "yes"}, "disaggregated_prefill_decode"),
    ({"node_count": 0}, "node_count"),
    ({"expert_parallel": True}, "expert_parallel"),
    ({"speculative_decoding": " "}, "speculative_decoding"),
])
def test_invalid_deployment_fields_are_rejected_naming_the_field(fields, field):
    with pytest.raises(RecordValidationError, match=field):
        _record(**fields)
