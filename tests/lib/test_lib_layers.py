"""``lib/`` is layered: each folder imports only the folders below it, never the orchestration.

``catalog`` (what exists) < ``physics`` (what a model on a device computes, reads and holds) <
``sweeps`` (what one benchmark partition runs) and ``data`` (the warehouse and the importers) < ``ml``
(the performance model and its answers). Nothing in ``lib/`` imports Dagster's definitions
(``defs/``), the launchers or the CLI, so each folder can be read and tested on its own. Imports are
read with ``ast`` (module level and inside functions alike), so nothing is imported to find them.
"""

from pathlib import Path

import inference_estimation
from tests.defs.test_stage_imports import imported_modules

LIB = Path(inference_estimation.__file__).parent / "lib"
#: Folder -> the ``lib`` folders it may import (``home`` is the shared state folder, allowed to all).
ALLOWED = {
    "catalog": set(),
    "physics": {"catalog"},
    "sweeps": {"catalog", "physics"},
    "data": {"catalog", "physics"},
    "ml": {"catalog", "physics", "sweeps"},
}
FORBIDDEN_PREFIXES = ("inference_estimation.defs", "inference_estimation.launchers", "inference_estimation.cli",
                      "inference_estimation.definitions")


def _layer_imports(lib: Path = LIB) -> dict[str, set[str]]:
    """File (relative to ``lib``) -> the imports that break the layering."""
    bad: dict[str, set[str]] = {}
    for folder, allowed in ALLOWED.items():
        for path in sorted((lib / folder).rglob("*.py")):
            relative = path.relative_to(lib)
            module = ".".join(["inference_estimation", "lib", *relative.with_suffix("").parts])
            for name in imported_modules(path, module):
                if name.startswith(FORBIDDEN_PREFIXES):
                    bad.setdefault(relative.as_posix(), set()).add(name)
                    continue
                if not name.startswith("inference_estimation.lib."):
                    continue
                other = name.split(".")[2]
                if other in ALLOWED and other != folder and other not in allowed:
                    bad.setdefault(relative.as_posix(), set()).add(name)
    return bad


def test_every_lib_module_sits_in_a_stage_folder():
    loose = sorted(p.name for p in LIB.glob("*.py") if p.name not in ("__init__.py", "home.py"))
    folders = sorted(p.name for p in LIB.iterdir() if (p / "__init__.py").exists())
    assert loose == [] and folders == sorted(ALLOWED), (loose, folders)


def test_lib_folders_import_only_the_layers_below_them():
    assert _layer_imports() == {}


def test_the_layer_walk_sees_an_upward_lazy_import_and_the_orchestration(tmp_path):
    for folder in ALLOWED:
        (tmp_path / folder).mkdir()
    (tmp_path / "physics" / "a.py").write_text("def f():\n    from inference_estimation.lib.ml import predict\n")
    (tmp_path / "data" / "b.py").write_text("from inference_estimation.defs.shared import TRAINING_FEATURES\n"
                                            "from inference_estimation.lib.physics import features\n")
    assert _layer_imports(tmp_path) == {
        "physics/a.py": {"inference_estimation.lib.ml", "inference_estimation.lib.ml.predict"},
        "data/b.py": {"inference_estimation.defs.shared", "inference_estimation.defs.shared.TRAINING_FEATURES"},
    }
