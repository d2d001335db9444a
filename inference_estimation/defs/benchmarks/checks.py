"""Checks on landed benchmark rows, one per property (blocking: bad rows never flow downstream).

In a run that materialized a partition the checks look at the rows that run landed; run on their
own (from the UI) they look at the latest run of every partition -- what dbt would take.
"""

from collections.abc import Iterator

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation.defs.benchmarks.assets import benchmark_runs
from inference_estimation.defs.range_checks import range_check_results, range_check_specs, raw_schema_check
from inference_estimation.defs.resources import CatalogResource
from inference_estimation.lib.data import quality
from inference_estimation.lib.data.warehouse import RAW_SCHEMA, ensure_raw_tables


def check_scope(context: dg.AssetCheckExecutionContext, con) -> tuple[str, str]:
    """SQL scope and its description: the rows this run landed, else the latest run of each partition."""
    relation = f"{RAW_SCHEMA}.benchmark_runs"
    ensure_raw_tables(con)
    where = quality.run_prefix_scope(con, relation, context.run.run_id[:8] + "-")
    if where is None:
        return quality.latest_runs_scope(relation), "latest run of each partition"
    return where, f"rows landed by run {context.run.run_id[:8]}"


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(rule, asset=benchmark_runs, blocking=True, description=description)
           for rule, description in quality.OK_ROW_RULE_DESCRIPTIONS.items()],
    can_subset=True, description="Consistency of successful benchmark rows (one check per rule).")
def benchmark_rows_consistent(context: dg.AssetCheckExecutionContext,
                              duckdb: DuckDBResource) -> Iterator[dg.AssetCheckResult]:
    """Counts the rows violating each rule (expected: 0) in this run's rows, else the latest runs."""
    with duckdb.get_connection() as con:
        where, scope = check_scope(context, con)
        results = quality.ok_row_results(con, where=where)
    yield from range_check_results(context, results, benchmark_runs.key, scope)


benchmark_rows_match_schema = raw_schema_check(benchmark_runs, "benchmark_runs", "benchmark_rows_match_schema",
                                               "benchmark rows")


@dg.multi_asset_check(specs=range_check_specs(benchmark_runs, blocking=True), can_subset=True,
                      description="Range and grain checks of the benchmark rows (one check per property).")
def benchmark_rows_in_range(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource,
                            catalog: CatalogResource) -> Iterator[dg.AssetCheckResult]:
    """Evaluates the rows this run landed, else the latest run of every partition."""
    tdp_w = quality.tdp_by_hardware(catalog.load())
    with duckdb.get_connection() as con:
        where, scope = check_scope(context, con)
        results = quality.range_results(con, f"{RAW_SCHEMA}.benchmark_runs", tdp_w, where)
    yield from range_check_results(context, results, benchmark_runs.key, scope)
