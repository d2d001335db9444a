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


def read_canonical_csv(path: Path) -> list[dict[str, Any]]:
    """Reads and type-checks a canonical CSV.

    Returns:
        One dict per data row, with ``_line`` holding its line number in the file.

    Raises:
        CanonicalFormatError: naming the file, the line and the column of every bad cell (up to
            :data:`MAX_REPORTED_ROWS`, one line each); a file with a header only.
    """
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
    for line_no, raw in enumerate(reader, start=2):
        if None in raw:
            problems.append(f"{path}: line {line_no}: more cells than header columns")
            continue
        row: dict[str, Any] = {"_line": line_no}
        for column, value in raw.items():
            try:
                row[column] = _parse(value, RECORD_TYPES[column])
            except ValueError as exc:
                problems.append(f"{path}: line {line_no}, column '{column}': {exc}")
        for column in REQUIRED_COLUMNS:
            if column in row and row[column] is None:
                problems.append(f"{path}: line {line_no}, column '{column}': value is required")
        rows.append(row)
    if problems:
        more = len(problems) - MAX_REPORTED_ROWS
        raise CanonicalFormatError("\n".join(problems[:MAX_REPORTED_ROWS]
                                             + ([f"{path}: ... {more} more bad cell(s)"] if more > 0 else [])))
    if not rows:
        raise CanonicalFormatError(f"{path}: only a header, no measurement; expected one measurement per line "
                                   "after the header")
    return rows


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
        CanonicalFormatError: in strict mode, naming the file, line and column of every bad row
            (up to :data:`MAX_REPORTED_ROWS`, one line each).
    """
    rejected: Counter = Counter()
    problems: list[str] = []
    records: list[MeasurementRecord] = []
    now = measured_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
    run_ids: dict[str, str] = {}
    seen_points: dict[tuple, str] = {}
    for index, row in enumerate(rows):
        where = f"{origin}: line {row['_line']}" if "_line" in row else f"{origin}: row {index}"
        values = {k: v for k, v in row.items() if not k.startswith("_") and v is not None}
        try:
            for column, lookup, kind in (("model_key", catalog.model, "model"), ("hardware_key", catalog.hw, "hardware")):
                try:
                    values[column] = lookup(str(values[column])).key
                except CatalogError as exc:
                    raise _RowError(column, f"unknown {kind} {values[column]!r}", str(exc)) from None
            if values.get("status", "ok") == "ok" and not any(values.get(c) is not None for c in METRIC_COLUMNS):
                raise _RowError("e2e_latency_s", "no metric", "the row has no metric value")
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
            except RecordValidationError as exc:
                field = str(exc).split("'")[1] if "'" in str(exc) else "?"
                raise _RowError(field, f"invalid {field}", str(exc)) from None
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
                problems.append(f"{where}, column '{err.column}': {err.detail}")
            rejected[err.reason] += 1
    if problems:
        more = len(problems) - MAX_REPORTED_ROWS
        raise CanonicalFormatError("\n".join(problems[:MAX_REPORTED_ROWS]
                                             + ([f"{origin}: ... {more} more bad row(s)"] if more > 0 else [])))
    return records, rejected


class _RowError(Exception):
    def __init__(self, column: str, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.column, self.reason, self.detail = column, reason, detail
