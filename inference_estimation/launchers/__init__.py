"""Launchers: how a benchmark job reaches its machine.

One interface (:class:`~inference_estimation.launchers.base.Launcher`), one implementation per
catalog launcher type, chosen from the hardware entry by :func:`launcher_for` -- never by ``if``
chains in assets. Launchers speak Dagster Pipes (that is their job), so unlike ``lib/`` they
import dagster.
"""

from inference_estimation.launchers.base import Launcher, LauncherError, LaunchResult
from inference_estimation.launchers.registry import launcher_for

__all__ = ["LaunchResult", "Launcher", "LauncherError", "launcher_for"]
