"""The step model's shared parameters: blocks of coefficients and their flat-vector layout.

Each block (an efficiency, an overhead, a share) is ``intercept + a value per category level + a
slope per numeric column``; :class:`Coefficients` holds them and computes a block's value per row,
:class:`Layout` maps them to and from the one vector the optimiser moves
(:mod:`inference_estimation.lib.ml.step_fit`). How a block's value becomes an efficiency or a time
is :mod:`inference_estimation.lib.ml.step_model`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from inference_estimation.lib.ml.step_model import Prepared

#: block -> (categorical columns with one coefficient per level, numeric columns, initial intercept)
BLOCKS: dict[str, tuple[tuple[str, ...], tuple[str, ...], float]] = {
    "gemm": (("platform", "engine", "dtype"), (), 0.0),             # eta = exp(-softplus(z)) ~ 0.5
    "memory": (("platform", "engine", "dtype"), (), -0.9),          # ~ 0.7
    "kv_memory": (("platform", "engine"), (), -0.9),               # ~ 0.7: paged attention reads
    "attention": (("platform", "engine"), (), 0.5),
    "link": (("platform",), (), 0.0),
    "collective_latency": (("platform",), (), -11.5),              # log seconds: ~10 us
    "step_overhead": (("platform", "engine"), ("year",), -6.0),     # log seconds: ~2.5 ms
    "layer_overhead": (("platform", "engine"), ("year",), -11.0),  # ~17 us
    "seq_overhead": (("engine",), ("year",), -12.0),               # ~6 us
    "ttft_overhead": (("engine",), (), -4.0),                      # ~18 ms
    "burst": (("engine",), (), 0.0),                               # share in a burst: sigmoid(z)
}
#: The token-count slope of the GEMM efficiency (>= 0 through softplus), starting value.
GEMM_TOKENS_SLOPE_INIT = 0.0
#: Prior spread (z units / log units) of a category coefficient: pulls rare levels to the intercept.
COEF_PRIOR_SD = 1.0

@dataclass
class Coefficients:
    """The shared parameters: per block an intercept, a value per category level, numeric slopes."""

    intercept: dict[str, float]
    levels: dict[str, dict[str, dict[str, float]]]
    slopes: dict[str, dict[str, float]]
    gemm_tokens_slope: float = GEMM_TOKENS_SLOPE_INIT

    def block_values(self, block: str, prep: Prepared) -> np.ndarray:
        """``z`` of ``block`` per row."""
        cats, nums, initial = BLOCKS[block]
        z = np.full(prep.n, self.intercept.get(block, initial))  # a block a file predates: its start value  # a fixed order: the same sums whatever order a file lists them in
        for col in cats:
            table = self.levels.get(block, {}).get(col, {})
            codes, uniques = prep.codes[col]
            z = z + np.array([table.get(u, 0.0) for u in uniques], dtype="float64")[codes]
        for col in nums:
            z = z + self.slopes.get(block, {}).get(col, 0.0) * prep.numerics[col]
        return z


class Layout:
    """Maps :class:`Coefficients` to and from one flat vector (the optimiser's view)."""

    def __init__(self, levels: dict[str, dict[str, list[str]]]):
        self.levels = levels
        self.names: list[tuple[str, ...]] = []
        for block, (cats, nums, _) in BLOCKS.items():
            self.names.append((block, "intercept"))
            for col in cats:
                self.names.extend((block, col, level) for level in levels[block][col])
            self.names.extend((block, "slope", col) for col in nums)
        self.names.append(("gemm", "tokens_slope"))
        self.prior_mask = np.array([len(n) == 3 for n in self.names])

    def initial(self) -> np.ndarray:
        """The starting vector: each block's initial intercept, every other coefficient 0."""
        x = np.zeros(len(self.names))
        for i, name in enumerate(self.names):
            if name[1] == "intercept":
                x[i] = BLOCKS[name[0]][2]
        return x

    def coefficients(self, x: np.ndarray) -> Coefficients:
        """The :class:`Coefficients` a flat vector stands for."""
        intercept: dict[str, float] = {}
        levels: dict[str, dict[str, dict[str, float]]] = {b: {c: {} for c in BLOCKS[b][0]} for b in BLOCKS}
        slopes: dict[str, dict[str, float]] = {b: {} for b in BLOCKS}
        tokens = 0.0
        for value, name in zip(x, self.names, strict=True):
            if name[1] == "intercept":
                intercept[name[0]] = float(value)
            elif name[1] == "slope":
                slopes[name[0]][name[2]] = float(value)
            elif name[1] == "tokens_slope":
                tokens = float(value)
            else:
                levels[name[0]][name[1]][name[2]] = float(value)
        return Coefficients(intercept, levels, slopes, tokens)
