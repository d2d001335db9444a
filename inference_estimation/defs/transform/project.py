"""The one cached dbt project (kept free of @dbt_assets so preparing it never imports them).

The manifest must exist before the code location loads; set-up runs ``dbt parse``, and a fresh
checkout (or an edited dbt file) re-prepares it here on import, so the manifest never lags the
project it describes.
"""

import shutil
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"



def _manifest_is_stale(project: DbtProject) -> bool:
    """True when the manifest is missing or older than any model, macro, test or config file."""
    if not project.manifest_path.exists():
        return True
    built = project.manifest_path.stat().st_mtime
    skip = {"target", "logs", "dbt_packages"}
    return any(path.stat().st_mtime > built for path in DBT_PROJECT_DIR.rglob("*")
               if path.suffix in {".sql", ".yml", ".py"} and not skip & set(path.relative_to(DBT_PROJECT_DIR).parts))


def dbt_executable() -> str:
    """The dbt installed beside this interpreter (the venv need not be on PATH), else PATH's."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def _parse(project: DbtProject) -> None:
    subprocess.run([dbt_executable(), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
                    "--profiles-dir", str(DBT_PROJECT_DIR)], check=True, cwd=DBT_PROJECT_DIR)


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
if _manifest_is_stale(dbt_project):
    _parse(dbt_project)
