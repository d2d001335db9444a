"""The code location loads with the expected assets, partitions, checks and jobs."""

import dagster as dg

from inference_estimation.definitions import defs
from inference_estimation.lib.catalog import load_catalog


def _keys():
    return {spec.key.to_user_string() for spec in defs.resolve_all_asset_specs()}


def test_code_location_has_every_stage_of_the_flow():
    expected = {
        "hardware_specs", "model_specs", "benchmark_runs", "external_benchmarks",
        "staging/stg_benchmark_runs", "staging/stg_external_runs", "staging/stg_hardware", "staging/stg_models",
        "intermediate/int_runs_unioned", "intermediate/int_latest_points", "intermediate/int_training_rows",
        "marts/measurements", "marts/training_features", "predictors", "predictor_evaluation",
        "promoted_predictors", "shap_reports", "dataset_report", "feature_selection_reports",
        "performance_model_evaluation",
    }
    assert expected <= _keys()


def test_benchmark_runs_is_partitioned_by_model_and_hardware_following_the_catalog():
    from inference_estimation.defs.partitions import (
        benchmark_partition_keys,
        ensure_benchmark_partitions,
    )

    spec = next(s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey("benchmark_runs"))
    partitions = spec.partitions_def
    assert isinstance(partitions, dg.MultiPartitionsDefinition)
    assert {d.name for d in partitions.partitions_defs} == {"model", "hardware"}
    assert all(isinstance(d.partitions_def, dg.DynamicPartitionsDefinition) for d in partitions.partitions_defs)
    catalog = load_catalog(overlay_dirs=[])
    with dg.DagsterInstance.ephemeral() as instance:
        assert benchmark_partition_keys(instance) == []  # keys live in the instance, added from the catalog
        added = ensure_benchmark_partitions(instance, catalog)
        assert ensure_benchmark_partitions(instance, catalog) == {}  # idempotent
        keys = benchmark_partition_keys(instance)
    assert sorted(added["benchmark_models"]) == catalog.partition_models
    assert dg.MultiPartitionKey({"model": "gpt2-small", "hardware": "local-cpu"}) in keys
    # every model a sweep benchmarks x every hardware with a launcher; catalog-only models are not partitions
    swept = {m for sweep in catalog.sweeps.values() for m in sweep.models}
    assert swept == {"gpt2-small", "gpt2-medium", "llama-small-55m", "qwen2-small-130m", "llama-3.1-8b",
                     "llama-3.1-70b", "mistral-7b-v0.3", "xgboost-reg-200x8", "catboost-reg-200x6",
                     "sklearn-rf-100x10", "sklearn-hgb-clf-100x6"}
    assert len(keys) == len(swept) * 7  # x local-cpu + 6 dstack targets
    assert dg.MultiPartitionKey({"model": "llama-3.1-405b", "hardware": "local-cpu"}) not in keys


def test_lineage_runs_from_benchmarks_through_dbt_to_predictors_and_reports():
    graph = defs.resolve_asset_graph()
    parents = lambda key: {p.to_user_string() for p in graph.get(dg.AssetKey.from_user_string(key)).parent_keys}
    assert parents("benchmark_runs") == {"hardware_specs", "model_specs"}
    assert "benchmark_runs" in parents("staging/stg_benchmark_runs")
    assert "external_benchmarks" in parents("staging/stg_external_runs")
    # one intermediate feeds both marts' sides: the flow runs staging -> intermediate -> marts only
    assert parents("marts/measurements") == {"intermediate/int_latest_points"}
    assert parents("intermediate/int_training_rows") == {
        "intermediate/int_latest_points", "staging/stg_models", "staging/stg_hardware"}
    assert parents("marts/training_features") == {"intermediate/int_training_rows"}
    assert parents("predictors") == {"marts/training_features"}
    assert parents("shap_reports") == {"predictors", "marts/training_features"}  # every input declared
    assert parents("promoted_predictors") == {"predictors", "predictor_evaluation"}
    assert parents("promoted_step_model") == {"step_model"}
    assert parents("step_calibrations") == {"promoted_step_model", "marts/training_features"}
    assert parents("performance_model_evaluation") == {"predictors", "marts/training_features"}


