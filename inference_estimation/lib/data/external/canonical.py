"""The canonical CSV format: how any measurement -- a public dataset or your own -- enters.

A canonical CSV has a header row whose columns are fields of the measurement record
(:mod:`benchmark_jobs.schema`), with two conveniences:

* ``model_key`` and ``hardware_key`` accept any name the catalog resolves (a key, a Hugging Face
  id, an alias as nvidia-smi or a vendor spells it);
* ``run_id`` and ``measured_at`` may be omitted: ``run_id`` then defaults to the source plus a
  hash of the file's content (so importing the same file twice changes nothing) and
  ``measured_at`` to the import time.

Required columns: ``source``, ``model_key``, ``hardware_key`` and at least one metric column
(a row whose ``status`` is ``oom``/``timeout``/``error`` carries its ``error`` instead of metrics).
Empty cells are null (never 0). Every error names the file, the line and the column.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from benchmark_jobs.schema import POINT_KEY_FIELDS, MeasurementRecord, RecordValidationError, arrow_type_names
from inference_estimation.lib.catalog import Catalog, CatalogError
from inference_estimation.lib.catalog.vocabulary import VocabularyError, canonical_dtype, canonical_engine

RECORD_TYPES = arrow_type_names()
REQUIRED_COLUMNS = ("source", "model_key", "hardware_key")
METRIC_COLUMNS = (
    "e2e_latency_s", "ttft_s", "tpot_s", "output_throughput_tok_s", "total_throughput_tok_s", "ttft_p50_s",
    "ttft_p90_s", "ttft_p99_s", "itl_p50_s", "itl_p90_s", "itl_p99_s", "peak_memory_gb", "avg_power_w",
    "energy_j", "energy_per_output_token_j",
)
#: Column order used when writing canonical CSVs.
CANONICAL_COLUMNS = [c for c in RECORD_TYPES if c not in ("schema_version",)]


#: Spellings of a boolean cell (case-insensitive); an empty cell is null.
_BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}

#: Bad rows a strict import names in its error (the rest are counted).
MAX_REPORTED_ROWS = 20


class CanonicalFormatError(ValueError):
    """A canonical CSV is invalid; the message names the file, line and column."""


def _parse(value: str, kind: str) -> Any:
    if value is None or value.strip() == "":
        return None
    value = value.strip()
    if kind in ("int64", "float64"):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or (kind == "int64" and not number.is_integer()):
            raise ValueError(f"{value!r} is not {'an integer' if kind == 'int64' else 'a number'}")
        return int(number) if kind == "int64" else number
    if kind == "bool":
        lowered = value.lower()
        if lowered not in _BOOL_TEXT:
            raise ValueError(f"{value!r} is not a boolean (true/false)")
        return _BOOL_TEXT[lowered]
    return value


def _problem_report(problems: list[str], origin: str) -> str:
    more = len(problems) - MAX_REPORTED_ROWS
    return "\n".join(problems[:MAX_REPORTED_ROWS] + ([f"{origin}: ... {more} more bad cell(s)"] if more > 0 else []))


def read_canonical_csv(path: Path) -> list[dict[str, Any]]:
    """Reads and type-checks a canonical CSV.

    Returns:
        One dict per data row, with ``_line`` holding its line number in the file.

    Raises:
        CanonicalFormatError: naming the file, the line and the column of every bad cell (up to
            :data:`MAX_REPORTED_ROWS`, one line each); a file with a header only.
    """
    rows, problems = _read_rows(path)
    if problems:
        raise CanonicalFormatError(_problem_report([text for *_, text in sorted(problems, key=lambda p: p[0])], str(path)))
    return rows


def check_canonical_csv(path: Path, catalog: Catalog) -> list[MeasurementRecord]:
    """Reads a user's canonical CSV and builds its records, naming every bad cell in one pass.

    Types, names (model, hardware), the vocabulary (engine, dtype: the messages ``predict``
    gives) and record rules are all checked before the error is raised, so a file is fixed in one
    round; each line names the file, line and column, in file order.

    Raises:
        CanonicalFormatError: every bad cell (up to :data:`MAX_REPORTED_ROWS`, one line each).
    """
    rows, problems = _read_rows(path)
    records, _, more = _records(rows, catalog, origin=str(path), strict=True)
    problems += more
    if problems:
        raise CanonicalFormatError(_problem_report([text for *_, text in sorted(problems, key=lambda p: p[0])], str(path)))
    return records


def _read_rows(path: Path) -> tuple[list[dict[str, Any]], list[tuple[int, int, str]]]:
    """The rows of a canonical CSV and its bad cells as (line, column, message), in file order."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CanonicalFormatError(f"{path}: cannot read ({exc})") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in RECORD_TYPES]
    if unknown:
        raise CanonicalFormatError(f"{path}: line 1: unknown column(s) {unknown}; columns are measurement-record "
                                   f"fields (see benchmark_jobs/schema.py)")
    for column in REQUIRED_COLUMNS:
        if column not in header:
            raise CanonicalFormatError(f"{path}: line 1: required column '{column}' is missing")
    if not any(c in header for c in METRIC_COLUMNS):
        raise CanonicalFormatError(f"{path}: line 1: no metric column (one of {', '.join(METRIC_COLUMNS)})")
    rows, problems = [], []
    position = {c: i for i, c in enumerate(header)}
    for line_no, raw in enumerate(reader, start=2):
        if None in raw:
            problems.append((line_no, -1, f"{path}: line {line_no}: more cells than header columns"))
            continue
        row: dict[str, Any] = {"_line": line_no, "_bad": set()}
        for column, value in raw.items():
            try:
                row[column] = _parse(value, RECORD_TYPES[column])
            except ValueError as exc:
                row["_bad"].add(column)
                problems.append((line_no, position[column], f"{path}: line {line_no}, column '{column}': {exc}"))
        for column in REQUIRED_COLUMNS:
            if column in row and row[column] is None:
                row["_bad"].add(column)
                problems.append((line_no, position[column], f"{path}: line {line_no}, column '{column}': "
                                 "value is required"))
        rows.append(row)
    if not rows and not problems:
        raise CanonicalFormatError(f"{path}: only a header, no measurement; expected one measurement per line "
                                   "after the header")
    return rows, problems


