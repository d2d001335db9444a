"""Data-quality rules over measurement rows, one rule per property (used by asset checks).

Rules run as SQL over a *relation* (``raw.benchmark_runs``, ``raw.external_runs`` or
``marts.measurements``) restricted by a *scope* (the rows one run landed, the latest run of each
partition, or everything). Each rule reports what it observed next to what it expected, so a
failed check in the UI says how bad and where. Dagster-free: the checks in ``defs/`` only call
these functions and copy the numbers into metadata.

NaN needs care in SQL: DuckDB orders NaN above every number, so ``x > 0`` is TRUE for NaN; every
rule therefore asks for ``isfinite(x)`` as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb

from benchmark_jobs.schema import (
    MODES,
    POINT_KEY_FIELDS,
    POWER_SCOPES,
    POWER_SOURCES,
    STATUSES,
    arrow_type_names,
)
from inference_estimation.lib.data.warehouse import RAW_SCHEMA, RUN_TABLES, ensure_raw_tables

if TYPE_CHECKING:
    from inference_estimation.lib.catalog import Catalog

#: Average power above this multiple of TDP x devices is not physical (boost clocks reach ~1.2x).
POWER_TDP_FACTOR = 1.5
#: A latency CV (sample std / mean over trials) above this means the trials disagree: a noisy
#: measurement, flagged as a warning (``latency_cv_stable``). Sweeps target 0.03-0.10 but stop at
#: max_trials, and one trial disturbed by another process on a busy 2-core machine took two trials
#: to 0.76 and 1.05. A CV that is NaN, negative or above sqrt(n_trials) -- the largest any n samples
#: can have -- is not a measurement at all (``latency_cv_bounded``, an error that blocks).
MAX_LATENCY_CV = 0.5
#: Power scopes bounded by the device TDP; ``system`` power includes host CPUs, fans and PSU
#: losses, so it is not.
TDP_BOUNDED_SCOPES = ("device", "all-devices", "cpu-package")
#: Metric columns of each positivity rule.
LATENCY_COLUMNS = ("e2e_latency_s", "ttft_s", "tpot_s")
THROUGHPUT_COLUMNS = ("output_throughput_tok_s", "total_throughput_tok_s")
#: Grain of a run table: (source, run_id, workload point).
RUN_GRAIN = ("source", "run_id", *POINT_KEY_FIELDS)
#: The rules every measurement relation is checked against (check names follow them).
RANGE_RULES = ("latency_positive", "throughput_positive", "power_within_tdp", "latency_cv_bounded",
               "latency_cv_stable", "grain_unique")
#: Rules whose failure is a warning, never a block (the data is poor, not wrong).
WARNING_RULES = frozenset({"latency_cv_stable"})
#: What each of :data:`RANGE_RULES` means (the descriptions of the checks named after them).
RANGE_RULE_DESCRIPTIONS = {
    "latency_positive": "Every measured latency (e2e, TTFT, TPOT) of a successful row is > 0 s and finite.",
    "throughput_positive": "Every measured throughput of a successful row is > 0 tok/s and finite.",
    "power_within_tdp": f"Average power <= {POWER_TDP_FACTOR} x TDP x devices wherever the catalog "
                        "knows the TDP (device, all-devices and cpu-package scopes).",
    "latency_cv_bounded": "The latency CV over trials is finite, >= 0 and <= sqrt(n_trials), the most n trials "
                          "can disagree (anything else is not a measurement).",
    "latency_cv_stable": f"The latency CV over trials is <= {MAX_LATENCY_CV}; above, the point is noisy "
                         "(a warning, never a block).",
    "grain_unique": "No two rows share a grain key (source, run_id, workload point).",
}
_EXAMPLES = 3


def tdp_by_hardware(catalog: Catalog) -> dict[str, float | None]:
    """TDP per device (W) of every catalog hardware entry, None where unknown.

    It is the ``tdp_w`` argument of :func:`range_results`.
    """
    return {key: hw.specs.tdp_w for key, hw in catalog.hardware.items()}

#: Consistency rules of a successful benchmark row: rule (and check) name -> SQL predicate that is
#: TRUE for a violating row.
OK_ROW_RULES = {
    "e2e_latency_missing_or_nonpositive": "e2e_latency_s is null or e2e_latency_s <= 0",
    "ttft_exceeds_e2e": "ttft_s is not null and ttft_s > e2e_latency_s",
    "tpot_missing_for_multi_token": "output_tokens > 1 and mode = 'offline' and tpot_s is null",
    "throughput_nonpositive": "output_throughput_tok_s is not null and output_throughput_tok_s <= 0",
    "power_without_scope": "power_source <> 'none' and power_scope is null",
    "energy_without_power_source": "power_source = 'none' and (energy_j is not null or avg_power_w is not null)",
    "measured_power_zero": "power_source <> 'none' and avg_power_w is not null and avg_power_w <= 0",
}
#: What each of :data:`OK_ROW_RULES` demands (the descriptions of the checks named after them).
OK_ROW_RULE_DESCRIPTIONS = {
    "e2e_latency_missing_or_nonpositive": "Every successful row has an e2e latency, and it is > 0 s.",
    "ttft_exceeds_e2e": "A successful row's TTFT is never longer than its e2e latency.",
    "tpot_missing_for_multi_token": "An offline successful row that generated more than one token has a TPOT.",
    "throughput_nonpositive": "A measured output throughput is > 0 tok/s.",
    "power_without_scope": "A row with a power source says what the power covers (power_scope).",
    "energy_without_power_source": "A row with no power source has no power and no energy figure.",
    "measured_power_zero": "A measured average power is > 0 W.",
}


@dataclass
class RuleResult:
    """The outcome of one rule: observed against expected, with a few offending rows.

    Attributes:
        rule: the rule (and check) name.
        passed: whether no checked row violated it.
        rows_checked: rows in scope.
        violating_rows: rows that broke it.
        observed: the worst value seen (None when nothing was measured).
        expected: what the rule demands, in words with units.
        examples: up to three offending rows (run, model, hardware, value).
        extra: further numbers for the check's metadata.
    """

    rule: str
    passed: bool
    rows_checked: int
    violating_rows: int
    observed: float | str | None
    expected: str
    examples: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """Flat metadata for an ``AssetCheckResult`` (numbers stay numbers; NaN becomes text)."""
        observed = self.observed
        if isinstance(observed, float) and not math.isfinite(observed):
            observed = str(observed)
        out: dict[str, Any] = {"rows_checked": self.rows_checked, "violating_rows": self.violating_rows,
                               "expected_violating_rows": 0, "observed": observed if observed is not None else "n/a",
                               "expected": self.expected, **self.extra}
        if self.examples:
            out["examples"] = "; ".join(self.examples)
        return out


# ------------------------------------------------------------------------------------- scopes
def latest_runs_scope(relation: str) -> str:
    """SQL condition selecting the rows of the latest run of each (source, partition).

    Raw tables keep every run; what flows downstream is the newest one, so a bad run stops
    failing checks once a good rerun of its partition has landed.
    """
    return (f"run_id in (select run_id from (select source, coalesce(partition_key, '') as pk, run_id, "
            f"max(measured_at) as last_at from {relation} group by all) "
            f"qualify row_number() over (partition by source, pk order by last_at desc, run_id desc) = 1)")


def run_prefix_scope(con: duckdb.DuckDBPyConnection, relation: str, run_id_prefix: str) -> str | None:
    """SQL condition selecting the rows a Dagster run landed, or None when it landed none.

    Those rows' run ids start with the Dagster run's id prefix.
    """
    if not run_id_prefix.replace("-", "").isalnum():
        raise ValueError(f"unsafe run id prefix {run_id_prefix!r}")
    (n,) = con.execute(f"select count(*) from {relation} where starts_with(run_id, ?)", [run_id_prefix]).fetchone()
    return f"starts_with(run_id, '{run_id_prefix}')" if n else None


# -------------------------------------------------------------------------------------- rules
def _positive_rule(con, relation: str, where: str, rule: str, columns: tuple[str, ...], unit: str) -> RuleResult:
    present = [c for c in columns if c in _columns(con, relation)]
    bad = " or ".join(f"({c} is not null and not ({c} > 0 and isfinite({c})))" for c in present) or "false"
    scope = f"status = 'ok' and ({where})"
    (checked,) = con.execute(f"select count(*) from {relation} where {scope}").fetchone()
    rows = con.execute(
        f"select run_id, model_key, hardware_key, {', '.join(present)} from {relation} where {scope} and ({bad})"
    ).fetchall()
    values = [v for row in rows for v in row[3:] if v is not None and not (v > 0 and math.isfinite(v))]
    worst = (float("nan") if any(math.isnan(v) for v in values) else min(values)) if values else None
    if worst is None:
        (worst,) = con.execute(f"select min(least({', '.join(present)})) from {relation} where {scope}").fetchone()
    examples = [f"{r[0]} {r[1]} on {r[2]}: " + ", ".join(f"{c}={v}" for c, v in zip(present, r[3:], strict=True) if v is not None)
                for r in rows[:_EXAMPLES]]
    return RuleResult(rule, not rows, int(checked), len(rows), worst,
                      f"every {', '.join(present)} > 0 {unit} and finite (null = not measured)", examples)


def _power_rule(con, relation: str, where: str, tdp_w: dict[str, float | None]) -> RuleResult:
    known = {k: v for k, v in tdp_w.items() if v is not None and v > 0}
    scopes = ", ".join(f"'{s}'" for s in TDP_BOUNDED_SCOPES)
    base = f"status = 'ok' and ({where}) and avg_power_w is not null and power_scope in ({scopes})"
    con.execute("create or replace temp table _ie_tdp (hardware_key varchar, tdp_w double)")
    if known:
        con.executemany("insert into _ie_tdp values (?, ?)", list(known.items()))
    ratio = "avg_power_w / (t.tdp_w * greatest(coalesce(r.device_count, 1), 1))"
    (checked, without_tdp, worst) = con.execute(
        f"select count(t.tdp_w), count(*) - count(t.tdp_w), max({ratio}) filter (where isfinite(avg_power_w)) "
        f"from {relation} r left join _ie_tdp t using (hardware_key) where {base}").fetchone()
    rows = con.execute(
        f"select run_id, model_key, hardware_key, avg_power_w, t.tdp_w, r.device_count from {relation} r "
        f"join _ie_tdp t using (hardware_key) where {base} and not (isfinite(avg_power_w) and avg_power_w >= 0 "
        f"and {ratio} <= {POWER_TDP_FACTOR})").fetchall()
    if any(not math.isfinite(r[3]) for r in rows):
        worst = float("nan")
    examples = [f"{r[0]} {r[1]} on {r[2]}: avg_power_w={r[3]} vs TDP {r[4]} W x {r[5]}" for r in rows[:_EXAMPLES]]
    return RuleResult("power_within_tdp", not rows, int(checked), len(rows),
                      None if worst is None else (round(worst, 4) if math.isfinite(worst) else worst),
                      f"avg_power_w <= {POWER_TDP_FACTOR} x TDP x devices (observed = worst ratio to TDP x devices)",
                      examples, {"rows_without_tdp": int(without_tdp),
                                 "scopes_checked": ", ".join(TDP_BOUNDED_SCOPES)})


def _cv_rules(con, relation: str, where: str) -> tuple[RuleResult, RuleResult]:
    """The two latency-CV rules.

    ``latency_cv_bounded``: possible at all (finite, >= 0, <= sqrt(n_trials)); ``latency_cv_stable``:
    <= MAX_LATENCY_CV.
    """
    scope = f"status = 'ok' and ({where}) and latency_cv is not null"
    trials = "n_trials" in _columns(con, relation)
    most = "sqrt(greatest(n_trials, 1)) + 1e-9" if trials else "'inf'::double"
    (checked, worst) = con.execute(f"select count(*), max(latency_cv) from {relation} where {scope}").fetchone()
    results = []
    for rule, bad, expected in (
            ("latency_cv_bounded", f"not (isfinite(latency_cv) and latency_cv >= 0 and latency_cv <= {most})",
             "0 <= latency_cv <= sqrt(n_trials) and finite (the most any n trials can disagree)"),
            ("latency_cv_stable", f"latency_cv > {MAX_LATENCY_CV}", f"latency_cv <= {MAX_LATENCY_CV} (else noisy)")):
        rows = con.execute(f"select run_id, model_key, hardware_key, latency_cv, {'n_trials' if trials else 'null'} "
                           f"from {relation} where {scope} and ({bad})").fetchall()
        examples = [f"{r[0]} {r[1]} on {r[2]}: latency_cv={r[3]} over {r[4]} trials" for r in rows[:_EXAMPLES]]
        results.append(RuleResult(rule, not rows, int(checked), len(rows), worst, expected, examples))
    return results[0], results[1]


def _grain_rule(con, relation: str, where: str, grain: tuple[str, ...]) -> RuleResult:
    keys = ", ".join(grain)
    (checked,) = con.execute(f"select count(*) from {relation} where {where}").fetchone()
    dupes = con.execute(f"select {keys}, count(*) as n from {relation} where {where} group by all having count(*) > 1 "
                        f"order by n desc").fetchall()
    extra_rows = sum(row[-1] - 1 for row in dupes)
    examples = [", ".join(f"{k}={v}" for k, v in zip(grain, row[:-1], strict=True) if v is not None) + f" x{row[-1]}"
                for row in dupes[:_EXAMPLES]]
    return RuleResult("grain_unique", not dupes, int(checked), int(extra_rows), len(dupes),
                      f"one row per ({keys}); observed = duplicated keys", examples)


def ok_row_results(con: duckdb.DuckDBPyConnection, table: str = "benchmark_runs",
                   where: str = "true") -> dict[str, RuleResult]:
    """One result per rule of :data:`OK_ROW_RULES` over the successful rows of ``raw.<table>`` in a scope.

    Observed is the number of violating rows (expected 0), with up to three of them as examples.
    """
    ensure_raw_tables(con)
    scope = f"status = 'ok' and ({where})"
    relation = f"{RAW_SCHEMA}.{table}"
    (checked,) = con.execute(f"select count(*) from {relation} where {scope}").fetchone()
    results = {}
    for rule, predicate in OK_ROW_RULES.items():
        (n,) = con.execute(f"select count(*) from {relation} where {scope} and ({predicate})").fetchone()
        rows = con.execute(f"select run_id, model_key, hardware_key from {relation} where {scope} and ({predicate}) "
                           f"order by run_id limit {_EXAMPLES}").fetchall()
        results[rule] = RuleResult(rule, n == 0, int(checked), int(n), int(n),
                                   f"no successful row where {predicate}", [f"{r[0]} {r[1]} on {r[2]}" for r in rows])
    return results


def range_results(con: duckdb.DuckDBPyConnection, relation: str, tdp_w: dict[str, float | None],
                  where: str = "true", grain: tuple[str, ...] = RUN_GRAIN) -> dict[str, RuleResult]:
    """Evaluates every rule of :data:`RANGE_RULES` on the rows of ``relation`` in scope.

    Args:
        con: a DuckDB connection to the warehouse.
        relation: ``schema.table`` holding measurement records (validated identifier).
        tdp_w: TDP per device by hardware key (from the catalog; None where unknown).
        where: a scope condition (see :func:`latest_runs_scope`, :func:`run_prefix_scope`).
        grain: the columns that identify one row.

    Returns:
        ``{rule: RuleResult}`` in :data:`RANGE_RULES` order.
    """
    _check_relation(relation)
    bounded, stable = _cv_rules(con, relation, where)
    return {
        "latency_positive": _positive_rule(con, relation, where, "latency_positive", LATENCY_COLUMNS, "s"),
        "throughput_positive": _positive_rule(con, relation, where, "throughput_positive", THROUGHPUT_COLUMNS, "tok/s"),
        "power_within_tdp": _power_rule(con, relation, where, tdp_w),
        "latency_cv_bounded": bounded,
        "latency_cv_stable": stable,
        "grain_unique": _grain_rule(con, relation, where, grain),
    }


def schema_result(con: duckdb.DuckDBPyConnection, table: str) -> RuleResult:
    """Whether ``raw.<table>`` matches the measurement record.

    Every column with its type, and every row's enumerations and identity fields valid (catches
    rows written around the harness's validation).
    """
    if table not in RUN_TABLES:
        raise ValueError(f"unknown run table {table!r}")
    ensure_raw_tables(con)
    duck = {"string": "VARCHAR", "int64": "BIGINT", "float64": "DOUBLE", "bool": "BOOLEAN"}
    expected = {name: duck[t] for name, t in arrow_type_names().items()} | {"landed_from": "VARCHAR"}
    actual = dict(con.execute("select column_name, data_type from information_schema.columns "
                              "where table_schema = ? and table_name = ?", [RAW_SCHEMA, table]).fetchall())
    problems = [f"missing column {c}" for c in expected if c not in actual]
    problems += [f"unexpected column {c}" for c in actual if c not in expected]
    problems += [f"{c} is {actual[c]}, expected {t}" for c, t in expected.items() if c in actual and actual[c] != t]
    checks = {
        "status": _in_list("status", STATUSES), "mode": _in_list("mode", MODES),
        "power_source": _in_list("power_source", POWER_SOURCES),
        "power_scope": f"power_scope is not null and not {_in_list('power_scope', POWER_SCOPES)}",
        "identity": " or ".join(f"{c} is null or {c} = ''" for c in ("source", "run_id", "model_key", "hardware_key",
                                                                       "measured_at")),
        "error_for_failed_status": "status <> 'ok' and (error is null or error = '')",
    }
    relation = f"{RAW_SCHEMA}.{table}"
    (checked,) = con.execute(f"select count(*) from {relation}").fetchone()
    bad_rows = 0
    if not problems:
        for name, predicate in checks.items():
            if name in ("status", "mode", "power_source"):
                predicate = f"{name} is null or not {predicate}"
            (n,) = con.execute(f"select count(*) from {relation} where {predicate}").fetchone()
            if n:
                problems.append(f"{n} row(s) with invalid {name}")
                bad_rows += int(n)
    return RuleResult("schema_matches_record", not problems, int(checked), bad_rows,
                      "; ".join(problems) or "matches", "the columns, types and enumerations of "
                      "benchmark_jobs.schema.MeasurementRecord", problems[:_EXAMPLES])


def _in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    schema, table = relation.split(".")
    return {r[0] for r in con.execute("select column_name from information_schema.columns where table_schema = ? "
                                      "and table_name = ?", [schema, table]).fetchall()}


def _check_relation(relation: str) -> None:
    parts = relation.split(".")
    if len(parts) != 2 or not all(p.replace("_", "").isalnum() and p.islower() for p in parts):
        raise ValueError(f"refusing SQL relation {relation!r}")


def relation_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    """Whether ``schema.table`` exists (a mart is missing until dbt first ran)."""
    _check_relation(relation)
    schema, table = relation.split(".")
    (n,) = con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                       [schema, table]).fetchone()
    return bool(n)


# ------------------------------------------------------------------------------------ freshness
def stale_sources(last_update_s: dict[str, float | None], now_s: float, max_age_days: float) -> RuleResult:
    """Which imported sources were last refreshed too long ago (or never).

    Args:
        last_update_s: source -> POSIX time of its latest import (None when never imported).
        now_s: the current POSIX time.
        max_age_days: the oldest acceptable import.
    """
    ages = {s: (None if t is None else (now_s - t) / 86400.0) for s, t in last_update_s.items()}
    stale = sorted(s for s, age in ages.items() if age is None or age > max_age_days)
    known = [a for a in ages.values() if a is not None]
    return RuleResult(
        "external_sources_fresh", not stale, len(ages), len(stale),
        round(max(known), 3) if known else None, f"every source imported within {max_age_days:g} days "
        "(observed = oldest import, days)", [f"{s}: {'never imported' if ages[s] is None else f'{ages[s]:.1f} days'}"
                                              for s in stale[:_EXAMPLES]],
        {f"age_days/{s}": (round(a, 3) if a is not None else "never") for s, a in sorted(ages.items())},
    )
