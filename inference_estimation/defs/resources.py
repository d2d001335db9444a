"""Resources shared by every stage: the DuckDB warehouse, the dbt CLI and the harness's secrets."""

import os

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from inference_estimation.defs.transform.project import dbt_executable, dbt_project
from inference_estimation.lib.home import get_home


class HarnessSecrets(dg.ConfigurableResource):
    """Secrets a benchmark job needs on its machine (a Hugging Face token for gated pretrained weights).

    Bound through ``dg.EnvVar`` so the value is read from the orchestrator's environment at run time and
    never stored in config, run records, logs or metadata; the launcher puts it in the harness's
    environment only (remote launchers send it as a task secret).

    Attributes:
        hf_token: Hugging Face access token, or None.
    """

    hf_token: str | None = None

    def harness_env(self) -> dict[str, str]:
        """Environment variables for the harness process (only the secrets that are set)."""
        return {"HF_TOKEN": self.hf_token} if self.hf_token else {}


def harness_secrets_from_env() -> HarnessSecrets:
    """Binds each secret to its environment variable when that variable is set (else it stays unset)."""
    return HarnessSecrets(**{"hf_token": dg.EnvVar("HF_TOKEN")} if os.environ.get("HF_TOKEN") else {})


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
