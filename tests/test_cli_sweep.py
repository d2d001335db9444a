"""The main job's command records its runs in the persistent Dagster instance of its home."""

import os
import subprocess
import sys

import dagster as dg
import pytest

from inference_estimation.lib.ml import predictor_store as store


@pytest.mark.slow
def test_sweep_command_materializes_the_graph_into_the_homes_dagster_instance(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "INFERENCE_ESTIMATION_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    out = subprocess.run([sys.executable, "-m", "inference_estimation.cli", "sweep", "--sweep", "test-tiny", "--no-external"],
                         env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "benchmark gpt2-small on local-cpu (test-tiny): ok" in out.stdout  # progress lines while it runs
    assert "grouped-by-model held-out MdAPE" in out.stdout
    # quiet success: dbt's own log lines stay out of the console (they are shown when a job fails)
    assert "START sql view model" not in out.stdout and len(out.stdout.splitlines()) < 40
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    try:
        runs = instance.get_runs()
        # catalog, 2 partitions, dbt, the 2 served CatBoost primitives, the step-time model
        assert len(runs) == 1 + 2 + 1 + 2 + 1
        # only the blocking promotion gate may stop a run (a refusal: `sweep` still exits 0)
        assert all(r.status == dg.DagsterRunStatus.SUCCESS or r.job_name == "training_job" for r in runs), \
            [(r.job_name, r.status) for r in runs]
        assert all(r.tags.get("inference_estimation/host") == "localhost" for r in runs)
        partitions = instance.get_materialized_partitions(dg.AssetKey("benchmark_runs"))
        assert {"gpt2-small|local-cpu", "llama-small-55m|local-cpu"} <= {str(p) for p in partitions} | {
            "|".join(reversed(str(p).split("|"))) for p in partitions}
        for key in (dg.AssetKey("predictors"), dg.AssetKey("shap_reports"), dg.AssetKey(["marts", "training_features"])):
            assert instance.get_latest_materialization_event(key) is not None, key
    finally:
        instance.dispose()
    trained = store.read_pointer(home / "predictors", store.TRAINED, "peak_memory_gb")
    assert (trained.folder / "model.cbm").exists()
    # the time primitives are the previous design's: not trained by default (the step model answers them)
    assert store.read_pointer(home / "predictors", store.TRAINED, "tpot_s") is None
    assert store.read_pointer(home / "predictors", store.TRAINED, store.STEP_MODEL) is not None
    assert store.names(home / "predictors", store.TRAINED) == sorted(  # derived targets are never trained
        set(store.names(home / "predictors", store.TRAINED)) & {"ttft_s", "tpot_s", "avg_power_w", "peak_memory_gb",
                                                                  store.STEP_MODEL})
