"""Names as people write them: the spelling table of real-world names, and how refusals read.

``data/name_spellings.csv`` holds spellings taken from the public sources' own columns (MLPerf
Accelerator/System, ML.ENERGY, Argonne, LLM-Pilot, InferenceX, WattGPU, Epoch, LLMPerf,
llama.cpp tables, llm-analysis, Vidur, Splitwise), from nvidia-smi / rocm-smi / hl-smi / JAX,
cloud GPU names (GCP accelerator types, Azure VM series, AWS) and common hand-written forms,
each with the key it must resolve to, ``-`` (must be refused: not in the catalog), ``?KEY``
(must be refused, naming KEY first) or ``!`` (must be refused suggesting nothing: no entry of
its family and generation).
"""

import csv
from pathlib import Path

import pytest

from inference_estimation.lib.catalog import CatalogError, load_catalog

TABLE = Path(__file__).parent / "data" / "name_spellings.csv"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


def _table() -> list[dict[str, str]]:
    with TABLE.open(encoding="utf-8") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def _outcome(catalog, kind: str, spelling: str) -> tuple[str | None, tuple[str, ...]]:
    lookup = catalog.hw if kind == "hardware" else catalog.model
    try:
        return lookup(spelling).key, ()
    except CatalogError as exc:
        return None, exc.candidates


def test_spelling_table_resolves_at_least_98_percent_and_never_to_a_wrong_key(catalog, capsys):
    rows = _table()
    assert len(rows) >= 150
    unknown_keys = [r["expected"] for r in rows if r["expected"].lstrip("?") not in ("-", "!", *catalog.hardware,
                                                                                    *catalog.models)]
    assert not unknown_keys, f"table names keys the catalog lacks: {unknown_keys}"
    to_resolve = [r for r in rows if r["expected"] not in ("-", "!") and not r["expected"].startswith("?")]
    right, wrong, refused, bad_refusals = 0, [], [], []
    for row in rows:
        got, candidates = _outcome(catalog, row["kind"], row["spelling"])
        expected = row["expected"]
        if expected in ("-", "!") or expected.startswith("?"):
            if got is not None:
                wrong.append((row["spelling"], expected, got))
            elif expected.startswith("?") and candidates[:1] != (expected[1:],):
                bad_refusals.append((row["spelling"], expected[1:], candidates))
            elif expected == "!" and candidates:
                bad_refusals.append((row["spelling"], "nothing", candidates))
        elif got == expected:
            right += 1
        elif got is None:
            refused.append((row["spelling"], expected, candidates))
        else:
            wrong.append((row["spelling"], expected, got))
    share = right / len(to_resolve)
    with capsys.disabled():
        print(f"\nname resolution: {right}/{len(to_resolve)} = {share:.1%} of resolvable spellings resolved "
              f"to the expected key; {len(rows) - len(to_resolve)} must-refuse rows; {len(wrong)} wrong; "
              f"{len(refused)} refused ({len(rows)} rows in {TABLE.name})")
    assert not wrong, f"resolved to a wrong key (spelling, expected, got): {wrong}"
    assert share >= 0.98, f"refused (spelling, expected, candidates): {refused}"
    # a refused spelling that has a right key must list it first
    assert all(c[:1] == (e,) for _, e, c in refused), refused
    assert not bad_refusals, f"refusals not naming the right key first: {bad_refusals}"


def test_a_name_of_several_sizes_is_asked_listing_every_one_and_a_form_factor_defaults_to_the_socketed_part(catalog):
    # one rule for bare and sized names: the memory size is never guessed ...
    with pytest.raises(CatalogError, match="ambiguous hardware 'A100'; could be: nvidia-a100-sxm4-40gb, "
                                           "nvidia-a100-sxm4-80gb, nvidia-a100-pcie-40gb, nvidia-a100-pcie-80gb") as err:
        catalog.hw("A100")
    assert len(err.value.candidates) == 4  # every variant, not the first three
    with pytest.raises(CatalogError, match="ambiguous hardware 'V100'; could be: nvidia-v100-sxm2-16gb, "
                                           "nvidia-v100-sxm2-32gb"):
        catalog.hw("V100")
    with pytest.raises(CatalogError, match="could be: nvidia-a100-pcie-40gb, nvidia-a100-pcie-80gb"):
        catalog.hw("A100 PCIe")
    # ... and the form factor is the socketed part unless the spelling says otherwise, as for H100
    assert catalog.hw("A100 40GB").key == "nvidia-a100-sxm4-40gb"
    assert catalog.hw("V100 32GB").key == "nvidia-v100-sxm2-32gb"
    assert catalog.hw("H100").key == "nvidia-h100-sxm-80gb"


