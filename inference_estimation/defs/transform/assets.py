"""dbt models and tests as assets and checks: staging -> intermediate -> marts."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from inference_estimation import constants
from inference_estimation.defs.conditions import refresh_after_new_data
from inference_estimation.defs.transform.project import dbt_project


class Translator(DagsterDbtTranslator):
    """Groups dbt models by layer and refreshes them after new data lands.

    Sources keep the asset keys named in their YAML meta.
    """

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        """The default spec; a model also gets its layer's group and the refresh condition."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest["nodes"].get(unique_id) or manifest["sources"].get(unique_id) or {}
        if node.get("resource_type") == "model":
            layer = node.get("fqn", ["", "transform"])[1] if len(node.get("fqn", [])) > 2 else "transform"
            spec = spec.replace_attributes(group_name=f"transform_{layer}", automation_condition=refresh_after_new_data())
        return spec


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=Translator(),
            pool=constants.DUCKDB_POOL)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """``dbt build`` of the selected models (their tests become asset checks)."""
    yield from dbt.cli(["build"], context=context).stream()
