"""Runs one benchmark partition as its own run with the multiprocess executor (a separate process).

    python -m tests.ops.multiprocess_run <model_key> <sweep>

``INFERENCE_ESTIMATION_HOME`` and ``DAGSTER_HOME`` come from the environment. Used by the
concurrency test, which starts several of these at once against one warehouse and one instance.
"""

import sys

import dagster as dg


def benchmark_job_multiprocess() -> dg.JobDefinition:
    """The code location's benchmark_job with the multiprocess executor (each step its own process)."""
    from inference_estimation.definitions import defs

    return defs.resolve_job_def("benchmark_job").with_executor_def(dg.multiprocess_executor)


def main(model_key: str, sweep: str) -> int:
    from inference_estimation import constants
    from inference_estimation.defs.benchmarks.partitions import benchmark_partition_key

    key = benchmark_partition_key(model_key, "local-cpu")
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(
            dg.reconstructable(benchmark_job_multiprocess), instance=instance,
            run_config={"ops": {"benchmark_runs": {"config": {"sweep": sweep}}},
                        # Step processes fork from a server that imported the code location once.
                        "execution": {"config": {"max_concurrent": 2, "start_method": {"forkserver": {
                            "preload_modules": ["inference_estimation.definitions"]}}}}},
            tags={"dagster/partition": str(key), constants.HOST_TAG: "localhost",
                  **{f"dagster/partition/{dim}": k for dim, k in key.keys_by_dimension.items()}},
        )
        print(f"{model_key}: run {result.run_id} success={result.success}", flush=True)
        return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
