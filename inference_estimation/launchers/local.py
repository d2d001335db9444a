"""Local launcher: the harness as a subprocess on this machine, rows back through Pipes."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import dagster as dg

from benchmark_jobs.spec import JobSpec
from inference_estimation.launchers.base import (
    LaunchContext,
    Launcher,
    LauncherError,
    LaunchResult,
    records_from_messages,
)


class LocalLauncher(Launcher):
    """Runs ``python -m benchmark_jobs run --pipes`` with this interpreter.

    Args:
        threads: intra-op threads for the harness (default: all cores; on 2 cores, more threads
            than cores was 1.6-2x slower).
        python: interpreter to run the harness with (default: this one).
    """

    def __init__(self, threads: int | None = None, python: str | None = None) -> None:
        self.threads = threads or os.cpu_count() or 1
        self.python = python or sys.executable

    def launch(self, context: LaunchContext, spec: JobSpec, secrets: dict[str, str] | None = None,
               message_store: Any = None) -> LaunchResult:
        """Runs the spec as a subprocess and collects its measurement messages.

        Args:
            context: the launching op's context.
            spec: the job.
            secrets: environment variables for the harness only.
            message_store: object storage for the Pipes messages (None = the subprocess's pipe).

        Raises:
            LauncherError: when the subprocess fails or is killed, or reports another number of
                rows than it has points; no rows are returned then.
        """
        command = [self.python, "-m", "benchmark_jobs", "run", "--pipes"]
        env = {
            "OMP_NUM_THREADS": str(self.threads),
            "MKL_NUM_THREADS": str(self.threads),
            "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1" if spec.weight_source == "random" else "0"),
            **(message_store.job_env() if message_store is not None else {}),
            **(secrets or {}),
        }
        payload = spec.to_dict()
        payload["settings"]["threads"] = payload["settings"].get("threads") or self.threads
        reader = message_store.reader(spec.run_id) if message_store is not None else None
        start = time.perf_counter()
        try:
            invocation = dg.PipesSubprocessClient(env=env, message_reader=reader).run(
                context=context, command=command, extras={"spec": payload}
            )
        except Exception as exc:  # dagster raises DagsterPipesExecutionError (not public) on exit != 0
            raise LauncherError(f"benchmark subprocess failed; nothing landed: {exc}") from exc
        finally:
            if reader is not None:
                reader.cleanup()
        wall_s = time.perf_counter() - start
        records = records_from_messages(list(invocation.get_custom_messages()), spec.run_id, len(spec.points))
        metadata = {"launcher": "local", "host": "localhost", "threads": self.threads,
                    "harness_wall_s": round(wall_s, 3), "command": " ".join(command),
                    "pipes_transport": "s3" if reader is not None else "subprocess"}
        return LaunchResult(records=records, metadata=metadata)
