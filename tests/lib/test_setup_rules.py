"""What a setup resolves to and when it is refused: layouts, nodes, the released dtype, weight-only math."""

from __future__ import annotations

import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.catalog.vocabulary import canonical_engine
from inference_estimation.lib.ml.predict import resolve_setup, workload
from inference_estimation.lib.physics.features import feature_frame, prediction_row
from inference_estimation.lib.physics.layout import tensor_parallel_sizes
from inference_estimation.lib.physics.refusals import default_engine_dtype


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


def test_tensor_parallel_that_does_not_divide_the_attention_heads_is_refused_with_the_counts_that_can(catalog):
    setup = resolve_setup(catalog, "llama-3.1-70b", "nvidia-h100-sxm-80gb", workload(1, 512, 128, device_count=3))
    assert setup.refusal.startswith("cannot run: tensor parallel over 3 devices")
    assert "does not divide its 64 attention heads" in setup.refusal and "1, 2, 4, 8" in setup.refusal
    # of those, one H100 cannot hold 70B in bf16 (141 GB of weights): the refusal names the fewest that can
    assert setup.refusal.endswith("the fewest of them that hold it in memory at bfloat16: 2")
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


def _peak_and_prefill(catalog, hardware: str, dtype: str) -> tuple[float, float]:
    row = prediction_row(catalog.model("llama-3.1-70b"), catalog.hw(hardware),
                         workload(8, 2048, 128, dtype=dtype, device_count=8))
    features = feature_frame([row])
    return float(features["peak_tflops"].iloc[0]), float(features["roofline_prefill_s"].iloc[0])


def test_fp4_on_h100_predicts_no_faster_prefill_than_fp8_there_and_fp4_on_b200_does(catalog):
    fp4_peak, fp4_prefill = _peak_and_prefill(catalog, "nvidia-h100-sxm-80gb", "fp4")
    fp8_peak, fp8_prefill = _peak_and_prefill(catalog, "nvidia-h100-sxm-80gb", "fp8")
    bf16_peak, _ = _peak_and_prefill(catalog, "nvidia-h100-sxm-80gb", "bfloat16")
    assert fp4_peak == bf16_peak < fp8_peak  # Hopper has no FP4 math: 4-bit weights compute in bfloat16
    assert fp4_prefill >= fp8_prefill
    b200_fp4_peak, b200_fp4_prefill = _peak_and_prefill(catalog, "nvidia-b200", "fp4")
    b200_fp8_peak, b200_fp8_prefill = _peak_and_prefill(catalog, "nvidia-b200", "fp8")
    assert b200_fp4_peak == 2 * b200_fp8_peak and b200_fp4_prefill < b200_fp8_prefill


@pytest.mark.parametrize(("hardware", "dtype", "computed"), [
    ("nvidia-a100-sxm4-80gb", "fp8", "bfloat16 at its 312 TFLOP/s"),
    ("nvidia-a10g", "fp8", "bfloat16 at its 70 TFLOP/s"),
    ("nvidia-a40", "fp8", "bfloat16 at its 149.7 TFLOP/s"),
    ("nvidia-h100-sxm-80gb", "fp4", "bfloat16 at its 989.4 TFLOP/s"),
    ("nvidia-h200-sxm-141gb", "fp4", "bfloat16 at its 989.5 TFLOP/s"),
    ("nvidia-l40s", "fp4", "bfloat16 at its 362.05 TFLOP/s"),
    ("amd-mi250x", "fp8", "bfloat16 at its 383 TFLOP/s"),
    ("amd-mi300x", "fp4", "bfloat16 at its 1307.4 TFLOP/s"),
    ("intel-gaudi2", "fp4", "bfloat16 at its 450 TFLOP/s"),
])
def test_a_weight_dtype_without_its_math_runs_weight_only_at_the_16_bit_peak_and_the_setup_says_so(
        catalog, hardware, dtype, computed):
    setup = resolve_setup(catalog, "llama-3.1-8b", hardware, workload(1, 512, 128, dtype=dtype))
    assert setup.refusal is None and setup.work["dtype"] == dtype and setup.echo()["weight_only"]
    note = next(n for n in setup.notes if n.startswith(f"dtype {dtype} runs weight-only on {hardware}"))
    assert f"has no {dtype} math" in note and f"compute in {computed} peak" in note
    assert f"weights are stored and read in {8 if dtype == 'fp8' else 4} bits" in note


@pytest.mark.parametrize(("hardware", "dtype"), [
    ("nvidia-l4", "fp8"), ("nvidia-l40s", "fp8"), ("nvidia-h100-sxm-80gb", "fp8"), ("nvidia-b200", "fp4"),
    ("amd-mi300x", "fp8"), ("amd-mi355x", "fp4"), ("intel-gaudi3", "fp8"), ("nvidia-a10g", "bfloat16"),
])
def test_a_dtype_the_device_has_math_for_runs_at_its_own_peak_not_weight_only(catalog, hardware, dtype):
    setup = resolve_setup(catalog, "llama-3.1-8b", hardware, workload(1, 512, 128, dtype=dtype))
    assert setup.refusal is None and not setup.echo()["weight_only"]
    assert not any("weight-only" in n for n in setup.notes)


