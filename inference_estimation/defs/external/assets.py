"""External stage: public measurement datasets and users' canonical CSVs in raw.external_runs."""

import time
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation import constants
from inference_estimation.defs.external.config import ExternalConfig
from inference_estimation.defs.external.partitions import external_partitions
from inference_estimation.defs.resources import CatalogResource, HomeResource
from inference_estimation.lib.data.external.importer import (
    USER_CSV_SOURCE,
    import_adapter,
    import_canonical_csvs,
)
from inference_estimation.lib.data.external.registry import all_adapters, dataset_folder

#: The catalog-fact assets an import resolves names against (by key: no stage imports another).
CATALOG_FACTS = [dg.AssetKey("hardware_specs"), dg.AssetKey("model_specs")]


def _table(counts: dict, key: str, value: str) -> str:
    lines = [f"| {key} | {value} |", "|---|---|"] + [f"| {k} | {v} |" for k, v in counts.items()]
    return "\n".join(lines)


@dg.asset(
    group_name="external",
    kinds={"python", "duckdb"},
    partitions_def=external_partitions,
    deps=CATALOG_FACTS,
    pool=constants.DUCKDB_POOL,
    description="Public measurement datasets (one partition per source) and users' canonical CSVs, "
    "mapped onto the measurement record and landed in raw.external_runs; unmappable rows are "
    "counted by reason.",
)
def external_benchmarks(context: dg.AssetExecutionContext, config: ExternalConfig, duckdb: DuckDBResource,
                        catalog: CatalogResource, home: HomeResource) -> dg.MaterializeResult:
    """Imports this partition's source (idempotent: unchanged data lands nothing new)."""
    source = context.partition_key
    entries = catalog.complete(f"importing {source}")
    paths = home.get()
    start = time.perf_counter()
    with duckdb.get_connection() as con:
        if source == USER_CSV_SOURCE:
            folder = Path(config.from_path) if config.from_path else paths.root / "imports"
            csvs = sorted(folder.glob("*.csv")) if folder.exists() else []
            result = import_canonical_csvs(csvs, entries, con, paths.parquet_dir)
        else:
            adapter = all_adapters()[source]
            folder = dataset_folder(adapter, config.from_path, paths.root / "downloads")
            result = import_adapter(adapter, folder, entries, con, paths.parquet_dir, paths.root / "external")
    summary = result.summary()
    return dg.MaterializeResult(metadata={
        "source": source,
        "rows_read": result.rows_read,
        "rows_mapped": len(result.records),
        "rows_rejected": sum(result.rejected.values()),
        "rows_landed": result.rows_landed,
        "run_ids": ", ".join(result.run_ids),
        "import_s": round(time.perf_counter() - start, 2),
        "rejected_by_reason": dg.MetadataValue.md(_table(dict(result.rejected.most_common()), "reason", "rows")),
        "rows_by_hardware": dg.MetadataValue.md(_table(summary["by_hardware"], "hardware", "rows")),
        "rows_by_hardware_engine": dg.MetadataValue.md(
            _table(summary["by_hardware_engine"], f"{source}: hardware | engine", "rows")),
        "rows_by_deployment": dg.MetadataValue.md(_table(summary["by_deployment"], "not a plain deployment", "rows")),
        "devices": ", ".join(summary["coverage"]["devices"]),
        "engines": ", ".join(summary["coverage"]["engines"]),
        "modes": ", ".join(summary["coverage"]["modes"]),
        **({"concurrency_min": summary["coverage"]["concurrency_min"],
            "concurrency_max": summary["coverage"]["concurrency_max"]}
           if summary["coverage"]["concurrency_min"] is not None else {}),
        "rows_by_metric": dg.MetadataValue.md(_table(summary["by_metric"], "metric", "rows")),
        "models": len(summary["by_model"]),
        **({"canonical_csv": dg.MetadataValue.path(str(result.canonical_csv))} if result.canonical_csv else {}),
    })
