"""Every dstack hardware entry renders to a valid task with exactly its GPU; templates match."""

from types import SimpleNamespace

import pytest
import yaml

from inference_estimation.launchers.dstack import classify
from inference_estimation.launchers.dstack_task import (
    TEMPLATES_DIR,
    TaskRenderError,
    dstack_hardware,
    exact_resources,
    task_config,
    template_text,
)
from inference_estimation.lib.catalog import load_catalog

EXPECTED = {  # the seed's classes: gpu-24gb, gpu-80gb, amd, multi-gpu
    "nvidia-l4": ("L4", 1), "nvidia-a10g": ("A10G", 1), "nvidia-a100-sxm4-80gb": ("A100", 1),
    "nvidia-h100-sxm-80gb": ("H100", 1), "amd-mi300x": ("MI300X", 1), "nvidia-h100-sxm-80gb-x8": ("H100", 8),
}


def test_each_dstack_entry_has_a_committed_template_that_is_valid_yaml_with_exactly_its_gpu():
    entries = {h.key: h for h in dstack_hardware()}
    assert set(entries) == set(EXPECTED)
    for key, (gpu_name, count) in EXPECTED.items():
        path = TEMPLATES_DIR / f"{key}.dstack.yml"
        text = path.read_text()
        assert text == template_text(entries[key]), f"{path.name} is stale: rerun python -m inference_estimation.launchers.dstack_task"
        config = yaml.safe_load(text)
        assert config["type"] == "task" and config["resources"]["gpu"]["name"] == [gpu_name]
        assert config["resources"]["gpu"]["count"] == count == entries[key].device_count
        assert config["max_price"] == entries[key].launcher.max_price_per_hour_usd
        assert config["max_duration"] == entries[key].launcher.timeout_s
        assert any("benchmark_jobs run --pipes" in c for c in config["commands"])
        assert ("image" in config) == (entries[key].kind == "rocm")


def test_templates_parse_as_dstack_tasks_with_exact_gpu_count():
    pytest.importorskip("dstack.api", reason="dstack is not installed")
    from dstack.api import Task

    for hardware in dstack_hardware():
        task = Task.model_validate(task_config(hardware, name="ie-check", env={"A": "1"}))
        gpu = task.resources.gpu
        assert gpu.name == [EXPECTED[hardware.key][0]]
        assert gpu.count.min == gpu.count.max == hardware.device_count


def test_gpu_count_that_disagrees_with_device_count_is_refused():
    catalog = load_catalog(overlay_dirs=[])
    h100 = catalog.hw("nvidia-h100-sxm-80gb-x8")
    launcher = h100.launcher.model_copy(update={"resources": {"gpu": {"name": ["H100"], "count": 4}}})
    with pytest.raises(TaskRenderError, match="must equal device_count 8"):
        exact_resources(h100.model_copy(update={"launcher": launcher}))
    launcher = h100.launcher.model_copy(update={"resources": {"gpu": {"name": ["H100", "A100"], "count": 8}}})
    with pytest.raises(TaskRenderError, match="ONE device type"):
        exact_resources(h100.model_copy(update={"launcher": launcher}))


def _submission(reason, provisioned=False, status="failed", message=None, exit_status=None):
    return SimpleNamespace(termination_reason=reason, termination_reason_message=message, error=None,
                           exit_status=exit_status, status=SimpleNamespace(value=status),
                           job_provisioning_data=object() if provisioned else None)


def test_termination_reasons_classify_into_fail_now_retry_or_job_failure():
    assert classify(_submission("failed_to_start_due_to_no_capacity", message="No matching fleet found")).kind == "no-capacity"
    # an offer was taken, then provisioning failed: transient
    assert classify(_submission("failed_to_start_due_to_no_capacity", provisioned=True)).kind == "transient"
    assert classify(_submission("interrupted_by_no_capacity", provisioned=True)).kind == "transient"  # spot interruption
    assert classify(_submission("instance_unreachable", provisioned=True)).kind == "transient"
    assert classify(_submission("container_exited_with_error", exit_status=1)).kind == "failed"
    assert classify(_submission("max_duration_exceeded")).kind == "timeout"
    assert classify(_submission("terminated_by_user", status="terminated")).kind == "stopped"
    assert classify(_submission("done_by_runner", status="done")).kind == "done"
    assert classify(_submission(None, status="running")).kind == "pending"
    assert classify(None).kind == "pending"
