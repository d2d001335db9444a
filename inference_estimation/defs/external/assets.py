"""External stage: public measurement datasets in raw.external_runs.

The importer (public-data issue) materializes this table from each dataset's canonical CSV;
until then it is declared here so lineage shows where imported rows enter the dbt graph.
"""

import dagster as dg

external_benchmarks = dg.AssetSpec(
    "external_benchmarks",
    group_name="external",
    kinds={"duckdb"},
    description="Public measurement datasets mapped onto the measurement record (raw.external_runs); "
    "created empty by the warehouse so dbt always builds.",
)
