"""A multi-device question needs a known interconnect; a device without physics is refused in every dtype."""

import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.ml.predict import resolve_setup, workload
from inference_estimation.lib.physics.refusals import default_engine_dtype, engine_refusal, setup_refusal


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


def test_every_accelerator_that_can_be_used_with_several_devices_has_an_interconnect_bandwidth_or_is_refused(
        catalog):
    model = catalog.model("llama-3.1-8b")
    answered_without_bandwidth = []
    for hw in catalog.hardware.values():
        if hw.kind == "cpu":  # a CPU entry's count is sockets, not tensor-parallel shards
            continue
        engine_dtype = default_engine_dtype(hw, model)
        refusal = setup_refusal(model, hw, engine_dtype[1], engine_dtype[0], 1, 512, 128, 2)
        if refusal is None and hw.specs.interconnect_bandwidth_gb_s is None:
            answered_without_bandwidth.append(hw.key)
    assert answered_without_bandwidth == []


def test_mi355x_infinity_fabric_bandwidth_is_summed_over_its_links_like_the_mi300x(catalog):
    # 7 links (one to each other GPU of the 8-GPU platform): 128 GB/s each on CDNA3, 153.6 on CDNA4
    assert catalog.hw("amd-mi300x").specs.interconnect_bandwidth_gb_s == pytest.approx(7 * 128)
    assert catalog.hw("amd-mi325x").specs.interconnect_bandwidth_gb_s == pytest.approx(7 * 128)
    assert catalog.hw("amd-mi355x").specs.interconnect_bandwidth_gb_s == pytest.approx(7 * 153.6)


def test_a_device_with_an_interconnect_of_unknown_bandwidth_is_answered_on_one_device_and_refused_on_two(catalog):
    one = resolve_setup(catalog, "llama-3.1-8b", "intel-max-1550", workload(1, 512, 128, device_count=1))
    two = resolve_setup(catalog, "llama-3.1-8b", "intel-max-1550", workload(1, 512, 128, device_count=2))
    assert one.refusal is None
    assert "interconnect bandwidth unknown for intel-max-1550 (xe-link): add it in a catalog overlay (field " \
           "interconnect_bandwidth_gb_s)" in two.refusal


def test_tensor_parallel_over_several_macs_is_refused_with_the_reason(catalog):
    setup = resolve_setup(catalog, "llama-3.1-8b", "apple-m1-max", workload(1, 512, 128, device_count=2))
    assert setup.refusal.startswith("cannot run as asked: 2 x apple-m1-max")
    assert "an Apple GPU is one per machine" in setup.refusal


def test_a_device_without_a_peak_fact_is_refused_in_float32_too_not_answered_with_blanks(catalog):
    setup = resolve_setup(catalog, "llama-3.1-8b", "apple-m2-ultra", workload(1, 512, 128))
    assert setup.work["dtype"] == "float32"
    assert setup.refusal.startswith("no physics for apple-m2-ultra: its catalog entry has no peak TFLOP/s fact")


def test_a_model_too_big_for_one_device_in_bf16_names_the_native_fp8_that_fits(catalog):
    refusal = resolve_setup(catalog, "qwen3-30b-a3b", "nvidia-l40s", workload(1, 2000, 500)).refusal
    assert "the fewest nvidia-l40s devices that fit it at bfloat16 are 2" in refusal
    assert refusal.endswith("in fp8, which nvidia-l40s computes natively, it fits on 1 (--dtype fp8)")
    # an A100 has no fp8 math: fp8 there is weight-only, not suggested
    a100 = resolve_setup(catalog, "llama-3.1-70b", "nvidia-a100-sxm4-80gb", workload(1, 2000, 500)).refusal
    assert a100.startswith("does not fit") and "fp8" not in a100


def test_a_device_that_cannot_be_joined_is_not_told_to_add_devices_when_the_model_does_not_fit(catalog):
    refusal = resolve_setup(catalog, "llama-3.1-70b", "apple-m1-max", workload(1, 2000, 500)).refusal
    assert refusal.startswith("does not fit") and "the fewest" not in refusal
    assert "more devices cannot help: an Apple GPU is one per machine" in refusal


def test_an_engine_is_refused_on_hardware_it_does_not_run_on_naming_the_engines_that_do(catalog):
    trt_on_amd = resolve_setup(catalog, "llama-3.1-8b", "MI300X", workload(8, 1000, 500, engine="TensorRT-LLM"))
    assert trt_on_amd.refusal.startswith("cannot run: tensorrt-llm does not run on an AMD GPU (it runs on cuda)")
    assert "engines that do: transformers, pytorch, vllm, sglang, atom" in trt_on_amd.refusal
    atom_on_nvidia = resolve_setup(catalog, "llama-3.1-8b", "H100", workload(8, 1000, 500, engine="atom"))
    assert atom_on_nvidia.refusal.startswith("cannot run: atom does not run on an NVIDIA GPU")
    llamacpp_on_gaudi = resolve_setup(catalog, "llama-3.1-8b", "intel-gaudi3",
                                      workload(8, 1000, 500, engine="llama.cpp"))
    assert "llama.cpp does not run on an Intel Gaudi" in llamacpp_on_gaudi.refusal
    # the same engines where they run: answered
    assert resolve_setup(catalog, "llama-3.1-8b", "H100", workload(8, 1000, 500, engine="trt-llm")).refusal is None
    assert resolve_setup(catalog, "llama-3.1-8b", "MI300X", workload(8, 1000, 500, engine="atom")).refusal is None


def test_every_device_kind_defaults_to_an_engine_that_runs_there(catalog):
    model = catalog.model("llama-3.1-8b")
    for hw in catalog.hardware.values():
        engine, _ = default_engine_dtype(hw, model)
        assert engine_refusal(hw, engine) is None, (hw.key, engine)
    assert default_engine_dtype(catalog.hw("sambanova-sn40l"), model)[0] == "sambaflow"


def test_an_engine_is_refused_on_a_generation_its_support_matrix_dropped(catalog):
    volta = resolve_setup(catalog, "llama-3.1-8b", "nvidia-v100-sxm2-32gb",
                          workload(8, 1000, 256, engine="tensorrt-llm", dtype="fp16"))
    assert volta.refusal.startswith("cannot run: tensorrt-llm does not run on volta devices")
    assert "vllm" in volta.refusal.split("engines that do: ")[1]
    mi250 = resolve_setup(catalog, "llama-3.1-8b", "amd-mi250x", workload(8, 1000, 256, engine="atom"))
    assert "atom does not run on cdna2 devices" in mi250.refusal
    assert resolve_setup(catalog, "llama-3.1-8b", "nvidia-a100-sxm4-80gb",
                         workload(8, 1000, 256, engine="tensorrt-llm")).refusal is None
