"""Local launcher: the harness as a subprocess on this machine, rows back through Pipes.

The harness checks each point's ``point_timeout_s`` itself, between tokens or after a call, so a
hung model build, a prefill that never returns or a deadlocked process would never be stopped --
and ``dagster.yaml`` runs one job per host tag, so one hung local job would block every later
local run. The launcher therefore gives the whole job a wall-clock deadline (``timeout_s``, as the
dstack launcher names its ``max_duration``): the hardware entry's ``launcher.timeout_s``, else
:func:`job_timeout_s` of the spec. The harness runs in its own session (process group); past the
deadline the whole group is killed (SIGKILL) and the launch raises :class:`LauncherError`, so no
file is written and nothing lands. Whatever the job leaves behind in its group (engine workers)
is killed when the launch ends, however it ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
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
from inference_estimation.launchers.pipes_logs import WholeLineTempFileMessageReader

#: Interpreter start, imports (torch, transformers, a vLLM engine's start), the idle-power window
#: and the Pipes set-up, once per job.
STARTUP_ALLOWANCE_S = 300.0
#: One model build (the harness builds once per dtype of the spec): random weights build in
#: seconds on a CPU; pretrained weights are read from disk or the hub; vLLM captures its graphs.
MODEL_BUILD_ALLOWANCE_S = 600.0
#: A point's own ``point_timeout_s`` is checked cooperatively: the vLLM and tabular backends check
#: it only after a call returns, so a point can last its timeout plus one more call of up to
#: about as long again.
POINT_TIMEOUT_FACTOR = 2.0
#: Per point besides its timeout: sending its row, the log lines, scheduling slack.
POINT_ALLOWANCE_S = 60.0
#: After a cancelled run's SIGINT, how long the job may take to exit before its group is killed
#: (Dagster's own subprocess client waits as long).
TERMINATION_GRACE_S = 20.0


def job_timeout_s(spec: JobSpec) -> tuple[float, str]:
    """The generous wall-clock deadline of a job, and how it was computed.

    ``STARTUP_ALLOWANCE_S + builds x MODEL_BUILD_ALLOWANCE_S
    + points x (POINT_TIMEOUT_FACTOR x point_timeout_s + POINT_ALLOWANCE_S)``, where ``builds`` is
    the number of dtypes among the points (one model build each). It only has to stop a job
    that is certainly hung, never a slow one: ``test-tiny`` (4 points of 60 s) gets 1620 s.

    Args:
        spec: the job.

    Returns:
        The deadline in seconds from the harness's start, and the formula with the spec's numbers.
    """
    builds = len({point.dtype for point in spec.points})
    points, point_timeout_s = len(spec.points), spec.settings.point_timeout_s
    timeout_s = (STARTUP_ALLOWANCE_S + builds * MODEL_BUILD_ALLOWANCE_S
                 + points * (POINT_TIMEOUT_FACTOR * point_timeout_s + POINT_ALLOWANCE_S))
    formula = (f"{STARTUP_ALLOWANCE_S:g} s start-up + {builds} model build(s) x {MODEL_BUILD_ALLOWANCE_S:g} s"
               f" + {points} point(s) x ({POINT_TIMEOUT_FACTOR:g} x point_timeout_s {point_timeout_s:g} s"
               f" + {POINT_ALLOWANCE_S:g} s)")
    return timeout_s, formula


class LocalLauncher(Launcher):
    """Runs ``python -m benchmark_jobs run --pipes`` with this interpreter.

    Args:
        threads: intra-op threads for the harness (default: all cores; on 2 cores, more threads
            than cores was 1.6-2x slower).
        python: interpreter to run the harness with (default: this one).
        timeout_s: longest the job may run before its process group is killed (default: computed
            from the spec by :func:`job_timeout_s`).
    """

    def __init__(self, threads: int | None = None, python: str | None = None,
                 timeout_s: float | None = None) -> None:
        self.threads = threads or os.cpu_count() or 1
        self.python = python or sys.executable
        self.timeout_s = timeout_s

    def deadline(self, spec: JobSpec) -> tuple[float, str]:
        """This launcher's deadline for ``spec`` in seconds, and how it was set."""
        if self.timeout_s is not None:
            return float(self.timeout_s), "the hardware entry's launcher.timeout_s"
        return job_timeout_s(spec)

    def launch(self, context: LaunchContext, spec: JobSpec, secrets: dict[str, str] | None = None,
               message_store: Any = None) -> LaunchResult:
        """Runs the spec as a subprocess and collects its measurement messages.

        Args:
            context: the launching op's context.
            spec: the job.
            secrets: environment variables for the harness only.
            message_store: object storage for the Pipes messages (None = the subprocess's pipe).

        Raises:
            LauncherError: when the subprocess fails, is killed or passes its deadline (then its
                whole process group is killed), or reports another number of rows than it has
                points; no rows are returned then.
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
        timeout_s, how = self.deadline(spec)
        context.log.info(f"local job deadline {timeout_s:g} s ({how})")
        reader = message_store.reader(spec.run_id) if message_store is not None else None
        start = time.perf_counter()
        try:
            invocation = _run_pipes_subprocess(context, command, env, {"spec": payload}, reader, timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise LauncherError(
                f"benchmark job of partition {spec.partition_key} (run {spec.run_id}) passed its deadline of "
                f"{timeout_s:g} s ({how}); its process group was killed; nothing landed") from exc
        except LauncherError:
            raise
        except Exception as exc:  # a failed Pipes session (e.g. a message the reader cannot parse)
            raise LauncherError(f"benchmark subprocess failed; nothing landed: {exc}") from exc
        finally:
            if reader is not None:
                reader.cleanup()
        wall_s = time.perf_counter() - start
        records = records_from_messages(list(invocation.get_custom_messages()), spec.run_id, len(spec.points))
        metadata = {"launcher": "local", "host": "localhost", "threads": self.threads,
                    "harness_wall_s": round(wall_s, 3), "timeout_s": round(timeout_s, 3),
                    "command": " ".join(command),
                    "pipes_transport": "s3" if reader is not None else "subprocess"}
        return LaunchResult(records=records, metadata=metadata)


def _run_pipes_subprocess(context: LaunchContext, command: Sequence[str], env: Mapping[str, str],
                          extras: dict[str, Any], reader: Any, timeout_s: float) -> dg.PipesClientCompletedInvocation:
    """Runs ``command`` in a Pipes session, in its own process group, for at most ``timeout_s``.

    What ``dg.PipesSubprocessClient.run`` does, plus the session and the deadline it lacks.

    Raises:
        subprocess.TimeoutExpired: the deadline passed (the group has been killed).
        LauncherError: the process exited non-zero or was killed by a signal.
    """
    with dg.open_pipes_session(context=context, context_injector=dg.PipesTempFileContextInjector(),
                               message_reader=reader or WholeLineTempFileMessageReader(),
                               extras=extras) as session:
        process = subprocess.Popen(list(command), env={**os.environ, **env, **session.get_bootstrap_env_vars()},
                                   start_new_session=True)
        try:
            returncode = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)  # the leader is not reaped yet: its pid is the group's
            process.wait()
            raise
        except BaseException:  # the run was cancelled (Dagster's interrupt): stop the job as Dagster would
            context.log.info("[pipes] execution interrupted, sending SIGINT to the job's process group")
            _signal_group(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=TERMINATION_GRACE_S)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait()
            raise
        finally:
            # Nothing the job started outlives it (e.g. engine workers of a harness that died).
            _signal_group(process.pid, signal.SIGKILL)
        if returncode != 0:
            raise LauncherError(f"benchmark subprocess failed; nothing landed: the harness exited with code {returncode}")
    return dg.PipesClientCompletedInvocation(session)


def _signal_group(pgid: int, signum: int) -> None:
    """Sends ``signum`` to a process group; a group that has already gone is not an error."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass
