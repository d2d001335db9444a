"""Feature formulas: physically sensible numbers, and one code path for train and predict."""

import math

import numpy as np
import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.physics.features import FEATURE_COLUMNS, feature_frame, prediction_row


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


def _row(catalog, model="llama-3.1-8b", hw="nvidia-h100-sxm-80gb", **work):
    workload = dict(engine="vllm", dtype="bfloat16", mode="offline", batch_size=1, input_tokens=512,
                    output_tokens=128)
    workload.update(work)
    return feature_frame([prediction_row(catalog.model(model), catalog.hw(hw), workload)]).iloc[0]


def test_decode_at_batch_one_is_memory_bound_with_about_one_flop_per_byte_in_bf16(catalog):
    row = _row(catalog)
    assert 0.8 < row["decode_arithmetic_intensity"] < 1.2
    # 7.5B matmul weights (the 0.5B-row embedding table is looked up, not read whole) in bf16 = 15 GB
    # over 3.35 TB/s is about 4.5 ms per decode step.
    assert row["roofline_decode_step_s"] == pytest.approx(15.0e9 / 3350e9, rel=0.05)


def test_prefill_is_compute_bound_and_decode_time_grows_sublinearly_with_batch(catalog):
    b1, b64 = _row(catalog, batch_size=1), _row(catalog, batch_size=64)
    assert b1["prefill_arithmetic_intensity"] > 100
    assert b1["roofline_decode_step_s"] < b64["roofline_decode_step_s"] < 64 * b1["roofline_decode_step_s"]
    assert b64["roofline_output_throughput_tok_s"] > 10 * b1["roofline_output_throughput_tok_s"]


def test_memory_fit_ratio_says_405b_does_not_fit_one_h100_but_8b_does(catalog):
    assert _row(catalog, model="llama-3.1-405b")["memory_fit_ratio"] > 5
    assert _row(catalog)["memory_fit_ratio"] < 0.5


def test_moe_uses_active_parameters_for_bytes_moved(catalog):
    deepseek = _row(catalog, model="deepseek-v3", dtype="fp8")
    # 37B active fp8 parameters are read per decode step, not all 671B.
    assert 30 < deepseek["decode_gb_moved_per_step"] < 60


def test_unknown_hardware_facts_give_null_physics_not_zero(catalog):
    row = _row(catalog, hw="local-cpu")  # not probed in this catalog: peak and bandwidth unknown
    assert math.isnan(row["roofline_e2e_s"]) and math.isnan(row["memory_fit_ratio"])
    assert row["prefill_gflop"] > 0  # FLOPs do not depend on the hardware


def test_feature_frame_has_the_declared_columns_in_order(catalog):
    frame = feature_frame([prediction_row(catalog.model("gpt2-small"), catalog.hw("local-cpu"),
                                          dict(engine="transformers", dtype="float32", mode="offline",
                                               batch_size=2, input_tokens=16, output_tokens=4))])
    assert list(frame.columns) == FEATURE_COLUMNS
    assert frame.loc[0, "family"] == "gpt2" and frame.loc[0, "hardware_kind"] == "cpu"


def test_a_frame_of_many_rows_equals_the_rows_built_one_at_a_time(catalog):
    """Column-wise code: every row of a mixed batch (nulls, decode-only, serving, zero devices)
    gets exactly the features it gets alone."""
    works = [
        dict(engine="vllm", dtype="bfloat16", mode="offline", batch_size=8, input_tokens=512, output_tokens=128),
        dict(engine="llama.cpp", dtype=None, mode="offline", batch_size=1, input_tokens=None, output_tokens=128),
        dict(engine="vllm", dtype="fp8", mode="serving", batch_size=None, concurrency=32, input_tokens=1024,
             output_tokens=256, device_count=0),
        dict(engine=None, dtype="int4", mode="serving", batch_size=4, concurrency=0, input_tokens=64,
             output_tokens=None, device_count=8, tensor_parallel=4),
        dict(engine="vllm", dtype="float16", mode="offline", batch_size=2, input_tokens=0, output_tokens=1),
    ]
    pairs = [("llama-3.1-8b", "nvidia-h100-sxm-80gb"), ("mistral-7b-v0.1", "nvidia-l40s"),
             ("deepseek-v3", "amd-mi300x"), ("gpt2-small", "local-cpu"), ("qwen2-7b", "nvidia-a100-sxm4-80gb")]
    rows = [prediction_row(catalog.model(m), catalog.hw(h), w) for (m, h), w in zip(pairs, works, strict=False)]
    together = feature_frame(rows)
    for i, row in enumerate(rows):
        alone = feature_frame([row]).iloc[0]
        for col in FEATURE_COLUMNS:
            a, b = together.iloc[i][col], alone[col]
            assert (isinstance(a, float) and math.isnan(a) and math.isnan(b)) or a == b, (i, col, a, b)
    assert together.loc[1, "roofline_e2e_s"] != together.loc[1, "roofline_e2e_s"]  # decode-only: no prefill
    assert together.loc[1, "roofline_output_throughput_tok_s"] > 0 and together.loc[1, "dtype"] == "unknown"
    assert together.loc[2, "effective_batch"] == 32 and together.loc[2, "device_count"] == 0
    assert together.loc[3, "effective_batch"] == 4 and together.loc[3, "tensor_parallel"] == 4


