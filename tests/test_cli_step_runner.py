"""The sweep's step runner: one status line per job, a job's own output only when it fails, and a
"still running" heartbeat while a long job runs (driven here by stand-in jobs, no Dagster run)."""

import re
import threading
import time
from types import SimpleNamespace

import pytest

from inference_estimation.cli.sweep import (
    HEARTBEAT_ENV,
    HEARTBEAT_TERMINAL_S,
    StepRunner,
    heartbeat_interval_s,
)


class _Job:
    def __init__(self, seconds: float, success: bool = True):
        self.seconds, self.success = seconds, success

    def execute_in_process(self, instance, raise_on_error, **kwargs):
        assert raise_on_error is False
        print("dbt chatter that only a failure shows")
        time.sleep(self.seconds)
        error = SimpleNamespace(to_string=lambda: "RuntimeError: the harness died")
        events = [] if self.success else [SimpleNamespace(is_step_failure=True, step_key="benchmark_runs",
                                                          event_specific_data=SimpleNamespace(error=error))]
        return SimpleNamespace(success=self.success, run_id="0123456789abcdef", all_events=events)


class _Defs:
    def __init__(self, job: _Job):
        self.job = job

    def resolve_job_def(self, name: str) -> _Job:
        return self.job


def _heartbeats(text: str) -> list[str]:
    return [line for line in text.splitlines() if "still running" in line]


def test_a_long_step_prints_a_heartbeat_at_the_interval_the_env_var_sets_and_none_after_it_ends(
        monkeypatch, capsys):
    monkeypatch.setenv(HEARTBEAT_ENV, "0.3")
    run = StepRunner(_Defs(_Job(seconds=1.2)), instance=None, heartbeat_s=heartbeat_interval_s())
    assert run("benchmark gpt2-medium on local-cpu", "benchmark_job", partition_key="k").success
    lines = capsys.readouterr().out.splitlines()
    beats = _heartbeats("\n".join(lines))
    assert len(beats) >= 2, lines
    assert all(re.fullmatch(r"\[\s*\d+\.\ds\]   \.\.\. still running benchmark gpt2-medium on local-cpu "
                            r"\(\d+\.\d min\)", line) for line in beats), beats
    # between the step's start line and its status line, never after it
    assert lines[0].endswith("] benchmark gpt2-medium on local-cpu ...")
    assert re.fullmatch(r"\[\s*\d+\.\ds\] benchmark gpt2-medium on local-cpu: ok in \d+\.\ds \(run 01234567\)",
                        lines[-1]), lines
    assert "dbt chatter" not in "\n".join(lines)
    time.sleep(0.7)
    assert _heartbeats(capsys.readouterr().out) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("heartbeat")]


def test_a_step_shorter_than_the_interval_prints_no_heartbeat(capsys):
    run = StepRunner(_Defs(_Job(seconds=0.1)), instance=None, heartbeat_s=5)
    run("dbt build", "transform_job")
    assert _heartbeats(capsys.readouterr().out) == []


def test_a_failed_step_shows_its_output_and_errors_and_keeps_its_heartbeat_on_stdout(capsys):
    run = StepRunner(_Defs(_Job(seconds=0.5, success=False)), instance=None, heartbeat_s=0.2)
    assert not run("benchmark gpt2-small on local-cpu", "benchmark_job").success
    out, err = capsys.readouterr()
    assert _heartbeats(out) and not _heartbeats(err)
    assert out.splitlines()[-1].split("] ", 1)[1].startswith("benchmark gpt2-small on local-cpu: FAILED in ")
    assert "dbt chatter that only a failure shows" in err and "benchmark_runs: RuntimeError: the harness died" in err


class _Terminal:
    def __init__(self, tty: bool):
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("env, tty, expected", [
    (None, True, HEARTBEAT_TERMINAL_S),  # a terminal: every minute
    (None, False, None),                 # a pipe or a log file: none (make's output stays short)
    ("1", False, 1.0),                   # the env var sets it anywhere
    ("0", True, None),                   # ... or turns it off
])
def test_the_heartbeat_interval_comes_from_the_env_var_else_from_whether_stdout_is_a_terminal(
        monkeypatch, env, tty, expected):
    if env is None:
        monkeypatch.delenv(HEARTBEAT_ENV, raising=False)
    else:
        monkeypatch.setenv(HEARTBEAT_ENV, env)
    assert heartbeat_interval_s(_Terminal(tty)) == expected


def test_a_heartbeat_interval_that_is_not_a_number_is_named_in_one_warning_and_ignored(monkeypatch, capsys):
    monkeypatch.setenv(HEARTBEAT_ENV, "soon")
    assert heartbeat_interval_s(_Terminal(False)) is None
    assert capsys.readouterr().err.strip() == f"warning: {HEARTBEAT_ENV}='soon' is not a number of seconds >= 0; ignored"


def test_a_quiet_step_prints_nothing_when_it_succeeds_and_its_failure_when_it_fails(capsys):
    assert StepRunner(_Defs(_Job(seconds=0.0)), instance=None)("import mlperf", "import_job", quiet=True).success
    assert capsys.readouterr().out == ""
    assert not StepRunner(_Defs(_Job(seconds=0.0, success=False)), instance=None)(
        "import mlperf", "import_job", quiet=True).success
    out, err = capsys.readouterr()
    assert out.splitlines()[-1].split("] ", 1)[1].startswith("import mlperf: FAILED in ") and "harness died" in err


def test_a_pipe_gets_one_line_per_step_and_a_terminal_a_start_line_the_status_line_overwrites(capsys):
    StepRunner(_Defs(_Job(seconds=0.0)), instance=None)("dbt build", "transform_job")
    piped = capsys.readouterr().out
    assert len(piped.splitlines()) == 1 and "dbt build: ok in" in piped and "..." not in piped
    StepRunner(_Defs(_Job(seconds=0.0)), instance=None, live=True)("dbt build", "transform_job")
    live = capsys.readouterr().out
    start, status = live.split("\r")
    assert start.endswith("] dbt build ...") and "dbt build: ok in" in status and len(status) > len(start)