def test_suggestions_stay_in_the_family_and_generation_the_name_says(catalog):
    def refused(name: str) -> tuple[str, ...]:
        with pytest.raises(CatalogError) as err:
            catalog.hw(name)
        return err.value.candidates

    assert refused("NVIDIA L4OS") == ("nvidia-l40s",)  # a letter O for a zero: suggested, never taken
    for other, not_it in (("H20", "nvidia-h200-sxm-141gb"), ("B100", "nvidia-b200"), ("H800", "nvidia-h100-sxm-80gb"),
                          ("A800 80GB", "nvidia-a100-sxm4-80gb"), ("T3K", "nvidia-t4"), ("MI300A", "amd-mi300x")):
        assert not_it not in refused(other), other
    assert catalog.hw("p150 (Blackhole)").key == "tenstorrent-blackhole-p150"
    assert catalog.hw("N300").key == "tenstorrent-wormhole-n300"
    assert "nvidia-jetson-agx-orin-64gb" not in refused("Jetson Orin Nano")
    with pytest.raises(CatalogError, match="closest: phi-3-mini-4k;") as err:
        catalog.model("Phi-3-mini-128k")
    assert "phi-3-vision-128k" not in err.value.candidates


def test_a_name_with_nothing_close_is_refused_saying_how_to_add_it(catalog):
    with pytest.raises(CatalogError, match=r"unknown hardware 'RTX 5090'; not in the catalog: add it in a hardware "
                                           r"overlay, \$INFERENCE_ESTIMATION_HOME/catalog/<name>.yaml.*memory_gb") as err:
        catalog.hw("RTX 5090")
    assert err.value.candidates == ()
    with pytest.raises(CatalogError, match=r"unknown model 'foo-bar-13b'; not in the catalog: add it in a model "
                                           r"overlay.*architecture \(layers, hidden_size, heads, kv_heads"):
        catalog.model("foo-bar-13b")


def test_a_word_the_reader_does_not_know_refuses_instead_of_guessing(catalog):
    # V100S is a different card from the V100: the trailing "S" must not be ignored
    with pytest.raises(CatalogError, match=r"unknown hardware .*unknown word\(s\) 's'.*closest: nvidia-v100-pcie-32gb"):
        catalog.hw("Tesla V100S-PCIE-32GB")
    with pytest.raises(CatalogError, match="closest: nvidia-h100-sxm-80gb"):
        catalog.hw("h100-sxm-80")  # "80" without a unit is not read as a memory size


def test_memory_size_form_factor_and_memory_type_pick_the_variant(catalog):
    assert catalog.hw("GH200 96GB").key == "nvidia-gh200-96gb"
    assert catalog.hw("GH200 144GB").key == "nvidia-gh200-144gb"
    assert catalog.hw("GH200 HBM3e").key == "nvidia-gh200-144gb"
    assert catalog.hw("H100 PCIe").key == "nvidia-h100-pcie-80gb"
    assert catalog.hw("H100 80GB HBM2e").key == "nvidia-h100-pcie-80gb"  # the PCIe card's memory
    assert catalog.hw("V100 SXM2 16GB").key == "nvidia-v100-sxm2-16gb"
    with pytest.raises(CatalogError):
        catalog.hw("NVIDIA Tesla V100 SXM3 32 GB")  # DGX-2's SXM3 V100 (350 W) is not the SXM2 part
    with pytest.raises(CatalogError, match="closest: nvidia-h100-sxm-80gb"):
        catalog.hw("H100 SXM5 80GB HBM3e")  # the H100 is HBM3: "HBM3e" contradicts it
    with pytest.raises(CatalogError, match="closest: nvidia-a100-sxm4-80gb, nvidia-a100-sxm4-40gb"):
        catalog.hw("A100 SXM4 64GB")  # no A100 has 64 GB: the nearest sizes of the form asked for


