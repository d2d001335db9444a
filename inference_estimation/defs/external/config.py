"""Run-time knobs of the external-data stage."""

import dagster as dg


class ExternalConfig(dg.Config):
    """Where datasets are read from.

    Attributes:
        from_path: a folder holding the dataset folders (e.g. ``../shared/data/external``), or
            for ``user-csv`` a folder of canonical CSVs. Default: ``$INFERENCE_ESTIMATION_EXTERNAL_DIR``,
            else the pinned public files are downloaded (public datasets) or
            ``$INFERENCE_ESTIMATION_HOME/imports`` is read (user CSVs).
    """

    from_path: str | None = None
