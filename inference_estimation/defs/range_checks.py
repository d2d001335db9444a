"""The range and grain checks shared by every stage that lands measurement rows.

Benchmarks, external imports and the training gate each get one Dagster check per rule of
:data:`~inference_estimation.lib.data.quality.RANGE_RULES`.

The rules themselves are Dagster-free SQL in :mod:`inference_estimation.lib.data.quality`; this module
only turns them into check specs and results, so no stage imports another for them. The schema
check of a raw table (:func:`raw_schema_check`) is shared the same way.
"""

from collections.abc import Iterator

import dagster as dg
from dagster_duckdb import DuckDBResource

from inference_estimation.lib.data import quality


def range_check_specs(asset: dg.AssetsDefinition | dg.AssetKey, blocking: bool,
                      grain_description: str | None = None) -> list[dg.AssetCheckSpec]:
    """One check spec per rule of :data:`quality.RANGE_RULES` on ``asset`` (warning rules never block).

    Args:
        asset: the checked asset.
        blocking: whether the error rules block downstream materializations.
        grain_description: what ``grain_unique`` means for this asset, when not the run grain.
    """
    descriptions = dict(quality.RANGE_RULE_DESCRIPTIONS)
    if grain_description:
        descriptions["grain_unique"] = grain_description
    return [dg.AssetCheckSpec(rule, asset=asset, blocking=blocking and rule not in quality.WARNING_RULES,
                              description=descriptions[rule]) for rule in quality.RANGE_RULES]


def range_check_results(context: dg.AssetCheckExecutionContext, results: dict[str, quality.RuleResult],
                        asset_key: dg.AssetKey, scope: str) -> Iterator[dg.AssetCheckResult]:
    """Yields one AssetCheckResult per selected rule, observed vs expected in the metadata."""
    selected = {k.name for k in context.selected_asset_check_keys if k.asset_key == asset_key}
    for rule, result in results.items():
        if rule in selected:
            severity = dg.AssetCheckSeverity.WARN if rule in quality.WARNING_RULES else dg.AssetCheckSeverity.ERROR
            yield dg.AssetCheckResult(asset_key=asset_key, check_name=rule, passed=result.passed, severity=severity,
                                      metadata={**result.metadata(), "scope": scope})


def raw_schema_check(asset: dg.AssetsDefinition, table: str, name: str, rows: str) -> dg.AssetChecksDefinition:
    """The blocking check that a raw table matches the measurement record (``benchmark_jobs.schema``).

    Args:
        asset: the asset that lands the table.
        table: the raw table (``benchmark_runs``, ``external_runs``).
        name: the check's name.
        rows: what the rows are, for the description (``"benchmark rows"``).

    Returns:
        A check comparing the table's columns and types with the record and every row's enumerations
        (status, mode, power source/scope) and identity fields; it catches rows written around the
        harness or the importer.
    """

    @dg.asset_check(asset=asset, name=name, blocking=True,
                    description=f"raw.{table} has exactly the measurement record's columns and types, and every "
                    f"one of its {rows}' enumerations (status, mode, power source/scope) and identity fields "
                    "are valid.")
    def _check(duckdb: DuckDBResource) -> dg.AssetCheckResult:
        with duckdb.get_connection() as con:
            result = quality.schema_result(con, table)
        return dg.AssetCheckResult(passed=result.passed, metadata=result.metadata())

    return _check