def write_canonical_csv(rows: Iterable[dict[str, Any]], path: Path) -> Path:
    """Writes rows as a canonical CSV (columns in record order; only columns any row uses)."""
    rows = list(rows)
    used = [c for c in CANONICAL_COLUMNS if any(r.get(c) is not None for r in rows)]
    for column in REQUIRED_COLUMNS:
        if column not in used:
            used.insert(0, column)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=used, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: ("" if row.get(c) is None else row[c]) for c in used})
    tmp.replace(path)
    return path


def content_run_id(source: str, rows: list[dict[str, Any]]) -> str:
    """A run id that depends only on the rows' content: same data, same run, no double landing."""
    payload = json.dumps([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows],
                         sort_keys=True, default=str)
    return f"{source}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


def to_records(rows: list[dict[str, Any]], catalog: Catalog, *, origin: str, strict: bool,
               run_id: str | None = None, measured_at: str | None = None) -> tuple[list[MeasurementRecord], Counter]:
    """Resolves names and builds validated measurement records.

    Args:
        rows: canonical rows (from :func:`read_canonical_csv` or an adapter).
        catalog: resolves model and hardware names to keys.
        origin: the file (or dataset) the rows came from, for messages.
        strict: raise on bad rows (a user's CSV: up to :data:`MAX_REPORTED_ROWS` named, one line
            each) instead of counting them (an adapter).
        run_id: run id for rows without one (default: :func:`content_run_id` per source).
        measured_at: timestamp for rows without one (default: now).

    Returns:
        The records and, when not strict, the rejected rows counted by reason.

    Raises:
        CanonicalFormatError: in strict mode, naming the file, line and column of every bad cell
            (up to :data:`MAX_REPORTED_ROWS`, one line each).
    """
    records, rejected, problems = _records(rows, catalog, origin=origin, strict=strict, run_id=run_id,
                                           measured_at=measured_at)
    if problems:
        raise CanonicalFormatError(_problem_report([text for *_, text in sorted(problems, key=lambda p: p[0])], origin))
    return records, rejected


