"""How the harness sends its Pipes messages back to the orchestrator.

By default (local subprocess, or a dstack job whose log stream carries them) messages go where
the orchestrator's ``DAGSTER_PIPES_MESSAGES`` parameters say -- a file or stderr -- and
``open_dagster_pipes`` needs nothing from us. When the orchestrator is configured with object
storage, its parameters name an S3 ``bucket`` and ``key_prefix`` instead: then the harness must
hand ``open_dagster_pipes`` an S3 writer itself, which uploads the messages in numbered chunks
every few seconds. Any S3-compatible store works (AWS S3, MinIO, Cloudflare R2, GCS's S3 API):
its endpoint comes from ``AWS_ENDPOINT_URL_S3`` and its credentials from the usual AWS
variables, both set by the orchestrator in the job's environment.

boto3 is imported only on that path (the default harness install does not need it).
"""

from __future__ import annotations

import os
from typing import Any

#: Seconds between chunk uploads (smaller = rows arrive sooner, more requests).
UPLOAD_INTERVAL_ENV = "INFERENCE_ESTIMATION_PIPES_UPLOAD_INTERVAL_S"
DEFAULT_UPLOAD_INTERVAL_S = 2.0
#: The S3 endpoint of a non-AWS store (boto3 reads the same variable).
S3_ENDPOINT_ENV = "AWS_ENDPOINT_URL_S3"


class TransportError(RuntimeError):
    """The configured transport cannot be used on this machine."""


def message_writer(messages_params: dict[str, Any] | None = None) -> Any:
    """The Pipes message writer the orchestrator's parameters ask for.

    Args:
        messages_params: the ``DAGSTER_PIPES_MESSAGES`` parameters (default: read from the
            environment the orchestrator launched this process with).

    Returns:
        A ``PipesS3MessageWriter`` when the parameters name a bucket, else None (the default
        writer of ``open_dagster_pipes``: a file or stdio, as the parameters say).

    Raises:
        TransportError: object storage is asked for but boto3 is not installed, or the bucket
            cannot be reached with the job's credentials.
    """
    if messages_params is None:
        from dagster_pipes import PipesEnvVarParamsLoader

        loader = PipesEnvVarParamsLoader()
        messages_params = loader.load_messages_params() if loader.is_dagster_pipes_process() else {}
    if "bucket" not in messages_params:
        return None
    try:
        import boto3
    except ImportError as exc:
        raise TransportError("the orchestrator sends Pipes messages through S3 object storage, which needs "
                             "boto3 on the benchmark machine (pip install boto3)") from exc
    from dagster_pipes import PipesS3MessageWriter

    client = boto3.client("s3", endpoint_url=os.environ.get(S3_ENDPOINT_ENV) or None)
    bucket = messages_params["bucket"]
    try:  # fail before measuring anything: the writer's upload thread would only print its errors
        client.head_bucket(Bucket=bucket)
    except Exception as exc:  # botocore's ClientError / EndpointConnectionError / NoCredentialsError
        raise TransportError(f"cannot write Pipes messages to s3://{bucket}: {exc}") from exc
    interval_s = float(os.environ.get(UPLOAD_INTERVAL_ENV) or DEFAULT_UPLOAD_INTERVAL_S)
    return PipesS3MessageWriter(client, interval=interval_s)
