"""Where all state lives: one directory, ``INFERENCE_ESTIMATION_HOME``.

It holds the DuckDB warehouse, the immutable parquet files of every run, trained model files,
reports, user catalog overlays and the Dagster instance (``DAGSTER_HOME`` is a folder inside it,
seeded from the repository's ``dagster.yaml``).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "INFERENCE_ESTIMATION_HOME"
DEFAULT_HOME = Path.home() / ".inference-estimation"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Home:
    """Paths inside one ``INFERENCE_ESTIMATION_HOME``."""

    root: Path

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB file."""
        return self.root / "warehouse.duckdb"

    @property
    def parquet_dir(self) -> Path:
        """Immutable parquet files, one per run."""
        return self.root / "parquet"

    @property
    def predictors_dir(self) -> Path:
        """Trained predictors (CatBoost ``.cbm`` + JSON cards), one folder per target."""
        return self.root / "predictors"

    @property
    def reports_dir(self) -> Path:
        """SHAP plots and markdown reports."""
        return self.root / "reports"

    @property
    def catalog_dir(self) -> Path:
        """User catalog overlays (``*.yaml``), including probe results for local hardware."""
        return self.root / "catalog"

    @property
    def dagster_home(self) -> Path:
        """The Dagster instance directory."""
        return self.root / "dagster"

    def ensure(self) -> "Home":
        """Creates the folders and seeds ``dagster.yaml``; returns self."""
        for path in (self.root, self.parquet_dir, self.predictors_dir, self.reports_dir, self.catalog_dir,
                     self.dagster_home):
            path.mkdir(parents=True, exist_ok=True)
        src = REPO_ROOT / "dagster.yaml"
        dst = self.dagster_home / "dagster.yaml"
        if src.exists() and (not dst.exists() or dst.read_text() != src.read_text()):
            shutil.copyfile(src, dst)
        return self


def get_home(create: bool = True) -> Home:
    """Returns the active home (``$INFERENCE_ESTIMATION_HOME`` or ``~/.inference-estimation``).

    Args:
        create: create the folders and seed the Dagster instance config.
    """
    home = Home(Path(os.environ.get(HOME_ENV, DEFAULT_HOME)).expanduser().resolve())
    return home.ensure() if create else home


def activate_home(root: str | Path | None = None) -> Home:
    """Points this process at a home and sets ``DAGSTER_HOME`` inside it.

    Args:
        root: the home folder; defaults to ``$INFERENCE_ESTIMATION_HOME`` or the default.
    """
    if root is not None:
        os.environ[HOME_ENV] = str(Path(root).expanduser().resolve())
    home = get_home(create=True)
    os.environ["DAGSTER_HOME"] = str(home.dagster_home)
    return home
