"""The one cached dbt project (kept free of @dbt_assets so preparing it never imports them).

The manifest must exist before the code location loads; set-up runs ``dbt parse``, and a fresh
checkout prepares it here on first import.
"""

from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()
if not dbt_project.manifest_path.exists():
    dbt_project.preparer.prepare(dbt_project)
