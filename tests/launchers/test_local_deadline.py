"""The local launcher's wall-clock deadline, and a harness killed from outside.

A hung job must not hold its host tag forever: past the deadline the launcher kills the
harness's whole process group and the run fails with nothing landed. The runs go through the
real chain (benchmark_runs asset, local launcher, Dagster Pipes, parquet, DuckDB) in a home of
their own.
"""

from __future__ import annotations

import os
import stat
import sys
import textwrap
import threading
import time
from pathlib import Path

import dagster as dg
import psutil
import pytest

from benchmark_jobs.spec import JobSpec
from inference_estimation.launchers import local
from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.home import HOME_ENV, Home
from inference_estimation.lib.sweeps.planning import build_job_spec
from tests.launchers.conftest import wait_for
from tests.ops.conftest import count_rows, materialize_partition, metadata, sweep_overlay
from tests.ops.standins import SEND_ONE_ROW

#: A harness stand-in that hangs: it starts a grandchild (in its process group), writes both
#: pids, sends one valid row, then sleeps forever without finishing -- a hung model build or a
#: deadlocked engine, as the launcher sees it.
HUNG_HARNESS = textwrap.dedent("""\
    import subprocess, sys, time
    from datetime import datetime, timezone
    from pathlib import Path
    from dagster_pipes import open_dagster_pipes
    with open_dagster_pipes() as pipes:
        spec = pipes.extras["spec"]
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        Path({pids_path!r}).write_text(f"{{__import__('os').getpid()}} {{grandchild.pid}}")
    {send_one_row}
        while True:
            time.sleep(60)
""")


@pytest.fixture
def isolated_home(tmp_path, monkeypatch) -> Home:
    """A fresh INFERENCE_ESTIMATION_HOME for this test only (the session home is untouched)."""
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    return Home(tmp_path / "home").ensure()


def _hung_harness(folder: Path, pids_path: Path) -> Path:
    path = folder / "harness-hung"
    path.write_text(f"#!{sys.executable}\n" + HUNG_HARNESS.format(pids_path=str(pids_path), send_one_row=SEND_ONE_ROW))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def _gone(pid: int) -> bool:
    """Whether no process has this pid any more (a zombie awaiting its reaper counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    failure = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
    return failure.message + (failure.cause.message if failure.cause else "")


def _assert_nothing_landed(home: Home) -> None:
    assert not home.warehouse_path.exists() or count_rows(home) == 0
    assert not list(home.parquet_dir.rglob("*.parquet"))


def _tiny_spec(point_timeout_s: float = 60.0, dtypes: tuple[str, ...] = ("float32",)) -> JobSpec:
    catalog = load_catalog()
    sweep = catalog.sweep("test-tiny").model_copy(update={"point_timeout_s": point_timeout_s, "dtypes": list(dtypes)})
    return build_job_spec("deadline-test", catalog.model("gpt2-small"), catalog.hw("local-cpu"), sweep, None)


def test_job_deadline_is_startup_plus_one_build_per_dtype_plus_twice_each_point_timeout():
    timeout_s, formula = local.job_timeout_s(_tiny_spec())
    assert timeout_s == 300 + 600 + 4 * (2 * 60 + 60) == 1620
    assert "4 point(s)" in formula and "point_timeout_s 60 s" in formula and "1 model build(s)" in formula
    two_dtypes_s, _ = local.job_timeout_s(_tiny_spec(point_timeout_s=10, dtypes=("float32", "bfloat16")))
    assert two_dtypes_s == 300 + 2 * 600 + 8 * (2 * 10 + 60)


def test_launcher_timeout_s_of_the_hardware_entry_overrides_the_computed_deadline():
    assert local.LocalLauncher(timeout_s=7).deadline(_tiny_spec()) == (7.0, "the hardware entry's launcher.timeout_s")
    assert local.LocalLauncher().deadline(_tiny_spec()) == local.job_timeout_s(_tiny_spec())


@pytest.mark.parametrize("knob", ["launcher_timeout_s", "formula"])
def test_a_hung_standin_harness_is_killed_with_its_process_group_at_the_deadline_and_nothing_lands(
        isolated_home, tmp_path, monkeypatch, knob):
    pids_path = tmp_path / "pids"
    python = _hung_harness(tmp_path, pids_path)
    if knob == "launcher_timeout_s":
        timeout_s, point_timeout_s, expected = 3, 30.0, "deadline of 3 s (the hardware entry's launcher.timeout_s)"
    else:  # the formula with tiny allowances: 1 s + 0 + 4 points x (2 x 0.5 s + 0) = 5 s
        timeout_s, point_timeout_s, expected = None, 0.5, "deadline of 5 s (1 s start-up"
        monkeypatch.setattr(local, "STARTUP_ALLOWANCE_S", 1.0)
        monkeypatch.setattr(local, "MODEL_BUILD_ALLOWANCE_S", 0.0)
        monkeypatch.setattr(local, "POINT_ALLOWANCE_S", 0.0)
    knob_yaml = f", timeout_s: {timeout_s}" if timeout_s else ""
    (isolated_home.catalog_dir / "ops.yaml").write_text(
        sweep_overlay(point_timeout_s=point_timeout_s)
        + f"hardware:\n  - key: local-cpu\n    launcher: {{type: local, threads: 1, python: '{python}'{knob_yaml}}}\n")

    start_s = time.monotonic()
    result = materialize_partition(isolated_home, "gpt2-small")
    elapsed_s = time.monotonic() - start_s

    assert not result.success
    message = _failure_message(result)
    assert "LauncherError" in message and expected in message, message
    assert "passed its deadline" in message and "process group was killed" in message and "nothing landed" in message
    assert "gpt2-small" in message and "(run " in message  # names the partition and the run
    assert elapsed_s < 60, elapsed_s  # stopped at the deadline, not left to hang
    _assert_nothing_landed(isolated_home)
    harness_pid, grandchild_pid = map(int, pids_path.read_text().split())
    assert wait_for(lambda: _gone(harness_pid) and _gone(grandchild_pid), timeout_s=10, interval_s=0.1), (
        f"stand-in {harness_pid} or its grandchild {grandchild_pid} outlived the deadline")


def _harness_process(home: Home) -> psutil.Process | None:
    """The real harness this test's run started: a child running benchmark_jobs in ``home``."""
    for child in psutil.Process().children(recursive=True):
        try:
            if "benchmark_jobs" in child.cmdline() and child.environ().get(HOME_ENV) == str(home.root):
                return child
        except psutil.Error:
            continue
    return None


