"""Which launcher runs a hardware entry's jobs: the one its catalog ``launcher.type`` names.

Kept apart from :mod:`~inference_estimation.launchers.base` so that the interface never imports
its implementations (they import the interface); each implementation is imported only when a
hardware entry asks for it (dstack is the optional ``cloud`` extra).
"""

from __future__ import annotations

from inference_estimation.launchers.base import Launcher, LauncherError
from inference_estimation.launchers.local import LocalLauncher
from inference_estimation.lib.catalog import HardwareEntry


def launcher_for(hardware: HardwareEntry) -> Launcher:
    """The launcher named by a hardware entry.

    Raises:
        LauncherError: when the entry has no launcher or its type is not implemented here.
    """
    launcher = hardware.launcher
    if launcher is None:
        raise LauncherError(f"hardware {hardware.key!r} has no launcher: it can be predicted, not benchmarked")
    if launcher.type == "local":
        return LocalLauncher(threads=launcher.threads, python=launcher.python, timeout_s=launcher.timeout_s)
    if launcher.type == "dstack":
        # Imported here: dstack is an optional extra (`cloud`); only its launch needs it.
        from inference_estimation.launchers.dstack import DstackLauncher

        return DstackLauncher(hardware)
    raise LauncherError(f"hardware {hardware.key!r}: launcher type {launcher.type!r} is not available yet")
