"""WattGPU GPU-table cross-check of the hardware catalog (specs only; nothing is landed or changed)."""

import shutil

import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.data.external import spec_crosscheck
from tests.conftest import EXTERNAL_DATA_DIR

DATASET = EXTERNAL_DATA_DIR / spec_crosscheck.WATTGPU_FOLDER

pytestmark = pytest.mark.skipif(not DATASET.is_dir(), reason=f"WattGPU tables not present at {DATASET}")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


def test_variant_names_resolve_to_the_variant_not_the_family(catalog):
    result = spec_crosscheck.cross_check_wattgpu(catalog, DATASET)
    # TechPowerUp names carry the variant; gpu_type "NVIDIA H200" alone would be the SXM part
    assert result.resolved["H200 NVL"] == catalog.hw("H200 NVL").key != catalog.hw("H200").key
    assert result.resolved["H100 PCIe 80 GB"] == catalog.hw("H100 PCIe").key
    assert result.resolved["Tesla V100 SXM2 32 GB"] == catalog.hw("V100-SXM2-32GB").key
    assert len(result.resolved) + len(result.unresolved) == 11
    assert result.compared >= 5 * len(result.resolved) - 2  # five facts per GPU where the table has them


def test_a_fact_beyond_the_tolerance_is_reported_with_both_values(catalog, tmp_path):
    shutil.copytree(DATASET / "data", tmp_path / "data")
    table = tmp_path / spec_crosscheck.GPU_FEATURES_FILE
    lines = table.read_text().splitlines()
    header = lines[0].split(";")
    tdp = header.index("thermal_design_power_w")
    for i, line in enumerate(lines):
        cells = line.split(";")
        if cells[0] == "NVIDIA L4":
            ours = catalog.hw("L4").specs.tdp_w
            cells[tdp] = str(ours * 1.5)  # 50 % above the catalog
            lines[i] = ";".join(cells)
    table.write_text("\n".join(lines) + "\n")
    result = spec_crosscheck.cross_check_wattgpu(catalog, tmp_path, tolerance=0.05)
    (found,) = [d for d in result.disagreements if d.hardware_key == catalog.hw("L4").key and d.fact == "tdp_w"]
    assert found.catalog_value == catalog.hw("L4").specs.tdp_w and found.table_value == pytest.approx(ours * 1.5)
    assert found.relative_difference == pytest.approx(1 / 1.5 - 1)
    assert "tdp_w catalog" in str(found)
    # a generous tolerance hides it again
    loose = spec_crosscheck.cross_check_wattgpu(catalog, tmp_path, tolerance=0.6)
    assert not [d for d in loose.disagreements if d.hardware_key == catalog.hw("L4").key and d.fact == "tdp_w"]


def test_the_catalog_is_not_modified_and_a_missing_table_is_named(catalog, tmp_path):
    before = catalog.hw("H200 NVL").specs.model_dump()
    spec_crosscheck.cross_check_wattgpu(catalog, DATASET)
    assert catalog.hw("H200 NVL").specs.model_dump() == before
    with pytest.raises(spec_crosscheck.SpecTableError, match="gpu_features.csv"):
        spec_crosscheck.cross_check_wattgpu(catalog, tmp_path)
