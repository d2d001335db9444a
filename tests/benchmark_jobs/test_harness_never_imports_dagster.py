"""benchmark_jobs runs on machines without dagster: it may import dagster_pipes, never dagster.

Likewise engines and GPU libraries (vllm, pynvml, amdsmi, xgboost, catboost) are imported only
when a run uses them, so importing the harness works on any machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import benchmark_jobs

PACKAGE_DIR = Path(benchmark_jobs.__file__).parent
DAGSTER_IMPORT = re.compile(r"^\s*(?:import\s+dagster(?:\s|$|\.|,)|from\s+dagster(?:\s|\.))", re.MULTILINE)


def test_the_import_pattern_flags_dagster_and_allows_dagster_pipes():
    assert DAGSTER_IMPORT.search("import dagster as dg")
    assert DAGSTER_IMPORT.search("    from dagster import asset")
    assert DAGSTER_IMPORT.search("from dagster._core import x")
    assert not DAGSTER_IMPORT.search("from dagster_pipes import open_dagster_pipes")
    assert not DAGSTER_IMPORT.search("import dagster_pipes")


def test_no_harness_source_file_imports_dagster():
    sources = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(sources) > 10
    offenders = [str(p.relative_to(PACKAGE_DIR)) for p in sources if DAGSTER_IMPORT.search(p.read_text())]
    assert offenders == []


def test_importing_every_harness_module_loads_no_dagster_module():
    modules = sorted(
        ".".join(("benchmark_jobs", *p.relative_to(PACKAGE_DIR).with_suffix("").parts)).removesuffix(
            ".__init__"
        )
        for p in PACKAGE_DIR.rglob("*.py")
        if p.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'dagster' or m.startswith('dagster.')))\n"
        "print(sorted(m for m in sys.modules if m in LAZY))\n"
    )
    lazy = "LAZY = ('vllm', 'amdsmi', 'xgboost', 'catboost', 'sklearn')\n"
    completed = subprocess.run(
        [sys.executable, "-c", lazy + code], capture_output=True, text=True, timeout=120, check=True
    )
    dagster_modules, lazy_modules = completed.stdout.strip().splitlines()
    assert dagster_modules == "[]"
    assert lazy_modules == "[]"  # (torch, and the pynvml torch.cuda imports, come with transformers)
