-- One row per (source, run_id, workload point): our sweeps and public datasets together.
select * from {{ ref('stg_benchmark_runs') }}
union all by name
select * from {{ ref('stg_external_runs') }}
