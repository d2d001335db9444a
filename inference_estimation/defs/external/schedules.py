"""Unattended upkeep of the public data.

A monthly re-import of every source and a daily freshness check (both stopped until turned on).
"""

import dagster as dg

from inference_estimation import constants
from inference_estimation.defs.external.checks import external_sources_fresh
from inference_estimation.defs.external.partitions import external_partitions
from inference_estimation.lib.data.external.importer import USER_CSV_SOURCE

#: First day of the month, 02:00 UTC: before the weekly sweeps (Sunday 03:00).
IMPORT_CRON = "0 2 1 * *"
FRESHNESS_CRON = "0 6 * * *"

freshness_check_job = dg.define_asset_job(
    "external_freshness_job", selection=dg.AssetSelection.checks(external_sources_fresh),
    description="Evaluates the freshness of every imported public source (no import).",
)


@dg.schedule(name="import_external_monthly", cron_schedule=IMPORT_CRON, job_name="import_job",
             execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.STOPPED,
             description="Re-imports every public dataset once a month (unchanged data lands nothing new).")
def import_external_monthly(context: dg.ScheduleEvaluationContext):
    """One import run per public source (users' CSVs are imported when users add them)."""
    stamp = context.scheduled_execution_time.strftime("%Y-%m")
    for source in external_partitions.get_partition_keys():
        if source != USER_CSV_SOURCE:
            yield dg.RunRequest(run_key=f"import:{source}:{stamp}", partition_key=source,
                                tags={constants.HOST_TAG: "localhost"})


external_freshness_daily = dg.ScheduleDefinition(
    name="external_freshness_daily", cron_schedule=FRESHNESS_CRON, job=freshness_check_job,
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Checks every morning that no public source is older than the freshness bound.",
)

