"""The refresh condition, kept importable here for ``training/`` and ``reports/``.

They should import :mod:`inference_estimation.defs.conditions` (shared by every stage, so no stage
imports another); then this module goes.
"""

from inference_estimation.defs.conditions import no_dep_failed_a_blocking_check, refresh_after_new_data

__all__ = ["no_dep_failed_a_blocking_check", "refresh_after_new_data"]