#: Where a column's problem sorts within its line when the file's header order is not known.
_COLUMN_ORDER = {c: i for i, c in enumerate(RECORD_TYPES)}


def _records(rows: list[dict[str, Any]], catalog: Catalog, *, origin: str, strict: bool, run_id: str | None = None,
             measured_at: str | None = None) -> tuple[list[MeasurementRecord], Counter, list[tuple[int, int, str]]]:
    """:func:`to_records` without raising: strict problems come back as (line, column order, message)."""
    rejected: Counter = Counter()
    problems: list[tuple[int, int, str]] = []
    records: list[MeasurementRecord] = []
    now = measured_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
    run_ids: dict[str, str] = {}
    seen_points: dict[tuple, str] = {}
    for index, row in enumerate(rows):
        where = f"{origin}: line {row['_line']}" if "_line" in row else f"{origin}: row {index}"
        line = row.get("_line", index)
        values = {k: v for k, v in row.items() if not k.startswith("_") and v is not None}
        try:
            # every bad name or choice of the row, each with the message predict gives; then the record
            cells: list[_RowError] = []
            for column, lookup, kind in (("model_key", catalog.model, "model"), ("hardware_key", catalog.hw, "hardware")):
                if column not in values:
                    continue
                try:
                    values[column] = lookup(str(values[column])).key
                except CatalogError as exc:
                    cells.append(_RowError(column, f"unknown {kind} {values[column]!r}", str(exc)))
            if strict:  # a user's file: the vocabulary predict accepts (adapters map their own spellings)
                for column, canon in (("engine", canonical_engine), ("dtype", canonical_dtype),
                                      ("weight_dtype", canonical_dtype)):
                    if values.get(column) is not None:
                        try:
                            values[column] = canon(str(values[column]))
                        except VocabularyError as exc:
                            cells.append(_RowError(column, f"unknown {column}", str(exc).split(": ", 1)[1]))
            if values.get("status", "ok") == "ok" and not any(values.get(c) is not None for c in METRIC_COLUMNS):
                cells.append(_RowError("e2e_latency_s", "no metric", "the row has no metric value"))
            if strict and len(cells) > 1:
                for err in cells[1:]:
                    problems.append((line, _COLUMN_ORDER.get(err.column, -1), f"{where}, column '{err.column}': "
                                     f"{err.detail}"))
                rejected.update(err.reason for err in cells[1:])
            if cells:
                raise cells[0]
            if row.get("_bad"):
                continue  # its bad cells are reported by the reader
            source = values["source"]
            if "run_id" not in values:
                if source not in run_ids:
                    run_ids[source] = run_id or content_run_id(source, [r for r in rows if r.get("source") == source])
                values["run_id"] = run_ids[source]
            values.setdefault("measured_at", now)
            values.setdefault("sweep", None)
            values.setdefault("partition_key", None)
            values.setdefault("status", "ok")
            try:
                record = MeasurementRecord.from_dict(values)
            except RecordValidationError as exc:  # every problem of the row, one line each
                errors = [_RowError(m.split("'")[1] if "'" in m else "?", "", m) for m in exc.problems]
                for err in errors:
                    err.reason = f"invalid {err.column}"
                if strict:
                    for err in errors[1:]:
                        problems.append((line, _COLUMN_ORDER.get(err.column, -1), f"{where}, column "
                                         f"'{err.column}': {err.detail}"))
                raise errors[0] from None
            # Two rows of one run at one workload point (e.g. two fine-tunes that resolve to the
            # same catalog architecture) would be indistinguishable downstream: keep the first.
            point = (record.source, record.run_id, *(getattr(record, f) for f in POINT_KEY_FIELDS))
            if point in seen_points:
                raise _RowError("model_key", "duplicate workload point after name resolution",
                                f"same workload point as {seen_points[point]}")
            seen_points[point] = where
            records.append(record)
        except _RowError as err:
            if strict:
                problems.append((line, _COLUMN_ORDER.get(err.column, -1), f"{where}, column '{err.column}': {err.detail}"))
            rejected[err.reason] += 1
    return records, rejected, problems


class _RowError(Exception):
    def __init__(self, column: str, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.column, self.reason, self.detail = column, reason, detail
