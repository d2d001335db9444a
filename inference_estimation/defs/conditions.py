"""When derived assets refresh on their own: after new data lands, once its blocking checks passed.

``dagster.AutomationCondition.eager()`` does not fit assets downstream of the multi-partitioned
``benchmark_runs`` or of sources nobody imported yet: it waits while *any* dependency is missing
(any model x hardware pair never benchmarked, including pairs no sweep covers), and it requests
missing assets on the first tick even when there is nothing to build them from. This condition:

* fires when a dependency was updated (one new partition is enough) or will be in the same tick;
* waits while a dependency or the asset itself is being materialized;
* never fires while the latest evaluation of a blocking check of a dependency failed -- a
  dependency that was never materialized (a source nobody imported) does not block.
"""

import dagster as dg

AC = dg.AutomationCondition


def no_dep_failed_a_blocking_check() -> dg.AutomationCondition:
    """No dependency's blocking check failed its latest evaluation."""
    failed = AC.any_checks_match(AC.check_failed(), blocking_only=True)
    return (~AC.any_deps_match(failed)).with_label("no_dep_failed_a_blocking_check")


def refresh_after_new_data() -> dg.AutomationCondition:
    """Refresh after any dependency updates, never while one is in progress, never past a failed gate."""
    return (
        AC.in_latest_time_window()
        & AC.any_deps_updated().since_last_handled()
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
        & no_dep_failed_a_blocking_check()
    ).with_label("refresh_after_new_data")
