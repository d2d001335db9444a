"""The one cached dbt project (kept free of @dbt_assets so preparing it never imports them).

The manifest must exist before the code location loads: set-up (``make setup``, CI) runs
``dbt parse``, so importing this module runs nothing. Under ``dagster dev`` (the ``ui`` command)
:meth:`DbtProject.prepare_if_dev` re-parses in each process, so an edited model shows up on reload.
"""

import os
import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtProject
from dagster_dbt.dbt_project import using_dagster_dev

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"


def dbt_executable() -> str:
    """The dbt installed beside this interpreter (the venv need not be on PATH), else PATH's."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def _dbt_on_path_for_dev() -> None:
    """Under ``dagster dev``, puts this interpreter's folder first on PATH when only it has ``dbt``.

    dagster-dbt's preparer runs the ``dbt`` on PATH, and ``.venv/bin/inference-estimation ui``
    starts without the venv activated.
    """
    folder = Path(sys.executable).parent
    if using_dagster_dev() and shutil.which("dbt") is None and (folder / "dbt").exists():
        os.environ["PATH"] = os.pathsep.join([str(folder), os.environ.get("PATH", "")])


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
_dbt_on_path_for_dev()
dbt_project.prepare_if_dev()
