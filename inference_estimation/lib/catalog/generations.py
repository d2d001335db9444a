"""Accelerator generations and the dtypes each computes in: the table ``catalog/rules/generations.yaml``.

A hardware entry names its ``generation``; the generation says which precisions have dense
tensor/matrix math there (bfloat16 from NVIDIA Ampere, fp8 from Ada/Hopper and CDNA3, fp4 on
Blackwell and CDNA4). The entry's ``peak_tflops_*`` facts decide what the physics computes at;
this table says why a precision is missing (the device has no such math, or only its figure is
unknown) and a test holds the two together.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from inference_estimation.lib.catalog.base import DTYPES, StrictEntry

GENERATIONS_FILE = Path(__file__).resolve().parents[2] / "catalog" / "rules" / "generations.yaml"


class Generation(StrictEntry):
    """One generation: its vendor, the dtypes it has tensor math for, and devices of it."""

    vendor: str
    tensor_math: tuple[str, ...]
    devices: str

    def has_math(self, dtype: str) -> bool:
        """Whether the generation computes ``dtype`` (a canonical dtype) on its tensor/matrix units."""
        return dtype in self.tensor_math


@cache
def generations() -> dict[str, Generation]:
    """The generation table, by name.

    Raises:
        ValueError: for a dtype outside the vocabulary.
    """
    raw = yaml.safe_load(GENERATIONS_FILE.read_text())["generations"]
    table = {name: Generation(**row) for name, row in raw.items()}
    for name, gen in table.items():
        unknown = set(gen.tensor_math) - set(DTYPES)
        if unknown:
            raise ValueError(f"{GENERATIONS_FILE.name}: {name}: unknown dtypes {sorted(unknown)}")
    return table
