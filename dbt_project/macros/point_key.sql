{# The workload point identity (benchmark_jobs.schema.POINT_KEY_FIELDS), hashed with the source. #}
{% macro point_key(prefix='') -%}
md5(concat_ws('|', {{ prefix }}source, {{ prefix }}model_key, {{ prefix }}hardware_key,
    coalesce({{ prefix }}engine, ''), coalesce({{ prefix }}dtype, ''),
    cast({{ prefix }}device_count as varchar), cast({{ prefix }}tensor_parallel as varchar),
    {{ prefix }}mode, coalesce(cast({{ prefix }}batch_size as varchar), ''),
    coalesce(cast({{ prefix }}input_tokens as varchar), ''), coalesce(cast({{ prefix }}output_tokens as varchar), ''),
    coalesce(cast({{ prefix }}request_rate_rps as varchar), ''), coalesce(cast({{ prefix }}concurrency as varchar), ''),
    coalesce({{ prefix }}prompt_type, ''),
    {#- Deployment fields of schema 1.2: concat_ws skips nulls, so a point without them keeps the id it had before 1.2. #}
    'disagg=' || cast({{ prefix }}disaggregated_prefill_decode as varchar),
    'prefill_devices=' || cast({{ prefix }}prefill_device_count as varchar),
    'decode_devices=' || cast({{ prefix }}decode_device_count as varchar),
    'nodes=' || cast({{ prefix }}node_count as varchar),
    'ep=' || cast({{ prefix }}expert_parallel as varchar),
    'dp_attention=' || cast({{ prefix }}attention_data_parallel as varchar),
    'spec=' || {{ prefix }}speculative_decoding))
{%- endmacro %}
