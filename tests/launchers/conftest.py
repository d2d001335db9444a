"""A real ``dstack server`` on 127.0.0.1 for the launcher tests (no cloud credentials, no Docker).

Started once per module in a fresh HOME with a random token on a free port; anything the server
tries to fetch from outside (gpuhunt's offer catalogs) is pointed at a dead loopback port, so the
tests never leave this machine. Stopped with SIGTERM (then SIGKILL after 30 s).
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVER_START_TIMEOUT_S = 120  # ~8-20 s here (database migrations on a fresh HOME)
DEAD_LOOPBACK = "http://127.0.0.1:9"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class DstackServer:
    url: str
    token: str
    project: str
    log_path: Path

    def client(self):
        from dstack.api import Client

        return Client.from_config(project_name=self.project, server_url=self.url, user_token=self.token)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _dstack_executable() -> str:
    candidate = Path(sys.executable).parent / "dstack"
    return str(candidate) if candidate.exists() else (shutil.which("dstack") or "dstack")


@pytest.fixture(scope="module")
def dstack_server(tmp_path_factory):
    """A running dstack server; skipped only when the dstack package is not installed."""
    pytest.importorskip("dstack.api", reason="dstack is not installed (pip install -e '.[cloud]' with dstack[server])")
    home = tmp_path_factory.mktemp("dstack-home")
    port, token = _free_port(), secrets.token_hex(16)
    log_path = home / "server.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DSTACK_")},
        "HOME": str(home),
        "GPUHUNT_CATALOG_URL": DEAD_LOOPBACK,
        "HTTP_PROXY": DEAD_LOOPBACK, "HTTPS_PROXY": DEAD_LOOPBACK,
        "http_proxy": DEAD_LOOPBACK, "https_proxy": DEAD_LOOPBACK,
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        "DSTACK_SKIP_GATEWAY_UPDATE": "1",
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [_dstack_executable(), "server", "--host", "127.0.0.1", "--port", str(port), "-y", "--token", token],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=home,
            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    server = DstackServer(url=url, token=token, project="main", log_path=log_path)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"dstack server exited with {process.returncode}:\n{server.log_text()[-3000:]}")
            try:
                with _NO_PROXY.open(url + "/", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"dstack server not up after {SERVER_START_TIMEOUT_S} s:\n{server.log_text()[-3000:]}")
                time.sleep(0.5)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_for(predicate, timeout_s: float, interval_s: float = 0.5):
    """Polls ``predicate`` until it returns a truthy value (returned) or the time is up (None)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    return None
