-- One row per measured LLM point (its latest successful run, from int_latest_points, the same rows
-- marts.measurements holds) with its model and hardware facts joined: the input of the feature builder
-- (inference_estimation.lib.physics.features), which also builds predict's rows. Tabular-model points stay in
-- marts.measurements only; the predictors speak about LLMs (their features are tokens, FLOPs and bytes
-- per token, which a tree ensemble does not have).
select
    m.point_id, m.measurement_id, m.source, m.run_id, m.measured_at_ts, m.model_key, m.hardware_key,
    m.engine, m.engine_version, m.prompt_type, m.dtype, m.mode, m.batch_size, m.input_tokens, m.output_tokens, m.device_count,
    m.tensor_parallel, m.concurrency, m.request_rate_rps, m.power_source, m.power_scope,
    m.e2e_latency_s, m.ttft_s, m.tpot_s, m.itl_p50_s, m.output_throughput_tok_s, m.peak_memory_gb, m.avg_power_w,
    m.energy_per_output_token_j,
    -- Deployment shape (schema 1.2). Rows that are not a plain deployment (disaggregated
    -- prefill/decode, speculative decoding, several nodes) must not be mixed with plain ones.
    m.disaggregated_prefill_decode, m.prefill_device_count, m.decode_device_count, m.node_count,
    m.expert_parallel, m.attention_data_parallel, m.speculative_decoding, m.throughput_scope,
    m.latency_statistic,
    (coalesce(m.disaggregated_prefill_decode, false) = false
     and coalesce(m.speculative_decoding, 'none') = 'none'
     and coalesce(m.node_count, 1) = 1) as plain_deployment,
    mo.hf_id, mo.family, mo.model_kind, mo.params, mo.active_params, mo.matmul_params, mo.active_matmul_params,
    mo.layers, mo.hidden_size, mo.heads, mo.kv_heads, mo.head_dim, mo.intermediate_size, mo.vocab_size,
    mo.experts, mo.active_experts, mo.gated_mlp, mo.kv_cache_dim_per_layer,
    h.hardware_kind, h.vendor, h.hw_device_count, h.peak_tflops_fp32, h.peak_tflops_bf16, h.peak_tflops_fp16,
    h.peak_tflops_fp8, h.peak_tflops_fp4, h.memory_gb, h.memory_bandwidth_gb_s, h.tdp_w, h.interconnect_bandwidth_gb_s,
    h.devices_per_node, h.scale_out_bandwidth_gb_s, h.price_per_hour_usd, h.spec_source
from {{ ref('int_latest_points') }} as m
inner join {{ ref('stg_models') }} as mo using (model_key)
inner join {{ ref('stg_hardware') }} as h using (hardware_key)
where mo.model_kind = 'llm'
