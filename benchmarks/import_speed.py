"""How long each public dataset takes to read and to land, and all of them together.

Usage: ``.venv/bin/python benchmarks/import_speed.py [--from ../shared/data/external]`` (prints one
line per source and the total; the goal is ``import all`` within 60 s on an idle 2-core machine).
Lands into a throwaway DuckDB file; the home is untouched.
"""

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.data.external.importer import import_adapter
from inference_estimation.lib.data.external.registry import all_adapters


def main() -> None:
    """Reads and lands every adapter's dataset, timing each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="from_path",
                        default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "external"))
    args = parser.parse_args()
    catalog = load_catalog(overlay_dirs=[])
    total = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        con = duckdb.connect(str(root / "w.duckdb"))
        for source, adapter in all_adapters().items():
            folder = Path(args.from_path) / adapter.folder
            if not folder.is_dir():
                print(f"{source:24s} skipped: no folder {folder}")
                continue
            started = time.perf_counter()
            read = adapter.read(folder)
            read_s = time.perf_counter() - started
            started = time.perf_counter()
            result = import_adapter(adapter, folder, catalog, con, root / "parquet", root / "canonical")
            print(f"{source:24s} read {read_s:5.2f} s ({len(read.rows):,} rows); read + land "
                  f"{time.perf_counter() - started:5.2f} s ({result.rows_landed:,} landed)")
        con.close()
    print(f"all sources: {time.perf_counter() - total:.1f} s (goal <= 60 s)")


if __name__ == "__main__":
    main()
