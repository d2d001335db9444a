"""Planning: pairs that cannot run are known before launch, with the reason."""

import pytest

from inference_estimation.lib.catalog import SweepEntry, load_catalog
from inference_estimation.lib.sweeps.planning import build_job_spec, skip_reason


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


def _sweep(models, **kw):
    return SweepEntry(name="s", models=models, hardware=["local-cpu"], batch_sizes=kw.get("b", [1]),
                      input_tokens=[8], output_tokens=[4], dtypes=kw.get("dtypes", ["float32"]))


def test_partition_outside_the_sweep_is_skipped_with_the_sweep_named(catalog):
    reason = skip_reason(catalog.model("gpt2-medium"), catalog.hw("local-cpu"), catalog.sweep("test-tiny"))
    assert reason and "not in sweep 'test-tiny'" in reason


def test_model_that_does_not_fit_in_host_memory_is_skipped(catalog):
    reason = skip_reason(catalog.model("llama-3.1-405b"), catalog.hw("local-cpu"), _sweep(["llama-3.1-405b"]))
    assert reason and reason.startswith("does not fit") and "GB" in reason


def test_family_the_backend_cannot_build_is_skipped(catalog):
    reason = skip_reason(catalog.model("deepseek-v3"), catalog.hw("local-cpu"), _sweep(["deepseek-v3"]))
    assert reason and "cannot be built" in reason


def test_small_model_in_its_sweep_is_runnable_and_spec_forces_every_grid_point(catalog):
    sweep = catalog.sweep("test-tiny")
    assert skip_reason(catalog.model("gpt2-small"), catalog.hw("local-cpu"), sweep) is None
    spec = build_job_spec("r1", catalog.model("gpt2-small"), catalog.hw("local-cpu"), sweep, "p")
    assert len(spec.points) == len(sweep.batch_sizes) * len(sweep.input_tokens) * len(sweep.output_tokens)
    assert spec.model.architecture["n_layer"] == 12 and spec.device == "cpu"
    assert spec.settings.max_trials == sweep.max_trials
