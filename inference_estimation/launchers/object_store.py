"""Object storage as an optional Pipes transport: rows travel through an S3-compatible bucket.

Without it, a remote job's rows come back on its log stream (:mod:`.pipes_logs`), which needs
nothing but the dstack server. With it, the harness uploads its Pipes messages in numbered
chunks under a per-run prefix and the orchestrator polls them (Dagster's own
``PipesS3MessageReader``): rows no longer depend on how much log the log service keeps, and
arrive while the job still runs. Any S3-compatible store works (AWS S3, MinIO, R2, GCS's S3
API). Configured through the ``pipes_message_store`` resource (environment variables bound with
``dg.EnvVar``); the job receives the endpoint and credentials in its environment only.
"""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dagster_aws.pipes import PipesS3MessageReader  # the `cloud` extra; import this module lazily

from benchmark_jobs.pipes_transport import S3_ENDPOINT_ENV, UPLOAD_INTERVAL_ENV


@dataclass(frozen=True)
class S3MessageStore:
    """Where Pipes messages go when object storage is configured.

    Attributes:
        bucket: bucket name (must exist; the orchestrator and the jobs both need access).
        prefix: key prefix; each run writes under ``<prefix>/<run_id>-<random>/``.
        endpoint_url: endpoint of a non-AWS store (None = AWS S3).
        region: region name (None = the SDK's default).
        upload_interval_s: how often the job uploads a chunk (and the orchestrator polls).
        keep_objects: keep the message chunks after the run (default: delete them once read).
        credentials: AWS credential variables for the job (``AWS_ACCESS_KEY_ID``, ...); secrets.
    """

    bucket: str
    prefix: str = "inference-estimation/pipes"
    endpoint_url: str | None = None
    region: str | None = None
    upload_interval_s: float = 2.0
    keep_objects: bool = False
    credentials: dict[str, str] = field(default_factory=dict, repr=False)

    def client(self) -> Any:
        """A boto3 S3 client for the orchestrator (credentials as given, else the SDK's chain)."""
        import boto3

        keys = {"AWS_ACCESS_KEY_ID": "aws_access_key_id", "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
                "AWS_SESSION_TOKEN": "aws_session_token"}
        kwargs = {arg: self.credentials[var] for var, arg in keys.items() if self.credentials.get(var)}
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region, **kwargs)

    def reader(self, run_id: str) -> PrefixedS3MessageReader:
        """The message reader of one run."""
        return PrefixedS3MessageReader(store=self, run_id=run_id)

    def job_env(self) -> dict[str, str]:
        """What the job needs in its environment: endpoint, region, interval and credentials."""
        env = {UPLOAD_INTERVAL_ENV: str(self.upload_interval_s), **self.credentials}
        if self.endpoint_url:
            env[S3_ENDPOINT_ENV] = self.endpoint_url
        if self.region:
            env["AWS_DEFAULT_REGION"] = self.region
        return env


class PrefixedS3MessageReader(PipesS3MessageReader):
    """Dagster's S3 message reader, writing under the store's prefix and cleaning up after itself."""

    def __init__(self, store: S3MessageStore, run_id: str) -> None:
        super().__init__(bucket=store.bucket, client=store.client(), interval=store.upload_interval_s)
        self.store = store
        self.key_prefix = f"{store.prefix.strip('/')}/{run_id}-{_secrets.token_hex(6)}"

    @contextmanager
    def get_params(self) -> Iterator[dict[str, Any]]:
        """The writer parameters for the job: bucket and this run's key prefix."""
        from dagster_pipes import PipesBlobStoreMessageWriter

        yield {"bucket": self.bucket, "key_prefix": self.key_prefix,
               PipesBlobStoreMessageWriter.INCLUDE_STDIO_IN_MESSAGES_KEY: False}

    def cleanup(self) -> int:
        """Deletes this run's message chunks (unless the store keeps them); returns how many."""
        if self.store.keep_objects:
            return 0
        deleted = 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.key_prefix + "/"):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
                deleted += len(keys)
        return deleted
