"""Imports one source into the warehouse: adapter -> canonical CSV -> records -> parquet -> DuckDB.

The run id of an import is a hash of its canonical rows, so importing an unchanged dataset again
changes nothing, while a new version of a dataset lands as a new run (history is kept; marts take
the latest run per point).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from benchmark_jobs.schema import MeasurementRecord
from inference_estimation.lib.catalog import Catalog
from inference_estimation.lib.data import warehouse
from inference_estimation.lib.data.external.base import Adapter
from inference_estimation.lib.data.external.canonical import (
    check_canonical_csv,
    content_run_id,
    to_records,
    write_canonical_csv,
)

USER_CSV_SOURCE = "user-csv"


@dataclass
class ImportResult:
    """What one import did.

    Attributes:
        source: the source imported.
        rows_read: source rows seen (mapped + rejected by the adapter + rejected on resolution).
        records: records built.
        rows_landed: rows inserted into raw.external_runs (0 when this content was landed before).
        rejected: reason -> count.
        run_ids: run ids landed or found.
        parquet_paths: the run files.
        canonical_csv: the canonical CSV written for inspection (adapters only).
    """

    source: str
    rows_read: int
    records: list[MeasurementRecord]
    rows_landed: int
    rejected: Counter
    run_ids: list[str] = field(default_factory=list)
    parquet_paths: list[Path] = field(default_factory=list)
    canonical_csv: Path | None = None

    def summary(self) -> dict[str, Any]:
        """Counts by hardware, (hardware, engine), model, metric and deployment shape, and the
        coverage (devices, engines, modes, concurrency range) for materialization metadata."""
        records = self.records
        by_hw: Counter = Counter(r.hardware_key for r in records)
        by_hw_engine: Counter = Counter((r.hardware_key, r.engine or "unknown") for r in records)
        by_model: Counter = Counter(r.model_key for r in records)
        metrics = ("e2e_latency_s", "ttft_s", "tpot_s", "output_throughput_tok_s", "total_throughput_tok_s",
                   "avg_power_w", "energy_per_output_token_j")
        by_metric = {m: sum(getattr(r, m) is not None for r in records) for m in metrics}
        concurrency = [r.concurrency for r in records if r.concurrency is not None]
        by_deployment = {
            "disaggregated_prefill_decode": sum(r.disaggregated_prefill_decode is True for r in records),
            "speculative_decoding": sum(r.speculative_decoding not in (None, "none") for r in records),
            "multi_node": sum((r.node_count or 1) > 1 for r in records),
        }
        coverage = {
            "devices": sorted(by_hw), "engines": sorted({r.engine or "unknown" for r in records}),
            "modes": sorted({r.mode for r in records}),
            "concurrency_min": min(concurrency) if concurrency else None,
            "concurrency_max": max(concurrency) if concurrency else None,
        }
        return {"by_hardware": dict(by_hw.most_common()), "by_model": dict(by_model.most_common()),
                "by_hardware_engine": {f"{hw} | {engine}": n for (hw, engine), n in by_hw_engine.most_common()},
                "by_metric": by_metric, "by_deployment": by_deployment, "coverage": coverage}


def _land(con: duckdb.DuckDBPyConnection, records: list[MeasurementRecord], parquet_dir: Path) -> tuple[int, list[str], list[Path]]:
    landed, run_ids, paths = 0, [], []
    by_run: dict[str, list[MeasurementRecord]] = {}
    for record in records:
        by_run.setdefault(record.run_id, []).append(record)
    for run_id, run_records in by_run.items():
        path = warehouse.run_parquet_path(parquet_dir, run_records[0].source, run_id)
        if not path.exists():  # same content -> same run id -> same file: immutable, never rewritten
            warehouse.write_run_parquet(run_records, path)
        landed += warehouse.land_run(con, path, table="external_runs")
        run_ids.append(run_id)
        paths.append(path)
    return landed, run_ids, paths


def import_adapter(adapter: Adapter, folder: Path, catalog: Catalog, con: duckdb.DuckDBPyConnection,
                   parquet_dir: Path, canonical_dir: Path) -> ImportResult:
    """Maps a public dataset and lands it; unmappable rows are counted by reason."""
    output = adapter.read(folder)
    for row in output.rows:
        row.setdefault("source", adapter.source)
    run_id = content_run_id(adapter.source, output.rows)
    canonical = write_canonical_csv(output.rows, canonical_dir / f"{adapter.source}.csv")
    records, rejected = to_records(output.rows, catalog, origin=f"{adapter.source} ({folder})", strict=False,
                                   run_id=run_id, measured_at=adapter.measured_at)
    rejected.update(output.rejected)
    landed, run_ids, paths = _land(con, records, parquet_dir) if records else (0, [], [])
    return ImportResult(source=adapter.source, rows_read=len(output.rows) + sum(output.rejected.values()),
                        records=records, rows_landed=landed, rejected=rejected, run_ids=run_ids,
                        parquet_paths=paths, canonical_csv=canonical)


def import_canonical_csvs(paths: list[Path], catalog: Catalog, con: duckdb.DuckDBPyConnection,
                          parquet_dir: Path) -> ImportResult:
    """Imports users' canonical CSVs strictly: every bad cell fails, with file, line and column.

    Every file is validated before anything lands, so a bad file loses nothing already stored.
    """
    records: list[MeasurementRecord] = []
    for path in paths:
        records.extend(check_canonical_csv(path, catalog))
    rows_read = len(records)
    landed, run_ids, parquet = _land(con, records, parquet_dir) if records else (0, [], [])
    return ImportResult(source=USER_CSV_SOURCE, rows_read=rows_read, records=records, rows_landed=landed,
                        rejected=Counter(), run_ids=run_ids, parquet_paths=parquet)
