-- One row per (source, run_id, workload point) of the imported public datasets, as landed: the same
-- record, typed and keyed exactly as our own sweeps are.
{{ stage_measurement_records(source('raw', 'external_runs')) }}
