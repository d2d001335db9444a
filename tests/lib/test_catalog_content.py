"""Content of the shipped catalog: real hardware and the models of the public datasets.

These tests check facts, not the schema (tests/lib/test_catalog.py does that): every spelling a
public measurement dataset uses for a device resolves to the intended hardware key, no alias is
claimed twice, specs are physically plausible, and each declared parameter count agrees with
the parameter count implied by the architecture (which catches architecture typos).
"""

import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.physics.features import model_facts


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


#: (spelling as found in a dataset, a table or nvidia-smi/rocm-smi, intended hardware key).
HARDWARE_SPELLINGS = [
    # names as public tables spell them and as reported by nvidia-smi / rocm-smi
    ("NVIDIA H100 80GB HBM3", "nvidia-h100-sxm-80gb"),
    ("H100-SXM5-80GB", "nvidia-h100-sxm-80gb"),
    ("NVIDIA A100-SXM4-80GB", "nvidia-a100-sxm4-80gb"),
    ("A100-SXM4-80GB", "nvidia-a100-sxm4-80gb"),
    ("H200 141GB HBM3e", "nvidia-h200-sxm-141gb"),
    ("NVIDIA H200", "nvidia-h200-sxm-141gb"),
    ("NVIDIA GH200 480GB", "nvidia-gh200-96gb"),
    ("NVIDIA GH200 144G HBM3e", "nvidia-gh200-144gb"),
    ("AMD Instinct MI300X", "amd-mi300x"),
    ("Tesla V100-SXM2-16GB", "nvidia-v100-sxm2-16gb"),
    ("Tesla T4", "nvidia-t4"),
    ("NVIDIA A10G", "nvidia-a10g"),
    ("NVIDIA L4", "nvidia-l4"),
    ("NVIDIA B200", "nvidia-b200"),
    # ML.ENERGY v3 (gpu_model) and v2 (GPU, gpu_dir)
    ("H100", "nvidia-h100-sxm-80gb"),
    ("B200", "nvidia-b200"),
    ("NVIDIA A100-SXM4-40GB", "nvidia-a100-sxm4-40gb"),
    ("A100-SXM4-40GB", "nvidia-a100-sxm4-40gb"),
    ("H100 80GB HBM3", "nvidia-h100-sxm-80gb"),
    # ML.ENERGY v1 legacy (file-name prefixes; "A100" and "V100" come in two sizes each, asked by
    # the catalog: its adapter names the variant, see test_mlenergy)
    ("A40", "nvidia-a40"),
    # Argonne LLM-Inference-Bench (Hardware column)
    ("Nvidia A100 GPU", "nvidia-a100-sxm4-40gb"),
    ("Nvidia H100 GPU", "nvidia-h100-sxm-80gb"),
    ("Nvidia GH200 GPU", "nvidia-gh200-96gb"),
    ("AMD MI250 GPU", "amd-mi250"),
    ("AMD MI300X GPU", "amd-mi300x"),
    ("Habana Gaudi2", "intel-gaudi2"),
    ("Intel Max 1550", "intel-max-1550"),
    ("Intel PVC GPU", "intel-max-1550"),
    ("SambaNova SN40L", "sambanova-sn40l"),
    # MLPerf Inference v4.1 / v5.1 (Accelerator, and Processor for CPU-only systems)
    ("NVIDIA H100-SXM-80GB", "nvidia-h100-sxm-80gb"),
    ("NVIDIA H100-PCIe-80GB", "nvidia-h100-pcie-80gb"),
    ("NVIDIA H100-NVL-94GB", "nvidia-h100-nvl-94gb"),
    ("NVIDIA H200-SXM-141GB", "nvidia-h200-sxm-141gb"),
    ("NVIDIA H200-SXM-141GB-CTS", "nvidia-h200-sxm-141gb"),
    ("Virtualized NVIDIA H200-SXM-141GB", "nvidia-h200-sxm-141gb"),
    ("NVIDIA H200-NVL-141GB", "nvidia-h200-nvl-141gb"),
    ("NVIDIA GH200 Grace Hopper Superchip 96GB", "nvidia-gh200-96gb"),
    ("NVIDIA GH200 Grace Hopper Superchip 144GB", "nvidia-gh200-144gb"),
    ("NVIDIA B200-SXM-180GB", "nvidia-b200"),
    ("NVIDIA GB200", "nvidia-gb200"),
    ("NVIDIA GB300", "nvidia-gb300"),
    ("NVIDIA L40S", "nvidia-l40s"),
    ("NVIDIA GeForce RTX 4090", "nvidia-rtx-4090"),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "nvidia-rtx-pro-6000-blackwell-server"),
    ("AMD Instinct MI300X 192GB HBM3", "amd-mi300x"),
    ("AMD Instinct MI300X-NPS1-SPX-192GB-750W", "amd-mi300x"),
    ("AMD MI300X-NPS1-SPX-192GB-750W", "amd-mi300x"),
    ("AMD Instinct MI325X 256GB HBM3e", "amd-mi325x"),
    ("AMD Instinct MI355X 288GB HBM3e", "amd-mi355x"),
    ("INTEL(R) XEON(R) PLATINUM 8592+", "intel-xeon-platinum-8592plus"),
    ("Intel(R) Xeon(R) Platinum 8592+", "intel-xeon-platinum-8592plus"),
    ("INTEL(R) XEON(R) 6980P", "intel-xeon-6980p"),
    ("INTEL(R) XEON(R) 6787P", "intel-xeon-6787p"),
    # Splitwise (hardware) and Vidur (profiling folder names)
    ("a100-80gb", "nvidia-a100-sxm4-80gb"),
    ("h100-80gb", "nvidia-h100-sxm-80gb"),
    ("h100-80gb-pcap", "nvidia-h100-sxm-80gb"),
    ("a40", "nvidia-a40"),
    ("h100", "nvidia-h100-sxm-80gb"),
    # XiongjieDai llama.cpp bench (gpu column)
    ("3070 8GB", "nvidia-rtx-3070"),
    ("3080 10GB", "nvidia-rtx-3080"),
    ("3080 Ti 12GB", "nvidia-rtx-3080-ti"),
    ("3090 24GB", "nvidia-rtx-3090"),
    ("4070 Ti 12GB", "nvidia-rtx-4070-ti"),
    ("4080 16GB", "nvidia-rtx-4080"),
    ("4090 24GB", "nvidia-rtx-4090"),
    ("RTX A6000 48GB", "nvidia-rtx-a6000"),
    ("RTX 4000 Ada 20GB", "nvidia-rtx-4000-ada"),
    ("RTX 5000 Ada 32GB", "nvidia-rtx-5000-ada"),
    ("RTX 6000 Ada 48GB", "nvidia-rtx-6000-ada"),
    ("A40 48GB", "nvidia-a40"),
    ("L40S 48GB", "nvidia-l40s"),
    ("A100 PCIe 80GB", "nvidia-a100-pcie-80gb"),
    ("A100 SXM 80GB", "nvidia-a100-sxm4-80gb"),
    ("H100 PCIe 80GB", "nvidia-h100-pcie-80gb"),
    ("M1 7-Core GPU 8GB", "apple-m1"),
    ("M1 Max 32-Core GPU 64GB", "apple-m1-max"),
    ("M2 Ultra 76-Core GPU 192GB", "apple-m2-ultra"),
    ("M3 Max 40-Core GPU 64GB", "apple-m3-max"),
    # llm-analysis GPU config names
    ("a10-pcie-28gb", "nvidia-a10"),
    ("a10g-pcie-24gb", "nvidia-a10g"),
    ("a100-pcie-40gb", "nvidia-a100-pcie-40gb"),
    ("a100-sxm-40gb", "nvidia-a100-sxm4-40gb"),
    ("a6000-48gb", "nvidia-rtx-a6000"),
    ("v100-pcie-32gb", "nvidia-v100-pcie-32gb"),
    ("mi250-128gb", "amd-mi250"),
    ("mi250x-128gb", "amd-mi250x"),
    # spellings the MLPerf importer normalises to (CPU names without (R), edge devices)
    ("Intel Xeon Platinum 8592+", "intel-xeon-platinum-8592plus"),
    ("Intel Xeon 6980P", "intel-xeon-6980p"),
    ("NVIDIA Jetson AGX Orin 64GB", "nvidia-jetson-agx-orin-64gb"),
    ("Intel Arc Pro B60", "intel-arc-pro-b60"),
]