def test_a_device_count_resolves_only_to_an_entry_of_that_many_devices(catalog):
    assert catalog.hw("8x H100 SXM").key == "nvidia-h100-sxm-80gb-x8"
    assert catalog.hw("1 x T4").key == "nvidia-t4"
    with pytest.raises(CatalogError, match="names 4 x nvidia-a10; here give the device") as err:
        catalog.hw("4 x A10")  # a lookup with no count of its own; resolve_setup takes the count
    assert err.value.candidates == ("nvidia-a10",)


def test_model_versions_are_never_dropped_but_packaging_and_dates_are(catalog):
    assert catalog.model("mistralai/Mixtral-8x22B-v0.1").key == "mixtral-8x22b"
    assert catalog.model("Mistral-7B-Instruct-v0.1").key == "mistral-7b-v0.1"
    with pytest.raises(CatalogError) as err:
        catalog.model("mistralai/Mistral-7B-Instruct-v0.2")
    assert set(err.value.candidates[:2]) == {"mistral-7b-v0.1", "mistral-7b-v0.3"}
    assert catalog.model("deepseek-ai/DeepSeek-V3-0324").key == "deepseek-v3"
    with pytest.raises(CatalogError):
        catalog.model("deepseek-ai/DeepSeek-V2-Lite")
    with pytest.raises(CatalogError, match="not in the catalog") as err:
        catalog.model("bigcode/starcoder2-16b")  # a size that does not exist is not rounded, nor offered
    assert err.value.candidates == ()


def test_name_indexes_are_built_once_per_catalog():
    # how fast a lookup is, cold and warm, is measured by benchmarks/name_lookup_speed.py (no timed
    # assertion here: a loaded machine would fail it, an idle one would hide a regression)
    catalog = load_catalog(overlay_dirs=[])
    catalog.hw("NVIDIA H100 80GB HBM3")
    catalog.model("meta-llama/Llama-3.1-8B-Instruct")
    assert catalog._index("hardware") is catalog._index("hardware")
    assert catalog._index("model") is catalog._index("model")
    assert catalog.hw("H100 SXM 80GB").key == catalog.hw("NVIDIA H100 80GB HBM3").key


def test_a_copy_with_a_new_table_is_indexed_afresh(catalog):
    h100 = catalog.hardware["nvidia-h100-sxm-80gb"]
    renamed = h100.model_copy(update={"aliases": [*h100.aliases, "Hopper eighty"]})
    copy = catalog.model_copy(update={"hardware": {**catalog.hardware, h100.key: renamed}})
    catalog.hw("H100")  # builds the original's index
    assert copy.hw("hopper eighty").key == "nvidia-h100-sxm-80gb"
    with pytest.raises(CatalogError):
        catalog.hw("hopper eighty")


