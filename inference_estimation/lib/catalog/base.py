"""What every catalog entry shares: the strict model base, the key rule and the catalog's error."""

from __future__ import annotations

import re

from pydantic import (
    BaseModel,
    ConfigDict,
)

KEY_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9.\-]*[a-z0-9])?$")
from inference_estimation.lib.catalog.vocabulary import BYTES_PER_ELEMENT

#: The canonical dtypes (one vocabulary: :mod:`inference_estimation.lib.catalog.vocabulary`).
DTYPES = tuple(BYTES_PER_ELEMENT)
SPEC_SOURCES = ("vendor-sheet", "public-table", "probe", "user")


class CatalogError(ValueError):
    """The catalog is invalid (the message names the file and the field), or a name is unknown.

    Attributes:
        candidates: for a refused name, the keys it may mean, best first (else empty).
    """

    def __init__(self, message: str, candidates: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.candidates = tuple(candidates)


class StrictEntry(BaseModel):
    """A frozen catalog record that refuses unknown fields (a typo is an error, not a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_key(value: str) -> str:
    """Returns ``value`` if it is a partition-safe lower-case slug.

    Raises:
        ValueError: naming the rule.
    """
    if not KEY_PATTERN.match(value) or "|" in value or "," in value:
        raise ValueError(
            f"key {value!r} must be a lower-case slug of letters, digits, '.' and '-' (partition-safe)"
        )
    return value