#: (spelling a dataset uses for a model, intended model key) -- those that are the entry's hf_id.
MODEL_SPELLINGS = [
    ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b"),
    ("meta-llama/Llama-3.3-70B-Instruct", "llama-3.3-70b"),
    ("meta-llama/Meta-Llama-3-8B", "llama-3-8b"),
    ("meta-llama/Meta-Llama-3-70B", "llama-3-70b"),
    ("meta-llama/Llama-2-7b-hf", "llama-2-7b"),
    ("meta-llama/Llama-2-70b-hf", "llama-2-70b"),
    ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "llama-4-scout-17b-16e"),
    ("meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8", "llama-4-maverick-17b-128e"),
    ("mistralai/Mistral-7B-v0.1", "mistral-7b-v0.1"),
    ("mistralai/Mixtral-8x7B-v0.1", "mixtral-8x7b"),
    ("mistralai/Mixtral-8x22B-Instruct-v0.1", "mixtral-8x22b"),
    ("Qwen/Qwen2-72B", "qwen2-72b"),
    ("Qwen/Qwen3-30B-A3B-Instruct-2507", "qwen3-30b-a3b"),
    ("Qwen/Qwen3-235B-A22B-Instruct-2507", "qwen3-235b-a22b"),
    ("Qwen/Qwen3-Coder-480B-A35B-Instruct", "qwen3-coder-480b-a35b"),
    ("google/gemma-3-27b-it", "gemma-3-27b"),
    ("google/gemma-2-9b-it", "gemma-2-9b"),
    ("microsoft/Phi-3-small-8k-instruct", "phi-3-small-8k"),
    ("openai/gpt-oss-120b", "gpt-oss-120b"),
    ("deepseek-ai/DeepSeek-R1-0528", "deepseek-r1"),
    ("EleutherAI/gpt-j-6b", "gpt-j-6b"),
    ("bigcode/starcoder2-15b", "starcoder2-15b"),
    ("codellama/CodeLlama-34b-hf", "codellama-34b"),
    ("StabilityAI/stablelm-tuned-alpha-7b", "stablelm-tuned-alpha-7b"),
    ("Qwen/Qwen3-VL-8B-Instruct", "qwen3-vl-8b"),
    ("llava-hf/llava-1.5-7b-hf", "llava-1.5-7b"),
    # aliases: other checkpoints of the same architecture and dataset nicknames
    ("meta-llama/Meta-Llama-3.1-8B-Instruct", "llama-3.1-8b"),
    ("meta-llama/Meta-Llama-3.1-405B-Instruct", "llama-3.1-405b"),
    ("meta-llama/Llama-3.1-405B-Instruct-FP8", "llama-3.1-405b"),
    ("LLaMA 3 8B", "llama-3-8b"),
    ("LLaMA 3 70B", "llama-3-70b"),
    ("neuralmagic/Meta-Llama-3-8B-Instruct-FP8", "llama-3-8b"),
    ("meta-llama/Llama-2-70b-chat-hf", "llama-2-70b"),
    ("llama2-70b", "llama-2-70b"),
    ("meta-llama/Llama-2-7b-chat-hf", "llama-2-7b"),
    ("gptj-99", "gpt-j-6b"),
    ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b"),
    ("mistralai/Mistral-7B-v0.3", "mistral-7b-v0.3"),
    ("deepseek-ai/DeepSeek-R1", "deepseek-r1"),
    ("deepseek-ai/DeepSeek-V3.1", "deepseek-v3"),
    ("Qwen/Qwen3-235B-A22B-Thinking-2507-FP8", "qwen3-235b-a22b"),
    ("Qwen/Qwen3-30B-A3B-Thinking-2507", "qwen3-30b-a3b"),
    ("Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8", "qwen3-coder-480b-a35b"),
    ("Qwen/Qwen3-VL-235B-A22B-Instruct-FP8", "qwen3-vl-235b-a22b"),
    ("google/gemma-1.1-7b-it", "gemma-7b"),
    ("metaai/llama-7B", "llama-7b"),
    ("lmsys/vicuna-13B", "llama-13b"),
    ("databricks/dolly-v2-12b", "pythia-12b"),
    ("FreedomIntelligence/phoenix-inst-chat-7b", "bloom-7b1"),
]

