"""A rule applied once per distinct key of many rows: what column-wise resolution is built from.

A rule whose answer depends only on a few facts of a row (the hardware and the dtype, the model and
the device count, ...) is asked once for each distinct combination of them, and its answer is
spread back over the rows. The rule itself is the one-question function, so a batch of questions
and a single one get the same answer from the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd


def per_distinct(rows: np.ndarray, keys: Sequence[np.ndarray], rule: Callable[..., Any]) -> np.ndarray:
    """``rule(*key)`` for each row of ``rows`` (a boolean mask), asked once per distinct key.

    Args:
        rows: which rows to answer (the others get None).
        keys: one array per argument of ``rule``, a value per row (codes, names, counts).
        rule: the one-question rule; it gets the key's values of the first row that has them.

    Returns:
        An object array, ``rule``'s answer on the rows asked, None elsewhere.
    """
    out = np.full(len(rows), None, dtype=object)
    index = np.flatnonzero(rows)
    if len(index) == 0:
        return out
    if len(index) == 1:  # one question: no grouping to do
        out[index[0]] = rule(*(k[index[0]] for k in keys))
        return out
    key = np.zeros(len(index), dtype="int64")
    for k in keys:  # one integer per distinct combination (codes of each key, mixed radix)
        codes, uniques = pd.factorize(np.asarray(k)[index], use_na_sentinel=False)
        key = key * (len(uniques) + 1) + codes
    groups, _ = pd.factorize(key)
    first = np.full(groups.max() + 1, len(index))
    np.minimum.at(first, groups, np.arange(len(index)))
    answers = np.empty(len(first), dtype=object)
    for j, i in enumerate(index[first]):
        answers[j] = rule(*(k[i] for k in keys))
    out[index] = answers[groups]
    return out
