"""Cross-checks the hardware catalog's spec facts against WattGPU's GPU feature table.

WattGPU (maufadel/wattgpu @4e01035, Apache-2.0) publishes ``data/gpu_features.csv``: TechPowerUp
specs of the 11 NVIDIA GPUs of the Watt Counts benchmark. It holds specs, not measurements, so it
is not an import adapter: nothing here lands in the warehouse or changes the catalog. The check
reports, per GPU and fact, where the catalog and the table disagree by more than a relative
tolerance, so a person can decide which source is right (vendor sheets win over TechPowerUp).

Facts compared (the catalog's unit first):

* ``memory_gb`` <- ``memory_size_gb``;
* ``memory_bandwidth_gb_s`` <- ``memory_bandwidth_gb_s``;
* ``tdp_w`` <- ``thermal_design_power_w``;
* ``peak_tflops_fp16`` <- ``tensor_tflops`` (dense FP16 tensor TFLOP/s; the table's sparse figure
  is ``tensor_tflops_sparsity``). For GeForce cards the catalog records the FP32-accumulate rate.
* ``peak_tflops_fp32`` <- ``single_float_performance_gflop_s`` / 1000 (plain FP32, non-tensor).

Names: a row is looked up by its TechPowerUp name ``gpu_db_name`` first (it names the variant:
"H200 NVL", "H100 PCIe 80 GB"), then by ``gpu_type`` (the name the benchmark reported, which for
the NVL cards drops the variant). A row neither resolves to is listed as unresolved.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from inference_estimation.lib.catalog import Catalog, CatalogError

WATTGPU_FOLDER = "wattgpu_watt_counts"
GPU_FEATURES_FILE = "data/gpu_features.csv"
DEFAULT_TOLERANCE = 0.05
#: catalog spec fact -> (WattGPU column, factor to the catalog's unit).
FACTS: dict[str, tuple[str, float]] = {
    "memory_gb": ("memory_size_gb", 1.0),
    "memory_bandwidth_gb_s": ("memory_bandwidth_gb_s", 1.0),
    "tdp_w": ("thermal_design_power_w", 1.0),
    "peak_tflops_fp16": ("tensor_tflops", 1.0),
    "peak_tflops_fp32": ("single_float_performance_gflop_s", 1e-3),
}


class SpecTableError(ValueError):
    """The WattGPU table is missing or lacks a column; names the file."""


@dataclass(frozen=True)
class SpecDisagreement:
    """One fact of one GPU where the catalog and WattGPU differ beyond the tolerance.

    Attributes:
        gpu: the table's ``gpu_db_name`` (TechPowerUp name).
        hardware_key: the catalog entry it resolved to.
        fact: the catalog spec field.
        catalog_value: the catalog's value (None when the catalog lacks the fact).
        table_value: WattGPU's value in the catalog's unit.
        relative_difference: |catalog - table| / table (None when the catalog lacks it).
    """

    gpu: str
    hardware_key: str
    fact: str
    catalog_value: float | None
    table_value: float
    relative_difference: float | None

    def __str__(self) -> str:
        if self.catalog_value is None:
            return f"{self.hardware_key} ({self.gpu}): {self.fact} missing in catalog, WattGPU {self.table_value:g}"
        return (f"{self.hardware_key} ({self.gpu}): {self.fact} catalog {self.catalog_value:g} vs WattGPU "
                f"{self.table_value:g} ({self.relative_difference:+.1%})")


@dataclass
class SpecCrossCheck:
    """The outcome of a cross-check.

    Attributes:
        disagreements: facts beyond the tolerance (and facts the catalog lacks).
        resolved: table GPU name -> catalog key.
        unresolved: table GPU names the catalog does not know.
        compared: number of (GPU, fact) pairs compared.
    """

    disagreements: list[SpecDisagreement]
    resolved: dict[str, str]
    unresolved: list[str]
    compared: int


def _number(value: str | None) -> float | None:
    if value is None or value.strip() in ("", "None"):
        return None
    return float(value)


def read_wattgpu_gpus(folder: Path) -> list[dict[str, str]]:
    """Rows of WattGPU's ``data/gpu_features.csv`` (``;``-separated).

    Raises:
        SpecTableError: naming the file when it is missing or lacks a compared column.
    """
    path = folder / GPU_FEATURES_FILE
    if not path.exists():
        raise SpecTableError(f"WattGPU: missing file {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    needed = {"gpu_type", "gpu_db_name", *(column for column, _ in FACTS.values())}
    missing = needed - set(rows[0] if rows else ())
    if missing:
        raise SpecTableError(f"WattGPU: {path} lacks column(s) {sorted(missing)}")
    return rows


def cross_check_wattgpu(catalog: Catalog, folder: Path, tolerance: float = DEFAULT_TOLERANCE) -> SpecCrossCheck:
    """Compares the catalog's spec facts with WattGPU's GPU table.

    Args:
        catalog: the hardware catalog (not modified).
        folder: the ``wattgpu_watt_counts`` dataset folder.
        tolerance: relative difference above which a fact is reported (0.05 = 5 %).

    Returns:
        Disagreements per GPU and fact, the names resolved and those the catalog lacks.
    """
    disagreements: list[SpecDisagreement] = []
    resolved: dict[str, str] = {}
    unresolved: list[str] = []
    compared = 0
    for row in read_wattgpu_gpus(folder):
        entry = None
        for name in (row["gpu_db_name"], row["gpu_type"]):
            try:
                entry = catalog.hw(name)
                break
            except CatalogError:
                continue
        if entry is None:
            unresolved.append(row["gpu_db_name"])
            continue
        resolved[row["gpu_db_name"]] = entry.key
        for fact, (column, factor) in FACTS.items():
            table = _number(row[column])
            if table is None or table <= 0:
                continue
            table *= factor
            ours = getattr(entry.specs, fact)
            compared += 1
            if ours is None:
                disagreements.append(SpecDisagreement(row["gpu_db_name"], entry.key, fact, None, table, None))
                continue
            difference = (ours - table) / table
            if abs(difference) > tolerance:
                disagreements.append(SpecDisagreement(row["gpu_db_name"], entry.key, fact, ours, table, difference))
    return SpecCrossCheck(disagreements, resolved, unresolved, compared)