def test_training_is_partitioned_by_the_learned_primitives_only():
    from inference_estimation import constants

    spec = next(s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey("predictors"))
    assert spec.partitions_def.get_partition_keys() == list(constants.PRIMITIVES)
    assert {"e2e_latency_s", "output_throughput_tok_s", "energy_per_output_token_j"}.isdisjoint(constants.PRIMITIVES)


def test_benchmark_row_checks_are_one_blocking_check_per_rule_and_dbt_tests_are_checks():
    from inference_estimation.lib.data.quality import OK_ROW_RULES

    checks = {(k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys}
    assert {("benchmark_runs", rule) for rule in OK_ROW_RULES} <= checks
    assert ("marts/measurements", "unique_measurements_point_id") in checks
    specs = {spec.name: spec for c in defs.resolve_asset_graph().assets_defs for spec in c.check_specs
             if spec.asset_key == dg.AssetKey("benchmark_runs")}
    assert all(specs[rule].blocking for rule in OK_ROW_RULES)


def test_benchmark_job_tags_each_partition_with_its_host_and_duckdb_writers_share_a_pool():
    job = defs.resolve_job_def("benchmark_job")
    tags = job.partitioned_config.get_tags_for_partition_key(
        str(dg.MultiPartitionKey({"model": "gpt2-small", "hardware": "local-cpu"})))
    assert tags["inference_estimation/host"] == "localhost"
    graph = defs.resolve_asset_graph()
    for key in ("benchmark_runs", "hardware_specs", "model_specs", "marts/measurements"):
        node = graph.get(dg.AssetKey.from_user_string(key))
        assert node.pools == {"duckdb"}, key
    assert defs.resolve_job_def("training_job").tags["inference_estimation/host"] == "localhost"


def test_each_assets_group_in_the_ui_is_the_stage_folder_that_defines_it():
    import importlib
    import pkgutil

    import inference_estimation.defs as defs_package

    seen = {}
    for stage in pkgutil.iter_modules(defs_package.__path__):
        if not stage.ispkg:
            continue
        try:
            module = importlib.import_module(f"{defs_package.__name__}.{stage.name}.assets")
        except ModuleNotFoundError:
            continue
        for value in vars(module).values():
            if isinstance(value, dg.AssetsDefinition):
                for key, group in value.group_names_by_key.items():
                    seen[key.to_user_string()] = (stage.name, group)
    misplaced = {key: pair for key, pair in seen.items()
                 if pair[1] != pair[0] and not pair[1].startswith(f"{pair[0]}_")}  # dbt: transform_<layer>
    assert {"hardware_specs", "benchmark_runs", "next_benchmarks", "performance_model_evaluation"} <= set(seen)
    assert misplaced == {}


def test_models_travel_through_the_predictor_store_and_every_training_job_runs_the_gate_first():
    graph = defs.resolve_asset_graph()
    for key, stage in (("predictors", "trained"), ("promoted_predictors", "promoted"), ("step_model", "trained"),
                       ("promoted_step_model", "promoted")):
        assets_def = graph.get(dg.AssetKey(key)).assets_def
        assert assets_def.get_io_manager_key_for_asset_key(dg.AssetKey(key)) == "predictor_store", key
        assert assets_def.metadata_by_key[dg.AssetKey(key)]["predictor_store/stage"] == stage, key
    evaluation = graph.get(dg.AssetKey("predictor_evaluation")).assets_def
    assert all(spec.blocking for spec in evaluation.check_specs)  # the gate before promotion is Dagster's
    for job in ("training_job", "step_model_job"):
        nodes = {n.name for n in defs.resolve_job_def(job).graph.nodes}
        assert "training_rows_in_range" in nodes, job  # the gate before training, blocking in the same run


def test_every_run_trains_with_the_one_cv_folds_value():
    from inference_estimation import constants
    from inference_estimation.defs.resources import TrainingResource
    from inference_estimation.defs.training.config import TrainingConfig

    assert defs.resources["training"].cv_folds == TrainingResource().cv_folds == constants.CV_FOLDS
    assert "cv_folds" not in TrainingConfig.model_fields  # not a run-config knob that each launcher sets
    assert all("cv_folds" not in sweep.model_fields_set for sweep in load_catalog().sweeps.values())
