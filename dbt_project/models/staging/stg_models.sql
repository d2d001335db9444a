-- One row per model key: architecture facts from the catalog.
select
    model_key, hf_id, family, model_kind,
    cast(params as bigint) as params, cast(active_params as bigint) as active_params,
    cast(matmul_params as bigint) as matmul_params, cast(active_matmul_params as bigint) as active_matmul_params,
    cast(layers as integer) as layers, cast(hidden_size as integer) as hidden_size, cast(heads as integer) as heads,
    cast(kv_heads as integer) as kv_heads, cast(head_dim as integer) as head_dim,
    cast(intermediate_size as integer) as intermediate_size, cast(vocab_size as integer) as vocab_size,
    cast(experts as integer) as experts, cast(active_experts as integer) as active_experts,
    cast(gated_mlp as boolean) as gated_mlp, cast(kv_cache_dim_per_layer as integer) as kv_cache_dim_per_layer
from {{ source('raw', 'models') }}
