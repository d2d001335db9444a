"""Resources shared by every stage: the DuckDB warehouse, the dbt CLI and the harness's secrets."""

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


@dg.definitions
def resources() -> dg.Definitions:
    """The warehouse in ``$INFERENCE_ESTIMATION_HOME``, the project's dbt CLI and the harness's secrets."""
    home = get_home()
    return dg.Definitions(
        resources={
            "duckdb": DuckDBResource(database=str(home.warehouse_path)),
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
            "harness_secrets": harness_secrets_from_env(),
        }
    )