REQUIRED_HARDWARE = [
    "local-cpu", "nvidia-h100-sxm-80gb", "amd-mi300x",
    "nvidia-v100-sxm2-16gb", "nvidia-v100-sxm2-32gb", "nvidia-t4", "nvidia-a10g", "nvidia-a10", "nvidia-l4",
    "nvidia-l40s", "nvidia-l40", "nvidia-a40", "nvidia-a100-sxm4-40gb", "nvidia-a100-sxm4-80gb",
    "nvidia-a100-pcie-40gb", "nvidia-a100-pcie-80gb", "nvidia-h100-pcie-80gb", "nvidia-h100-nvl-94gb",
    "nvidia-h200-sxm-141gb", "nvidia-gh200-96gb", "nvidia-b200", "nvidia-gb200",
    "nvidia-rtx-3070", "nvidia-rtx-3080", "nvidia-rtx-3090", "nvidia-rtx-4080", "nvidia-rtx-4090",
    "nvidia-rtx-a6000", "nvidia-rtx-4000-ada", "nvidia-rtx-5000-ada", "nvidia-rtx-6000-ada",
    "nvidia-rtx-pro-6000-blackwell-server", "amd-mi250", "amd-mi325x", "amd-mi355x", "intel-gaudi2",
    "intel-max-1550", "sambanova-sn40l", "apple-m1", "apple-m1-max", "apple-m2-ultra", "apple-m3-max",
    "intel-xeon-platinum-8592plus", "intel-xeon-6980p", "intel-xeon-6787p",
    "nvidia-h200-nvl-141gb", "nvidia-gh200-144gb", "nvidia-b300", "nvidia-gb300", "amd-mi250x", "intel-gaudi3",
    "google-tpu-v5e", "google-tpu-v6e",
]

