"""The duckdb pool holds only the landing: slow launches of two partitions overlap, their landings do not.

Two runs start at once, each a separate process with the code location's in-process executor (as
deployed), against one warehouse and the real Dagster instance of the home (``dagster.yaml``:
pool limit 1). Each launch
goes through the real local launcher to a harness stand-in that is slow (it waits for its peer,
then holds) -- what a benchmark on a remote machine looks like to Dagster.

The test itself holds the pool's only slot while the runs launch (as a long DuckDB writer would),
and lets it go once both runs wait at their landing. With the whole asset in the pool (as it once
was) no launch could start while the slot is held, and the two could never overlap.
"""

import os
import subprocess
import sys
import time

import dagster as dg
import pytest

from inference_estimation import constants
from inference_estimation.defs.benchmark_requests import benchmark_run_config, sweep_from_run_config
from inference_estimation.defs.benchmarks.config import BENCHMARK_ASSET, LAND_OP, LAUNCH_OP
from inference_estimation.defs.partitions import ensure_benchmark_partitions
from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.data import warehouse
from inference_estimation.lib.home import HOME_ENV, Home
from tests.ops.conftest import OPS_SWEEP, count_rows, launcher_overlay, sweep_overlay
from tests.ops.standins import slow_harness_interpreter

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = ("gpt2-small", "llama-small-55m")
#: How long each slow launch holds once both are in flight (the overlap the test must see).
HOLD_S = 3.0
LAUNCH_STEP, LAND_STEP = f"{BENCHMARK_ASSET}.{LAUNCH_OP}", f"{BENCHMARK_ASSET}.{LAND_OP}"
#: The run id and step key under which the test occupies the duckdb pool.
HOLDER = ("test-holds-the-duckdb-pool", "holder")


def step_events(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str | None, str, float, str]]:
    """(step key, event type, epoch seconds, message) of every Dagster event of a run."""
    return [(r.event_log_entry.step_key, r.event_log_entry.dagster_event.event_type_value,
             r.event_log_entry.timestamp, r.event_log_entry.dagster_event.message or "")
            for r in instance.get_records_for_run(run_id).records if r.event_log_entry.dagster_event]


def step_interval_s(events, step_key: str) -> tuple[float, float]:
    """(start, success) epoch seconds of one step."""
    start = next(t for k, kind, t, _ in events if k == step_key and kind == "STEP_START")
    end = next(t for k, kind, t, _ in events if k == step_key and kind == "STEP_SUCCESS")
    return start, end


def blocked_by_pool(events, step_key: str) -> bool:
    """Whether the executor reported the step waiting for a duckdb pool slot."""
    return any(k == step_key and f"blocked by limit for pool {constants.DUCKDB_POOL}" in message
               for k, _, _, message in events)


