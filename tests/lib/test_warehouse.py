"""Warehouse: immutable run files, idempotent landing, bad files lose nothing."""

from datetime import datetime, timezone

import duckdb
import pytest

from benchmark_jobs.schema import MeasurementRecord
from inference_estimation.lib.data import warehouse


def _records(run_id: str, n: int = 3) -> list[MeasurementRecord]:
    return [
        MeasurementRecord(
            source="local", run_id=run_id, sweep="test", partition_key="p", model_key="gpt2-small",
            hardware_key="local-cpu", measured_at=datetime.now(timezone.utc).isoformat(), engine="transformers",
            dtype="float32", batch_size=b, input_tokens=8, output_tokens=4, e2e_latency_s=0.1 * b, ttft_s=0.02,
            tpot_s=0.02, power_source="estimate", power_scope="cpu-package", avg_power_w=10.0, energy_j=1.0,
        )
        for b in range(1, n + 1)
    ]


def test_landing_the_same_run_twice_changes_nothing(tmp_path):
    path = warehouse.write_run_parquet(_records("run-a"), warehouse.run_parquet_path(tmp_path, "local", "run-a"))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert warehouse.land_run(con, path) == 3
    before = con.execute("select * from raw.benchmark_runs order by batch_size").fetchall()
    assert warehouse.land_run(con, path) == 0
    assert con.execute("select * from raw.benchmark_runs order by batch_size").fetchall() == before


def test_run_files_are_immutable(tmp_path):
    path = warehouse.run_parquet_path(tmp_path, "local", "run-b")
    warehouse.write_run_parquet(_records("run-b"), path)
    with pytest.raises(warehouse.WarehouseError, match="immutable"):
        warehouse.write_run_parquet(_records("run-b"), path)


def test_truncated_parquet_is_rejected_naming_the_file_and_nothing_stored_is_lost(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    good = warehouse.write_run_parquet(_records("run-c"), warehouse.run_parquet_path(tmp_path, "local", "run-c"))
    warehouse.land_run(con, good)
    bad = warehouse.write_run_parquet(_records("run-d"), warehouse.run_parquet_path(tmp_path, "local", "run-d"))
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(warehouse.WarehouseError, match="run-d.parquet"):
        warehouse.land_run(con, bad)
    assert con.execute("select count(*) from raw.benchmark_runs").fetchone()[0] == 3


def test_parquet_with_an_invalid_metric_is_rejected_with_row_and_field(tmp_path):
    import pyarrow.parquet as pq

    path = warehouse.write_run_parquet(_records("run-e"), warehouse.run_parquet_path(tmp_path, "local", "run-e"))
    table = pq.read_table(path).to_pylist()
    table[1]["e2e_latency_s"] = -1.0
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(table, schema=warehouse.record_arrow_schema()), path)
    with pytest.raises(warehouse.WarehouseError, match=r"row 1: field 'e2e_latency_s' is negative"):
        warehouse.read_run_parquet(path)


def test_unsafe_run_id_cannot_escape_the_parquet_folder(tmp_path):
    with pytest.raises(warehouse.WarehouseError):
        warehouse.run_parquet_path(tmp_path, "local", "../../etc/passwd")


def test_record_schema_rejects_zero_for_missing_power_sensor():
    with pytest.raises(ValueError, match="power_source is 'none'"):
        MeasurementRecord(source="local", run_id="r", sweep=None, partition_key=None, model_key="m",
                          hardware_key="h", measured_at="2026-01-01T00:00:00Z", avg_power_w=0.0, power_source="none")


def test_a_warehouse_from_an_older_schema_gains_new_record_fields_as_null_columns(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema raw")
    con.execute("create table raw.benchmark_runs (source VARCHAR, run_id VARCHAR, landed_from VARCHAR)")
    con.execute("insert into raw.benchmark_runs values ('local', 'old-run', 'x')")
    warehouse.ensure_raw_tables(con)
    columns = {r[0] for r in con.execute("describe raw.benchmark_runs").fetchall()}
    assert {"e2e_latency_s", "power_source", "schema_version"} <= columns
    assert con.execute("select count(*), count(e2e_latency_s) from raw.benchmark_runs").fetchone() == (1, 0)


def test_a_run_file_written_before_a_schema_bump_still_reads_and_lands_with_null_new_fields(tmp_path):
    import pyarrow.parquet as pq

    path = warehouse.write_run_parquet(_records("run-old"), warehouse.run_parquet_path(tmp_path, "local", "run-old"))
    table = pq.read_table(path)
    older = table.drop_columns(["node_count", "speculative_decoding", "disaggregated_prefill_decode", "e2e_p50_s"])
    path.unlink()
    pq.write_table(older, path)
    assert [r.node_count for r in warehouse.read_run_parquet(path)] == [None, None, None]
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert warehouse.land_run(con, path) == 3
    assert con.execute("select count(*), count(node_count), count(e2e_latency_s) from raw.benchmark_runs").fetchone() == (3, 0, 3)
    # a field of the original record is still required
    pq.write_table(older.drop_columns(["e2e_latency_s"]), path)
    with pytest.raises(warehouse.WarehouseError, match="e2e_latency_s"):
        warehouse.read_run_parquet(path)


def test_boolean_deployment_fields_round_trip_through_parquet_and_duckdb(tmp_path):
    records = _records("run-bool", n=1)
    records[0].disaggregated_prefill_decode = True
    records[0].attention_data_parallel = False
    path = warehouse.write_run_parquet(records, warehouse.run_parquet_path(tmp_path, "local", "run-bool"))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    warehouse.land_run(con, path)
    assert con.execute("select disaggregated_prefill_decode, attention_data_parallel, node_count "
                       "from raw.benchmark_runs").fetchone() == (True, False, None)