REQUIRED_MODELS = [
    "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b", "llama-3.1-8b", "llama-3.1-70b",
    "llama-3.1-405b", "llama-3.3-70b", "llama-4-scout-17b-16e", "llama-4-maverick-17b-128e", "mistral-7b-v0.1",
    "mixtral-8x7b", "mixtral-8x22b", "qwen2-7b", "qwen2-72b", "qwen3-8b", "qwen3-30b-a3b", "qwen3-235b-a22b",
    "gemma-2-9b", "gemma-3-27b", "phi-3-mini-4k", "gpt-oss-20b", "gpt-oss-120b", "deepseek-v3", "deepseek-r1",
    "gpt-j-6b", "bloom-176b", "codellama-7b", "starcoder2-15b",
    "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-14b", "qwen3-32b", "llama-7b", "llama-13b", "llama-30b",
    "llama-65b", "gpt-neox-20b", "starcoder", "codegen2-1b", "codegen2-3.7b", "codegen2-16b", "mpt-7b", "mpt-30b",
]


def test_catalog_loads_with_every_required_device_family_and_dataset_model(catalog):
    assert len(catalog.hardware) >= 33
    missing_hw = [k for k in REQUIRED_HARDWARE if k not in catalog.hardware]
    assert not missing_hw, f"missing hardware: {missing_hw}"
    missing_models = [k for k in REQUIRED_MODELS if k not in catalog.models]
    assert not missing_models, f"missing models: {missing_models}"
    for key, hw in catalog.hardware.items():
        assert key.startswith((f"{hw.vendor}-", "local-")), f"{key} lacks its vendor prefix {hw.vendor!r}"
        if key != "local-cpu":
            assert hw.spec_reference, f"{key} names no spec_reference"


@pytest.mark.parametrize("spelling,key", HARDWARE_SPELLINGS, ids=[s for s, _ in HARDWARE_SPELLINGS])
def test_every_dataset_and_smi_spelling_resolves_to_the_intended_hardware_key(catalog, spelling, key):
    assert catalog.hw(spelling).key == key


@pytest.mark.parametrize("spelling,key", MODEL_SPELLINGS, ids=[s for s, _ in MODEL_SPELLINGS])
def test_dataset_hugging_face_ids_resolve_to_the_intended_model_key(catalog, spelling, key):
    assert catalog.model(spelling).key == key


