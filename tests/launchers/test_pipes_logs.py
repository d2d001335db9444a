"""Pipes messages carried on a log stream, read back from REAL child processes.

The child gets exactly the environment the dstack launcher renders into its task; its stdout and
stderr are merged into one stream with pseudo-terminal line ends and cut into arbitrary chunks --
the shape in which dstack's log API returns a job's output.
"""

import subprocess
import sys
import textwrap
from types import SimpleNamespace

import dagster as dg
import pytest

from inference_estimation.launchers import LauncherError
from inference_estimation.launchers.base import records_from_messages
from inference_estimation.launchers.pipes_logs import PipesLogStreamMessageReader
from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.sweeps.planning import build_job_spec
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

DIES_MIDWAY = textwrap.dedent("""\
    # Stands in for a job that dies midway: one valid row over Pipes, then a crash (exit 3).
    import os, sys
    from datetime import datetime, timezone
    from dagster_pipes import open_dagster_pipes
    pipes = open_dagster_pipes()
    spec = pipes.extras["spec"]
    print("loading model...", flush=True)
    pipes.report_custom_message({"type": "measurement", "record": {
        "source": "local", "run_id": spec["run_id"], "sweep": spec["sweep"],
        "partition_key": spec["partition_key"], "model_key": spec["model"]["key"],
        "hardware_key": spec["hardware_key"], "measured_at": datetime.now(timezone.utc).isoformat(),
        "batch_size": 1, "input_tokens": 8, "output_tokens": 4, "e2e_latency_s": 0.5, "ttft_s": 0.1,
        "tpot_s": 0.1, "power_source": "none", "power_scope": "device"}})
    sys.stderr.flush()
    print("CUDA error: an illegal memory access was encountered", file=sys.stderr, flush=True)
    os._exit(3)
""")


def _tiny_spec(hardware_key: str = "local-cpu", run_id: str = "pipes-logs-test"):
    catalog = load_catalog(overlay_dirs=[])
    spec = build_job_spec(run_id, catalog.model("llama-small-55m"), catalog.hw(hardware_key),
                          catalog.sweep("test-tiny"), None)
    payload = spec.to_dict()
    payload["points"] = payload["points"][:1]
    payload["device"] = "cpu"  # the child runs here, whatever the target
    payload["settings"]["threads"] = 2
    return spec, payload


def _as_log_chunks(output: bytes, sizes=(7, 130, 1, 4096, 33)) -> list[bytes]:
    r"""A job's merged output as a pseudo-terminal writes it ("\\r\\n") cut into uneven chunks."""
    data = output.replace(b"\n", b"\r\n")
    chunks, i, k = [], 0, 0
    while i < len(data):
        chunks.append(data[i:i + sizes[k % len(sizes)]])
        i += sizes[k % len(sizes)]
        k += 1
    return chunks


