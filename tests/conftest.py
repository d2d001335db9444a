"""Test session set-up: one temporary INFERENCE_ESTIMATION_HOME for the whole session.

It is set before any test module imports the code location, so the Dagster resources (DuckDB
file, dbt profile) and the Dagster instance all point inside it; nothing touches the user's home.
"""

import ast
import functools
import os
import shutil
import tempfile
from pathlib import Path

_SESSION_HOME = Path(tempfile.mkdtemp(prefix="ie-test-home-"))
os.environ["INFERENCE_ESTIMATION_HOME"] = str(_SESSION_HOME)
os.environ["DAGSTER_HOME"] = str(_SESSION_HOME / "dagster")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from inference_estimation.lib.home import activate_home

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The public datasets, read in place (CI lays shared/ beside the clone; never copied into the repo).
EXTERNAL_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "external"
activate_home(_SESSION_HOME)


def pytest_sessionfinish(session, exitstatus):
    """The session's temporary home goes when the session ends (a test keeps what it needs in
    its own tmp_path)."""
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


@functools.cache
def _uses_pipeline(module: str) -> bool:
    """Whether a test module (its path from the repo root) has a test or fixture that takes the
    session ``pipeline`` fixture (read from its source: the xdist controller collects nothing)."""
    path = REPO_ROOT / module
    if not path.suffix == ".py" or not path.is_file():
        return False
    functions = (n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    return any(a.arg == "pipeline" for f in functions for a in f.args.args + f.args.kwonlyargs)


def pytest_collection_modifyitems(config, items):
    """Runs the longest work first, whole modules at a time: the modules that use the session
    ``pipeline`` fixture, then the modules with a ``slow`` test, then the rest (each module's tests
    in file order, the modules of a group in collection order). With ``make test``'s
    ``--no-loadscope-reorder`` the xdist scheduler below hands out its units in this order."""
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}

    def rank(item) -> int:
        module = item.nodeid.split("::")[0]
        return 0 if _uses_pipeline(module) else 1 if module in slow else 2

    items[:] = sorted(items, key=rank)  # stable: collection order within a rank


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``make test``'s scheduler on several workers: each test module is one unit of work (its
    module-scoped fixtures are built once), and every module that uses the session ``pipeline``
    fixture is in one unit, so that fixture is built on one worker, not on each."""
    if config.getvalue("dist") != "load":  # the default of -n; an explicit --dist keeps its own scheduler
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "pipeline" if _uses_pipeline(module) else module

    return ModuleScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def _session_benchmark_partitions():
    """The session instance holds the catalog's benchmark partition keys, as the running
    ``catalog_partitions_sensor`` keeps them in a real deployment."""
    import dagster as dg

    from inference_estimation.defs.partitions import ensure_benchmark_partitions
    from inference_estimation.lib.catalog import load_catalog

    ensure_benchmark_partitions(dg.DagsterInstance.get(), load_catalog(strict=False))


@pytest.fixture(scope="session")
def session_home():
    """The session's INFERENCE_ESTIMATION_HOME (a temporary folder)."""
    return activate_home(_SESSION_HOME)


SWEEP = "test-tiny"
MODELS = ("gpt2-small", "llama-small-55m")
#: The trained primitives (training partitions); the other answers are derived from them.
TARGETS = ("ttft_s", "tpot_s", "avg_power_w", "peak_memory_gb")


def partition(model: str, hardware: str = "local-cpu"):
    """The benchmark partition key of a pair."""
    import dagster as dg

    return dg.MultiPartitionKey({"model": model, "hardware": hardware})


def bench_config(sweep: str = SWEEP) -> dict:
    """Run config selecting a sweep for benchmark_runs."""
    from inference_estimation.defs.benchmark_requests import benchmark_run_config

    return benchmark_run_config(sweep)


@pytest.fixture(scope="session")
def pipeline(session_home):
    """Materializes, in-process in the session home: catalog facts, the test-tiny benchmark
    partitions, dbt, and every predictor + SHAP report. Runs once per session."""
    import dagster as dg

    from inference_estimation.definitions import defs

    instance = dg.DagsterInstance.get()
    results = {"catalog": defs.resolve_job_def("catalog_job").execute_in_process(instance=instance)}
    for model in MODELS:
        results[model] = defs.resolve_job_def("benchmark_job").execute_in_process(
            instance=instance, partition_key=partition(model), run_config=bench_config())
    results["dbt"] = defs.resolve_job_def("transform_job").execute_in_process(instance=instance)
    for target in TARGETS:
        # raise_on_error=False: a predictor that does not beat its baselines fails the blocking
        # promotion gate (the run fails by design; tests assert on what happened).
        results[target] = defs.resolve_job_def("training_job").execute_in_process(
            instance=instance, partition_key=target, raise_on_error=False)
    results["performance_model"] = defs.resolve_job_def("performance_model_job").execute_in_process(
        instance=instance, run_config={"ops": {"performance_model_evaluation": {"config": {"folds": 2,
                                                                                         "iterations": 50}}}})
    return results


#: Credentials of the loopback S3 API server (moto accepts any; these check that none leak).
S3_TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing-key-id", "AWS_SECRET_ACCESS_KEY": "testing-secret-4f1c"}
S3_TEST_BUCKET = "ie-pipes-test"


@pytest.fixture(scope="session")
def s3_endpoint():
    """An S3 API server (moto, standing in for the cloud's object storage) on a free loopback port,
    with the test bucket created. Skips where the `cloud-test` extra is not installed."""
    pytest.importorskip("dagster_aws", reason="the `cloud` extra is not installed")
    pytest.importorskip("moto", reason="the `cloud-test` extra is not installed")
    from moto.server import ThreadedMotoServer

    from inference_estimation.launchers.object_store import S3MessageStore

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    S3MessageStore(bucket=S3_TEST_BUCKET, endpoint_url=url, region="us-east-1",
                   credentials=S3_TEST_CREDENTIALS).client().create_bucket(Bucket=S3_TEST_BUCKET)
    yield url
    server.stop()
