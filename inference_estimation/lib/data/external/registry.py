"""Where datasets come from, and the registry of adapters by source."""

from __future__ import annotations

import os
from pathlib import Path

from inference_estimation.lib.data.external.base import Adapter, DatasetError, fetch

EXTERNAL_DIR_ENV = "INFERENCE_ESTIMATION_EXTERNAL_DIR"


def all_adapters() -> dict[str, Adapter]:
    """Every adapter, keyed by its source (the partition keys of ``external_benchmarks``)."""
    from inference_estimation.lib.data.external import adapters

    found = {a.source: a for a in adapters.ADAPTERS}
    return dict(sorted(found.items()))


def dataset_folder(adapter: Adapter, from_path: str | None, downloads_dir: Path) -> Path:
    """The local folder of an adapter's dataset: ``from_path``, the env folder, or a download.

    Args:
        adapter: the dataset's adapter.
        from_path: a folder holding dataset folders (``<from_path>/<adapter.folder>``), or the
            dataset folder itself.
        downloads_dir: where pinned public files are downloaded when no local copy is named.

    Raises:
        DatasetError: when the named folder lacks the dataset, or the download fails.
    """
    base = from_path or os.environ.get(EXTERNAL_DIR_ENV)
    if base:
        root = Path(base).expanduser()
        if (root / adapter.folder).is_dir():
            return root / adapter.folder
        if root.is_dir() and root.name == adapter.folder:
            return root
        raise DatasetError(f"{adapter.source}: no folder {adapter.folder!r} under {root}")
    return fetch(adapter, downloads_dir)