@pytest.mark.parametrize(("hardware", "generation"), [
    ("nvidia-t4", "turing"), ("nvidia-v100-sxm2-32gb", "volta"), ("nvidia-v100-pcie-16gb", "volta")])
def test_bfloat16_on_volta_and_turing_is_refused_naming_the_generation_and_suggesting_float16(
        catalog, hardware, generation):
    setup = resolve_setup(catalog, "llama-3.1-8b", hardware, workload(1, 512, 128, dtype="bf16"))
    assert setup.refusal.startswith(f"{hardware} ({generation}) has no bfloat16 math")
    assert "arrived with Ampere" in setup.refusal and setup.refusal.endswith("ask for float16")
    default = resolve_setup(catalog, "llama-3.2-1b", hardware, workload(1, 512, 128))
    assert default.refusal is None and default.work["dtype"] == "float16"


@pytest.mark.parametrize("hardware", ["nvidia-a10g", "nvidia-a10", "nvidia-a40", "nvidia-l4", "nvidia-a100-sxm4-80gb",
                                      "amd-mi250x", "intel-gaudi2", "intel-gaudi3", "intel-max-1550"])
def test_ampere_and_later_default_to_bfloat16(catalog, hardware):
    setup = resolve_setup(catalog, "llama-3.1-8b", hardware, workload(1, 512, 128))
    assert setup.refusal is None and setup.work["dtype"] == "bfloat16"


def test_math_a_generation_has_but_whose_peak_is_unknown_is_refused_as_unknown_not_as_missing(catalog):
    setup = resolve_setup(catalog, "llama-3.2-1b", "tenstorrent-wormhole-n150", workload(1, 512, 128, dtype="bf16"))
    assert setup.refusal.startswith("tenstorrent-wormhole-n150 (tt-wormhole) has bfloat16 math, but its catalog entry "
                                    "has no peak_tflops_bf16 fact (unknown, not zero)")


def test_a_serving_load_is_a_concurrency_or_a_request_rate_not_both():
    with pytest.raises(ValueError, match=r"concurrency \(3\) and request_rate_rps \(2\) were both given"):
        workload(None, 512, 128, mode="serving", concurrency=3, request_rate_rps=2)


def test_a_numeric_offline_batch_says_it_arrives_at_once_and_max_says_it_is_the_steady_state(catalog):
    at_once = resolve_setup(catalog, "llama-3.1-8b", "H100", workload(405, 1000, 256))
    assert any(n.startswith("batch 405: all 405 requests arrive at once") for n in at_once.notes)
    steady = resolve_setup(catalog, "llama-3.1-8b", "H100", workload("max", 1000, 256))
    assert any("in the steady state" in n for n in steady.notes)
    assert not any("arrive at once" in n for n in steady.notes)


def test_the_memory_estimate_never_exceeds_what_a_paged_engine_reserves_and_counts_only_what_it_holds(catalog):
    from inference_estimation.lib.ml.setup import memory_estimate

    for work in (workload("max", 1000, 1000), workload(None, 1000, 1000, mode="serving", concurrency=2000)):
        setup = resolve_setup(catalog, "llama-3.1-8b", "H100", work)
        estimate = memory_estimate(setup)
        assert estimate["value"] <= setup.memory.usable_gb + 0.005  # rounded to 0.01 GB
        # an "80 GB" H100 holds 80 GiB: vLLM reserves 90% of 85.9e9 bytes
        assert setup.memory.usable_gb == pytest.approx(0.9 * 80 * 1024**3 / 1e9)
    queued = memory_estimate(resolve_setup(catalog, "llama-3.1-8b", "H100",
                                           workload(None, 1000, 1000, mode="serving", concurrency=2000)))
    assert "sequences held at once" in queued["basis"]
    small = resolve_setup(catalog, "llama-3.1-8b", "H100", workload(8, 1000, 1000))
    assert memory_estimate(small)["value"] == pytest.approx(small.memory.weights_gb + small.memory.kv_cache_gb, abs=0.01)


def test_vllm_on_volta_is_answered_for_an_older_release_and_says_so(catalog):
    v100 = resolve_setup(catalog, "llama-3.1-8b", "nvidia-v100-sxm2-32gb", workload(1, 512, 128, engine="vllm"))
    assert v100.refusal is None
    assert any(n.startswith("vllm on volta: only older vllm releases run here") and "v0.31" in n for n in v100.notes)
    t4 = resolve_setup(catalog, "llama-3.1-8b", "nvidia-t4", workload(1, 512, 128, engine="vllm", dtype="float16"))
    assert not any("older vllm releases" in n for n in t4.notes)