def overlap_s(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Seconds two intervals share (negative: the gap between them)."""
    return min(a[1], b[1]) - max(a[0], b[0])


def test_only_the_landing_op_of_benchmark_runs_holds_the_duckdb_pool_and_the_sweep_config_reaches_the_launch():
    from inference_estimation.defs.benchmarks.assets import benchmark_runs

    graph = benchmark_runs.node_def
    assert {node.name: node.definition.pool for node in graph.nodes} == {LAUNCH_OP: None,
                                                                         LAND_OP: constants.DUCKDB_POOL}
    config = benchmark_run_config("test-tiny")
    assert config == {"ops": {"benchmark_runs": {"config": {"sweep": "test-tiny"}}}}  # the path users type
    assert sweep_from_run_config(config) == "test-tiny"
    assert sweep_from_run_config({}) == constants.DEFAULT_SWEEP
    inner = graph.config_mapping.resolve_from_unvalidated_config(config["ops"][BENCHMARK_ASSET]["config"])
    assert inner == {LAUNCH_OP: {"config": {"sweep": "test-tiny"}}}


@pytest.mark.slow
def test_two_partitions_launch_concurrently_and_land_one_at_a_time_with_sleeping_stand_in_harness(tmp_path):
    home = Home(tmp_path / "home").ensure()
    python = slow_harness_interpreter(tmp_path, tmp_path / "meet", peers=len(MODELS), hold_s=HOLD_S)
    (home.catalog_dir / "ops.yaml").write_text(sweep_overlay(models=MODELS) + launcher_overlay(python))
    env = {**os.environ, HOME_ENV: str(home.root), "DAGSTER_HOME": str(home.dagster_home)}

    with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
        ensure_benchmark_partitions(instance, load_catalog(overlay_dirs=[home.catalog_dir]))
        storage = instance.event_log_storage
        assert instance.global_op_concurrency_default_limit == 1
        storage.initialize_concurrency_limit_to_default(constants.DUCKDB_POOL)
        assert storage.claim_concurrency_slot(constants.DUCKDB_POOL, *HOLDER).is_claimed
        runs = [subprocess.Popen([sys.executable, "-m", "tests.ops.multiprocess_run", model, OPS_SWEEP, "in_process"],
                                 cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for model in MODELS]
        try:
            # Wait (the pool still held) until both runs launched and then queued at their landing.
            deadline, events = time.monotonic() + 120, []
            while time.monotonic() < deadline and all(run.poll() is None for run in runs):
                events = [step_events(instance, r.run_id) for r in instance.get_runs()]
                if len(events) == 2 and all(blocked_by_pool(e, LAND_STEP) or any(
                        k == LAND_STEP and kind == "STEP_START" for k, kind, _, _ in e) for e in events):
                    break
                time.sleep(0.5)
            released_at = time.time()
        finally:
            storage.free_concurrency_slot_for_step(*HOLDER)
        outputs = [run.communicate(timeout=180)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], "\n".join(o[-3000:] for o in outputs)
        dagster_runs = instance.get_runs()
        assert len(dagster_runs) == 2 and {r.status for r in dagster_runs} == {dg.DagsterRunStatus.SUCCESS}
        assert {r.tags[constants.HOST_TAG] for r in dagster_runs} == {"localhost"}
        events = [step_events(instance, r.run_id) for r in dagster_runs]
        rows_landed = [r.event_log_entry.asset_materialization.metadata["rows_landed"].value
                       for run in dagster_runs for r in instance.get_records_for_run(
                           run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records]

    launches = [step_interval_s(e, LAUNCH_STEP) for e in events]
    landings = [step_interval_s(e, LAND_STEP) for e in events]
    launch_overlap_s, land_overlap_s = overlap_s(*launches), overlap_s(*landings)
    print(f"launch steps overlapped {launch_overlap_s:.2f} s, landing steps {land_overlap_s:.2f} s "
          f"(negative: the gap between them); launches ended {released_at - max(e for _, e in launches):.2f} s "
          f"before the test let go of the duckdb pool")
    # Both launches ran, together, while the duckdb pool's only slot was taken ...
    assert launch_overlap_s >= 0.8 * HOLD_S, launches
    assert all(end < released_at for _, end in launches), (launches, released_at)
    # ... and each landing waited for that slot, then the pool let one landing through at a time.
    assert all(blocked_by_pool(e, LAND_STEP) for e in events)
    assert all(start > released_at for start, _ in landings), (landings, released_at)
    assert land_overlap_s < 0, landings

    # Every row written was landed once: files == warehouse == the materializations' rows_landed.
    files = sorted(home.parquet_dir.rglob("*.parquet"))
    assert len(files) == 2
    written = sum(len(warehouse.read_run_parquet(f)) for f in files)
    grain = "source, run_id, model_key, batch_size, input_tokens, output_tokens, dtype"
    assert written == count_rows(home) == sum(rows_landed) == 8
    assert count_rows(home, f"select count(*) from (select distinct {grain} from raw.benchmark_runs)") == written
