"""One module per public dataset; each defines adapter instances listed in ``ADAPTERS``.

Modules are discovered by name so that a dataset can be added by dropping in a module that
exposes ``ADAPTERS`` (a list of :class:`~inference_estimation.lib.data.external.base.Adapter`).
"""

from __future__ import annotations

import importlib
import pkgutil

from inference_estimation.lib.data.external.base import Adapter


def _discover() -> list[Adapter]:
    found: list[Adapter] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.extend(getattr(module, "ADAPTERS", []))
    sources = [a.source for a in found]
    duplicates = {s for s in sources if sources.count(s) > 1}
    if duplicates:
        raise RuntimeError(f"duplicate adapter sources: {sorted(duplicates)}")
    return found


ADAPTERS: list[Adapter] = _discover()
