"""Downloading a dataset's pinned files: exercised against a real HTTP server on loopback."""

import functools
import hashlib
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from inference_estimation.lib.data.external.base import (
    Adapter,
    AdapterOutput,
    DatasetError,
    RemoteFile,
    fetch,
)
from inference_estimation.lib.data.external.registry import dataset_folder


@pytest.fixture
def http_root(tmp_path):
    """Serves ``tmp_path/served`` on 127.0.0.1 (an ephemeral port) for the test's duration."""
    root = tmp_path / "served"
    (root / "pinned" / "abc123").mkdir(parents=True)
    (root / "pinned" / "abc123" / "results.csv").write_text("a,b\n1,2\n")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


def _adapter(url: str, sha256: str) -> Adapter:
    class Tiny(Adapter):
        source, folder, title, license, measured_at = "tiny", "tiny_dataset", "Tiny", "CC0", "2026-01-01"
        remote_files = (RemoteFile("data/results.csv", url, sha256),)

        def read(self, folder: Path) -> AdapterOutput:
            return AdapterOutput()

    return Tiny()


def test_pinned_file_is_downloaded_verified_and_not_fetched_twice(http_root, tmp_path):
    root, base = http_root
    good_sha = hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    adapter = _adapter(f"{base}/pinned/abc123/results.csv", good_sha)
    folder = fetch(adapter, tmp_path / "downloads")
    assert (folder / "data" / "results.csv").read_text() == "a,b\n1,2\n"
    (root / "pinned" / "abc123" / "results.csv").unlink()  # a second fetch must not need the server
    assert fetch(adapter, tmp_path / "downloads") == folder


def test_checksum_mismatch_fails_naming_the_url_and_leaves_no_file(http_root, tmp_path):
    _, base = http_root
    adapter = _adapter(f"{base}/pinned/abc123/results.csv", "0" * 64)
    with pytest.raises(DatasetError, match="checksum mismatch for http://127.0.0.1"):
        fetch(adapter, tmp_path / "downloads")
    assert not list((tmp_path / "downloads").rglob("results.csv*"))


def test_missing_remote_file_fails_with_the_url(http_root, tmp_path):
    _, base = http_root
    with pytest.raises(DatasetError, match="download of .*/nope.csv failed"):
        fetch(_adapter(f"{base}/pinned/abc123/nope.csv", "0" * 64), tmp_path / "downloads")


def test_from_path_names_the_folder_holding_datasets_and_missing_dataset_is_an_error(tmp_path):
    adapter = _adapter("http://127.0.0.1:9/unused", "0" * 64)
    (tmp_path / "tiny_dataset").mkdir()
    assert dataset_folder(adapter, str(tmp_path), tmp_path / "dl") == tmp_path / "tiny_dataset"
    with pytest.raises(DatasetError, match="no folder 'tiny_dataset'"):
        dataset_folder(adapter, str(tmp_path / "elsewhere"), tmp_path / "dl")
