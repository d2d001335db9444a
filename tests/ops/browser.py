"""Just enough of the Chrome DevTools protocol to drive Debian's headless Chromium from a test.

No browser download and no driver: Chromium is started with ``--remote-debugging-port=0``, its
page is reached over the DevTools websocket (``websockets`` ships with dagster-webserver's
uvicorn), and the test asks it to navigate, read the page's text, run a line of JavaScript and
take screenshots.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--no-first-run",
                  "--disable-extensions", "--disable-sync", "--metrics-recording-only", "--mute-audio",
                  "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--window-size=1600,1000"]


def chromium_path() -> str | None:
    """Debian's Chromium, if installed."""
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One headless Chromium with one page.

    Args:
        profile_dir: an empty folder for the browser profile (never the user's).
    """

    def __init__(self, profile_dir: Path) -> None:
        from websockets.sync.client import connect

        self.process = subprocess.Popen(
            [chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + 60
        endpoint = None
        while endpoint is None and time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line and self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.process.returncode}")
            match = re.search(r"DevTools listening on (ws://[^\s]+)", line)
            endpoint = match and match.group(1)
        if endpoint is None:
            raise RuntimeError("chromium did not report its DevTools endpoint in 60 s")
        port = endpoint.split(":")[2].split("/")[0]
        pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(p for p in pages if p.get("type") == "page")
        # A context manager (websockets >= 17.1 warns otherwise); close() leaves it.
        self._connection = connect(page["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024, open_timeout=30)
        self.ws = self._connection.__enter__()
        self._ids = itertools.count(1)
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=1600, height=1000, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, timeout_s: float = 60, **params):
        """Sends one DevTools command and returns its result (events in between are skipped)."""
        call_id = next(self._ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout_s
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def goto(self, url: str) -> None:
        """Navigates and waits for the document to load."""
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'", timeout_s=60)

    def wait_for(self, expression: str, timeout_s: float = 90) -> bool:
        """Polls a JavaScript condition until it is true; returns False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.evaluate(expression):
                return True
            time.sleep(0.5)
        return False

    def text(self) -> str:
        """The page's visible text."""
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def wait_for_text(self, *needles: str, timeout_s: float = 90) -> bool:
        """Waits until every needle is in the page's visible text."""
        condition = " && ".join(f"document.body.innerText.includes({json.dumps(n)})" for n in needles)
        return self.wait_for(f"!!document.body && {condition}", timeout_s=timeout_s)

    def screenshot(self, path: Path) -> Path:
        """Saves a PNG of the page as it is now."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        """Closes the connection and stops Chromium (its whole process group)."""
        try:
            self._connection.__exit__(None, None, None)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=15)
