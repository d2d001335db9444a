{#
  The measurement record (benchmark_jobs/schema.py, MeasurementRecord) as dbt sees it: every field, in the
  record's order, with the DuckDB type the landing gives it (inference_estimation/lib/data/warehouse.py maps
  string -> varchar, int64 -> bigint, float64 -> double, bool -> boolean). This list is the only copy in dbt;
  tests/defs/test_dbt_models.py compares it with benchmark_jobs.schema.arrow_type_names(), so a field added
  to the record fails the tests until it is added here, and the failure prints the lines to paste.
#}
{% macro measurement_record_columns() -%}
    {{ return([
        ['source', 'varchar'],
        ['run_id', 'varchar'],
        ['sweep', 'varchar'],
        ['partition_key', 'varchar'],
        ['model_key', 'varchar'],
        ['hardware_key', 'varchar'],
        ['measured_at', 'varchar'],
        ['device_name', 'varchar'],
        ['device_count', 'bigint'],
        ['driver_version', 'varchar'],
        ['engine', 'varchar'],
        ['engine_version', 'varchar'],
        ['harness_version', 'varchar'],
        ['weight_source', 'varchar'],
        ['dtype', 'varchar'],
        ['weight_dtype', 'varchar'],
        ['tensor_parallel', 'bigint'],
        ['mode', 'varchar'],
        ['batch_size', 'bigint'],
        ['input_tokens', 'bigint'],
        ['output_tokens', 'bigint'],
        ['request_rate_rps', 'double'],
        ['concurrency', 'bigint'],
        ['prompt_type', 'varchar'],
        ['e2e_latency_s', 'double'],
        ['ttft_s', 'double'],
        ['tpot_s', 'double'],
        ['output_throughput_tok_s', 'double'],
        ['total_throughput_tok_s', 'double'],
        ['ttft_p50_s', 'double'],
        ['ttft_p90_s', 'double'],
        ['ttft_p99_s', 'double'],
        ['itl_p50_s', 'double'],
        ['itl_p90_s', 'double'],
        ['itl_p99_s', 'double'],
        ['peak_memory_gb', 'double'],
        ['avg_power_w', 'double'],
        ['idle_power_w', 'double'],
        ['energy_j', 'double'],
        ['energy_per_output_token_j', 'double'],
        ['n_trials', 'bigint'],
        ['latency_cv', 'double'],
        ['power_source', 'varchar'],
        ['power_scope', 'varchar'],
        ['status', 'varchar'],
        ['error', 'varchar'],
        ['schema_version', 'varchar'],
        ['e2e_p50_s', 'double'],
        ['e2e_p90_s', 'double'],
        ['e2e_p99_s', 'double'],
        ['request_throughput_rps', 'double'],
        ['goodput_rps', 'double'],
        ['row_throughput_rows_s', 'double'],
        ['disaggregated_prefill_decode', 'boolean'],
        ['prefill_device_count', 'bigint'],
        ['decode_device_count', 'bigint'],
        ['node_count', 'bigint'],
        ['expert_parallel', 'bigint'],
        ['attention_data_parallel', 'boolean'],
        ['speculative_decoding', 'varchar'],
        ['throughput_scope', 'varchar'],
        ['latency_statistic', 'varchar']
    ]) }}
{%- endmacro %}


{#
  Staging of one table of measurement records (raw.benchmark_runs, raw.external_runs): the point key,
  the row key, the timestamp, and each record field cast to its type -- nothing else, so our sweeps and the
  public data leave staging with the same columns, types and keys. Grain: one row per (source, run_id,
  workload point), as landed.
#}
{% macro stage_measurement_records(relation) -%}
select
    {{ point_key() }} as point_id,
    md5(concat_ws('|', run_id, {{ point_key() }})) as measurement_id,
    cast(measured_at as timestamp) as measured_at_ts,
    {%- for column in measurement_record_columns() %}
    cast({{ column[0] }} as {{ column[1] }}) as {{ column[0] }}{{ ',' if not loop.last }}
    {%- endfor %}
from {{ relation }}
{%- endmacro %}
