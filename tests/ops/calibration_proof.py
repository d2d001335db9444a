"""The local calibration proof, run in a fresh process whose INFERENCE_ESTIMATION_HOME is a temporary folder.

On this CPU, through Dagster and the real harness: two models (``gpt2-small`` and a 2-layer Llama of
the overlay below) are measured at a few points and the primitives trained; ``llama-small-55m`` -- a model the predictor has never seen measured -- is
predicted on its grid; ``next_benchmarks`` plans k of its points; the calibration sensor's requests
benchmark them through ``benchmark_job``; the refresh (dbt + predictors) retrains; the grid's other
points are predicted again and then measured (the truth, measured last so it trains nothing). Prints
one JSON line: the plan, and the MdAPE before and after on the points that were not calibrated.

Used by ``tests/ops/test_calibration_local_proof.py``.
"""

import json
import os
import sys
import time

OVERLAY = """\
models:
  - key: proof-llama-tiny
    family: llama
    default_dtype: float32
    notes: A 2-layer Llama-architecture model that builds and runs in milliseconds (training data only).
    architecture: {layers: 2, hidden_size: 128, heads: 4, kv_heads: 2, intermediate_size: 256, vocab_size: 2000,
                   max_position_embeddings: 512}
sweeps:
  - name: proof-train
    models: [gpt2-small, proof-llama-tiny]
    hardware: [local-cpu]
    batch_sizes: [1, 2, 4]
    input_tokens: [16, 64]
    output_tokens: [4, 16]
    warmup_runs: 1
    min_trials: 2
    max_trials: 3
    target_cv: 0.1
    point_timeout_s: 60
  - name: proof-calibrate
    models: [llama-small-55m]
    hardware: [local-cpu]
    batch_sizes: [1, 2, 4]
    input_tokens: [16, 64]
    output_tokens: [4, 16]
    warmup_runs: 1
    min_trials: 2
    max_trials: 3
    target_cv: 0.1
    point_timeout_s: 60
"""
#: Half of the training models' grid (spread over it): enough rows to train, seconds to measure.
TRAIN_POINTS = [{"batch_size": b, "input_tokens": i, "output_tokens": o, "dtype": "float32"}
                for b, i, o in ((1, 16, 4), (1, 64, 16), (2, 16, 16), (2, 64, 4), (4, 16, 4), (4, 64, 16))]
TARGETS = ("tpot_s", "output_throughput_tok_s", "e2e_latency_s")


