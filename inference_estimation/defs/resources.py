"""Resources shared by every stage: the DuckDB warehouse, the dbt CLI, the harness's secrets and
the optional object storage for Pipes messages."""

import os

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from benchmark_jobs.spec import SERVING_API_KEY_ENV
from inference_estimation.defs.transform.project import dbt_executable, dbt_project
from inference_estimation.lib.home import get_home


class HarnessSecrets(dg.ConfigurableResource):
    """Secrets a benchmark job needs on its machine (a Hugging Face token for gated pretrained weights).

    Bound through ``dg.EnvVar`` so the value is read from the orchestrator's environment at run time and
    never stored in config, run records, logs or metadata; the launcher puts it in the harness's
    environment only (remote launchers send it as a task secret).

    Attributes:
        hf_token: Hugging Face access token, or None.
        serving_api_key: bearer token of the endpoint an ``openai-server`` sweep loads, or None.
    """

    hf_token: str | None = None
    serving_api_key: str | None = None

    def harness_env(self) -> dict[str, str]:
        """Environment variables for the harness process (only the secrets that are set)."""
        env = {"HF_TOKEN": self.hf_token, SERVING_API_KEY_ENV: self.serving_api_key}
        return {name: value for name, value in env.items() if value}


#: Resource field -> the orchestrator's environment variable it is bound to.
SECRET_ENV_VARS = {"hf_token": "HF_TOKEN", "serving_api_key": SERVING_API_KEY_ENV}


def harness_secrets_from_env() -> HarnessSecrets:
    """Binds each secret to its environment variable when that variable is set (else it stays unset)."""
    return HarnessSecrets(**{field: dg.EnvVar(var) for field, var in SECRET_ENV_VARS.items() if os.environ.get(var)})


class PipesMessageStore(dg.ConfigurableResource):
    """Optional object storage (any S3-compatible store) for the Pipes messages of benchmark jobs.

    Unset (the default), rows come back the way the launcher reads its job: a local subprocess's
    pipe, a dstack job's log stream. With ``s3_bucket`` set, every job writes its messages to
    ``s3://<bucket>/<prefix>/<run>-<random>/`` and the orchestrator polls them; the chunks are
    deleted once read unless ``keep_objects``. Bound to environment variables through
    ``dg.EnvVar`` (see :data:`MESSAGE_STORE_ENV_VARS`); the credentials reach the job's environment
    only.

    Attributes:
        s3_bucket: bucket name, or None for no object storage.
        s3_prefix: key prefix of the message chunks.
        s3_endpoint_url: endpoint of a non-AWS store (MinIO, R2, ...); None = AWS S3.
        s3_region: region name.
        upload_interval_s: seconds between chunk uploads (and polls).
        keep_objects: keep the chunks after a run.
        aws_access_key_id: credentials for orchestrator and job (None = the SDK's own chain on
            each side, e.g. an instance role).
        aws_secret_access_key: see ``aws_access_key_id``.
        aws_session_token: see ``aws_access_key_id``.
    """

    s3_bucket: str | None = None
    s3_prefix: str = "inference-estimation/pipes"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    upload_interval_s: float = 2.0
    keep_objects: bool = False
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None

    def store(self):  # -> S3MessageStore | None (imported lazily: dagster-aws is the `cloud` extra)
        """The configured store, or None when no bucket is set."""
        if not self.s3_bucket:
            return None
        from inference_estimation.launchers.object_store import S3MessageStore

        credentials = {"AWS_ACCESS_KEY_ID": self.aws_access_key_id,
                       "AWS_SECRET_ACCESS_KEY": self.aws_secret_access_key,
                       "AWS_SESSION_TOKEN": self.aws_session_token}
        return S3MessageStore(bucket=self.s3_bucket, prefix=self.s3_prefix, endpoint_url=self.s3_endpoint_url,
                              region=self.s3_region, upload_interval_s=self.upload_interval_s,
                              keep_objects=self.keep_objects,
                              credentials={k: v for k, v in credentials.items() if v})


#: PipesMessageStore field -> environment variable it is bound to when set.
MESSAGE_STORE_ENV_VARS = {
    "s3_bucket": "INFERENCE_ESTIMATION_PIPES_S3_BUCKET",
    "s3_prefix": "INFERENCE_ESTIMATION_PIPES_S3_PREFIX",
    "s3_endpoint_url": "AWS_ENDPOINT_URL_S3",
    "s3_region": "AWS_DEFAULT_REGION",
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
}


def pipes_message_store_from_env() -> PipesMessageStore:
    """The store bound to its environment variables; unset (no object storage) without a bucket."""
    if not os.environ.get(MESSAGE_STORE_ENV_VARS["s3_bucket"]):
        return PipesMessageStore()
    return PipesMessageStore(**{field: dg.EnvVar(var) for field, var in MESSAGE_STORE_ENV_VARS.items()
                                if os.environ.get(var)})


@dg.definitions
def resources() -> dg.Definitions:
    """The warehouse in ``$INFERENCE_ESTIMATION_HOME``, the project's dbt CLI and the harness's secrets."""
    home = get_home()
    return dg.Definitions(
        resources={
            "duckdb": DuckDBResource(database=str(home.warehouse_path)),
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
            "harness_secrets": harness_secrets_from_env(),
            "pipes_message_store": pipes_message_store_from_env(),
        }
    )
