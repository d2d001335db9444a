"""The launcher interface: run a job spec on the target machine, get records back via Pipes."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from benchmark_jobs.schema import MeasurementRecord, RecordValidationError
from benchmark_jobs.spec import JobSpec

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
    def launch(self, context: LaunchContext, spec: JobSpec, secrets: dict[str, str] | None = None,
               message_store: Any = None) -> LaunchResult:
        """Runs the spec to completion.

        Args:
            context: the launching op's context (Pipes reports into it).
            spec: the job.
            secrets: environment variables for the harness only (never logged or put in metadata).
            message_store: an :class:`~inference_estimation.launchers.object_store.S3MessageStore`
                to carry the Pipes messages, or None for the launcher's own channel.

        Raises:
            LauncherError: if the job failed or was killed (then no rows may land).
        """


def records_from_messages(messages: list[Any], run_id: str, expected_rows: int | None = None) -> list[MeasurementRecord]:
    """Validates the ``measurement`` custom messages of a job.

    Args:
        messages: the job's Pipes custom messages.
        run_id: the run every record must belong to.
        expected_rows: rows the job owes (one per workload point, whatever its status); a job
            that reports fewer or more lost or duplicated something, and nothing of it lands.

    Raises:
        LauncherError: for a malformed message, a record of another run, or a row count other
            than ``expected_rows``.
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
    if expected_rows is not None and len(records) != expected_rows:
        raise LauncherError(f"the job reported {len(records)} rows for {expected_rows} workload points; "
                            "an incomplete run lands nothing")
    return records
