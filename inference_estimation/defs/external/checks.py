"""Checks on imported public measurements.

The record's schema, ranges and grain (blocking), and the freshness of every source (a warning:
stale public data is still data).
"""

import time
from collections.abc import Iterator

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation.defs.external.assets import external_benchmarks
from inference_estimation.defs.external.partitions import external_partitions
from inference_estimation.defs.range_checks import range_check_results, range_check_specs, raw_schema_check
from inference_estimation.defs.resources import CatalogResource
from inference_estimation.lib.data import quality
from inference_estimation.lib.data.external.importer import USER_CSV_SOURCE
from inference_estimation.lib.data.warehouse import RAW_SCHEMA, ensure_raw_tables

#: An imported source older than this is stale (the import schedule runs monthly).
MAX_SOURCE_AGE_DAYS = 35.0


external_rows_match_schema = raw_schema_check(external_benchmarks, "external_runs", "external_rows_match_schema",
                                              "imported rows")


@dg.multi_asset_check(specs=range_check_specs(external_benchmarks, blocking=True), can_subset=True,
                      description="Range and grain checks of the imported rows (one check per property).")
def external_rows_in_range(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource,
                           catalog: CatalogResource) -> Iterator[dg.AssetCheckResult]:
    """Evaluates the latest import of every source."""
    relation = f"{RAW_SCHEMA}.external_runs"
    tdp_w = quality.tdp_by_hardware(catalog.load())
    with duckdb.get_connection() as con:
        ensure_raw_tables(con)
        results = quality.range_results(con, relation, tdp_w, quality.latest_runs_scope(relation))
    yield from range_check_results(context, results, external_benchmarks.key, "latest import of each source")


@dg.asset_check(asset=external_benchmarks, blocking=False,
                description=f"Every public source (users' CSVs aside) was imported within the last {MAX_SOURCE_AGE_DAYS:g} days "
                "(severity WARN; the monthly import schedule keeps it green).")
def external_sources_fresh(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    """Ages of the latest materialization of each source partition."""
    last: dict[str, float | None] = {}
    for source in (s for s in external_partitions.get_partition_keys() if s != USER_CSV_SOURCE):
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=external_benchmarks.key, asset_partitions=[source]), limit=1).records
        last[source] = records[0].timestamp if records else None
    result = quality.stale_sources(last, time.time(), MAX_SOURCE_AGE_DAYS)
    return dg.AssetCheckResult(passed=result.passed, severity=dg.AssetCheckSeverity.WARN, metadata=result.metadata())