def main(k: int) -> None:
    from inference_estimation.lib.home import HOME_ENV, activate_home

    home = activate_home(os.environ[HOME_ENV])
    (home.catalog_dir / "proof.yaml").write_text(OVERLAY)
    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore")
    import duckdb
    import numpy as np

    from inference_estimation import constants
    from inference_estimation.definitions import defs
    from inference_estimation.defs.benchmark_requests import benchmark_run_config
    from inference_estimation.defs.calibration.sensors import plan_run_requests
    from inference_estimation.defs.partitions import (
        benchmark_partition_key,
        ensure_benchmark_partitions,
    )
    from inference_estimation.lib.catalog import load_catalog
    from inference_estimation.lib.ml.calibration import candidate_grid
    from inference_estimation.lib.ml.predict import Predictors

    started = time.perf_counter()
    instance = dg.DagsterInstance.get()
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    host = {constants.HOST_TAG: "localhost"}

    def run(job: str, **kwargs):
        result = defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False, **kwargs)
        if not result.success:
            failure = next((e for e in result.all_events if e.is_step_failure), None)
            sys.exit(f"{job} {kwargs.get('partition_key')} failed: "
                     f"{failure.event_specific_data.error.message if failure else '?'}")
        return result

    def refresh() -> None:
        run("transform_job", run_config=quiet)
        for target in ("ttft_s", "tpot_s"):
            run("training_job", partition_key=target, asset_selection=[dg.AssetKey("predictors")],
                run_config=quiet)

    run("catalog_job", run_config=quiet)
    catalog = load_catalog()
    ensure_benchmark_partitions(instance, catalog)
    for model in ("gpt2-small", "proof-llama-tiny"):
        run("benchmark_job", partition_key=benchmark_partition_key(model, "local-cpu"), tags=host,
            run_config={**quiet, **benchmark_run_config("proof-train", TRAIN_POINTS)})
    refresh()
    grid, _ = candidate_grid(catalog, "local-cpu", "proof-calibrate")

    def predicted():
        return Predictors.load(home.predictors_dir, allow_unpromoted=True).frame(grid, grid["hardware_key"].to_numpy())

    before = predicted()
    planned = run("calibration_job", partition_key="local-cpu",
                  run_config={**quiet, "ops": {"next_benchmarks": {"config": {"points": k, "sweep": "proof-calibrate"}}}})
    meta = {key: v.value for key, v in planned.asset_materializations_for_node("next_benchmarks")[-1].metadata.items()}
    chosen = set()
    # what calibration_sensor requests for a plan (local-cpu has measurements of other models, so the
    # sensor itself would leave it alone), run as the daemon would run them
    for request in plan_run_requests(catalog, "local-cpu", meta):
        run("benchmark_job", partition_key=request.partition_key, tags=request.tags,
            run_config={**quiet, **request.run_config})
        chosen |= {(p["batch_size"], p["input_tokens"], p["output_tokens"])
                   for p in request.run_config["ops"]["benchmark_runs"]["config"]["points"]}
    refresh()
    after = predicted()
    keys = list(zip(grid["batch_size"].astype(int), grid["input_tokens"].astype(int), grid["output_tokens"].astype(int), strict=True))
    rest = [i for i, key in enumerate(keys) if key not in chosen]
    truth_points = [{"batch_size": keys[i][0], "input_tokens": keys[i][1], "output_tokens": keys[i][2],
                     "dtype": "float32"} for i in rest]
    truth_run = run("benchmark_job", partition_key=benchmark_partition_key("llama-small-55m", "local-cpu"), tags=host,
                    run_config={**quiet, **benchmark_run_config("proof-calibrate", truth_points)})
    run_id = {key: v.value for key, v in truth_run.asset_materializations_for_node("benchmark_runs")[-1]
              .metadata.items()}["run_id"]
    con = duckdb.connect(str(home.warehouse_path), read_only=True)
    truth = con.execute("select batch_size, input_tokens, output_tokens, " + ", ".join(TARGETS) +
                        " from raw.benchmark_runs where run_id = ? and status = 'ok'", [run_id]).df()
    # the noisiest run's median repeat CV: one run measured while the machine was busy is enough to
    # make "before vs after" measure the load instead of the calibration
    noise = con.execute("select max(cv) from (select run_id, median(latency_cv) as cv from raw.benchmark_runs "
                        "where status = 'ok' group by run_id)").fetchone()[0]
    con.close()
    truth_by_key = {(int(r.batch_size), int(r.input_tokens), int(r.output_tokens)): r for r in truth.itertuples()}
    errors = {}
    for target in TARGETS:
        y = np.array([getattr(truth_by_key[keys[i]], target) if keys[i] in truth_by_key else np.nan for i in rest])
        ok = np.isfinite(y) & (y > 0)
        errors[target] = {
            name: float(np.median(np.abs(frame[target].to_numpy()[rest][ok] - y[ok]) / y[ok]) * 100)
            for name, frame in (("before", before), ("after", after))}
        errors[target]["points"] = int(ok.sum())
    print(json.dumps({"plan": {key: meta[key] for key in ("sweep", "planned_points", "points", "expected_error_before_pct",
                                                          "expected_error_after_pct", "measured_rows")},
                      "calibrated_points": len(chosen), "scored_points": len(rest), "mdape_pct": errors,
                      "worst_run_median_latency_cv": None if noise is None else float(noise),
                      "wall_s": round(time.perf_counter() - started, 1)}, default=str))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
