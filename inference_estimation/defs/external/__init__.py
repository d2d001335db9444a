"""External stage: public datasets and users' canonical CSVs imported into raw.external_runs, their checks and schedules."""
