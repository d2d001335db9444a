"""``ui``: ``dagster dev`` on this machine's loopback, as a child process tree that stops with us.

The catalog's benchmark partitions are synced into the instance first, so a first visit shows them.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from inference_estimation.cli.args import dagster_quietly, lenient_catalog


def _sync_partitions_before_ui() -> None:
    """Adds the catalog's benchmark partition keys, so a first UI visit shows them at once (the
    running ``catalog_partitions_sensor`` keeps them in step afterwards). An invalid overlay is
    left out with a warning naming its file and field (the sensor reports it in the UI too)."""
    dg = dagster_quietly()
    from inference_estimation.defs.partitions import ensure_benchmark_partitions
    from inference_estimation.lib.catalog import CatalogError

    try:
        catalog = lenient_catalog()
        with dg.DagsterInstance.get() as instance:
            ensure_benchmark_partitions(instance, catalog)
    except CatalogError as exc:  # the package catalog itself: the UI shows the load error
        print(f"catalog error (the UI will show it): {exc}", file=sys.stderr)


def _die_with_parent() -> None:
    """In the child before exec: default SIGINT/SIGTERM (a shell that started us in the background
    ignores SIGINT, and ``dagster dev`` maps SIGTERM onto SIGINT's handler, so both would be
    ignored), and SIGTERM when the parent dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``)."""
    import ctypes
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # not Linux: SIGTERM to the parent still stops the tree
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


#: Seconds ``ui`` waits for ``dagster dev`` to stop its webserver, daemon and code server after a
#: signal before it kills the whole process group.
UI_STOP_GRACE_S = 30


def run_process_tree(command: list[str], cwd: str) -> int:
    """Runs ``command`` as a child in its own process group, and stops the whole group with us.

    SIGTERM, SIGINT or SIGHUP to this process sends SIGINT to the child (``dagster dev`` then shuts
    down its webserver, daemon and code server), waits :data:`UI_STOP_GRACE_S`, then SIGKILLs the
    group. If this process is killed outright (SIGKILL), the child gets SIGTERM from the kernel
    (``PR_SET_PDEATHSIG``), so nothing is left orphaned.

    Returns:
        The child's exit status (0 after a requested stop).
    """
    import signal
    import subprocess

    class _Stop(Exception):
        pass

    def stop(signum: int, frame: Any) -> None:
        raise _Stop(signum)

    child = subprocess.Popen(command, cwd=cwd, start_new_session=True, preexec_fn=_die_with_parent)  # noqa: PLW1509
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        return child.wait()
    except _Stop:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)  # one stop at a time
        try:
            child.send_signal(signal.SIGINT)
            child.wait(timeout=UI_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(child.pid, signal.SIGKILL)  # stragglers of the group
        except ProcessLookupError:
            pass
        child.wait()
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def ui_command(args: argparse.Namespace) -> int:
    """``ui``: the Dagster UI for the home's instance, until Ctrl-C or a signal stops it."""
    from pathlib import Path

    from inference_estimation.lib.home import REPO_ROOT, activate_home

    home = activate_home(args.home)
    _sync_partitions_before_ui()
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster) if dagster.exists() else "dagster", "dev", "-h", args.host, "-p", str(args.port),
               "-w", str(REPO_ROOT / "workspace.yaml")]
    print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={home.dagster_home}); "
          f"stop with Ctrl-C or `kill {os.getpid()}`", flush=True)
    return run_process_tree(command, cwd=str(REPO_ROOT))


