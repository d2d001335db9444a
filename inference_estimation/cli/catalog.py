"""``catalog`` and ``catalog show``: validate and list the catalog, or show one entry with its spec sources."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from inference_estimation.cli.args import print_error


def catalog_command(args: argparse.Namespace) -> int:
    """``catalog``: validate the catalog and list its keys (``show KEY``: one entry; a spec cross-check)."""
    from inference_estimation.lib.catalog import CatalogError, load_catalog
    from inference_estimation.lib.home import activate_home

    activate_home(args.home)
    try:
        catalog = load_catalog()
    except CatalogError as exc:
        print_error(exc)
        return 2
    if args.action == "show":
        return _catalog_show(catalog, args.key)
    if args.key:
        print(f"error: unexpected {args.key!r}; use `catalog show KEY`", file=sys.stderr)
        return 2
    print(f"models ({len(catalog.models)}): {', '.join(catalog.models)}")
    print(f"hardware ({len(catalog.hardware)}): {', '.join(catalog.hardware)}")
    print(f"benchmarkable hardware: {', '.join(catalog.partition_hardware)}")
    print(f"sweeps: {', '.join(catalog.sweeps)}")
    print(f"files: {', '.join(catalog.files)}")
    if args.check_specs_from:
        from pathlib import Path

        from inference_estimation.lib.data.external.spec_crosscheck import (
            WATTGPU_FOLDER,
            SpecTableError,
            cross_check_wattgpu,
        )

        root = Path(args.check_specs_from).expanduser()
        folder = root / WATTGPU_FOLDER if (root / WATTGPU_FOLDER).is_dir() else root
        try:
            check = cross_check_wattgpu(catalog, folder, tolerance=args.spec_tolerance_pct / 100.0)
        except SpecTableError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"WattGPU cross-check: {check.compared} facts of {len(check.resolved)} GPUs compared, "
              f"{len(check.disagreements)} beyond {args.spec_tolerance_pct:g}%; not in the catalog: "
              f"{', '.join(check.unresolved) or 'none'}")
        for disagreement in check.disagreements:
            print(f"  {disagreement}")
    print("`inference-estimation catalog show KEY` shows one entry (specs, aliases, spec sources)")
    return 0


def _catalog_show(catalog: Any, key: str | None) -> int:
    """One catalog entry (hardware, model or sweep; a key or any alias) as YAML, with each spec fact's source."""
    import yaml

    from inference_estimation.lib.catalog import CatalogError

    if not key:
        print("error: `catalog show` needs a KEY (a model, hardware or sweep key, or an alias)", file=sys.stderr)
        return 2
    found, errors = [], []
    for kind, lookup in (("hardware", catalog.hw), ("model", catalog.model), ("sweep", catalog.sweep)):
        try:
            found.append((kind, lookup(key)))
        except CatalogError as exc:
            errors.append(str(exc))
    if not found:
        for line in errors:
            print(f"error: {line}", file=sys.stderr)
        return 2
    for kind, entry in found:
        data = entry.model_dump(mode="json", exclude_none=True)
        print(f"# {kind} {entry.key if hasattr(entry, 'key') else entry.name}")
        if kind == "hardware":
            data["spec_sources"] = {fact: entry.source_of(fact) for fact in data.get("specs", {})}
        print(yaml.safe_dump(data, sort_keys=False, width=100).rstrip())
    return 0


