"""The dstack task installs what the sweep's backend needs on the entry's device kind."""

import pytest

from inference_estimation.launchers.dstack_task import TaskRenderError, harness_packages, task_config
from inference_estimation.lib.catalog import load_catalog


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


def _names(packages):
    return {p.split(">")[0].split("=")[0].split("<")[0] for p in packages}


def test_transformers_tasks_keep_the_kinds_torch_and_power_monitor(catalog):
    assert _names(harness_packages(catalog.hw("nvidia-l4"))) == {"dagster-pipes", "transformers", "psutil", "torch",
                                                                 "nvidia-ml-py"}
    assert _names(harness_packages(catalog.hw("amd-mi300x"))) == {"dagster-pipes", "transformers", "psutil", "amdsmi"}


def test_vllm_brings_its_own_torch_and_uses_the_rocm_vllm_image_on_amd(catalog):
    cuda = _names(harness_packages(catalog.hw("nvidia-h100-sxm-80gb-x8"), "vllm"))
    assert "vllm" in cuda and "torch" not in cuda and "nvidia-ml-py" in cuda
    amd = task_config(catalog.hw("amd-mi300x"), name="ie-x", env={}, backend="vllm")
    assert amd["image"] == "rocm/vllm:latest" and "vllm" not in amd["commands"][0].replace("rocm/vllm", "")
    assert "amdsmi" in amd["commands"][0]
    assert task_config(catalog.hw("amd-mi300x"), name="ie-x", env={})["image"] != "rocm/vllm:latest"


def test_tabular_tasks_install_the_tree_libraries_without_torch(catalog):
    names = _names(harness_packages(catalog.hw("nvidia-l4"), "tabular"))
    assert {"xgboost", "scikit-learn", "catboost"} <= names and "torch" not in names


def test_unknown_backend_is_refused_by_name(catalog):
    with pytest.raises(TaskRenderError, match="unknown harness backend 'tensorrt'"):
        harness_packages(catalog.hw("nvidia-l4"), "tensorrt")


def test_backend_tasks_validate_as_dstack_tasks(catalog):
    pytest.importorskip("dstack.api", reason="dstack is not installed")
    from dstack.api import Task

    for backend in ("vllm", "tabular", "openai-server"):
        task = Task.model_validate(task_config(catalog.hw("nvidia-a100-sxm4-80gb"), name="ie-b", env={"A": "1"},
                                               backend=backend))
        assert task.resources.gpu.name == ["A100"]


def test_every_harness_pin_is_pyprojects_requirement_with_its_version(catalog, tmp_path):
    from inference_estimation.launchers.dstack_task import project_requirements

    stated = set(project_requirements().values())
    for key in ("nvidia-l4", "amd-mi300x"):
        for backend in ("transformers", "vllm", "tabular", "openai-server"):
            for package in harness_packages(catalog.hw(key), backend):
                # the GPU machine takes XGBoost's full wheel at the bench extra's version of the CPU-only one
                assert package.replace("xgboost", "xgboost-cpu", 1) in stated, (key, backend, package)
    assert "torch==2.13.0" in harness_packages(catalog.hw("nvidia-l4"))  # the bench extra's exact pin

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["a-b>=1", "c"]\n[project.optional-dependencies]\n'
                         'x = ["A-B>=2", "torch==9.9; sys_platform == \'linux\'"]\n')
    assert project_requirements(pyproject) == {"a-b": "a-b>=1", "c": "c", "torch": "torch==9.9; sys_platform == 'linux'"}


def test_a_harness_package_missing_from_pyproject_is_refused_by_name():
    from inference_estimation.launchers.dstack_task import pinned

    with pytest.raises(TaskRenderError, match="'not-a-package' is not a requirement in pyproject.toml"):
        pinned("not-a-package")
