"""Resources shared by every stage: the DuckDB warehouse and the dbt CLI."""

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from inference_estimation.defs.transform.project import dbt_executable, dbt_project
from inference_estimation.lib.home import get_home


@dg.definitions
def resources() -> dg.Definitions:
    """The warehouse in ``$INFERENCE_ESTIMATION_HOME`` and the project's dbt CLI."""
    home = get_home()
    return dg.Definitions(
        resources={
            "duckdb": DuckDBResource(database=str(home.warehouse_path)),
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
        }
    )
