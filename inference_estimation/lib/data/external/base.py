"""The adapter interface for public measurement datasets.

An adapter reads one dataset's files (as published, from a local folder) and returns rows in the
canonical CSV format (:mod:`inference_estimation.lib.data.external.canonical`) plus a count of the
rows it could not map, by reason -- nothing is dropped silently. Each adapter documents its
unit and semantics decisions in code, next to the conversion.

Where a dataset lives: ``--from PATH`` (a folder holding the dataset folders, such as
``../shared/data/external``), else ``$INFERENCE_ESTIMATION_EXTERNAL_DIR``, else the adapter's
pinned public files are downloaded into ``$INFERENCE_ESTIMATION_HOME/downloads`` and verified
against their SHA-256 before use.
"""

from __future__ import annotations

import abc
import hashlib
import json
import urllib.request
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class DatasetError(RuntimeError):
    """A dataset is missing, fails its checksum, or cannot be parsed; names the file."""


@dataclass(frozen=True)
class RemoteFile:
    """One published file of a dataset, pinned to a commit.

    Attributes:
        path: path inside the dataset folder (as the adapter reads it).
        url: public address at a pinned commit.
        sha256: expected checksum of the file's bytes.
    """

    path: str
    url: str
    sha256: str


@dataclass
class AdapterOutput:
    """Canonical rows of one dataset and the rows that could not be mapped.

    Attributes:
        rows: dicts keyed by canonical column names.
        rejected: reason -> number of source rows rejected for it.
        notes: free-text notes for the materialization (e.g. files read).
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    _seen: set[Hashable] = field(default_factory=set, init=False, repr=False, compare=False)

    def reject(self, reason: str, n: int = 1) -> None:
        """Counts ``n`` source rows rejected for ``reason``."""
        self.rejected[reason] += n

    def first_time(self, key: Hashable, reason: str) -> bool:
        """Whether ``key`` is new to this output; a repeat is counted as rejected for ``reason``.

        The keys seen so far are kept per output (one key space for the whole dataset read), so
        an adapter keeps the first row of a repeated identity and counts every later one.

        Args:
            key: the identity of a source row (a tuple of its identifying fields).
            reason: the rejection reason counted when ``key`` was seen before.

        Returns:
            True the first time ``key`` is given; False (after counting one rejection) on a repeat.
        """
        if key in self._seen:
            self.reject(reason)
            return False
        self._seen.add(key)
        return True


class Adapter(abc.ABC):
    """Maps one public dataset onto the measurement record.

    Attributes:
        source: the ``source`` value of its rows and its partition key (slug).
        folder: the dataset's folder name under the external data directory.
        title: a human-readable name.
        license: the dataset's licence as stated by its publisher.
        measured_at: ISO date of the data snapshot (rows carry it as ``measured_at``).
        remote_files: pinned public files (for machines with internet).
    """

    source: str
    folder: str
    title: str
    license: str
    measured_at: str
    remote_files: tuple[RemoteFile, ...] = ()

    @abc.abstractmethod
    def read(self, folder: Path) -> AdapterOutput:
        """Reads the dataset from ``folder`` and maps it to canonical rows.

        Raises:
            DatasetError: naming the missing or unparsable file.
        """

    def require(self, folder: Path, relative: str) -> Path:
        """A file of the dataset, or a DatasetError naming it."""
        path = folder / relative
        if not path.exists():
            raise DatasetError(f"{self.source}: missing file {path}")
        return path

    def read_json_list(self, path: Path, what: str) -> list[Any]:
        """The top-level JSON array of a dataset file.

        Args:
            path: the JSON file.
            what: what the array holds, for the error message (e.g. "result rows").

        Raises:
            DatasetError: naming the file when it cannot be read or parsed, or is not a JSON array.
        """
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{self.source}: cannot parse {path}: {exc}") from exc
        if not isinstance(data, list):
            raise DatasetError(f"{self.source}: {path} is not a JSON array of {what}")
        return data


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(adapter: Adapter, dest_root: Path, timeout_s: float = 60.0) -> Path:
    """Downloads an adapter's pinned files into ``dest_root/<folder>`` and verifies checksums.

    Files already present with the right checksum are not downloaded again. A file that fails
    its checksum is removed and reported.

    Returns:
        The dataset folder.

    Raises:
        DatasetError: naming the URL on a download failure or checksum mismatch.
    """
    if not adapter.remote_files:
        raise DatasetError(f"{adapter.source}: no pinned public files to download")
    folder = dest_root / adapter.folder
    for remote in adapter.remote_files:
        target = folder / remote.path
        if target.exists() and sha256_of(target) == remote.sha256:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        try:
            with urllib.request.urlopen(remote.url, timeout=timeout_s) as response, tmp.open("wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise DatasetError(f"{adapter.source}: download of {remote.url} failed: {exc}") from exc
        actual = sha256_of(tmp)
        if actual != remote.sha256:
            tmp.unlink(missing_ok=True)
            raise DatasetError(f"{adapter.source}: checksum mismatch for {remote.url}: expected {remote.sha256}, "
                               f"got {actual}")
        tmp.replace(target)
    return folder
