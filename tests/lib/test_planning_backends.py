"""Planning for every backend: the catalog's sweep schema per backend, skip rules, and the job
spec each backend receives (points, settings, engine options, serving load, no secrets)."""

from pathlib import Path

import pytest

from inference_estimation.lib.catalog import CatalogError, SweepEntry, load_catalog
from inference_estimation.lib.sweeps.planning import (
    build_job_spec,
    fitting_points,
    point_memory_gb,
    skip_reason,
)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


def _overlay(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "overlay"
    folder.mkdir(exist_ok=True)
    (folder / "mine.yaml").write_text(text)
    return folder


SERVING = {"base_url": "http://127.0.0.1:8000", "num_requests": 16, "request_rates_rps": [2.0, None],
           "concurrencies": [None, 4], "ttft_limit_s": 0.5}


@pytest.mark.parametrize(("fields", "message"), [
    ({"backend": "openai-server", "input_tokens": [8], "output_tokens": [4]}, "'serving' is required"),
    ({"backend": "transformers", "batch_sizes": [1], "input_tokens": [8], "output_tokens": [4], "serving": SERVING},
     "only allowed there"),
    ({"backend": "tabular", "batch_sizes": [1], "input_tokens": [8]}, "no token axes"),
    ({"backend": "vllm", "batch_sizes": [1], "input_tokens": [8]}, "output_tokens: backend 'vllm' needs"),
    ({"backend": "openai-server", "batch_sizes": [1], "input_tokens": [8], "output_tokens": [4], "serving": SERVING},
     "serving.num_requests instead"),
    ({"backend": "triton", "batch_sizes": [1], "input_tokens": [8], "output_tokens": [4]}, "backend"),
])
def test_sweep_fields_are_validated_per_backend(fields, message):
    with pytest.raises(ValueError, match=message):
        SweepEntry(name="s", models=["gpt2-small"], hardware=["local-cpu"], **fields)


def test_bad_serving_field_in_a_catalog_file_names_file_sweep_and_field(tmp_path):
    overlay = _overlay(tmp_path, """
sweeps:
  - name: my-serving
    backend: openai-server
    models: [gpt2-small]
    hardware: [local-cpu]
    input_tokens: [8]
    output_tokens: [4]
    serving: {base_url: "http://127.0.0.1:8000", request_rates_rps: [0]}
""")
    with pytest.raises(CatalogError) as err:
        load_catalog(overlay_dirs=[overlay])
    assert "mine.yaml" in str(err.value) and "my-serving" in str(err.value)
    assert "serving.request_rates_rps" in str(err.value)


@pytest.mark.parametrize(("entry", "message"), [
    ("{key: t1, family: xgboost, kind: tabular}", "needs 'tabular'"),
    ("{key: t2, family: lightgbm, kind: tabular, tabular: {n_features: 4, n_trees: 2, max_depth: 2}}",
     "tabular family 'lightgbm'"),
    ("{key: t3, family: sklearn, kind: tabular, tabular: {n_features: 4, n_trees: 2, max_depth: 2}}",
     "estimator is required"),
    ("{key: t4, family: xgboost, kind: tabular, tabular: {n_features: 0, n_trees: 2, max_depth: 2}}",
     "tabular.n_features"),
])
def test_tabular_model_entries_are_validated_with_file_and_field(tmp_path, entry, message):
    with pytest.raises(CatalogError, match=message) as err:
        load_catalog(overlay_dirs=[_overlay(tmp_path, f"models:\n  - {entry}\n")])
    assert "mine.yaml" in str(err.value)


def test_tabular_sweep_plans_rows_per_batch_with_the_models_shape(catalog):
    sweep = catalog.sweep("tabular-cpu")
    model, cpu = catalog.model("sklearn-hgb-clf-100x6"), catalog.hw("local-cpu")
    assert skip_reason(model, cpu, sweep) is None
    spec = build_job_spec("r", model, cpu, sweep, None)
    assert spec.backend == "tabular" and [p.batch_size for p in spec.points] == sorted(sweep.batch_sizes)
    assert spec.model.architecture == {"n_features": 32, "n_trees": 100, "max_depth": 6, "task": "classification",
                                       "n_classes": 4, "estimator": "hist_gradient_boosting"}
    assert spec.backend_options == {"train_rows": 2000, "min_trial_s": 0.02}
    llm_in_tabular = SweepEntry(name="t", models=["gpt2-small"], hardware=["local-cpu"], backend="tabular",
                                batch_sizes=[1])
    assert "measures tabular models" in skip_reason(catalog.model("gpt2-small"), cpu, llm_in_tabular)
    on_gpu = SweepEntry(name="t", models=["catboost-reg-200x6", "xgboost-reg-200x8"], hardware=["nvidia-l4"],
                        backend="tabular", batch_sizes=[1])
    assert "CPU only" in skip_reason(catalog.model("catboost-reg-200x6"), catalog.hw("nvidia-l4"), on_gpu)
    assert skip_reason(catalog.model("xgboost-reg-200x8"), catalog.hw("nvidia-l4"), on_gpu) is None


def test_vllm_is_planned_on_gpus_only_and_shards_over_every_device_of_a_multi_gpu_entry(catalog):
    sweep = catalog.sweep("gpu-vllm")
    cpu_sweep = SweepEntry(name="v", models=["gpt2-small"], hardware=["local-cpu"], backend="vllm",
                           batch_sizes=[1], input_tokens=[8], output_tokens=[4])
    assert "does not run on cpu" in skip_reason(catalog.model("gpt2-small"), catalog.hw("local-cpu"), cpu_sweep)
    x8, model = catalog.hw("nvidia-h100-sxm-80gb-x8"), catalog.model("llama-3.1-70b")
    assert skip_reason(model, x8, sweep) is None
    spec = build_job_spec("r", model, x8, sweep, None)
    assert spec.backend_options == {"gpu_memory_utilization": 0.9, "tensor_parallel_size": 8}
    assert spec.device == "cuda" and {p.dtype for p in spec.points} == {"bfloat16"}
    assert spec.settings.min_energy_window_s == 1.0 and spec.settings.cooldown_s == 2
    single = build_job_spec("r", catalog.model("mistral-7b-v0.3"), catalog.hw("nvidia-h100-sxm-80gb"), sweep, None)
    assert "tensor_parallel_size" not in single.backend_options
    reason = skip_reason(model, catalog.hw("nvidia-h100-sxm-80gb"), sweep)
    assert reason.startswith("does not fit") and "smallest point" in reason
    rocm = build_job_spec("r", catalog.model("mistral-7b-v0.3"), catalog.hw("amd-mi300x"), sweep, None)
    assert rocm.device == "cuda"  # ROCm torch exposes AMD GPUs as cuda


def test_points_that_do_not_fit_are_left_out_and_vllm_pages_the_kv_cache(catalog):
    model, l4 = catalog.model("mistral-7b-v0.3"), catalog.hw("nvidia-l4")
    transformers = catalog.sweep("gpu-transformers")
    kept, dropped = fitting_points(model, l4, transformers)
    assert kept and dropped and len(kept) + len(dropped) == 3 * 2 * 1
    assert max(p.batch_size for p in kept) < 32 and all("GB usable" in d for d in dropped)
    spec = build_job_spec("r", model, l4, transformers, None)
    assert spec.points == kept
    vllm = catalog.sweep("gpu-vllm")
    kept_vllm, dropped_vllm = fitting_points(model, l4, vllm)
    assert not dropped_vllm and len(kept_vllm) == 4 * 2  # batches queue in vLLM's paged cache
    big = max(kept_vllm, key=lambda p: p.batch_size)
    assert point_memory_gb(model, big, "vllm") < point_memory_gb(model, big, "transformers")


def test_serving_sweep_plans_every_rate_and_concurrency_and_never_carries_the_api_key(catalog, monkeypatch):
    monkeypatch.setenv("INFERENCE_ESTIMATION_SERVING_API_KEY", "canary-key-123")
    sweep = SweepEntry(name="serve", models=["gpt2-small"], hardware=["local-cpu", "nvidia-h100-sxm-80gb"],
                       backend="openai-server", input_tokens=[16, 64], output_tokens=[8], serving=SERVING)
    model = catalog.model("gpt2-small")
    assert skip_reason(model, catalog.hw("local-cpu"), sweep) is None
    spec = build_job_spec("r", model, catalog.hw("local-cpu"), sweep, None)
    assert len(spec.points) == 2 * 2 * 2
    assert {(p.request_rate_rps, p.concurrency) for p in spec.points} == {(2.0, None), (None, None), (2.0, 4),
                                                                          (None, 4)}
    assert {p.batch_size for p in spec.points} == {16}
    assert spec.serving.base_url == SERVING["base_url"] and spec.serving.ttft_limit_s == 0.5
    assert spec.serving.api_key is None and "canary-key-123" not in str(spec.to_dict())
    assert spec.model.architecture["vocab_size"] == 50257  # token-id prompts stay in the model's vocabulary
    remote = skip_reason(model, catalog.hw("nvidia-h100-sxm-80gb"), sweep)
    assert remote and "already serving" in remote


def test_serving_api_key_reaches_the_harness_environment_only_as_a_secret():
    from inference_estimation.defs.resources import HarnessSecrets

    env = HarnessSecrets(serving_api_key="k", hf_token=None).harness_env()
    assert env == {"INFERENCE_ESTIMATION_SERVING_API_KEY": "k"}
