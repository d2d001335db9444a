-- One row per (source, run_id, workload point) of our own sweeps, as landed: the record typed and keyed.
{{ stage_measurement_records(source('raw', 'benchmark_runs')) }}
