"""Runs one benchmark partition as its own run in a separate process (multiprocess executor by default).

    python -m tests.ops.multiprocess_run <model_key> <sweep> [multiprocess|in_process]

``INFERENCE_ESTIMATION_HOME`` and ``DAGSTER_HOME`` come from the environment. Used by the
concurrency tests, which start several of these at once against one warehouse and one instance.
``in_process`` runs the job with the code location's own executor (steps in the run's process).
"""

import sys

import dagster as dg


def benchmark_job_multiprocess() -> dg.JobDefinition:
    """The code location's benchmark_job with the multiprocess executor (each step its own process)."""
    from inference_estimation.definitions import defs

    return defs.resolve_job_def("benchmark_job").with_executor_def(dg.multiprocess_executor)


def benchmark_job_in_process() -> dg.JobDefinition:
    """The code location's benchmark_job as deployed (its in-process executor)."""
    from inference_estimation.definitions import defs

    return defs.resolve_job_def("benchmark_job")


def main(model_key: str, sweep: str, executor: str = "multiprocess") -> int:
    from inference_estimation import constants
    from inference_estimation.defs.benchmark_requests import benchmark_run_config
    from inference_estimation.defs.partitions import benchmark_partition_key

    key = benchmark_partition_key(model_key, "local-cpu")
    job, execution = benchmark_job_in_process, {}
    if executor == "multiprocess":
        # Step processes fork from a server that imported the code location once.
        job, execution = benchmark_job_multiprocess, {"execution": {"config": {"max_concurrent": 2, "start_method": {
            "forkserver": {"preload_modules": ["inference_estimation.definitions"]}}}}}
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(
            dg.reconstructable(job), instance=instance, run_config={**benchmark_run_config(sweep), **execution},
            tags={"dagster/partition": str(key), constants.HOST_TAG: "localhost",
                  **{f"dagster/partition/{dim}": k for dim, k in key.keys_by_dimension.items()}},
        )
        print(f"{model_key}: run {result.run_id} success={result.success}", flush=True)
        return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
