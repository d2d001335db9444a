"""Jobs the CLI and schedules launch; each carries the host tag that dagster.yaml limits to one run.

A job's partitions are those of the assets it selects (Dagster infers them), so no job names a
partitions definition of its own.
"""

import dagster as dg

from inference_estimation import constants
from inference_estimation.defs.partitions import benchmark_partitions
from inference_estimation.defs.resources import CatalogResource
from inference_estimation.defs.shared import TRAINING_FEATURES
from inference_estimation.lib.catalog import CatalogError
from inference_estimation.lib.data import quality

LOCAL_HOST_TAGS = {constants.HOST_TAG: "localhost"}


def host_tags_for_partition(partition_key: str) -> dict[str, str]:
    """Run tags for one benchmark partition: its hardware's host (one run per host at a time).

    Tag functions get no resources, so the catalog resource is built with its defaults (the home's
    overlays). The catalog is read now, not at load time: hardware added since the code location loaded (a
    new dynamic partition) gets its own host.
    """
    dims = benchmark_partitions.get_partition_key_from_str(partition_key).keys_by_dimension
    try:
        return {constants.HOST_TAG: CatalogResource().load().hw(dims["hardware"]).host}
    except CatalogError:  # a kept key of hardware no longer in the catalog: the asset refuses the pair
        return {constants.HOST_TAG: f"unknown:{dims['hardware']}"}


catalog_job = dg.define_asset_job(
    "catalog_job", selection=dg.AssetSelection.groups("catalog"), tags=LOCAL_HOST_TAGS,
    description="Probe local hardware and land catalog facts (raw.hardware, raw.models).",
)
benchmark_job = dg.define_asset_job(
    "benchmark_job",
    selection=dg.AssetSelection.groups("benchmarks"),
    config=dg.PartitionedConfig(
        partitions_def=benchmark_partitions,
        run_config_for_partition_key_fn=lambda _key: {},
        tags_for_partition_key_fn=host_tags_for_partition,
    ),
    description="One benchmark partition per run, tagged with its host (launch backfills from here).",
)
import_job = dg.define_asset_job(
    "import_job", selection=dg.AssetSelection.groups("external"),
    tags=LOCAL_HOST_TAGS,  # parsing runs on this machine: never beside a local benchmark's timing
    description="Import one public dataset (or the users' canonical CSVs) into raw.external_runs.",
)
transform_job = dg.define_asset_job(
    "transform_job",
    selection=dg.AssetSelection.groups("transform_staging", "transform_intermediate", "transform_marts")
    | dg.AssetSelection.assets("dataset_report"),
    tags=LOCAL_HOST_TAGS, description="dbt build (staging, intermediate, marts) and the dataset coverage report.",
)
#: The gate before training: the range checks on the training frame. A job that trains selects them,
#: so their blocking rules run first in every training run and stop it on absurd rows (Dagster's own
#: blocking semantics), however the run was started.
TRAINING_GATE = dg.AssetSelection.checks(*(dg.AssetCheckKey(TRAINING_FEATURES, rule) for rule in quality.RANGE_RULES))

training_job = dg.define_asset_job(
    "training_job",
    # the training group's per-target assets (performance_model_evaluation, unpartitioned, has its own job)
    selection=(dg.AssetSelection.groups("training") - dg.AssetSelection.assets("performance_model_evaluation"))
    | dg.AssetSelection.assets("shap_reports") | TRAINING_GATE,
    tags=LOCAL_HOST_TAGS, description="Check the training frame (the gate), train, evaluate, promote (if it beats "
    "its baselines) and explain one target.",
)
step_model_job = dg.define_asset_job(
    "step_model_job", selection=dg.AssetSelection.groups("step_model") | TRAINING_GATE, tags=LOCAL_HOST_TAGS,
    description="Check the training frame (the gate), fit the step-time model (efficiencies, schedulers, campaign effects), check it against "
    "physics and promote it.",
)
performance_model_job = dg.define_asset_job(
    "performance_model_job", selection=dg.AssetSelection.assets("performance_model_evaluation"),
    tags=LOCAL_HOST_TAGS,
    description="Score the coherent model (every answer derived from the primitives), k-shot curve, identities.",
)
calibration_job = dg.define_asset_job(
    "calibration_job", selection=dg.AssetSelection.assets("next_benchmarks"), tags=LOCAL_HOST_TAGS,
    description="Plan one device's next calibration points (next_benchmarks; partition = hardware).",
)
feature_selection_job = dg.define_asset_job(
    "feature_selection_job", selection=dg.AssetSelection.assets("feature_selection_reports"),
    tags=LOCAL_HOST_TAGS,
    description="Drop-group feature ablation of one target on unseen hardware (minutes on the public data).",
)


@dg.definitions
def jobs() -> dg.Definitions:
    """The jobs above."""
    return dg.Definitions(jobs=[catalog_job, benchmark_job, import_job, transform_job, training_job,
                          step_model_job, performance_model_job, feature_selection_job, calibration_job])
