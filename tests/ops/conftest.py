"""Fixtures of the operations tests: isolated homes, stand-in harnesses and small sweeps.

Fault tests never write into the session home the pipeline fixture built: each gets its own
``INFERENCE_ESTIMATION_HOME`` (warehouse, parquet, catalog overlays) and an ephemeral or
temporary Dagster instance, so what one test breaks no other test sees.
"""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from inference_estimation.lib.home import HOME_ENV, Home

OPS_SWEEP = "ops-tiny"


def sweep_overlay(name: str = OPS_SWEEP, models=("gpt2-small",), point_timeout_s: float = 30.0) -> str:
    """YAML of a 4-point sweep (batch 1-2 x 8-16 input tokens x 4 output) with fast settings."""
    return (f"sweeps:\n  - name: {name}\n    models: [{', '.join(models)}]\n    hardware: [local-cpu]\n"
            f"    batch_sizes: [1, 2]\n    input_tokens: [8, 16]\n    output_tokens: [4]\n    warmup_runs: 0\n"
            f"    min_trials: 1\n    max_trials: 2\n    target_cv: 0.5\n    point_timeout_s: {point_timeout_s}\n")


def launcher_overlay(python) -> str:
    """YAML pointing local-cpu's launcher at another interpreter (a stand-in harness)."""
    return f"hardware:\n  - key: local-cpu\n    launcher: {{type: local, host: localhost, threads: 1, python: '{python}'}}\n"


@pytest.fixture
def isolated_home(tmp_path, monkeypatch) -> Home:
    """A fresh INFERENCE_ESTIMATION_HOME for this test only (the session home is untouched)."""
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    return Home(tmp_path / "home").ensure()


def count_rows(home: Home, sql: str = "select count(*) from raw.benchmark_runs") -> int:
    """One number from the home's warehouse (read-only connection, closed at once)."""
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def materialize_partition(home: Home, model: str, sweep: str = OPS_SWEEP, extra_assets=(), instance=None,
                          resources=None) -> dg.ExecuteInProcessResult:
    """Materializes one benchmark partition (and its checks) into ``home``'s warehouse, in process."""
    from inference_estimation.defs.benchmark_requests import benchmark_run_config
    from inference_estimation.defs.benchmarks import checks
    from inference_estimation.defs.benchmarks.assets import benchmark_runs
    from inference_estimation.defs.partitions import ensure_benchmark_partitions
    from inference_estimation.defs.resources import (
        CatalogResource,
        HarnessSecrets,
        HomeResource,
        PipesMessageStore,
    )
    from inference_estimation.lib.catalog import load_catalog

    instance = instance or dg.DagsterInstance.ephemeral()
    ensure_benchmark_partitions(instance, load_catalog(strict=False))  # the catalog's keys, as the sync sensor would add them
    return dg.materialize(
        [benchmark_runs, checks.benchmark_rows_consistent, checks.benchmark_rows_match_schema,
         checks.benchmark_rows_in_range, *extra_assets],
        partition_key=dg.MultiPartitionKey({"model": model, "hardware": "local-cpu"}),
        run_config=benchmark_run_config(sweep),
        resources={"duckdb": DuckDBResource(database=str(home.warehouse_path)), "harness_secrets": HarnessSecrets(),
                   "pipes_message_store": PipesMessageStore(), "catalog": CatalogResource(), "home": HomeResource(),
                   **(resources or {})},
        instance=instance, raise_on_error=False,
        selection=dg.AssetSelection.assets(benchmark_runs, *extra_assets),
    )


def metadata(result: dg.ExecuteInProcessResult, node: str = "benchmark_runs") -> dict:
    """The values of the last materialization's metadata of ``node``."""
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[-1].metadata.items()}


def check_evaluations(result: dg.ExecuteInProcessResult) -> dict:
    """Check name -> evaluation of one run."""
    return {e.check_name: e for e in result.get_asset_check_evaluations()}