@pytest.mark.parametrize(("spelling", "key", "count"), [
    ("8x H200", "nvidia-h200-sxm-141gb", 8),
    ("8 x H100", "nvidia-h100-sxm-80gb", 8),  # the one-device entry, as 8x H200 (the -x8 node: by its key)
    ("nvidia-h100-sxm-80gb-x8", "nvidia-h100-sxm-80gb-x8", None),
    ("2xA100-80GB", "nvidia-a100-sxm4-80gb", 2),
    ("8\u00d7H200", "nvidia-h200-sxm-141gb", 8),
    ("H200 x8", "nvidia-h200-sxm-141gb", 8),
    ("4x H100", "nvidia-h100-sxm-80gb", 4),
    ("H200", "nvidia-h200-sxm-141gb", None),
    # a device name's own tokens are not a memory size: "10G" in A10G is its name, not 10 GB
    ("4x A10G", "nvidia-a10g", 4),
    ("4xA10G", "nvidia-a10g", 4),
    ("8x A10G", "nvidia-a10g", 8),
    ("4x nvidia-a10g", "nvidia-a10g", 4),
    ("A10G 24GB", "nvidia-a10g", None),
    ("4x L4", "nvidia-l4", 4),
    ("2x L40S", "nvidia-l40s", 2),
    ("4x A10", "nvidia-a10", 4),
    ("4x T4", "nvidia-t4", 4),
    ("2x RTX 4090", "nvidia-rtx-4090", 2),
    ("8x MI300X", "amd-mi300x", 8),
    ("2x H100 NVL", "nvidia-h100-nvl-94gb", 2),
    ("4x GH200 96GB", "nvidia-gh200-96gb", 4),
    ("8x A100 80GB", "nvidia-a100-sxm4-80gb", 8),
    ("A100 80GB", "nvidia-a100-sxm4-80gb", None),
])
def test_a_hardware_name_with_a_count_resolves_to_the_device_and_its_count(catalog, spelling, key, count):
    entry, named = catalog.hw_and_count(spelling)
    assert (entry.key, named) == (key, count)


def test_a_counted_name_answers_on_that_many_devices_and_a_disagreeing_count_names_both(catalog):
    from inference_estimation.lib.ml.setup import resolve_setup, workload

    setup = resolve_setup(catalog, "llama-3.1-70b", "8x H200", workload(1, 512, 128))
    assert setup.hardware.key == "nvidia-h200-sxm-141gb" and setup.work["device_count"] == 8
    same = resolve_setup(catalog, "llama-3.1-70b", "2xA100-80GB", workload(1, 512, 128, device_count=2))
    assert same.work["device_count"] == 2
    with pytest.raises(ValueError, match=r"'8x H200' names 8 devices but the device count given is 4"):
        resolve_setup(catalog, "llama-3.1-70b", "8x H200", workload(1, 512, 128, device_count=4))
    with pytest.raises(CatalogError, match=r"names 8 x nvidia-h200-sxm-141gb"):  # a door with no count of its own
        catalog.hw("8x H200")


def test_a_memory_size_that_contradicts_a_device_named_with_g_is_still_refused(catalog):
    with pytest.raises(CatalogError, match="no entry of that device has these facts"):
        catalog.hw_and_count("4x A10G 48GB")


def test_a_counted_h100_is_the_same_question_as_h100_on_that_many_devices_and_labels_devices(catalog):
    from inference_estimation.lib.ml.setup import resolve_setup, workload

    counted = resolve_setup(catalog, "llama-3.1-70b", "8x H100", workload(1, 512, 128))
    plain = resolve_setup(catalog, "llama-3.1-70b", "H100", workload(1, 512, 128, device_count=8))
    assert counted.hardware.key == plain.hardware.key == "nvidia-h100-sxm-80gb"
    assert counted.echo() == plain.echo() and counted.echo()["devices"] == "8 x nvidia-h100-sxm-80gb"
    node = resolve_setup(catalog, "llama-3.1-70b", "nvidia-h100-sxm-80gb-x8", workload(1, 512, 128))
    assert node.echo()["devices"] == "1 node of 8 x nvidia-h100-sxm-80gb-x8 (8 devices)"



def test_a_counted_h100_refusal_counts_single_devices(catalog):
    from inference_estimation.lib.ml.setup import resolve_setup, workload

    counted = resolve_setup(catalog, "deepseek-r1", "8x H100", workload(1, 512, 128, dtype="fp8"))
    assert "on 8 x nvidia-h100-sxm-80gb" in counted.refusal
    assert "the fewest nvidia-h100-sxm-80gb devices that fit it at fp8 are 16" in counted.refusal


