"""Checks on landed benchmark rows, one per property (blocking: bad rows never flow downstream).

In a run that materialized a partition the checks look at the rows that run landed; run on their
own (from the UI) they look at the latest run of every partition -- what dbt would take.
"""

from collections.abc import Iterator

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation.defs.benchmarks.assets import benchmark_runs
from inference_estimation.lib import quality
from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.warehouse import RAW_SCHEMA, ensure_raw_tables

#: check name -> what it means (shown in the UI).
RANGE_CHECK_DESCRIPTIONS = {
    "latency_positive": "Every measured latency (e2e, TTFT, TPOT) of a successful row is > 0 s and finite.",
    "throughput_positive": "Every measured throughput of a successful row is > 0 tok/s and finite.",
    "power_within_tdp": f"Average power <= {quality.POWER_TDP_FACTOR} x TDP x devices wherever the catalog "
                        "knows the TDP (device, all-devices and cpu-package scopes).",
    "latency_cv_bounded": "The latency CV over trials is finite, >= 0 and <= sqrt(n_trials), the most n trials "
                          "can disagree (anything else is not a measurement).",
    "latency_cv_stable": f"The latency CV over trials is <= {quality.MAX_LATENCY_CV}; above, the point is noisy "
                         "(a warning, never a block).",
    "grain_unique": "No two rows share a grain key (source, run_id, workload point).",
}


def range_check_specs(asset: dg.AssetsDefinition | dg.AssetKey, blocking: bool,
                      grain_description: str | None = None) -> list[dg.AssetCheckSpec]:
    """One check spec per property of :data:`quality.RANGE_RULES` on ``asset`` (warning rules never block)."""
    descriptions = dict(RANGE_CHECK_DESCRIPTIONS)
    if grain_description:
        descriptions["grain_unique"] = grain_description
    return [dg.AssetCheckSpec(rule, asset=asset, blocking=blocking and rule not in quality.WARNING_RULES,
                              description=descriptions[rule]) for rule in quality.RANGE_RULES]


def tdp_by_hardware() -> dict[str, float | None]:
    """TDP per device of every catalog hardware entry (None where unknown)."""
    return {key: hw.specs.tdp_w for key, hw in load_catalog(strict=False).hardware.items()}


def range_check_results(context: dg.AssetCheckExecutionContext, results: dict[str, quality.RuleResult],
                        asset_key: dg.AssetKey, scope: str) -> Iterator[dg.AssetCheckResult]:
    """Yields one AssetCheckResult per selected rule, observed vs expected in the metadata."""
    selected = {k.name for k in context.selected_asset_check_keys if k.asset_key == asset_key}
    for rule, result in results.items():
        if rule in selected:
            severity = dg.AssetCheckSeverity.WARN if rule in quality.WARNING_RULES else dg.AssetCheckSeverity.ERROR
            yield dg.AssetCheckResult(asset_key=asset_key, check_name=rule, passed=result.passed, severity=severity,
                                      metadata={**result.metadata(), "scope": scope})


def check_scope(context: dg.AssetCheckExecutionContext, con) -> tuple[str, str]:
    """SQL scope and its description: the rows this run landed, else the latest run of each partition."""
    relation = f"{RAW_SCHEMA}.benchmark_runs"
    ensure_raw_tables(con)
    where = quality.run_prefix_scope(con, relation, context.run.run_id[:8] + "-")
    if where is None:
        return quality.latest_runs_scope(relation), "latest run of each partition"
    return where, f"rows landed by run {context.run.run_id[:8]}"


@dg.asset_check(asset=benchmark_runs, blocking=True,
                description="Successful rows are physically consistent: positive latencies, TTFT <= e2e, "
                "a TPOT whenever more than one token was generated, and a labelled power figure.")
def benchmark_rows_consistent(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Counts violating rows (expected: 0 for every rule)."""
    with duckdb.get_connection() as con:
        where, scope = check_scope(context, con)
        violations = quality.benchmark_row_violations(con, where=where)
    total = sum(violations.values())
    return dg.AssetCheckResult(
        passed=total == 0,
        metadata={"violating_rows": total, "expected_violating_rows": 0, "scope": scope,
                  **{f"violations/{rule}": n for rule, n in violations.items()}},
    )


@dg.asset_check(asset=benchmark_runs, blocking=True,
                description="raw.benchmark_runs has exactly the measurement record's columns and types, and "
                "every row's enumerations (status, mode, power source/scope) and identity fields are valid.")
def benchmark_rows_match_schema(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Compares the raw table with benchmark_jobs.schema (catches rows written around the harness)."""
    with duckdb.get_connection() as con:
        result = quality.schema_result(con, "benchmark_runs")
    return dg.AssetCheckResult(passed=result.passed, metadata=result.metadata())


@dg.multi_asset_check(specs=range_check_specs(benchmark_runs, blocking=True), can_subset=True,
                      description="Range and grain checks of the benchmark rows (one check per property).")
def benchmark_rows_in_range(context: dg.AssetCheckExecutionContext,
                            duckdb: DuckDBResource) -> Iterator[dg.AssetCheckResult]:
    """Evaluates the rows this run landed, else the latest run of every partition."""
    with duckdb.get_connection() as con:
        where, scope = check_scope(context, con)
        results = quality.range_results(con, f"{RAW_SCHEMA}.benchmark_runs", tdp_by_hardware(), where)
    yield from range_check_results(context, results, benchmark_runs.key, scope)
