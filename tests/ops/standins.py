"""Stand-ins for the parts of a benchmark machine a fault test must control.

* Backends that replace the transformers engine inside the REAL harness (``benchmark_jobs`` CLI,
  runner, trackers, Pipes): ``SyntheticBackend`` times a few milliseconds of sleep instead of a
  model, ``OomOnOnePointBackend`` runs out of memory at exactly one workload point.
* ``harness_interpreter`` writes an executable that the catalog's ``launcher.python`` can point at:
  it installs one of these backends and runs the real harness CLI.
* ``rows_interpreter`` writes a harness that sends given schema-valid rows (absurd ones, noisy ones).
* ``slow_harness_interpreter`` writes a harness that first waits for its peers (a slow remote launch).
"""

from __future__ import annotations

import stat
import sys
import textwrap
import time
from pathlib import Path

from benchmark_jobs.backends.base import Backend, GenerationTiming, PointTimeoutError

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The point OomOnOnePointBackend fails on: (batch_size, input_tokens).
OOM_POINT = (1, 16)


class SyntheticBackend(Backend):
    """Takes a fixed, made-up time per token instead of generating (so the CV is 0 on a busy machine).

    It sleeps for as long as it claims, so the energy tracker's wall clock agrees with it.
    """

    engine_name = "standin"

    @property
    def engine_version(self) -> str:
        return "0"

    @property
    def device_name(self) -> str | None:
        return "stand-in device"

    def load(self, model_spec, dtype, device, weight_source, *, threads=None, seed=0) -> None:
        self.model_key = model_spec.key

    def generate(self, batch_size, input_tokens, output_tokens, *, deadline_s=None) -> GenerationTiming:
        start = time.perf_counter()
        prefill_s, step_s = 0.0002 * input_tokens * batch_size, 0.0005 * batch_size
        token_times = tuple(start + prefill_s + i * step_s for i in range(output_tokens))
        end = token_times[-1] + 1e-4
        if deadline_s is not None and end > deadline_s:
            raise PointTimeoutError("the stand-in's made-up generation would pass the deadline")
        time.sleep(end - start)
        return GenerationTiming(start_s=start, token_times_s=token_times, end_s=end)

    def unload(self) -> None:
        pass


class OomOnOnePointBackend(SyntheticBackend):
    """Raises MemoryError (what torch raises when a CPU allocation fails) at :data:`OOM_POINT` only."""

    def generate(self, batch_size, input_tokens, output_tokens, *, deadline_s=None) -> GenerationTiming:
        if (batch_size, input_tokens) == OOM_POINT:
            raise MemoryError(f"stand-in: cannot allocate the KV cache for batch {batch_size} x {input_tokens} tokens")
        return super().generate(batch_size, input_tokens, output_tokens, deadline_s=deadline_s)