@pytest.mark.parametrize(("spelling", "key", "dtype"), [
    ("meta-llama/Llama-3.1-8B-Instruct-FP8", "llama-3.1-8b", "fp8"),
    ("Llama-3.1-8B-Instruct-FP8-Dynamic", "llama-3.1-8b", "fp8"),
    ("Llama-3.1-8B-Instruct-AWQ", "llama-3.1-8b", "int4"),
    ("Llama-3.1-8B-Instruct-GPTQ", "llama-3.1-8b", "int4"),
    ("Qwen2.5-7B-Instruct-GPTQ-Int8", "qwen2.5-7b", "int8"),  # a width beats the method's 4 bits
    ("Llama-3.1-8B-Instruct-Int4", "llama-3.1-8b", "int4"),
    ("Llama-3.1-8B-Instruct-W4A16", "llama-3.1-8b", "int4"),
    ("Llama-3.1-8B-Instruct-NVFP4", "llama-3.1-8b", "fp4"),
    ("Llama-3.1-8B-Instruct-MXFP4", "llama-3.1-8b", "fp4"),
    ("Llama-3.1-8B-Instruct-w8a8", "llama-3.1-8b", "int8"),
    ("RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w8a8", "llama-3.1-8b", "int8"),
    ("bartowski/Meta-Llama-3.1-8B-Instruct-Q4_K_M", "llama-3.1-8b", "int4"),
    ("Meta-Llama-3.1-8B-Instruct-Q8_0.gguf", "llama-3.1-8b", "int8"),
    ("unsloth/Llama-3.1-8B-Instruct-bnb-4bit", "llama-3.1-8b", "int4"),
    ("unsloth/gpt-oss-20b-BF16", "gpt-oss-20b", "bfloat16"),
    # names whose suffix is no quantisation state no dtype
    ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b", None),
    ("Llama-3.1-8B-Instruct-GGUF", "llama-3.1-8b", None),
    ("Qwen3-30B-A3B", "qwen3-30b-a3b", None),
    ("gpt-oss-20b", "gpt-oss-20b", None),
    ("Phi-3-mini-4k", "phi-3-mini-4k", None),
    ("Mixtral-8x7B", "mixtral-8x7b", None),
])
def test_a_model_name_with_a_quantisation_resolves_to_the_base_model_and_that_dtype(catalog, spelling, key, dtype):
    entry, named = catalog.model_and_dtype(spelling)
    assert (entry.key, named) == (key, dtype)


@pytest.mark.parametrize(("spelling", "match"), [
    ("Meta-Llama-3.1-8B-Instruct-Q5_K_M", r"names the quantisation 'q5_k_m', which has no dtype here"),
    ("Llama-3.1-8B-Instruct-FP8-Int4", r"names several dtypes"),
])
def test_a_model_name_whose_quantisation_has_no_dtype_is_refused_not_answered_in_16_bits(catalog, spelling, match):
    with pytest.raises(CatalogError, match=match):
        catalog.model_and_dtype(spelling)


def test_a_quantised_model_name_is_answered_in_its_dtype_and_a_disagreeing_dtype_names_both(catalog):
    from inference_estimation.lib.ml.setup import resolve_setup, workload

    name = "meta-llama/Llama-3.1-8B-Instruct-FP8"
    named = resolve_setup(catalog, name, "H100", workload(8, 1000, 500))
    plain = resolve_setup(catalog, "llama-3.1-8b", "H100", workload(8, 1000, 500, dtype="fp8"))
    assert named.model.key == "llama-3.1-8b" and named.work["dtype"] == "fp8"
    assert named.echo() == plain.echo() and named.echo()["memory"]["weights_gb"] < 10  # 8 GB at fp8, not 16
    assert f"dtype fp8: named by the model name {name!r}" in named.notes
    assert resolve_setup(catalog, name, "H100", workload(8, 1000, 500, dtype="float8")).work["dtype"] == "fp8"
    with pytest.raises(ValueError, match=rf"model {name!r} names dtype fp8 but the dtype given is bfloat16"):
        resolve_setup(catalog, name, "H100", workload(8, 1000, 500, dtype="bf16"))
    awq = resolve_setup(catalog, "Llama-3.1-8B-Instruct-AWQ", "4x A10G", workload(8, 1000, 500))
    assert (awq.work["dtype"], awq.work["device_count"], awq.hardware.key) == ("int4", 4, "nvidia-a10g")
