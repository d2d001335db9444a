"""Catalog schema: validation errors name file and field; lookups; overlays."""

from pathlib import Path

import pytest

from inference_estimation.lib.catalog import PACKAGE_CATALOG_DIR, CatalogError, load_catalog


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_package_catalog_has_runnable_models_probe_cpu_gpu_fixtures_and_both_sweeps():
    catalog = load_catalog(overlay_dirs=[])
    for key in ("gpt2-small", "gpt2-medium", "llama-small-55m", "qwen2-small-130m", "llama-3.1-8b",
                "llama-3.1-70b", "llama-3.1-405b", "deepseek-v3"):
        assert key in catalog.models
    assert catalog.hardware["local-cpu"].spec_source == "probe"
    assert catalog.partition_hardware == ["amd-mi300x", "local-cpu", "nvidia-a100-sxm4-80gb", "nvidia-a10g",
                                          "nvidia-h100-sxm-80gb", "nvidia-h100-sxm-80gb-x8", "nvidia-l4"]
    assert {"nvidia-h100-sxm-80gb", "amd-mi300x"} <= set(catalog.hardware)
    assert {"test-tiny", "local-demo"} <= set(catalog.sweeps)


def test_malformed_model_field_error_names_file_entry_and_field(tmp_path):
    overlay = tmp_path / "overlay"
    _write(overlay, "mine.yaml", """
models:
  - key: my-model
    family: llama
    architecture: {layers: many, hidden_size: 64, heads: 4, kv_heads: 2, intermediate_size: 128,
                   vocab_size: 1000, max_position_embeddings: 256}
""")
    with pytest.raises(CatalogError) as err:
        load_catalog(overlay_dirs=[overlay])
    message = str(err.value)
    assert "mine.yaml" in message
    assert "models[0]" in message and "my-model" in message
    assert "architecture.layers" in message


def test_invalid_yaml_syntax_names_the_file(tmp_path):
    overlay = tmp_path / "overlay"
    _write(overlay, "broken.yaml", "models: [ {key: x\n")
    with pytest.raises(CatalogError, match="broken.yaml.*not valid YAML"):
        load_catalog(overlay_dirs=[overlay])


def test_sweep_referencing_unknown_model_names_the_sweep_field(tmp_path):
    overlay = tmp_path / "overlay"
    _write(overlay, "sweeps.yaml", """
sweeps:
  - name: my-sweep
    models: [gpt2-small, no-such-model]
    hardware: [local-cpu]
    batch_sizes: [1]
    input_tokens: [8]
    output_tokens: [4]
""")
    with pytest.raises(CatalogError, match=r"sweeps\[0\].*models\[1\].*no-such-model"):
        load_catalog(overlay_dirs=[overlay])


def test_sweep_on_hardware_without_launcher_is_rejected(tmp_path):
    overlay = tmp_path / "overlay"
    _write(overlay, "sweeps.yaml", """
sweeps:
  - name: gpu-sweep
    models: [gpt2-small]
    hardware: [amd-mi325x]
    batch_sizes: [1]
    input_tokens: [8]
    output_tokens: [4]
""")
    with pytest.raises(CatalogError, match="amd-mi325x.*no launcher"):
        load_catalog(overlay_dirs=[overlay])


def test_partition_unsafe_key_is_rejected(tmp_path):
    overlay = tmp_path / "overlay"
    _write(overlay, "hw.yaml", "hardware:\n  - {key: 'GPU|1', kind: cuda, vendor: x, spec_source: user}\n")
    with pytest.raises(CatalogError, match="partition-safe"):
        load_catalog(overlay_dirs=[overlay])


def test_overlay_deep_merges_only_the_given_spec_facts(tmp_path):
    overlay = tmp_path / "overlay"
    _write(overlay, "probe.yaml", "hardware:\n  - key: local-cpu\n    specs: {peak_tflops_fp32: 0.25, memory_gb: 24}\n")
    catalog = load_catalog(overlay_dirs=[overlay])
    cpu = catalog.hardware["local-cpu"]
    assert cpu.specs.peak_tflops_fp32 == 0.25 and cpu.specs.memory_gb == 24
    assert cpu.launcher is not None and cpu.launcher.type == "local"  # untouched fields survive
    assert cpu.spec_source == "probe"


def test_lookup_by_alias_and_hf_id_is_case_insensitive_and_unknown_lists_closest():
    catalog = load_catalog(overlay_dirs=[])
    assert catalog.hw("nvidia h100 80gb hbm3").key == "nvidia-h100-sxm-80gb"
    assert catalog.hw("AMD Instinct MI300X").key == "amd-mi300x"
    assert catalog.model("META-LLAMA/Llama-3.1-70B-Instruct").key == "llama-3.1-70b"
    # GPT-2: the current Hugging Face ids and the legacy bare id of the small checkpoint
    assert catalog.model("gpt2").key == catalog.model("GPT2").key == "gpt2-small"
    assert catalog.model("openai-community/gpt2").key == "gpt2-small"
    assert catalog.model("openai-community/gpt2-medium").key == "gpt2-medium"
    with pytest.raises(CatalogError, match="closest: .*nvidia-h100-sxm-80gb"):
        catalog.hw("h100-sxm-80")


def test_package_catalog_files_are_the_ones_shipped():
    files = load_catalog(overlay_dirs=[]).files
    assert all(Path(f).parent == PACKAGE_CATALOG_DIR for f in files)
