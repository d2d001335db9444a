"""The DuckDB warehouse and the immutable parquet files behind it.

Raw tables (schema ``raw``):

* ``benchmark_runs`` -- every row of every run of our own sweeps (grain: source, run_id, point);
  landing the same run again changes nothing.
* ``external_runs`` -- public measurement datasets mapped onto the same record.
* ``hardware`` / ``models`` -- a snapshot of the catalog's flat facts (replaced on each load).

Every run is first written as one parquet file (write to a temporary name, then an atomic
rename), so a killed process leaves either a complete file or none, and the warehouse can be
rebuilt from the files alone.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any, Iterable, Sequence

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from benchmark_jobs.schema import MeasurementRecord, RecordValidationError, arrow_type_names, field_names
from inference_estimation.lib.physics.features import HARDWARE_FACT_COLUMNS, MODEL_FACT_COLUMNS

RAW_SCHEMA = "raw"
RUN_TABLES = ("benchmark_runs", "external_runs")
_ARROW = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_()}
_DUCK = {"string": "VARCHAR", "int64": "BIGINT", "float64": "DOUBLE", "bool": "BOOLEAN"}
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


class WarehouseError(RuntimeError):
    """A warehouse operation failed; the message names the file or table."""


def record_arrow_schema() -> pa.Schema:
    """The parquet schema of a run file, derived from the measurement record."""
    return pa.schema([pa.field(name, _ARROW[t]) for name, t in arrow_type_names().items()])


def _nullable_later_fields() -> set[str]:
    """Record fields added by a schema bump (after ``schema_version``; all default to null): a run
    file written before the bump lacks them and still reads, with nulls."""
    names = field_names()
    return set(names[names.index("schema_version") + 1:])


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise WarehouseError(f"refusing SQL identifier {name!r}")
    return name


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Creates the ``raw`` schema and the run tables when missing, adding new record fields (idempotent)."""
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    types = arrow_type_names()
    cols = ", ".join(f"{_ident(n)} {_DUCK[t]}" for n, t in types.items())
    for table in RUN_TABLES:
        con.execute(f"create table if not exists {RAW_SCHEMA}.{table} ({cols}, landed_from VARCHAR)")
        # Schema evolution: fields added to the record later arrive as nullable columns.
        existing = {r[0] for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [RAW_SCHEMA, table]).fetchall()}
        for name, kind in types.items():
            if name not in existing:
                con.execute(f"alter table {RAW_SCHEMA}.{table} add column {_ident(name)} {_DUCK[kind]}")


def write_run_parquet(records: Sequence[MeasurementRecord], path: Path) -> Path:
    """Writes one run's records as an immutable parquet file.

    Args:
        records: the run's validated records (all with the same ``run_id``).
        path: destination; must not exist yet.

    Returns:
        The path written.

    Raises:
        WarehouseError: if the file exists (runs are immutable) or records mix run ids.
    """
    if not records:
        raise WarehouseError(f"refusing to write an empty run file {path}")
    run_ids = {r.run_id for r in records}
    if len(run_ids) != 1:
        raise WarehouseError(f"{path}: records mix run ids {sorted(run_ids)}")
    if path.exists():
        raise WarehouseError(f"{path} exists: run files are immutable")
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist([r.to_dict() for r in records], schema=record_arrow_schema())
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def read_run_parquet(path: Path) -> list[MeasurementRecord]:
    """Reads and re-validates a run file.

    Raises:
        WarehouseError: naming the file for an unreadable/truncated file, a wrong schema, or an
            invalid row (with its index and field).
    """
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise WarehouseError(f"{path}: not a readable parquet file ({exc})") from exc
    missing = set(field_names()) - set(table.column_names)
    required = missing - _nullable_later_fields()
    if required:
        raise WarehouseError(f"{path}: missing column(s) {sorted(required)}")
    records = []
    present = [name for name in field_names() if name not in missing]
    for i, row in enumerate(table.select(present).to_pylist()):
        try:
            records.append(MeasurementRecord.from_dict(row))
        except RecordValidationError as exc:
            raise WarehouseError(f"{path}: row {i}: {exc}") from exc
    return records


def land_run(con: duckdb.DuckDBPyConnection, path: Path, table: str = "benchmark_runs") -> int:
    """Lands one run file into ``raw.<table>``; landing the same run twice changes nothing.

    The file is validated first, then inserted in one transaction, so a bad file loses nothing
    already stored.

    Args:
        con: a read-write DuckDB connection.
        path: the run's parquet file.
        table: ``benchmark_runs`` or ``external_runs``.

    Returns:
        Rows inserted (0 when the run was already landed).
    """
    if table not in RUN_TABLES:
        raise WarehouseError(f"unknown run table {table!r}")
    records = read_run_parquet(path)
    ensure_raw_tables(con)
    source, run_id = records[0].source, records[0].run_id
    con.execute("begin transaction")
    try:
        (already,) = con.execute(
            f"select count(*) from {RAW_SCHEMA}.{table} where source = ? and run_id = ?", [source, run_id]
        ).fetchone()
        if already:
            con.execute("rollback")
            return 0
        # A file written before a schema bump lacks the later (nullable) fields: they land as null.
        file_columns = {r[0] for r in con.execute("select name from parquet_schema(?)", [str(path)]).fetchall()}
        cols = [name for name in field_names() if name in file_columns]
        con.execute(
            f"insert into {RAW_SCHEMA}.{table} ({', '.join(cols)}, landed_from) "
            f"select {', '.join(cols)}, ? from read_parquet(?)",
            [str(path), str(path)],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return len(records)


def replace_facts(con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[dict[str, Any]]) -> int:
    """Replaces ``raw.hardware`` or ``raw.models`` with a catalog snapshot (one transaction).

    Returns:
        Rows written.
    """
    columns = {"hardware": HARDWARE_FACT_COLUMNS, "models": MODEL_FACT_COLUMNS}[table]
    frame = pd.DataFrame(list(rows), columns=columns)
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    con.register("_facts", frame)
    try:
        con.execute("begin transaction")
        con.execute(f"create or replace table {RAW_SCHEMA}.{_ident(table)} as select * from _facts")
        con.execute("commit")
    finally:
        con.unregister("_facts")
    return len(frame)


def run_parquet_path(parquet_dir: Path, source: str, run_id: str) -> Path:
    """Where a run's immutable file lives: ``<parquet_dir>/<source>/<run_id>.parquet``."""
    for part in (source, run_id):
        if not re.match(r"^[A-Za-z0-9_.\-]+$", part):
            raise WarehouseError(f"unsafe path component {part!r}")
    return parquet_dir / source / f"{run_id}.parquet"
