"""Run-time knobs of the benchmark stage."""

import dagster as dg

from inference_estimation import constants


class BenchmarkConfig(dg.Config):
    """Which sweep a benchmark partition runs.

    Attributes:
        sweep: a sweep name from the catalog (``test-tiny``, ``local-demo``, ...).
    """

    sweep: str = constants.DEFAULT_SWEEP


class ProbeConfig(dg.Config):
    """The local hardware probe.

    Attributes:
        probe_max_seconds: time budget of the matmul/memory probe per local CPU entry.
    """

    probe_max_seconds: float = 3.0