def _executable(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def harness_interpreter(folder: Path, backend: str) -> Path:
    """An interpreter stand-in that runs the real harness CLI with ``backend`` as its engine.

    The launcher runs ``<python> -m benchmark_jobs run --pipes``; this file takes those arguments.
    """
    return _executable(folder / f"harness-{backend}", textwrap.dedent(f"""\
        import hashlib, os, sys
        sys.path.insert(0, {str(REPO_ROOT)!r})
        import benchmark_jobs.backends as backends
        backends.BACKENDS["transformers"] = "tests.ops.standins:{backend}"
        token = os.environ.get("HF_TOKEN")
        if token:  # proves the secret arrived without ever printing it
            print("HF_TOKEN sha256 " + hashlib.sha256(token.encode()).hexdigest(), file=sys.stderr)
        from benchmark_jobs.cli import main
        assert sys.argv[1:4] == ["-m", "benchmark_jobs", "run"], sys.argv
        sys.exit(main(sys.argv[3:]))
        """))


#: Rows of the absurd harness: a zero latency, a zero throughput, power 100x a 65 W TDP, a latency
#: CV of 3 over 3 trials (more than sqrt(3): impossible), and one workload point twice.
ABSURD_ROWS = """[
    dict(base, batch_size=1, input_tokens=8, e2e_latency_s=0.0, ttft_s=0.0),
    dict(base, batch_size=1, input_tokens=16, output_throughput_tok_s=0.0),
    dict(base, batch_size=2, input_tokens=8, avg_power_w=6500.0),
    dict(base, batch_size=2, input_tokens=16, latency_cv=3.0),
    dict(base, batch_size=2, input_tokens=16, latency_cv=3.0),
]"""
#: Rows of the noisy harness: every point fine except one whose two trials disagree (CV 0.8).
NOISY_ROWS = """[
    dict(base, batch_size=1, input_tokens=8),
    dict(base, batch_size=1, input_tokens=16, latency_cv=0.8, n_trials=2),
    dict(base, batch_size=2, input_tokens=8),
    dict(base, batch_size=2, input_tokens=16),
]"""


#: Lines of a stand-in harness (inside ``with open_dagster_pipes() as pipes:``, after
#: ``spec = pipes.extras["spec"]``; needs ``datetime``/``timezone`` imported) that send ONE valid
#: measurement row of the spec's partition. Insert with ``str.format(send_one_row=SEND_ONE_ROW)``.
SEND_ONE_ROW = textwrap.indent(textwrap.dedent("""\
    pipes.report_custom_message({"type": "measurement", "record": {
        "source": "local", "run_id": spec["run_id"], "sweep": spec["sweep"],
        "partition_key": spec["partition_key"], "model_key": spec["model"]["key"],
        "hardware_key": spec["hardware_key"], "measured_at": datetime.now(timezone.utc).isoformat(),
        "batch_size": 1, "input_tokens": 8, "output_tokens": 4, "e2e_latency_s": 0.5, "ttft_s": 0.1,
        "tpot_s": 0.1, "power_source": "estimate", "power_scope": "cpu-package", "avg_power_w": 10.0,
        "energy_j": 5.0}})
"""), "    ").rstrip("\n")


def rows_interpreter(folder: Path, name: str, rows: str) -> Path:
    """A harness stand-in that sends the given schema-valid rows over real Pipes (``rows`` is a Python
    list expression over ``base``, a plausible row of the spec's run)."""
    return _executable(folder / f"harness-{name}", textwrap.dedent("""\
        from datetime import datetime, timezone
        from dagster_pipes import open_dagster_pipes
        with open_dagster_pipes() as pipes:
            spec = pipes.extras["spec"]
            base = {"source": "local", "run_id": spec["run_id"], "sweep": spec["sweep"],
                    "partition_key": spec["partition_key"], "model_key": spec["model"]["key"],
                    "hardware_key": spec["hardware_key"], "measured_at": datetime.now(timezone.utc).isoformat(),
                    "engine": "standin", "dtype": "float32", "output_tokens": 4, "e2e_latency_s": 0.5,
                    "ttft_s": 0.1, "tpot_s": 0.1, "output_throughput_tok_s": 8.0, "latency_cv": 0.02,
                    "n_trials": 3, "power_source": "rapl", "power_scope": "cpu-package", "avg_power_w": 40.0,
                    "energy_j": 20.0}
        """) + textwrap.indent(f"for row in {rows}:\n    pipes.report_custom_message({{'type': 'measurement', 'record': row}})\n", "    "))


def absurd_rows_interpreter(folder: Path) -> Path:
    """A harness stand-in sending :data:`ABSURD_ROWS` (schema-valid, physically absurd)."""
    return rows_interpreter(folder, "absurd", ABSURD_ROWS)


def noisy_rows_interpreter(folder: Path) -> Path:
    """A harness stand-in sending :data:`NOISY_ROWS` (one noisy point, nothing wrong)."""
    return rows_interpreter(folder, "noisy", NOISY_ROWS)


def slow_harness_interpreter(folder: Path, meet_dir: Path, peers: int, hold_s: float, wait_s: float = 30.0) -> Path:
    """A harness stand-in whose launch is slow, and slow at the same time as its peers' when they run at once.

    Before the real harness (with :class:`SyntheticBackend`) starts, each process checks in under
    ``meet_dir``, waits until ``peers`` processes have checked in (at most ``wait_s`` seconds: a
    launch that is never concurrent gives up waiting and runs alone), then sleeps ``hold_s``.
    """
    real = harness_interpreter(folder, "SyntheticBackend")
    return _executable(folder / "harness-slow", textwrap.dedent(f"""\
        import os, sys, time
        from pathlib import Path
        meet = Path({str(meet_dir)!r})
        meet.mkdir(parents=True, exist_ok=True)
        (meet / str(os.getpid())).touch()
        deadline = time.monotonic() + {wait_s!r}
        while len(list(meet.iterdir())) < {peers!r} and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep({hold_s!r})
        os.execv({str(real)!r}, [{str(real)!r}, *sys.argv[1:]])
        """))
