"""dstack launcher: the harness as a dstack task on a cloud or on-prem machine, rows back via Pipes.

Flow: open a Pipes session (context in an env var, messages on the job's stderr) -> render the
hardware's task (``dstack_task.task_config``) with the bootstrap variables and the harness's
secrets in its environment -> submit with dstack's Python API -> follow the run's status ->
when it has finished, read its log stream through :class:`PipesLogStreamMessageReader` -> rows.

Failures (classified by dstack's job termination reason):
- no offer / no matching fleet before any instance was assigned -> :class:`LauncherError` at once,
  with dstack's own message; nothing lands.
- transient (spot interruption, unreachable instance, provisioning/runner error after an offer
  was taken) -> ``dg.RetryRequested`` with exponential backoff, up to the entry's ``max_retries``.
- the job exits non-zero midway, exceeds its time, or is stopped -> :class:`LauncherError`, no rows.
- the orchestrator's deadline passes or the Dagster run is cancelled -> the dstack run is stopped
  (``finally``), so no instance keeps billing.

Connection: ``DSTACK_SERVER_URL`` + ``DSTACK_TOKEN`` (+ ``DSTACK_PROJECT``, default ``main``) from
the environment through ``dg.EnvVar``, else dstack's own ``~/.dstack/config.yml``. The token, the
HF token and the Pipes variables are never logged or put in metadata.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
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
from inference_estimation.launchers.dstack_task import exact_resources, task_config
from inference_estimation.launchers.pipes_logs import PipesLogStreamMessageReader
from inference_estimation.lib.catalog import DstackLaunchConfig, HardwareEntry

#: No offer/fleet could take the job. Permanent unless an instance had already been assigned.
NO_CAPACITY_REASONS = frozenset({"failed_to_start_due_to_no_capacity", "waiting_instance_limit_exceeded"})
#: Worth a retry: the machine went away or never came up after an offer was taken.
TRANSIENT_REASONS = frozenset({"interrupted_by_no_capacity", "instance_unreachable",
                               "waiting_runner_limit_exceeded", "creating_container_error"})
STOPPED_REASONS = frozenset({"terminated_by_user", "aborted_by_user"})
DONE_REASON = "done_by_runner"
FINISHED_RUN_STATUSES = frozenset({"terminated", "failed", "done"})
TIMEOUT_REASON = "max_duration_exceeded"


@dataclass(frozen=True)
class Outcome:
    """What a job submission's state means for the launch.

    Attributes:
        kind: pending | done | no-capacity | transient | timeout | stopped | failed.
        reason: dstack's termination reason (None while running).
        message: dstack's own words (termination message, error, exit status).
    """

    kind: str
    reason: str | None = None
    message: str = ""


def classify(submission: Any) -> Outcome:
    """Classifies a dstack job submission (``run._run.jobs[0].job_submissions[-1]``).

    A no-capacity reason after an instance was assigned (``job_provisioning_data`` set) is a
    provisioning failure on a taken offer, hence transient.
    """
    if submission is None:
        return Outcome("pending")
    reason = submission.termination_reason
    reason = getattr(reason, "value", reason)
    parts = [submission.termination_reason_message, submission.error]
    if submission.exit_status not in (None, 0):
        parts.append(f"exit status {submission.exit_status}")
    message = "; ".join(str(p) for p in parts if p)
    status = getattr(submission.status, "value", submission.status)
    if reason is None:
        finished = status in ("terminated", "aborted", "failed", "done")
        return Outcome("done" if status == "done" else "failed" if finished else "pending", None, message)
    if reason in NO_CAPACITY_REASONS:
        kind = "transient" if submission.job_provisioning_data is not None else "no-capacity"
    elif reason in TRANSIENT_REASONS:
        kind = "transient"
    elif reason == DONE_REASON:
        kind = "done"
    elif reason == TIMEOUT_REASON:
        kind = "timeout"
    elif reason in STOPPED_REASONS:
        kind = "stopped"
    else:
        kind = "failed"
    return Outcome(kind, reason, message)


def run_name_for(spec: JobSpec, attempt: int = 0) -> str:
    """A dstack run name (``^[a-z][a-z0-9-]{1,40}$``), unique per job and retry, readable."""
    digest = hashlib.sha1(f"{spec.run_id}:{attempt}".encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9-]+", "-", spec.hardware_key.lower()).strip("-")
    return f"ie-{digest}-{slug}"[:41].rstrip("-")


def latest_submission(run: Any) -> Any:
    """The latest submission of the run's first job (None before the server made one)."""
    jobs = run._run.jobs
    return jobs[0].job_submissions[-1] if jobs and jobs[0].job_submissions else None