def _logged(instance: dg.DagsterInstance, text: str) -> bool:
    """Whether any run of ``instance`` has logged a message containing ``text`` so far."""
    return any(text in (event.user_message or "")
               for run in instance.get_runs() for event in instance.all_logs(run.run_id))


@pytest.mark.slow
def test_the_real_harness_killed_from_outside_mid_run_lands_nothing_and_a_rerun_lands_every_row(isolated_home):
    instance = dg.DagsterInstance.ephemeral()
    outcome: dict[str, dg.ExecuteInProcessResult] = {}
    run = threading.Thread(target=lambda: outcome.setdefault(
        "killed", materialize_partition(isolated_home, "gpt2-small", sweep="test-tiny", instance=instance)))
    run.start()
    try:
        harness = wait_for(lambda: _harness_process(isolated_home), timeout_s=60, interval_s=0.05)
        assert harness is not None, "the real harness never started"
        # "point 2/4" is logged once the first point has been measured and its row sent.
        assert wait_for(lambda: _logged(instance, "point 2/4"), timeout_s=120, interval_s=0.05), (
            "the harness never started measuring")
        os.kill(harness.pid, 9)
    finally:
        run.join(timeout=300)
    assert not run.is_alive()

    killed = outcome["killed"]
    assert not killed.success
    message = _failure_message(killed)
    assert "LauncherError" in message and "exited with code -9" in message and "nothing landed" in message
    _assert_nothing_landed(isolated_home)

    rerun = materialize_partition(isolated_home, "gpt2-small", sweep="test-tiny", instance=instance)
    assert rerun.success
    meta = metadata(rerun)
    assert meta["rows_landed"] == meta["points"] == 4 == count_rows(isolated_home)
    assert meta["timeout_s"] == local.job_timeout_s(_tiny_spec())[0] == 1620  # the spec's own deadline
    assert len(list(isolated_home.parquet_dir.rglob("*.parquet"))) == 1