def test_no_alias_device_name_or_hf_id_is_claimed_by_two_entries_or_shadows_a_key(catalog):
    owners: dict[str, set[str]] = {}
    for key, hw in catalog.hardware.items():
        for name in hw.aliases + ([hw.device_name] if hw.device_name else []):
            owners.setdefault(name.strip().lower(), set()).add(key)
    clashes = {name: keys for name, keys in owners.items() if len(keys) > 1}
    assert not clashes, f"names claimed by several entries: {clashes}"
    shadowing = {name: keys for name, keys in owners.items()
                 if name in catalog.hardware and keys != {name}}
    assert not shadowing, f"aliases equal to another entry's key: {shadowing}"
    model_owners: dict[str, set[str]] = {}
    for key, m in catalog.models.items():
        for name in m.aliases + ([m.hf_id] if m.hf_id else []):
            model_owners.setdefault(name.strip().lower(), set()).add(key)
    model_clashes = {name: keys for name, keys in model_owners.items()
                     if len(keys) > 1 or (name in catalog.models and keys != {name})}
    assert not model_clashes, f"model hf_ids/aliases claimed twice or shadowing a key: {model_clashes}"


def test_specs_are_physically_plausible_and_bandwidth_comes_with_memory_size(catalog):
    # Host CPUs: DRAM size is a platform choice, so bandwidth without memory size is expected.
    host_cpus = {"intel-xeon-platinum-8592plus", "intel-xeon-6980p", "intel-xeon-6787p"}
    for key, hw in catalog.hardware.items():
        s = hw.specs
        if s.memory_bandwidth_gb_s is not None and key not in host_cpus:
            assert s.memory_gb is not None, f"{key}: bandwidth without memory size"
        for dtype in ("fp32", "bf16", "fp16", "fp8"):
            peak = getattr(s, f"peak_tflops_{dtype}")
            assert peak is None or 0.1 <= peak <= 5100, f"{key}: {dtype} peak {peak} TFLOPS"
        # dense FP4 (no sparsity): at most 16 PFLOPS per device today, and twice-ish FP8
        assert s.peak_tflops_fp4 is None or 1000 <= s.peak_tflops_fp4 <= 16000, f"{key}: fp4 {s.peak_tflops_fp4}"
        if s.peak_tflops_fp4 and s.peak_tflops_fp8:
            assert 1.5 <= s.peak_tflops_fp4 / s.peak_tflops_fp8 <= 3.5, f"{key}: fp4/fp8 ratio"
        assert s.peak_tflops_bf16 is None or s.peak_tflops_bf16 <= 5000, key
        if s.peak_tflops_fp32 and s.peak_tflops_bf16:
            assert s.peak_tflops_bf16 >= s.peak_tflops_fp32, f"{key}: bf16 tensor peak below fp32"
        if s.peak_tflops_bf16 and s.peak_tflops_fp8:
            assert s.peak_tflops_fp8 >= s.peak_tflops_bf16, f"{key}: fp8 peak below bf16"
        assert s.memory_bandwidth_gb_s is None or 20 <= s.memory_bandwidth_gb_s <= 10000, key  # Jetson Orin Nano 4GB: 34
        assert s.memory_gb is None or 4 <= s.memory_gb <= 512, key
        assert s.tdp_w is None or 5 <= s.tdp_w <= 2000, key  # Jetson Orin Nano 4GB: 10 W at most
        assert s.interconnect_bandwidth_gb_s is None or s.interconnect_bandwidth_gb_s <= 3600, key
        assert s.price_per_hour_usd is None or 0.1 <= s.price_per_hour_usd <= 50, key
        if hw.kind in ("cuda", "rocm") and key != "sambanova-sn40l":
            assert s.memory_gb and s.memory_bandwidth_gb_s, f"{key}: an accelerator needs memory facts"


def test_moe_models_declare_fewer_active_than_total_params_and_consistent_expert_counts(catalog):
    moe = [m for m in catalog.models.values() if m.architecture and m.architecture.experts]
    assert len(moe) >= 10
    for m in moe:
        a = m.architecture
        assert m.params and m.active_params and m.active_params < m.params, m.key
        assert a.moe_intermediate_size, f"{m.key}: MoE without moe_intermediate_size"
        assert (a.dense_layers or 0) < a.layers, m.key
        facts = model_facts(m)
        assert facts["active_matmul_params"] < facts["matmul_params"], m.key


