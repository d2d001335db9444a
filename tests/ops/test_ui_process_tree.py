"""`inference-estimation ui` stops its whole process tree: on SIGTERM (even when started from a shell
that ignores SIGINT, as a background job is), and when it is killed outright (no orphans)."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.ops.test_ui_browser import REPO_ROOT, _free_port

pytestmark = pytest.mark.slow


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_ui(home: Path, log: Path) -> tuple[subprocess.Popen, set[int]]:
    port = _free_port()

    def like_a_background_job() -> None:
        os.setsid()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # what `cmd &` in a non-interactive shell does

    process = subprocess.Popen([sys.executable, "-m", "inference_estimation.cli", "ui", "--port", str(port),
                                "--home", str(home)], cwd=REPO_ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT,
                               preexec_fn=like_a_background_job)  # noqa: PLW1509 - no threads yet
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5).read()
            break
        except OSError:
            time.sleep(1)
    else:
        pytest.fail(f"the UI did not answer; log:\n{log.read_text()[-3000:]}")
    tree = _descendants(process.pid)
    assert len(tree) >= 3, "dagster dev, its webserver and its daemon"
    return process, tree


def _all_gone(pids: set[int], timeout_s: float = 90) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.5)
    return {p for p in pids if _alive(p)}


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads the process tree from /proc")
def test_sigterm_stops_the_whole_tree_and_a_killed_ui_leaves_no_orphans(tmp_path):
    process, tree = _start_ui(tmp_path / "home", tmp_path / "ui1.log")
    try:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=90) == 0
        assert not _all_gone(tree), (tmp_path / "ui1.log").read_text()[-3000:]
    finally:
        for pid in (p for p in tree | {process.pid} if _alive(p)):
            os.kill(pid, signal.SIGKILL)
    process, tree = _start_ui(tmp_path / "home", tmp_path / "ui2.log")
    try:
        process.kill()
        process.wait(timeout=30)
        assert not _all_gone(tree), (tmp_path / "ui2.log").read_text()[-3000:]
    finally:
        for pid in (p for p in tree if _alive(p)):
            os.kill(pid, signal.SIGKILL)
    log = (tmp_path / "ui1.log").read_text() + (tmp_path / "ui2.log").read_text()
    assert "does not match the name" not in log  # the code location name warning
