"""Every accelerator's dtype facts agree with its generation (``catalog/rules/generations.yaml``).

bfloat16 tensor math from NVIDIA Ampere and AMD CDNA2; fp8 only on NVIDIA Ada/Hopper/Blackwell, AMD
CDNA3 and later, Intel Gaudi 2 and later; fp4 only on NVIDIA Blackwell and AMD CDNA4. A peak listed
for math the generation lacks is an error; math the generation has without a peak must be listed
below as unknown (not zero), so a filled fact or a new gap is seen here.
"""

from __future__ import annotations

import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.catalog.generations import generations

#: The dtypes the audit holds to the generation, and the peak fact of each.
AUDITED = {"bfloat16": "peak_tflops_bf16", "fp8": "peak_tflops_fp8", "fp4": "peak_tflops_fp4"}

#: (entry, dtype) whose generation has the math but whose dense peak no datasheet found here states:
#: unknown, not zero. The physics refuses these dtypes on them (saying the figure is missing) until
#: an overlay adds the peak.
UNKNOWN_NOT_ZERO = {
    # Ampere Jetson modules: NVIDIA publishes only sparse INT8 TOPS for the GPU.
    **{(key, "bfloat16"): "Jetson Orin datasheet: sparse INT8 TOPS only" for key in (
        "nvidia-jetson-orin-nano-4gb", "nvidia-jetson-orin-nano-8gb", "nvidia-jetson-orin-nx-8gb",
        "nvidia-jetson-orin-nx-16gb", "nvidia-jetson-agx-orin-32gb", "nvidia-jetson-agx-orin-64gb")},
    # Blackwell: the Thor module's sheet gives sparse FP4 only; the RTX PRO 6000 server edition's
    # clocks differ from the workstation edition's and its sheet gives sparse "AI TOPS" only.
    **{("nvidia-jetson-agx-thor", d): "Jetson Thor: sparse FP4 TFLOPS only" for d in AUDITED},
    **{("nvidia-rtx-pro-6000-blackwell-server", d): "server-edition dense peaks not published" for d in AUDITED},
    # Intel Xe2 XMX: only INT8 TOPS are published for the Arc Pro B60.
    ("intel-arc-pro-b60", "bfloat16"): "Xe2 XMX BF16 peak not published (INT8 TOPS only)",
    # Tenstorrent quotes FP16 and block-FP8 figures; a separate BF16 figure is not stated.
    ("tenstorrent-wormhole-n150", "bfloat16"): "Tenstorrent states FP16 and FP8 only",
    ("tenstorrent-wormhole-n300", "bfloat16"): "Tenstorrent states FP16 and FP8 only",
    **{(key, d): "Blackhole peaks not in the catalog" for key in (
        "tenstorrent-blackhole-p100", "tenstorrent-blackhole-p150") for d in ("bfloat16", "fp8")},
}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


def test_every_accelerator_names_a_generation_of_its_own_vendor(catalog):
    table = generations()
    for key, h in catalog.hardware.items():
        if key == "local-cpu":
            continue  # this machine, probed: its generation is whatever it is
        assert h.generation is not None, f"{key}: no generation"
        assert table[h.generation].vendor == h.vendor, f"{key}: {h.generation} is not a {h.vendor} generation"


def test_no_entry_lists_a_peak_for_math_its_generation_lacks(catalog):
    wrong = [f"{key}: {fact} = {getattr(h.specs, fact)} but {h.generation} has no {dtype} math"
             for key, h in catalog.hardware.items() if h.generation_facts and h.kind != "cpu"
             for dtype, fact in AUDITED.items()
             if getattr(h.specs, fact) is not None and not h.generation_facts.has_math(dtype)]
    assert wrong == []


def test_math_a_generation_has_without_a_peak_is_listed_as_unknown_not_zero(catalog):
    missing = {(key, dtype) for key, h in catalog.hardware.items() if h.generation_facts and h.kind != "cpu"
               for dtype, fact in AUDITED.items()
               if getattr(h.specs, fact) is None and h.generation_facts.has_math(dtype)}
    assert missing - set(UNKNOWN_NOT_ZERO) == set(), "fill these peaks from a datasheet, or list them as unknown"
    assert set(UNKNOWN_NOT_ZERO) - missing == set(), "these peaks are filled now: drop them from the unknown list"


@pytest.mark.parametrize(("key", "generation", "bf16", "fp8", "fp4"), [
    ("nvidia-v100-sxm2-32gb", "volta", False, False, False),
    ("nvidia-t4", "turing", False, False, False),
    ("nvidia-a10g", "ampere", True, False, False),
    ("nvidia-a10", "ampere", True, False, False),
    ("nvidia-a40", "ampere", True, False, False),
    ("nvidia-a100-sxm4-80gb", "ampere", True, False, False),
    ("nvidia-l4", "ada", True, True, False),
    ("nvidia-l40s", "ada", True, True, False),
    ("nvidia-h100-sxm-80gb", "hopper", True, True, False),
    ("nvidia-h200-sxm-141gb", "hopper", True, True, False),
    ("nvidia-b200", "blackwell", True, True, True),
    ("amd-mi250x", "cdna2", True, False, False),
    ("amd-mi300x", "cdna3", True, True, False),
    ("amd-mi355x", "cdna4", True, True, True),
    ("intel-gaudi2", "gaudi2", True, True, False),
    ("intel-gaudi3", "gaudi3", True, True, False),
    ("intel-max-1550", "xe-hpc", True, False, False),
])
def test_the_devices_people_ask_about_have_the_math_of_their_generation(catalog, key, generation, bf16, fp8, fp4):
    h = catalog.hw(key)
    assert h.generation == generation
    assert (h.generation_facts.has_math("bfloat16"), h.generation_facts.has_math("fp8"),
            h.generation_facts.has_math("fp4")) == (bf16, fp8, fp4)