def test_prefill_counts_the_lm_head_once_per_sequence_not_per_prompt_token(catalog):
    """Only the last prompt position's logits are computed before the first token is sampled."""
    qwen = catalog.model("qwen2-small-130m")
    a = qwen.architecture
    row = _row(catalog, model="qwen2-small-130m", hw="local-cpu", engine="transformers", dtype="float32",
               batch_size=2, input_tokens=64)
    head = a.hidden_size * a.vocab_size
    from inference_estimation.lib.physics.features import matmul_params

    body = matmul_params(a, active=True) - head
    q_dim = a.heads * a.resolved_head_dim
    expected = 2 * (2 * body * 64 + 2 * head + 2 * a.layers * q_dim * 64 * 64)
    assert row["prefill_gflop"] == pytest.approx(expected / 1e9, rel=1e-9)
    assert head > body  # a 150k vocabulary: counting the head per prompt token would be ~3x too much
    # Decode computes logits at every step: the head is in every decode step's FLOPs.
    assert row["decode_gflop_per_step"] * 1e9 > 2 * 2 * head


def test_four_bit_weights_read_a_quarter_of_the_bytes_and_fp4_runs_on_fp4_tensor_cores(catalog):
    bf16 = _row(catalog, hw="nvidia-b200", dtype="bfloat16")
    for spelling in ("fp4", "nvfp4", "MXFP4"):
        fp4 = _row(catalog, hw="nvidia-b200", dtype=spelling)
        assert fp4["dtype"] == "fp4"
        assert fp4["decode_gb_moved_per_step"] < 0.3 * bf16["decode_gb_moved_per_step"]
        assert fp4["roofline_decode_step_s"] < 0.35 * bf16["roofline_decode_step_s"]
    assert _row(catalog, hw="nvidia-b200", dtype="bf16")["dtype"] == "bfloat16"
    awq = _row(catalog, dtype="awq")
    assert awq["dtype"] == "int4" and awq["peak_tflops"] == _row(catalog)["peak_tflops"]  # weight-only: 16-bit math


def test_moe_decode_reads_the_union_of_experts_the_batch_touches(catalog):
    """Mixtral 8x7B routes 2 of 8 experts: one token reads ~13B parameters, a batch of 64 nearly all 47B."""
    one = _row(catalog, model="mixtral-8x7b", batch_size=1)
    many = _row(catalog, model="mixtral-8x7b", batch_size=64)
    assert one["moe_experts_touched_share"] == pytest.approx(2 / 8)
    assert many["moe_experts_touched_share"] == pytest.approx(1 - (6 / 8) ** 64)
    assert 22 < one["decode_gb_moved_per_step"] < 32  # ~13B active parameters in bf16 (+ a little KV)
    assert many["decode_gb_moved_per_step"] > 85  # ~46B parameters in bf16
    dense = _row(catalog, model="llama-3.1-8b", batch_size=64)
    assert np.isnan(dense["moe_experts_touched_share"])


def test_tensor_parallel_adds_all_reduce_time_that_a_slower_link_makes_longer(catalog):
    one = _row(catalog, model="llama-3.1-70b", hw="nvidia-h100-sxm-80gb-x8", device_count=1, tensor_parallel=1)
    eight = _row(catalog, model="llama-3.1-70b", hw="nvidia-h100-sxm-80gb-x8", device_count=8, tensor_parallel=8)
    assert one["tp_comm_decode_step_s"] == 0
    # 80 layers x 2 all-reduces x ~10 us latency dominate at batch 1
    assert 1.5e-3 < eight["tp_comm_decode_step_s"] < 3e-3
    assert eight["roofline_tpot_s"] == pytest.approx(eight["roofline_decode_step_s"] + eight["tp_comm_decode_step_s"])
    pcie = _row(catalog, model="llama-3.1-70b", hw="nvidia-l40s", device_count=8, tensor_parallel=8, batch_size=64,
                input_tokens=2048)
    nvlink = _row(catalog, model="llama-3.1-70b", hw="nvidia-h100-sxm-80gb-x8", device_count=8, tensor_parallel=8,
                  batch_size=64, input_tokens=2048)
    assert pcie["tp_comm_prefill_s"] > 5 * nvlink["tp_comm_prefill_s"]


def test_serving_load_slows_decode_steps_and_queues_prefills(catalog):
    light = _row(catalog, mode="serving", concurrency=1, batch_size=None)
    heavy = _row(catalog, mode="serving", concurrency=256, batch_size=None)
    assert heavy["effective_batch"] == 256 and heavy["serving_prefill_load"] > light["serving_prefill_load"]
    assert heavy["roofline_ttft_s"] > 2 * light["roofline_ttft_s"]
    assert heavy["roofline_tpot_s"] > heavy["roofline_decode_step_s"]  # interleaved prefills
    assert heavy["roofline_e2e_s"] == pytest.approx(heavy["roofline_ttft_s"] + 127 * heavy["roofline_tpot_s"])


def test_mla_models_cache_their_compressed_latent_not_full_keys_and_values(catalog):
    """DeepSeek-R1 caches 512 + 64 values per layer per token (MLA), not 128 heads x 128 x 2."""
    row = _row(catalog, model="deepseek-r1", hw="nvidia-h200-sxm-141gb", dtype="fp8", input_tokens=1024,
               output_tokens=256, batch_size=1)
    layers = catalog.model("deepseek-r1").architecture.layers
    assert row["kv_cache_gb"] == pytest.approx(layers * 576 * 1.0 * 1280 / 1e9)
