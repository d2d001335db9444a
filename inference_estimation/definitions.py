"""The code location: everything is autoloaded from ``defs/``; this file only assembles."""

from pathlib import Path

import dagster as dg

defs = dg.Definitions.merge(
    dg.load_from_defs_folder(path_within_project=Path(__file__).parent / "defs"),
    dg.Definitions(executor=dg.in_process_executor),
)
