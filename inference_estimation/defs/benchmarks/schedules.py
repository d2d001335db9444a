"""One schedule per sweep in the catalog: every partition the sweep covers, one run each.

One schedule per sweep exists from when the code location loads (a sweep added to a YAML overlay
gets its schedule on the next reload); each tick then reads the catalog afresh, so models or
hardware added to an existing sweep are in the next weekly run without a reload (their partition
keys are added to the instance first). All start stopped: an unattended weekly sweep is opted into (UI, or
``dagster schedule start``). Runs carry their hardware's host tag, so partitions on one machine
queue one behind the other while partitions on different remote machines run side by side.
"""

import re
import warnings

import dagster as dg

from inference_estimation.defs.benchmark_requests import benchmark_run_request
from inference_estimation.defs.jobs import benchmark_job
from inference_estimation.defs.partitions import (
    benchmark_partition_key,
    ensure_benchmark_partitions,
)
from inference_estimation.defs.resources import CatalogResource
from inference_estimation.lib.catalog import Catalog, SweepEntry

#: Sunday 03:00 UTC: weekly, at an hour nobody is benchmarking by hand.
WEEKLY_CRON = "0 3 * * 0"


def schedule_name(sweep: SweepEntry) -> str:
    """``sweep_<name>_weekly`` with the sweep name made a valid Dagster name."""
    return f"sweep_{re.sub(r'[^A-Za-z0-9_]', '_', sweep.name)}_weekly"


def sweep_run_requests(catalog: Catalog, sweep: SweepEntry, stamp: str) -> list[dg.RunRequest]:
    """One run request per (model, hardware) pair of the sweep, with its sweep config and host tag.

    Args:
        catalog: the catalog the pairs come from.
        sweep: the sweep.
        stamp: what makes the run keys of one tick unique (the scheduled time).
    """
    return [benchmark_run_request(catalog, sweep.name, model_key, hardware_key,
                                  run_key=f"{sweep.name}:{benchmark_partition_key(model_key, hardware_key)}:{stamp}")
            for hardware_key in sweep.hardware for model_key in sweep.models]


def sweep_schedule(catalog: Catalog, sweep: SweepEntry) -> dg.ScheduleDefinition:
    """The weekly schedule of one sweep (stopped by default)."""

    @dg.schedule(name=schedule_name(sweep), cron_schedule=WEEKLY_CRON, job=benchmark_job, execution_timezone="UTC",
                 default_status=dg.DefaultScheduleStatus.STOPPED,
                 description=f"Weekly sweep {sweep.name!r}: {len(sweep.models)} model(s) x {len(sweep.hardware)} "
                 f"hardware, one run per partition. {sweep.description}".strip())
    def _schedule(context: dg.ScheduleEvaluationContext, catalog: CatalogResource):
        now = catalog.load()
        if sweep.name not in now.sweeps:
            return dg.SkipReason(f"sweep {sweep.name!r} is no longer in the catalog")
        ensure_benchmark_partitions(context.instance, now)
        return sweep_run_requests(now, now.sweeps[sweep.name], context.scheduled_execution_time.isoformat())

    return _schedule


@dg.definitions
def schedules() -> dg.Definitions:
    """A schedule for every sweep of the catalog as loaded now.

    An invalid overlay file is left out, with a warning naming its file and field, so it cannot
    take the code location down.
    """
    catalog = CatalogResource().load()  # the resource's default: the home's overlays, invalid ones left out
    for error in catalog.skipped_overlays:
        warnings.warn(f"catalog overlay left out: {error}", stacklevel=1)
    return dg.Definitions(schedules=[sweep_schedule(catalog, sweep) for sweep in catalog.sweeps.values()])