def test_architecture_implied_parameter_count_is_within_15_percent_of_declared_params(catalog):
    # model_facts derives matmul_params from the architecture; add the input embedding when it
    # is not tied to the LM head. A layer count, width or vocabulary typo moves this by far more.
    off = {}
    for m in catalog.models.values():
        a = m.architecture
        if a is None or m.params is None:
            continue
        computed = model_facts(m)["matmul_params"] + (0 if a.tie_word_embeddings else a.vocab_size * a.hidden_size)
        ratio = computed / m.params
        # Dense models must agree closely; DeepSeek's multi-head latent attention is modelled as
        # plain attention, which overstates its attention weights (still within 15%).
        if not 0.85 <= ratio <= 1.15:
            off[m.key] = round(ratio, 3)
    assert not off, f"architecture disagrees with declared params: {off}"
    dense = [m for m in catalog.models.values() if m.architecture and not m.architecture.experts and m.params]
    assert len(dense) >= 40


def test_fp4_peaks_are_given_exactly_for_devices_with_fp4_math(catalog):
    # Blackwell data-center GPUs (NVFP4) and the MI355X (MXFP4) have FP4 tensor math; Hopper,
    # Ampere and the MI300 series do not, so their FP4 fact must stay null (not the FP8 value).
    with_fp4 = {"nvidia-b200", "nvidia-gb200", "nvidia-b300", "nvidia-gb300", "amd-mi355x",
                "nvidia-rtx-pro-6000-blackwell-workstation"}
    assert {k for k, h in catalog.hardware.items() if h.specs.peak_tflops_fp4} == with_fp4
    for key in ("nvidia-h100-sxm-80gb", "nvidia-h200-sxm-141gb", "amd-mi300x", "amd-mi325x", "nvidia-a100-sxm4-80gb"):
        assert catalog.hardware[key].specs.peak_tflops_fp4 is None, key


def test_tpus_are_predict_only_and_mla_models_declare_their_compressed_kv_cache(catalog):
    tpus = [h for h in catalog.hardware.values() if h.kind == "tpu"]
    assert {h.key for h in tpus} == {"google-tpu-v5e", "google-tpu-v6e"}
    assert all(not h.benchmarkable and h.specs.peak_tflops_bf16 and h.specs.memory_bandwidth_gb_s for h in tpus)
    for key in ("deepseek-v3", "deepseek-r1"):
        arch = catalog.models[key].architecture
        assert arch.resolved_kv_cache_dim_per_layer == 512 + 64, key
    llama = catalog.models["llama-3.1-8b"].architecture
    assert llama.kv_cache_dim_per_layer is None
    assert llama.resolved_kv_cache_dim_per_layer == 2 * 8 * 128


def test_every_catalog_price_names_its_provider_instance_quote_page_and_date_read(catalog):
    import re

    from inference_estimation.lib.catalog.hardware import HardwareEntry

    priced = {k: h for k, h in catalog.hardware.items() if h.specs.price_per_hour_usd is not None}
    rented = {"nvidia-h100-sxm-80gb", "nvidia-h200-sxm-141gb", "nvidia-b200", "nvidia-a100-sxm4-40gb",
              "nvidia-a100-sxm4-80gb", "nvidia-l40s", "nvidia-l4", "nvidia-a10g", "nvidia-t4"}
    assert rented <= set(priced)
    for key, hw in priced.items():
        src = hw.price_source
        assert src is not None, f"{key}: a price without its source"
        assert src.provider and src.instance_type and src.quote.startswith("$"), key
        assert src.url.startswith("https://") and re.fullmatch(r"\d{4}(-\d{2}-\d{2})?", src.read_on), key
        assert hw.source_of("price_per_hour_usd") == "public-table", key
        if "per GPU" not in src.quote:  # an instance price: the per-device figure is it over its devices
            quoted = float(re.search(r"\$([\d.]+)", src.quote).group(1))
            assert hw.specs.price_per_hour_usd == pytest.approx(quoted / src.devices_per_instance, abs=0.006), key
    with pytest.raises(ValueError, match="price_source without specs.price_per_hour_usd"):
        HardwareEntry.model_validate({**catalog.hw("amd-mi300x").model_dump(),
                                      "price_source": priced["nvidia-b200"].price_source.model_dump()})