def run_metadata(run: Any) -> dict[str, Any]:
    """What dstack reports about a run: name, backend, instance, region, price, cost, status."""
    model = run._run
    metadata: dict[str, Any] = {
        "launcher": "dstack", "dstack_run_name": run.name,
        "dstack_status": getattr(model.status, "value", model.status),
        "dstack_termination_reason": model.termination_reason, "dstack_cost_usd": model.cost,
    }
    submission = latest_submission(run)
    data = submission.job_provisioning_data if submission is not None else None
    if data is not None:
        metadata.update({
            "dstack_backend": getattr(data.backend, "value", data.backend),
            "dstack_instance_type": data.instance_type.name,
            "dstack_region": data.region,
            "dstack_price_per_hour_usd": data.price,
            "host": f"dstack:{data.instance_id}",
        })
    return metadata


def connect(project: str | None = None) -> Any:
    """A dstack API client from ``DSTACK_SERVER_URL``/``DSTACK_TOKEN``/``DSTACK_PROJECT``, else
    from dstack's own CLI configuration.

    Raises:
        LauncherError: when dstack is not installed or not configured.
    """
    try:
        from dstack.api import Client
    except ImportError as exc:
        raise LauncherError("the dstack launcher needs the `cloud` extra: pip install 'inference-estimation[cloud]'") from exc
    url, token = dg.EnvVar("DSTACK_SERVER_URL").get_value(), dg.EnvVar("DSTACK_TOKEN").get_value()
    project = project or dg.EnvVar("DSTACK_PROJECT").get_value() or ("main" if url else None)
    try:
        if url and token:
            return Client.from_config(project_name=project, server_url=url, user_token=token)
        return Client.from_config(project_name=project)
    except Exception as exc:  # dstack raises ConfigurationError / ClientError subclasses
        raise LauncherError(f"cannot connect to a dstack server (set DSTACK_SERVER_URL, DSTACK_TOKEN and "
                            f"DSTACK_PROJECT, or run `dstack project add`): {exc}") from exc


