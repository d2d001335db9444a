"""Drop-group ablation on unseen hardware, on a frame built with the real feature code."""

import numpy as np
import pandas as pd
import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.ml.feature_selection import (
    FEATURE_GROUPS,
    feature_selection,
    feature_selection_markdown,
    within_tolerance,
)
from inference_estimation.lib.physics.features import MODEL_FEATURES, feature_frame, prediction_row

HARDWARE = ("nvidia-h100-sxm-80gb", "nvidia-a100-sxm4-80gb", "amd-mi300x", "amd-mi250x")


@pytest.fixture(scope="module")
def frame():
    """Tpot = roofline / efficiency, where AMD runs at half NVIDIA's efficiency (two devices each)."""
    catalog = load_catalog(overlay_dirs=[])
    rng = np.random.default_rng(2)
    rows = []
    for model in ("llama-3.1-8b", "mistral-7b-v0.1", "qwen2-7b"):
        for hw in HARDWARE:
            for b in (1, 8, 32):
                rows.append(prediction_row(catalog.model(model), catalog.hw(hw), {
                    "engine": "vllm", "dtype": "bfloat16", "mode": "offline", "batch_size": b, "input_tokens": 512,
                    "output_tokens": 128, "source": "bench-a", "power_scope": "device", "device_count": 1}))
    feats = feature_frame(rows)
    out = pd.concat([pd.DataFrame(rows)[["model_key", "hardware_key"]], feats], axis=1)
    efficiency = np.where(feats["vendor"] == "amd", 0.25, 0.5)
    out["tpot_s"] = feats["roofline_decode_step_s"] / efficiency * np.exp(rng.normal(0, 0.02, len(feats)))
    out["power_source"] = "none"
    return out


def test_every_model_feature_is_in_exactly_one_group():
    members = [f for group in FEATURE_GROUPS.values() for f in group]
    assert sorted(members) == sorted(MODEL_FEATURES)


def test_ablation_on_unseen_hardware_keeps_the_vendor_and_names_features_and_deltas(frame):
    groups = {"hardware kind and vendor": ["hardware_kind", "vendor"], "model family": ["family"],
              "mode": ["mode"]}
    selection = feature_selection(frame, "tpot_s", n_folds=4, iterations=80, groups=groups)
    assert selection.split == "leave_one_hardware_out" and selection.rows == len(frame)
    vendor = selection.groups["hardware kind and vendor"]
    # the other AMD device is in training, so the vendor carries the 2x efficiency gap
    assert vendor["delta_mdape_pct"] > 5 and not vendor["droppable"]
    assert selection.groups["mode"]["features"] == ["mode"]  # one value everywhere: nothing to lose
    assert selection.groups["mode"]["droppable"]
    for g in selection.groups.values():
        assert g["droppable"] == within_tolerance(selection.full, g["metrics"])
    assert set(selection.droppable_together) <= set(selection.droppable)
    assert within_tolerance(selection.full, selection.joint)
    markdown = feature_selection_markdown(selection)
    assert "| hardware kind and vendor | hardware_kind, vendor |" in markdown
    assert f"{vendor['delta_mdape_pct']:+.1f}" in markdown and "keep" in markdown and "droppable" in markdown


def test_too_little_data_is_reported_not_ablated(frame):
    selection = feature_selection(frame.head(5), "tpot_s")
    assert selection.skipped == "only 5 usable rows"
    assert "No ablation" in feature_selection_markdown(selection)


def test_a_removal_that_keeps_mdape_but_breaks_the_hardware_ranking_is_a_loss():
    full = {"mdape_pct": 20.0, "kendall_tau": 0.80}
    assert within_tolerance(full, {"mdape_pct": 20.4, "kendall_tau": 0.79})
    assert not within_tolerance(full, {"mdape_pct": 19.0, "kendall_tau": 0.65})
    assert not within_tolerance(full, {"mdape_pct": 21.0, "kendall_tau": 0.90})
    assert within_tolerance({"mdape_pct": 20.0}, {"mdape_pct": 20.5})  # no ranking scored off unseen hardware
