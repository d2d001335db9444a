import duckdb

from inference_estimation.lib.data import quality
from inference_estimation.lib.data.warehouse import ensure_raw_tables

COLUMNS = ("run_id", "model_key", "hardware_key", "status", "mode", "output_tokens", "e2e_latency_s", "ttft_s",
           "tpot_s", "output_throughput_tok_s", "power_source", "power_scope", "avg_power_w", "energy_j")
GOOD = ("r1", "m", "hw", "ok", "offline", 8, 1.0, 0.2, 0.1, 50.0, "rapl", "cpu-package", 20.0, 20.0)


def _insert(con, *rows):
    con.executemany(f"insert into raw.benchmark_runs ({', '.join(COLUMNS)}) values ({', '.join('?' * len(COLUMNS))})",
                    [list(r) for r in rows])


def test_each_consistency_rule_reports_its_own_violating_rows_against_zero_expected():
    con = duckdb.connect()
    ensure_raw_tables(con)
    ttft_too_long = ("r2", "m", "hw", "ok", "offline", 8, 1.0, 2.0, 0.1, 50.0, "rapl", "cpu-package", 20.0, 20.0)
    no_scope = ("r3", "m", "hw", "ok", "offline", 8, 1.0, 0.2, 0.1, 50.0, "rapl", None, 20.0, 20.0)
    failed = ("r4", "m", "hw", "error", "offline", 8, None, None, None, None, "none", None, None, None)
    _insert(con, GOOD, ttft_too_long, no_scope, failed)

    results = quality.ok_row_results(con)

    assert set(results) == set(quality.OK_ROW_RULES) == set(quality.OK_ROW_RULE_DESCRIPTIONS)
    failing = {rule for rule, r in results.items() if not r.passed}
    assert failing == {"ttft_exceeds_e2e", "power_without_scope"}
    meta = results["ttft_exceeds_e2e"].metadata()
    assert (meta["violating_rows"], meta["expected_violating_rows"], meta["rows_checked"]) == (1, 0, 3)
    assert meta["examples"] == "r2 m on hw" and "ttft_s > e2e_latency_s" in meta["expected"]
    assert quality.ok_row_results(con, where="run_id = 'r1'")["ttft_exceeds_e2e"].passed
