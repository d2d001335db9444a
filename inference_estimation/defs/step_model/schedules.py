"""The weekly full scoring: the step model beside the previous design on every split."""

import dagster as dg

#: Sundays 04:00 UTC, after the weekly sweeps of the week have landed.
FULL_SCORING_CRON = "0 4 * * 0"

full_scoring_weekly = dg.ScheduleDefinition(
    name="full_scoring_weekly", cron_schedule=FULL_SCORING_CRON, job_name="performance_model_job",
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Score every answer target of the previous (coherent) design on every split and k-shot; the "
    "main job scores the step model on unseen hardware only. benchmarks/accuracy.py compares both designs.",
)
