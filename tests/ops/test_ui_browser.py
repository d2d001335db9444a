"""The Dagster UI in a real browser: `inference-estimation ui` (dagster dev) on loopback over the
session's materialized home, driven by Debian's headless Chromium.

Screenshots go to the test's tmp folder and are copied to ``$INFERENCE_ESTIMATION_HOME/screenshots``.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.ops.browser import Browser, chromium_path

REPO_ROOT = Path(__file__).resolve().parents[2]
GRAPH_ASSETS = ("benchmark_runs", "stg_benchmark_runs", "int_latest_points", "training_features", "predictors",
                "shap_reports")
#: Clicks the first element whose own text is exactly the given string; true when found.
CLICK_TEXT = ("(() => {{ const el = Array.from(document.querySelectorAll('a, button, span'))"
              ".find(e => e.childElementCount === 0 && e.textContent.trim() === {!r}); "
              "if (el) {{ el.click(); return true; }} return false; }})()")

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _default_signals() -> None:
    """In the child: a new session with default signal handlers, so SIGTERM stops dagster dev and
    every process it started (a shell that ignores SIGINT/SIGTERM would pass that on)."""
    os.setsid()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", body, {"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request, timeout=30).read())["data"]


def _listening_addresses(port: int) -> set[str]:
    """Local addresses listening on ``port`` (Linux /proc/net/tcp; empty elsewhere)."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if os.path.exists(table):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.rsplit(":", 1)
                if state == "0A" and int(hex_port, 16) == port:
                    out.add(address)
    return out


@pytest.fixture
def dagster_dev(pipeline, session_home, tmp_path):
    """`inference-estimation ui` on a free loopback port; yields the port once GraphQL answers with
    the code location loaded; stops the whole process group with SIGTERM afterwards."""
    port = _free_port()
    log = (tmp_path / "dagster-dev.log").open("w")
    env = {**os.environ, "INFERENCE_ESTIMATION_HOME": str(session_home.root),
           "DAGSTER_HOME": str(session_home.dagster_home)}
    process = subprocess.Popen([sys.executable, "-m", "inference_estimation.cli", "ui", "--port", str(port)],
                               cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               preexec_fn=_default_signals)  # noqa: PLW1509 - no threads started yet
    try:
        deadline, ready = time.monotonic() + 240, False
        while time.monotonic() < deadline and process.poll() is None and not ready:
            try:
                data = _graphql(port, "{ assetNodes { assetKey { path } } }")
                ready = len(data["assetNodes"]) > 10
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(1)
        assert ready, f"dagster dev did not serve GraphQL in time; log:\n{(tmp_path / 'dagster-dev.log').read_text()[-4000:]}"
        yield port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        log.close()
    assert process.returncode is not None


@pytest.fixture
def browser(tmp_path):
    if chromium_path() is None:
        if os.geteuid() != 0:
            pytest.skip("Debian's chromium is not installed and installing it needs root "
                        "(`apt-get install chromium`, or run `make test` as root)")
        pytest.fail("chromium is missing; `make test` installs it when run as root")
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    browser = Browser(profile)
    yield browser
    browser.close()


