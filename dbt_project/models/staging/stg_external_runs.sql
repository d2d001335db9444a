-- One row per (source, run_id, workload point), as landed; only casts and the point key.
select
    {{ point_key() }} as point_id,
    md5(concat_ws('|', run_id, {{ point_key() }})) as measurement_id,
    cast(measured_at as timestamp) as measured_at_ts,
    source, run_id, sweep, partition_key, model_key, hardware_key, measured_at, device_name, device_count, driver_version, engine, engine_version, harness_version, weight_source, dtype, weight_dtype, tensor_parallel, mode, batch_size, input_tokens, output_tokens, request_rate_rps, concurrency, prompt_type, e2e_latency_s, ttft_s, tpot_s, output_throughput_tok_s, total_throughput_tok_s, ttft_p50_s, ttft_p90_s, ttft_p99_s, itl_p50_s, itl_p90_s, itl_p99_s, peak_memory_gb, avg_power_w, idle_power_w, energy_j, energy_per_output_token_j, n_trials, latency_cv, power_source, power_scope, status, error, schema_version,
    e2e_p50_s, e2e_p90_s, e2e_p99_s, request_throughput_rps, goodput_rps, row_throughput_rows_s,
    disaggregated_prefill_decode, prefill_device_count, decode_device_count, node_count, expert_parallel,
    attention_data_parallel, speculative_decoding, throughput_scope, latency_statistic
from {{ source('raw', 'external_runs') }}
