"""Data-quality rules over landed measurement rows (used by blocking asset checks)."""

from __future__ import annotations

import duckdb

from inference_estimation.lib.warehouse import RAW_SCHEMA, ensure_raw_tables

#: rule name -> SQL predicate that is TRUE for a violating successful row.
OK_ROW_RULES = {
    "e2e_latency_missing_or_nonpositive": "e2e_latency_s is null or e2e_latency_s <= 0",
    "ttft_exceeds_e2e": "ttft_s is not null and ttft_s > e2e_latency_s",
    "tpot_missing_for_multi_token": "output_tokens > 1 and mode = 'offline' and tpot_s is null",
    "throughput_nonpositive": "output_throughput_tok_s is not null and output_throughput_tok_s <= 0",
    "power_without_scope": "power_source <> 'none' and power_scope is null",
    "energy_without_power_source": "power_source = 'none' and (energy_j is not null or avg_power_w is not null)",
    "measured_power_zero": "power_source <> 'none' and avg_power_w is not null and avg_power_w <= 0",
}


def benchmark_row_violations(con: duckdb.DuckDBPyConnection, table: str = "benchmark_runs") -> dict[str, int]:
    """Counts successful rows violating each rule in ``raw.<table>``."""
    ensure_raw_tables(con)
    counts = {}
    for rule, predicate in OK_ROW_RULES.items():
        (n,) = con.execute(f"select count(*) from {RAW_SCHEMA}.{table} where status = 'ok' and ({predicate})").fetchone()
        counts[rule] = int(n)
    return counts