class DstackLauncher(Launcher):
    """Runs one job spec as a dstack task on the hardware entry's machine.

    Args:
        hardware: the entry (its launcher is a dstack launcher config).
        client: a ``dstack.api.Client`` (default: :func:`connect`).
        poll_interval_s: seconds between status checks.
        sleep: the wait between checks (tests interrupt it to simulate a cancelled Dagster run).
    """

    def __init__(self, hardware: HardwareEntry, client: Any = None, poll_interval_s: float = 5.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not isinstance(hardware.launcher, DstackLaunchConfig):
            raise LauncherError(f"hardware {hardware.key!r} has no dstack launcher")
        exact_resources(hardware)  # fail before any submission if the entry cannot be rendered
        self.hardware = hardware
        self.config: DstackLaunchConfig = hardware.launcher
        self._client = client
        self.poll_interval_s = poll_interval_s
        self._sleep = sleep

    @property
    def client(self) -> Any:
        """The dstack API client, connected on first use."""
        if self._client is None:
            self._client = connect()
        return self._client

    def launch(self, context: LaunchContext, spec: JobSpec, secrets: dict[str, str] | None = None,
               message_store: Any = None) -> LaunchResult:
        """Submits the spec, waits for the run, and returns its rows.

        Args:
            context: the launching op's context.
            spec: the job.
            secrets: environment variables for the job only (sent to the dstack server with the run).
            message_store: object storage for the Pipes messages; None = the job's log stream.

        Raises:
            LauncherError: no offer, job failed/timed out/stopped, or malformed or missing rows;
                nothing lands.
            dg.RetryRequested: a transient dstack failure (retried with backoff by Dagster).
        """
        attempt = getattr(context, "retry_number", 0) or 0
        name = run_name_for(spec, attempt)
        # The log stream is always read: it carries the messages, or (with object storage) the
        # job's output for the run log and for error messages.
        reader = PipesLogStreamMessageReader(forward=lambda line: context.log.debug(f"[{name}] {line}"))
        store_reader = message_store.reader(spec.run_id) if message_store is not None else None
        payload = spec.to_dict()
        start = time.perf_counter()
        try:
            with dg.open_pipes_session(context=context, context_injector=dg.PipesEnvContextInjector(),
                                       message_reader=store_reader or reader, extras={"spec": payload}) as session:
                env = {
                    **session.get_bootstrap_env_vars(),
                    "PYTHONPATH": "/opt/inference-estimation",
                    "HF_HUB_OFFLINE": "1" if spec.weight_source == "random" else "0",
                    "TOKENIZERS_PARALLELISM": "false",
                    **(message_store.job_env() if message_store is not None else {}),
                    **(secrets or {}),
                }
                run = self.submit(name, env, spec.backend, extra_packages=["boto3>=1.35"] if store_reader else None)
                context.log.info(f"dstack run {run.name} submitted for {self.hardware.key} "
                                 f"(resources {exact_resources(self.hardware)}, max price "
                                 f"{self.config.max_price_per_hour_usd} USD/h)")
                outcome = self.follow(context, run)
                for chunk in run.logs():
                    reader.consume(chunk)
                reader.flush()
        finally:
            if store_reader is not None:
                store_reader.cleanup()
        metadata = {**run_metadata(run), "harness_wall_s": round(time.perf_counter() - start, 3),
                    "pipes_transport": "s3" if store_reader is not None else "log-stream"}
        if outcome.kind != "done":
            tail = "\n".join(reader.tail()[-15:])
            raise LauncherError(f"dstack run {run.name} {outcome.kind} ({outcome.reason}): {outcome.message}; "
                                f"nothing landed" + (f"\nlast log lines:\n{tail}" if tail else ""))
        try:
            records = records_from_messages(list(session.get_custom_messages()), spec.run_id, len(spec.points))
        except LauncherError as exc:  # name the run and the channel the rows should have come on
            raise LauncherError(f"dstack run {run.name} (rows via {metadata['pipes_transport']}): {exc}") from exc
        return LaunchResult(records=records, metadata=metadata)

    def submit(self, name: str, env: dict[str, str], backend: str = "transformers",
               extra_packages: list[str] | None = None) -> Any:
        """Submits the hardware's task for a backend under ``name``; dstack's refusal becomes a LauncherError."""
        from dstack.api import Task

        try:
            task = Task.model_validate(task_config(self.hardware, name=name, env=env, backend=backend,
                                                   extra_packages=extra_packages))
            return self.client.runs.apply_configuration(configuration=task, repo=None, reserve_ports=False)
        except LauncherError:
            raise
        except Exception as exc:  # dstack's ClientError/ServerClientError/ConfigurationError, pydantic
            raise LauncherError(f"dstack refused the task for {self.hardware.key}: {exc}") from exc

    def follow(self, context: LaunchContext, run: Any) -> Outcome:
        """Waits until the run has finished; stops it on any exit that leaves it running.

        Returns:
            The final outcome (done, failed, timeout or stopped).

        Raises:
            LauncherError: at once for no capacity; on the orchestrator's deadline.
            dg.RetryRequested: for a transient failure.
        """
        deadline = time.monotonic() + self.config.provisioning_timeout_s + self.config.timeout_s
        finished, last_status = False, None
        try:
            while True:
                self._sleep(self.poll_interval_s)
                run.refresh()
                outcome = classify(latest_submission(run))
                status = getattr(run.status, "value", run.status)
                if status != last_status:
                    context.log.info(f"dstack run {run.name}: {status}")
                    last_status = status
                if outcome.kind == "no-capacity":
                    raise LauncherError(f"dstack found no machine for {self.hardware.key}: {outcome.message} "
                                        f"({outcome.reason}); nothing landed")
                if outcome.kind == "transient":
                    self._retry(context, run, outcome)
                if status in FINISHED_RUN_STATUSES:
                    finished = True
                    return outcome
                if time.monotonic() > deadline:
                    raise LauncherError(f"dstack run {run.name} did not finish within "
                                        f"{self.config.provisioning_timeout_s + self.config.timeout_s} s; stopped")
        finally:
            if not finished:
                self.stop(context, run)

    def stop(self, context: LaunchContext | None, run: Any) -> None:
        """Stops the dstack run (best effort: a failure here must not hide the original error)."""
        try:
            run.stop(abort=False)
            if context is not None:
                context.log.warning(f"stopped dstack run {run.name}")
        except Exception as exc:  # noqa: BLE001 -- reported, never raised
            if context is not None:
                context.log.error(f"could not stop dstack run {run.name}: {exc}; stop it with `dstack stop {run.name}`")

    def _retry(self, context: LaunchContext, run: Any, outcome: Outcome) -> None:
        attempt = getattr(context, "retry_number", 0) or 0
        wait_s = self.config.retry_backoff_s * (2 ** attempt)
        context.log.warning(f"dstack run {run.name}: transient failure {outcome.reason} ({outcome.message}); "
                            f"retry {attempt + 1}/{self.config.max_retries} in {wait_s:.0f} s")
        raise dg.RetryRequested(max_retries=self.config.max_retries, seconds_to_wait=wait_s) from LauncherError(
            f"dstack run {run.name}: {outcome.reason}: {outcome.message}")
