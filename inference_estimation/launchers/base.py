"""The launcher interface: run a job spec on the target machine, get records back via Pipes."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from benchmark_jobs.schema import MeasurementRecord, RecordValidationError
from benchmark_jobs.spec import JobSpec
from inference_estimation.lib.catalog import HardwareEntry

MEASUREMENT_MESSAGE = "measurement"
#: What a launcher reports into: the context of the op (or asset) that launches the job.
LaunchContext = dg.OpExecutionContext | dg.AssetExecutionContext


class LauncherError(RuntimeError):
    """The benchmark job could not run or did not finish; nothing may land."""


@dataclass
class LaunchResult:
    """What came back from one benchmark job.

    Attributes:
        records: validated measurement records, in the order they were measured.
        metadata: launcher facts for the materialization (host, command, wall time...).
    """

    records: list[MeasurementRecord]
    metadata: dict[str, Any] = field(default_factory=dict)


class Launcher(abc.ABC):
    """Runs ``benchmark_jobs`` for one spec and returns its rows from Pipes messages."""

    @abc.abstractmethod
    def launch(self, context: LaunchContext, spec: JobSpec,
               secrets: dict[str, str] | None = None) -> LaunchResult:
        """Runs the spec to completion.

        Args:
            context: the launching op's context (Pipes reports into it).
            spec: the job.
            secrets: environment variables for the harness only (never logged or put in metadata).

        Raises:
            LauncherError: if the job failed or was killed (then no rows may land).
        """


def records_from_messages(messages: list[Any], run_id: str) -> list[MeasurementRecord]:
    """Validates the ``measurement`` custom messages of a job.

    Raises:
        LauncherError: for a malformed message or a record of another run.
    """
    records = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("type") != MEASUREMENT_MESSAGE:
            continue
        try:
            record = MeasurementRecord.from_dict(message["record"])
        except (KeyError, RecordValidationError) as exc:
            raise LauncherError(f"Pipes message {i} is not a valid measurement record: {exc}") from exc
        if record.run_id != run_id:
            raise LauncherError(f"Pipes message {i} belongs to run {record.run_id!r}, expected {run_id!r}")
        records.append(record)
    return records


def launcher_for(hardware: HardwareEntry) -> Launcher:
    """The launcher named by a hardware entry.

    Raises:
        LauncherError: when the entry has no launcher or its type is not implemented here.
    """
    from inference_estimation.launchers.local import LocalLauncher

    launcher = hardware.launcher
    if launcher is None:
        raise LauncherError(f"hardware {hardware.key!r} has no launcher: it can be predicted, not benchmarked")
    if launcher.type == "local":
        return LocalLauncher(threads=launcher.threads, python=launcher.python)
    if launcher.type == "dstack":
        # Imported here: dstack is an optional extra (`cloud`); only its launch needs it.
        from inference_estimation.launchers.dstack import DstackLauncher

        return DstackLauncher(hardware)
    raise LauncherError(f"hardware {hardware.key!r}: launcher type {launcher.type!r} is not available yet")