def _run_child(command: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    proc = subprocess.run(command, env={"PATH": "/usr/bin:/bin", **env, "PYTHONPATH": str(REPO_ROOT)},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, cwd=REPO_ROOT, check=False)
    return proc.returncode, proc.stdout


def test_real_harness_rows_come_back_through_the_log_stream_reader():
    spec, payload = _tiny_spec()
    seen = {}

    @dg.asset
    def remote_like(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        reader = PipesLogStreamMessageReader()
        with dg.open_pipes_session(context=context, context_injector=dg.PipesEnvContextInjector(),
                                   message_reader=reader, extras={"spec": payload}) as session:
            env = {**session.get_bootstrap_env_vars(), "OMP_NUM_THREADS": "2", "HF_HUB_OFFLINE": "1"}
            seen["returncode"], output = _run_child([sys.executable, "-m", "benchmark_jobs", "run", "--pipes"], env)
            for chunk in _as_log_chunks(output):
                reader.consume(chunk)
        seen["messages_read"] = reader.messages_read
        seen["records"] = records_from_messages(list(session.get_custom_messages()), spec.run_id)
        return dg.MaterializeResult(metadata={"rows": len(seen["records"])})

    assert dg.materialize([remote_like], instance=dg.DagsterInstance.ephemeral()).success
    assert seen["returncode"] == 0
    records = seen["records"]
    assert len(records) == 1
    assert records[0].run_id == spec.run_id and records[0].model_key == "llama-small-55m"
    assert records[0].status == "ok" and records[0].e2e_latency_s > 0
    assert seen["messages_read"] >= 3  # opened, the row, logs..., closed


def test_reader_rebuilds_lines_split_across_chunks_and_keeps_plain_output():
    handled = []
    reader = PipesLogStreamMessageReader()
    with reader.read_messages(SimpleNamespace(handle_message=handled.append)):
        message = '{"__dagster_pipes_version": "0.1", "method": "log", "params": {"message": "hi", "level": "info"}}'
        for chunk in ["progress 10%\r", "progress 20%" + message[:20], message[20:] + "\r\n", "tail line"]:
            reader.consume(chunk)
    assert [m["params"]["message"] for m in handled] == ["hi"]
    assert reader.tail() == ["progress 10%", "progress 20%", "tail line"]


class _StandInDstack:
    """A dstack client whose one run executes the rendered task's command LOCALLY with the task's
    own environment (the part a real server would do on a cloud machine)."""

    def __init__(self, command: list[str], exit_reason: str | None):
        self.command, self.exit_reason, self.stopped = command, exit_reason, False
        self.runs = self

    def apply_configuration(self, configuration, repo=None, reserve_ports=True):
        env = {**configuration.env.as_dict(), "OMP_NUM_THREADS": "2"}
        code, output = _run_child(self.command, env)
        reason = "done_by_runner" if code == 0 else self.exit_reason
        submission = SimpleNamespace(
            status=SimpleNamespace(value="done" if code == 0 else "failed"), termination_reason=reason,
            termination_reason_message=None, error=None, exit_status=code,
            job_provisioning_data=SimpleNamespace(
                backend=SimpleNamespace(value="stand-in"), instance_type=SimpleNamespace(name="local"),
                region="loopback", price=0.0, instance_id="i-local"))
        model = SimpleNamespace(status=SimpleNamespace(value="done" if code == 0 else "failed"),
                                termination_reason="all_jobs_done" if code == 0 else "job_failed", cost=0.0,
                                jobs=[SimpleNamespace(job_submissions=[submission])])
        client = self

        class Run:
            name = configuration.name
            _run = model
            status = model.status

            def refresh(self):
                pass

            def logs(self):
                return iter(_as_log_chunks(output))

            def stop(self, abort=False):
                client.stopped = True

        return Run()


def _launch_with(stand_in: _StandInDstack, hardware_key: str = "nvidia-l4"):
    pytest.importorskip("dstack.api", reason="dstack is not installed")
    from inference_estimation.launchers.dstack import DstackLauncher

    spec, payload = _tiny_spec(hardware_key, run_id="stand-in-run")
    from benchmark_jobs.spec import JobSpec

    spec = JobSpec.from_dict(payload)
    launcher = DstackLauncher(load_catalog(overlay_dirs=[]).hw(hardware_key), client=stand_in,
                              poll_interval_s=0, sleep=lambda _s: None)
    out = {}

    @dg.asset
    def remote_benchmark(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        out["result"] = launcher.launch(context, spec, secrets={"HF_TOKEN": "hf_secret_value"})
        return dg.MaterializeResult(metadata=out["result"].metadata)

    result = dg.materialize([remote_benchmark], instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    return result, out.get("result"), spec


def test_dstack_launcher_returns_rows_sent_over_the_job_log_with_run_metadata():
    result, launched, spec = _launch_with(
        _StandInDstack([sys.executable, "-m", "benchmark_jobs", "run", "--pipes"], exit_reason=None))
    assert result.success
    assert len(launched.records) == 1 and launched.records[0].run_id == spec.run_id
    metadata = launched.metadata
    assert metadata["launcher"] == "dstack" and metadata["dstack_run_name"].startswith("ie-")
    assert metadata["dstack_instance_type"] == "local" and metadata["dstack_region"] == "loopback"
    assert {"dstack_backend", "dstack_price_per_hour_usd", "dstack_cost_usd"} <= set(metadata)
    assert "hf_secret_value" not in repr(metadata)
    assert all("hf_secret_value" not in (e.message or "") for e in result.all_events)


def test_job_that_dies_midway_is_a_launcher_error_and_returns_no_rows(tmp_path):
    script = tmp_path / "dies_midway.py"
    script.write_text(DIES_MIDWAY)
    stand_in = _StandInDstack([sys.executable, str(script)], exit_reason="container_exited_with_error")
    result, launched, _ = _launch_with(stand_in)
    assert not result.success and launched is None
    failure = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error
    message = failure.message + (failure.cause.message if failure.cause else "")
    assert LauncherError.__name__ in message and "container_exited_with_error" in message
    assert "exit status 3" in message and "nothing landed" in message
    assert "CUDA error: an illegal memory access" in message  # the job's last words reach the user
    assert not stand_in.stopped  # it had already finished; nothing to stop


def test_a_message_written_in_several_pieces_is_read_whole_and_none_after_it_is_lost(tmp_path):
    """Dagster's own file tailing parsed half-written lines (a long record arrives in several
    writes), killing its reader thread and every later row with it."""
    import json
    import threading
    import time

    from inference_estimation.launchers.pipes_logs import whole_lines

    path = tmp_path / "messages"
    path.write_text("")
    done = threading.Event()
    long = json.dumps({"method": "report_custom_message", "params": {"payload": "x" * 20000}})

    def write() -> None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(long[:100])
            f.flush()
            time.sleep(0.2)  # the reader polls meanwhile and finds half a line
            f.write(long[100:] + "\n")
            f.write('{"method": "closed"}')  # a last line without its newline, written before the end
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    lines = list(whole_lines(str(path), done.is_set, poll_s=0.01))
    writer.join()
    assert [json.loads(line)["method"] for line in lines] == ["report_custom_message", "closed"]
    assert len(json.loads(lines[0])["params"]["payload"]) == 20000
