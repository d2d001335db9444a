"""Renders the dstack task of a hardware entry: one definition for launches and for the templates.

The launcher submits exactly what :func:`task_config` returns (plus the run's environment), and
``benchmark_jobs/templates/<hardware-key>.dstack.yml`` is the same task written out for a person
(``dstack apply -f ...`` by hand). A test keeps the two equal; rewrite the templates with

    python -m inference_estimation.launchers.dstack_task

The harness reaches the machine as files uploaded with the run (dstack's ``files``), so what runs
there is exactly the orchestrator's checkout of ``benchmark_jobs`` -- no git push, no wheel index.
Its few dependencies are pip-installed by the task's first command. Dagster-free.
"""

from __future__ import annotations

import copy
import functools
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from inference_estimation.lib.catalog import DstackLaunchConfig, HardwareEntry, load_catalog

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "benchmark_jobs" / "templates"
HARNESS_DIR = Path(__file__).resolve().parents[2] / "benchmark_jobs"
#: Where the harness lands on the machine; on PYTHONPATH there.
REMOTE_ROOT = "/opt/inference-estimation"
PYTHON_VERSION = "3.11"
#: The one home of every version: the harness's packages are pyproject.toml's requirements.
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
#: What the harness needs beyond torch (dagster-pipes pinned with the orchestrator's dagster).
_COMMON_PACKAGES = ["dagster-pipes", "transformers", "psutil"]
#: Per device kind. The default dstack image has CUDA; PyPI's Linux torch is the CUDA build. A
#: ROCm image brings its own torch (installing PyPI's would replace it with the CUDA build).
_KIND_PACKAGES = {
    "cuda": ["torch", "nvidia-ml-py"],
    "rocm": ["amdsmi"],
    "cpu": ["torch"],
}
#: Per harness backend: whether it runs on the device kind's torch, and what it adds. vLLM brings
#: the torch it was built against; the tree libraries need none.
_BACKEND_PACKAGES: dict[str, tuple[bool, list[str]]] = {
    "transformers": (True, []),
    "vllm": (False, ["vllm"]),
    "openai-server": (True, []),
    "tabular": (False, ["xgboost", "scikit-learn", "catboost"]),
}
#: Packages a benchmark machine installs under another name than this machine does, with the same
#: versions: the ``bench`` extra takes XGBoost's CPU-only wheel, a GPU machine the full one.
_REMOTE_NAMES = {"xgboost": "xgboost-cpu"}
#: The image a backend needs on a device kind instead of the entry's own.
_BACKEND_IMAGES = {("vllm", "rocm"): "rocm/vllm:latest"}
#: Runs under Pipes when the orchestrator launched it; by hand, on the spec given in
#: BENCHMARK_SPEC_JSON (rows are then printed as JSON lines in the job's log).
RUN_COMMAND = (
    'if [ -n "${DAGSTER_PIPES_CONTEXT:-}" ]; then python -m benchmark_jobs run --pipes; '
    'else printf "%s" "$BENCHMARK_SPEC_JSON" > /tmp/spec.json && '
    "python -m benchmark_jobs run --spec /tmp/spec.json; fi"
)


class TaskRenderError(ValueError):
    """The hardware entry cannot be rendered as a dstack task."""


def exact_resources(hardware: HardwareEntry) -> dict[str, Any]:
    """The entry's dstack resources with the GPU pinned to exactly its device type and count.

    Raises:
        TaskRenderError: when the entry has no dstack launcher, or its GPU spec does not name
            exactly one device type, or names a count other than the entry's ``device_count``.
    """
    launcher = hardware.launcher
    if not isinstance(launcher, DstackLaunchConfig):
        raise TaskRenderError(f"hardware {hardware.key!r} has no dstack launcher")
    resources = copy.deepcopy(launcher.resources)
    gpu = resources.get("gpu")
    if hardware.kind == "cpu":
        if gpu not in (None, 0):
            raise TaskRenderError(f"hardware {hardware.key!r} is a CPU entry but asks for a GPU")
        return resources
    if not isinstance(gpu, dict) or not isinstance(gpu.get("name"), list) or len(gpu["name"]) != 1:
        raise TaskRenderError(f"hardware {hardware.key!r}: resources.gpu must be a mapping naming ONE "
                              f"device type (name: [X]), got {gpu!r}")
    count = gpu.setdefault("count", hardware.device_count)
    if count != hardware.device_count:
        raise TaskRenderError(f"hardware {hardware.key!r}: resources.gpu.count {count!r} must equal "
                              f"device_count {hardware.device_count}")
    return resources


def harness_packages(hardware: HardwareEntry, backend: str = "transformers") -> list[str]:
    """What the task pip-installs for a backend on the entry's device kind.

    Raises:
        TaskRenderError: for a backend the harness does not have.
    """
    if backend not in _BACKEND_PACKAGES:
        raise TaskRenderError(f"unknown harness backend {backend!r}; known: {', '.join(_BACKEND_PACKAGES)}")
    uses_torch, extra = _BACKEND_PACKAGES[backend]
    kind_packages = [p for p in _KIND_PACKAGES.get(hardware.kind, []) if uses_torch or not p.startswith("torch")]
    if (backend, hardware.kind) in _BACKEND_IMAGES:
        extra = []  # the backend's image brings it
    return [pinned(name) for name in _COMMON_PACKAGES + kind_packages + extra]


