"""Stages stand side by side: no module of one ``defs/`` stage imports another stage.

Shared pieces live beside the stages (``defs/resources.py``, ``defs/conditions.py``,
``defs/range_checks.py``, ``defs/jobs.py``) or in ``lib/``; a stage reaches another stage's
assets by asset key, never by importing its module. Imports are read with ``ast`` (module level
and inside functions alike), so nothing is imported to find them.
"""

import ast
from pathlib import Path

import pytest

import inference_estimation

DEFS = Path(inference_estimation.__file__).parent / "defs"
PACKAGE = "inference_estimation.defs"

#: Imports across stages still to be removed: (importing file, imported stage) -> why it is there.
PENDING: dict[tuple[str, str], str] = {}


def stages() -> list[str]:
    """The stage folders of ``defs/`` (each a package)."""
    return sorted(p.name for p in DEFS.iterdir() if (p / "__init__.py").exists())


def imported_modules(path: Path, module: str) -> set[str]:
    """Every module ``path`` imports, absolute (relative imports resolved against ``module``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def stage_of(name: str) -> str | None:
    """The ``defs/`` stage a dotted module name is in (None outside the stages)."""
    if not name.startswith(PACKAGE + "."):
        return None
    first = name[len(PACKAGE) + 1:].split(".")[0]
    return first if first in stages() else None


def cross_stage_imports() -> dict[tuple[str, str], list[str]]:
    """(importing file relative to defs/, imported stage) -> the imported modules."""
    found: dict[tuple[str, str], list[str]] = {}
    for stage in stages():
        for path in sorted((DEFS / stage).rglob("*.py")):
            relative = path.relative_to(DEFS)
            module = ".".join([PACKAGE, *relative.with_suffix("").parts])
            for name in sorted(imported_modules(path, module)):
                other = stage_of(name)
                if other is not None and other != stage:
                    found.setdefault((relative.as_posix(), other), []).append(name)
    return found


def test_no_defs_stage_imports_another_stage():
    found = cross_stage_imports()
    new = {key: names for key, names in found.items() if key not in PENDING}
    assert new == {}, f"a stage imports another stage (share it through lib/ or a defs/ module beside the stages): {new}"


def test_pending_cross_stage_imports_are_still_real_so_the_list_only_shrinks():
    assert set(PENDING) <= set(cross_stage_imports()), "remove the entries that are gone from PENDING"


@pytest.mark.parametrize("source, expected", [
    ("from inference_estimation.defs.benchmarks.assets import benchmark_runs", {("x/a.py", "benchmarks")}),
    ("def f():\n    from inference_estimation.defs.training import assets", {("x/a.py", "training")}),
    ("from ..benchmarks import checks", {("x/a.py", "benchmarks")}),
    ("from inference_estimation.defs.resources import HomeResource", set()),
    ("from inference_estimation.lib.data import quality", set()),
])
def test_the_import_walk_sees_module_level_lazy_and_relative_imports(tmp_path, source, expected):
    path = tmp_path / "a.py"
    path.write_text(source)
    names = imported_modules(path, f"{PACKAGE}.x.a")
    assert {("x/a.py", stage) for stage in map(stage_of, names) if stage and stage != "x"} == expected
