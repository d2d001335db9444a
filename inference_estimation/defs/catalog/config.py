"""Run-time knobs of the catalog stage."""

import dagster as dg


class ProbeConfig(dg.Config):
    """The local hardware probe.

    Attributes:
        probe_max_seconds: time budget of the matmul/memory probe per local CPU entry.
    """

    probe_max_seconds: float = 3.0