@functools.cache
def project_requirements(pyproject: Path = PYPROJECT) -> dict[str, str]:
    """Distribution name (lower case) -> its requirement as ``pyproject.toml`` states it.

    The core dependencies and every extra; a name listed twice keeps its first statement (the
    project states each version once, so both agree).
    """
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements: dict[str, str] = {}
    for requirement in [*project["dependencies"], *sum(project["optional-dependencies"].values(), [])]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()
        requirements.setdefault(name, requirement)
    return requirements


def pinned(name: str) -> str:
    """The pip requirement of a harness package: its name with ``pyproject.toml``'s version specifier.

    Raises:
        TaskRenderError: the package is not a requirement of the project.
    """
    source = _REMOTE_NAMES.get(name, name)
    requirement = project_requirements().get(source)
    if requirement is None:
        raise TaskRenderError(f"{source!r} is not a requirement in pyproject.toml; add it there first")
    return name + requirement[len(source):]


def harness_commands(hardware: HardwareEntry, backend: str = "transformers",
                     extra_packages: list[str] | None = None) -> list[str]:
    """Install the harness's dependencies for the backend (and any extra), then run it."""
    packages = harness_packages(hardware, backend) + list(extra_packages or [])
    quoted = " ".join(f'"{p}"' for p in packages)
    return [f"pip install --quiet --no-cache-dir {quoted}", RUN_COMMAND]


def task_config(hardware: HardwareEntry, *, name: str | None = None, env: dict[str, str] | None = None,
                harness_dir: str | None = None, backend: str = "transformers",
                extra_packages: list[str] | None = None) -> dict[str, Any]:
    """The dstack task (as its YAML/JSON mapping) that runs the harness on this hardware.

    Args:
        hardware: an entry with a dstack launcher.
        name: dstack run name (``^[a-z][a-z0-9-]{1,40}$``); None lets dstack choose.
        env: environment of the job as a mapping (the launcher's), or None for the template's
            list of names (values are taken from the shell that runs ``dstack apply``).
        harness_dir: local path of ``benchmark_jobs`` to upload (default: this checkout's).
        backend: the harness backend the job runs (its packages, and its image where it needs one).
        extra_packages: more pip requirements (e.g. boto3 for the object-storage transport).
    """
    launcher = hardware.launcher
    resources = exact_resources(hardware)  # also checks the launcher type
    assert isinstance(launcher, DstackLaunchConfig)
    config: dict[str, Any] = {"type": "task"}
    if name:
        config["name"] = name
    image = _BACKEND_IMAGES.get((backend, hardware.kind), launcher.image)
    if image:
        config["image"] = image
    else:
        config["python"] = PYTHON_VERSION
    config["files"] = [f"{harness_dir or HARNESS_DIR}:{REMOTE_ROOT}/benchmark_jobs"]
    config["env"] = env if env is not None else [
        f"PYTHONPATH={REMOTE_ROOT}",
        "HF_TOKEN",             # optional: gated pretrained weights
        "BENCHMARK_SPEC_JSON",  # by hand: export BENCHMARK_SPEC_JSON="$(cat spec.json)"
    ]
    config["commands"] = harness_commands(hardware, backend, extra_packages)
    config["resources"] = resources
    config["spot_policy"] = launcher.spot_policy
    config["max_duration"] = launcher.timeout_s
    if launcher.max_price_per_hour_usd is not None:
        config["max_price"] = launcher.max_price_per_hour_usd
    if launcher.backends:
        config["backends"] = list(launcher.backends)
    return config


def template_text(hardware: HardwareEntry) -> str:
    """The committed template of a hardware entry (a readable, hand-usable ``*.dstack.yml``)."""
    config = task_config(hardware, harness_dir="..")  # relative to the template's folder
    header = (
        f"# dstack task: the benchmark harness on {hardware.key} ({_device_summary(hardware)}).\n"
        "# Generated from inference_estimation/catalog/hardware.yaml by\n"
        "#   python -m inference_estimation.launchers.dstack_task\n"
        "# The DstackLauncher submits this same task with the Dagster Pipes variables in `env`.\n"
        "# By hand (rows are printed to the log as JSON lines):\n"
        "#   export BENCHMARK_SPEC_JSON=\"$(cat spec.json)\"\n"
        f"#   dstack apply -f benchmark_jobs/templates/{hardware.key}.dstack.yml\n"
    )
    return header + yaml.safe_dump(config, sort_keys=False, width=200)


def _device_summary(hardware: HardwareEntry) -> str:
    gpu = exact_resources(hardware).get("gpu")
    return f"{gpu['count']} x {gpu['name'][0]}" if isinstance(gpu, dict) else "CPU only"


def dstack_hardware(catalog=None) -> list[HardwareEntry]:
    """Catalog entries launched through dstack, in key order."""
    catalog = catalog or load_catalog(overlay_dirs=[])
    return [h for _, h in sorted(catalog.hardware.items()) if isinstance(h.launcher, DstackLaunchConfig)]


def write_templates(folder: Path = TEMPLATES_DIR) -> list[Path]:
    """Writes one template per dstack hardware entry of the package catalog; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for hardware in dstack_hardware():
        path = folder / f"{hardware.key}.dstack.yml"
        path.write_text(template_text(hardware))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_templates():
        print(written)
