"""Checks on landed benchmark rows (blocking: bad rows never reach dbt or training)."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation.defs.benchmarks.assets import benchmark_runs
from inference_estimation.lib.quality import benchmark_row_violations


@dg.asset_check(asset=benchmark_runs, blocking=True,
                description="Successful rows are physically consistent: positive latencies, TTFT <= e2e, "
                "a TPOT whenever more than one token was generated, and a labelled power figure.")
def benchmark_rows_consistent(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Counts violating rows in raw.benchmark_runs (expected: 0 for every rule)."""
    with duckdb.get_connection() as con:
        violations = benchmark_row_violations(con)
    total = sum(violations.values())
    return dg.AssetCheckResult(
        passed=total == 0,
        metadata={"violating_rows": total, "expected_violating_rows": 0,
                  **{f"violations/{rule}": n for rule, n in violations.items()}},
    )