def test_ui_shows_the_graph_partitions_and_shap_plots_and_graphql_has_the_materializations(
        dagster_dev, browser, session_home, tmp_path):
    port, base = dagster_dev, f"http://127.0.0.1:{dagster_dev}"
    addresses = _listening_addresses(port)
    assert addresses and all(a in ("0100007F", "00000000000000000000000001000000") for a in addresses), addresses
    shots = []

    def shot(name: str) -> None:
        shots.append(browser.screenshot(tmp_path / f"{name}.png"))

    # GraphQL: the materializations and their metadata are in the instance the UI reads.
    nodes = _graphql(port, "{ assetNodes { assetKey { path } } }")["assetNodes"]
    keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
    assert {"benchmark_runs", "marts/measurements", "marts/training_features", "predictors", "shap_reports"} <= keys
    history = """query($path: [String!]!) { assetOrError(assetKey: {path: $path}) { ... on Asset {
        assetMaterializations(limit: 50) { partition runId metadataEntries { label
          ... on IntMetadataEntry { intValue } ... on MarkdownMetadataEntry { mdStr } } } } } }"""
    benchmarks = _graphql(port, history, {"path": ["benchmark_runs"]})["assetOrError"]["assetMaterializations"]
    landed = {m["partition"]: {e["label"]: e.get("intValue") for e in m["metadataEntries"]} for m in benchmarks}
    assert {"local-cpu|gpt2-small", "local-cpu|llama-small-55m"} <= set(landed)
    assert all(landed[p]["rows_landed"] > 0 for p in ("local-cpu|gpt2-small", "local-cpu|llama-small-55m"))
    shap = _graphql(port, history, {"path": ["shap_reports"]})["assetOrError"]["assetMaterializations"]
    reports = {m["partition"]: e["mdStr"] for m in shap for e in m["metadataEntries"] if e["label"] == "report"}
    assert "data:image/png;base64," in reports["tpot_s"]  # one report per learned primitive
    dims = _graphql(port, """{ assetNodeOrError(assetKey: {path: ["benchmark_runs"]}) { ... on AssetNode {
        partitionKeysByDimension { name partitionKeys } } } }""")["assetNodeOrError"]["partitionKeysByDimension"]
    dims = {d["name"]: d["partitionKeys"] for d in dims}
    assert set(dims) == {"model", "hardware"} and {"gpt2-small", "llama-small-55m"} <= set(dims["model"])

    # The asset graph: benchmark -> dbt -> predictor -> report, upstream of the SHAP report.
    browser.goto(f"{base}/assets/shap_reports?view=lineage&lineageScope=upstream&lineageDepth=10")
    assert browser.wait_for_text(*GRAPH_ASSETS), browser.text()[:2000]
    if browser.wait_for_text("Join the Dagster community", timeout_s=15):  # the UI's one-time prompt
        browser.evaluate(CLICK_TEXT.format("Skip"))
        browser.wait_for("!document.body.innerText.includes('Join the Dagster community')", timeout_s=15)
    time.sleep(2)  # node colours (materialization status) arrive after the names
    shot("asset-graph")

    # The partitioned benchmark asset shows its model x hardware partitions and which landed.
    browser.goto(f"{base}/assets/benchmark_runs?view=partitions")
    total = len(dims["model"]) * len(dims["hardware"])
    assert browser.wait_for_text(f"{total} Partitions", "gpt2-small", "llama-small-55m", "local-cpu"), browser.text()[:2000]
    materialized = len({p for p in landed})
    assert browser.wait_for_text(f"Materialized ({materialized})"), browser.text()[:2000]
    shot("benchmark-partitions")
    browser.goto(f"{base}/assets/benchmark_runs?view=partitions&partition=local-cpu%7Cgpt2-small")
    assert browser.wait_for_text("rows_landed", "parquet_path", "points_ok"), browser.text()[:2000]
    shot("benchmark-partition-metadata")

    # A SHAP report renders its plots (base64 PNGs inside the markdown metadata).
    browser.goto(f"{base}/assets/shap_reports?view=partitions&partition=tpot_s")
    assert browser.wait_for_text("[Show Markdown]"), browser.text()[:2000]
    assert browser.evaluate(CLICK_TEXT.format("[Show Markdown]"))
    assert browser.wait_for_text("SHAP report: tpot_s")
    assert browser.wait_for("Array.from(document.querySelectorAll('[role=dialog] img'))"
                            ".filter(i => i.src.startsWith('data:image/png') && i.naturalWidth > 100).length >= 2")
    shot("shap-report")

    saved = session_home.root / "screenshots"
    saved.mkdir(exist_ok=True)
    for path in shots:
        assert path.stat().st_size > 20_000  # a rendered page, not a blank one
        shutil.copy(path, saved / path.name)
        print(f"screenshot: {path} -> {saved / path.name}")

    # The catalog grows while the UI runs: the daemon's catalog_partitions_sensor adds the new
    # model as partitions, with no reload of the code location.
    overlay = session_home.catalog_dir / "ui-grow.yaml"
    overlay.write_text(
        "models:\n  - key: ui-new-llama\n    family: llama\n    default_dtype: float32\n"
        "    architecture: {layers: 2, hidden_size: 64, heads: 4, kv_heads: 2, intermediate_size: 128,\n"
        "                   vocab_size: 1000, max_position_embeddings: 256}\n"
        "sweeps:\n  - {name: ui-grow, models: [ui-new-llama], hardware: [local-cpu], batch_sizes: [1],\n"
        "     input_tokens: [8], output_tokens: [4]}\n")
    try:
        deadline, models = time.monotonic() + 120, []
        while time.monotonic() < deadline and "ui-new-llama" not in models:
            time.sleep(5)
            by_dim = _graphql(port, """{ assetNodeOrError(assetKey: {path: ["benchmark_runs"]}) { ... on AssetNode {
                partitionKeysByDimension { name partitionKeys } } } }""")["assetNodeOrError"]["partitionKeysByDimension"]
            models = next(d["partitionKeys"] for d in by_dim if d["name"] == "model")
        assert "ui-new-llama" in models, f"no new partition in 120 s; log:\n{(tmp_path / 'dagster-dev.log').read_text()[-3000:]}"
    finally:
        overlay.unlink()
