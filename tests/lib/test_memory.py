"""The one memory-fit rule (lib/physics/memory.py) and its callers agreeing on it."""

import numpy as np
import pytest

from benchmark_jobs.spec import WorkloadPoint
from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.physics.features import model_facts
from inference_estimation.lib.physics.memory import fewest_devices, memory_fit, memory_fit_arrays
from inference_estimation.lib.physics.refusals import setup_refusal
from inference_estimation.lib.sweeps.planning import point_fit


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


def test_vllm_reserves_its_memory_utilization_and_queues_what_its_kv_cache_cannot_hold(catalog):
    facts = model_facts(catalog.model("llama-3.1-8b"))
    paged = memory_fit(facts, 80, "cuda", "bfloat16", "vllm", 4096, 2048, 1)
    # an "80 GB" device holds 80 GiB (85.9e9 bytes); vLLM reserves 90% of it
    assert paged.usable_gb == pytest.approx(0.9 * 80 * 1024**3 / 1e9) and paged.fits  # 4096 queue, one must fit
    assert paged.batch_memory_ratio > 1 and 1 <= paged.max_batch < 4096
    held = memory_fit(facts, 80, "cuda", "bfloat16", "transformers", 4096, 2048, 1)
    assert held.fits is False and held.usable_gb < paged.usable_gb
    weights_gb = facts["params"] * 2 / 1e9
    assert paged.weights_gb == pytest.approx(weights_gb)
    assert memory_fit(facts, 80, "cuda", "fp8", "vllm", 1, 2048, 1).weights_gb == pytest.approx(weights_gb / 2)
    assert memory_fit(facts, None, "cuda", "bfloat16", "vllm", 1, 2048, 1).fits is None  # unknown memory


def test_the_column_form_is_the_one_configuration_form(catalog):
    facts = model_facts(catalog.model("qwen2-7b"))
    cases = [("bfloat16", "vllm", 1, 1024, 24, 1), ("fp4", "transformers", 8, 4096, 80, 2), ("float32", "hf", 2, 64, 16, 1)]
    arrays = memory_fit_arrays(facts["params"], facts["layers"], facts["kv_heads"], facts["head_dim"],
                               np.array([c[0] for c in cases], dtype=object), np.array([c[1] for c in cases], dtype=object),
                               np.array([c[2] for c in cases]), np.array([c[3] for c in cases]),
                               np.array([c[4] for c in cases]), np.array([c[5] for c in cases]), "cuda")
    for i, (dtype, engine, batch, context, memory, devices) in enumerate(cases):
        one = memory_fit(facts, memory, "cuda", dtype, engine, batch, context, devices)
        assert arrays["required_gb"][i] == pytest.approx(one.required_gb)
        assert arrays["memory_fit_ratio"][i] == pytest.approx(one.memory_fit_ratio)


def test_planner_predict_and_the_fewest_devices_use_the_same_rule(catalog):
    model, h100 = catalog.model("llama-3.1-70b"), catalog.hw("nvidia-h100-sxm-80gb")
    point = WorkloadPoint(batch_size=1, input_tokens=1024, output_tokens=256, dtype="bfloat16")
    planned = point_fit(model, h100, point, "vllm")
    direct = memory_fit(model_facts(model), 80, "cuda", "bfloat16", "vllm", 1, 1280, 1)
    assert planned == direct and planned.fits is False
    fewest = fewest_devices(model_facts(model), 80, "cuda", "bfloat16", "vllm", 1, 1280)
    assert fewest == 2
    assert f"are {fewest}" in setup_refusal(model, h100, "bfloat16", "vllm", 1, 1024, 256, 1)
    assert setup_refusal(model, h100, "bfloat16", "vllm", 1, 1024, 256, fewest) is None
