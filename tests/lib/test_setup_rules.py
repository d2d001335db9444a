"""What a setup resolves to and when it is refused: layouts, nodes, the released dtype, weight-only math."""

from __future__ import annotations

import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.catalog.vocabulary import canonical_engine
from inference_estimation.lib.ml.predict import resolve_setup, workload
from inference_estimation.lib.physics.features import feature_frame, prediction_row
from inference_estimation.lib.physics.refusals import default_engine_dtype, tensor_parallel_sizes


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


def test_tensor_parallel_that_does_not_divide_the_attention_heads_is_refused_with_the_counts_that_can(catalog):
    setup = resolve_setup(catalog, "llama-3.1-70b", "nvidia-h100-sxm-80gb", workload(1, 512, 128, device_count=3))
    assert setup.refusal.startswith("cannot run: tensor parallel over 3 devices")
    assert "does not divide its 64 attention heads" in setup.refusal and "1, 2, 4, 8" in setup.refusal
    # 8B has 32 heads: 64 devices cannot shard them, whatever the node
    wide = resolve_setup(catalog, "llama-3.1-8b", "nvidia-h100-sxm-80gb", workload(1, 512, 128, device_count=64))
    assert "does not divide its 32 attention heads" in wide.refusal


def test_kv_heads_are_replicated_when_fewer_than_devices_but_must_split_evenly(catalog):
    llama_70b = catalog.model("llama-3.1-70b")  # 64 heads, 8 KV heads
    assert tensor_parallel_sizes(llama_70b) == (1, 2, 4, 8, 16, 32, 64)  # 16+ replicate the 8 KV heads
    qwen_7b = catalog.model("qwen2.5-7b")  # 28 heads, 4 KV heads
    assert tensor_parallel_sizes(qwen_7b) == (1, 2, 4)


def test_past_one_node_an_answer_names_the_nodes_and_their_network_or_the_question_is_refused(catalog):
    known = resolve_setup(catalog, "llama-3.1-70b", "nvidia-h100-sxm-80gb", workload(1, 512, 128, device_count=16))
    assert known.refusal is None
    assert any(n.startswith("16 x nvidia-h100-sxm-80gb = 2 nodes of 8") and "infiniband-ndr-400g" in n
               for n in known.notes)
    # collectives are costed at the network between nodes, not at NVLink
    assert known.hardware.specs.interconnect_bandwidth_gb_s == 100
    unknown = resolve_setup(catalog, "llama-3.1-70b", "nvidia-a100-sxm4-80gb", workload(1, 512, 128, device_count=16))
    assert unknown.refusal.startswith("not answered: 16 x nvidia-a100-sxm4-80gb spans 2 nodes of 8")
    assert "scale_out_interconnect" in unknown.refusal
    ragged = resolve_setup(catalog, "llama-3.1-70b", "nvidia-h100-sxm-80gb", workload(1, 512, 128, device_count=32 + 0))
    assert ragged.refusal is None  # 4 full nodes
    within = resolve_setup(catalog, "llama-3.1-70b", "nvidia-gb200", workload(1, 512, 128, device_count=64))
    assert within.refusal is None and not any("nodes of" in n for n in within.notes)  # one NVL72 domain


def test_the_released_dtype_is_the_default_where_the_device_runs_it_and_the_setup_says_so(catalog):
    r1 = resolve_setup(catalog, "deepseek-r1", "nvidia-h200-sxm-141gb", workload(1, 1024, 256, device_count=8))
    assert r1.work["dtype"] == "fp8" and r1.refusal is None  # fits the standard 8 x H200 node
    assert "dtype fp8: the dtype deepseek-r1 was released in (its catalog default_dtype)" in r1.notes
    oss = resolve_setup(catalog, "gpt-oss-20b", "nvidia-h100-sxm-80gb", workload(1, 1024, 256))
    assert oss.work["dtype"] == "fp4" and oss.memory.weights_gb < 15  # MXFP4 weights, not 41.8 GB of bf16
    # a device that cannot run the released dtype falls back, and the note says why
    t4 = resolve_setup(catalog, "gpt-oss-20b", "nvidia-t4", workload(1, 1024, 256))
    assert t4.work["dtype"] == "float16"
    assert any(n.startswith("dtype float16: gpt-oss-20b was released in fp4, which nvidia-t4 cannot run") for n in t4.notes)
    asked = resolve_setup(catalog, "deepseek-r1", "nvidia-h200-sxm-141gb",
                          workload(1, 1024, 256, dtype="bf16", device_count=8))
    assert asked.work["dtype"] == "bfloat16" and not any(n.startswith("dtype") for n in asked.notes)
    assert default_engine_dtype(catalog.hw("local-cpu"), catalog.model("gpt-oss-20b")) == ("transformers", "float32")


def test_weight_only_fp4_computes_at_the_16_bit_peak_where_the_device_has_no_fp4_math(catalog):
    def peak(hardware: str, dtype: str) -> float:
        row = prediction_row(catalog.model("llama-3.1-8b"), catalog.hw(hardware), workload(1, 512, 128, dtype=dtype))
        return float(feature_frame([row])["peak_tflops"].iloc[0])

    assert peak("nvidia-h100-sxm-80gb", "fp4") == peak("nvidia-h100-sxm-80gb", "bfloat16") == 989.4
    assert peak("nvidia-b200", "fp4") == 9000 and peak("nvidia-a100-sxm4-80gb", "fp8") == 312


def test_a_batch_size_in_serving_mode_is_an_error_that_says_what_to_use():
    with pytest.raises(ValueError, match="batch_size: a serving question is sized by its load.*concurrency"):
        workload(8, 512, 128, mode="serving", concurrency=8)


def test_amd_atom_and_the_tensorrt_llm_pytorch_backend_are_engines():
    assert canonical_engine("ATOM") == "atom"
    assert canonical_engine("trtllm-pytorch") == canonical_engine("tensorrt-llm-pytorch") == "tensorrt-llm-pytorch"


def test_every_accelerator_with_fp8_or_fp4_math_has_bfloat16_math_and_only_pre_ampere_nvidia_lacks_it(catalog):
    for key, h in catalog.hardware.items():
        s = h.specs
        if s.peak_tflops_fp4 is not None:
            assert s.peak_tflops_fp8 is not None, f"{key}: FP4 math without FP8 math"
        if h.kind in ("cuda", "rocm", "hpu") and s.peak_tflops_fp8 is not None:
            assert s.peak_tflops_bf16 is not None, f"{key}: FP8 math without a bfloat16 peak"
    no_bf16 = {k for k, h in catalog.hardware.items()
               if h.vendor == "nvidia" and h.specs.peak_tflops_fp16 and not h.specs.peak_tflops_bf16}
    assert no_bf16 == {"nvidia-v100-sxm2-16gb", "nvidia-v100-sxm2-32gb", "nvidia-v100-pcie-16gb",
                       "nvidia-v100-pcie-32gb", "nvidia-t4"}  # Volta and Turing; A10G is Ampere
