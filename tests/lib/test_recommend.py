"""recommend: every device searched is ranked or dropped with a reason; the shown rows never cut a tie."""

import shutil

import numpy as np
import pandas as pd
import pytest

from inference_estimation.cli.predict import _no_figure_refusal, _recommend_text
from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.ml.modeling import save_predictor, train_predictor
from inference_estimation.lib.ml.predict import workload
from inference_estimation.lib.ml.recommend import (
    Recommendation,
    _closest_misses,
    _distinct_devices,
    _misses,
    recommend,
)
from inference_estimation.lib.physics.features import feature_frame, prediction_row


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(overlay_dirs=[])


@pytest.fixture(scope="module")
def predictors_dir(catalog, tmp_path_factory):
    """TTFT and TPOT predictors trained on a physics-shaped frame, both promoted."""
    rows = [prediction_row(catalog.model(m), catalog.hw(h), workload(b, 512, 128, engine="vllm", dtype="bfloat16",
                                                                       device_count=2))
            for m in ("llama-3.1-8b", "llama-3.1-70b") for h in ("nvidia-h100-sxm-80gb", "amd-mi300x")
            for b in (1, 8, 32)]
    feats = feature_frame(rows)
    frame = pd.concat([pd.DataFrame(rows)[["model_key", "hardware_key"]], feats], axis=1)
    frame["power_source"] = "none"
    noise = np.exp(np.random.default_rng(2).normal(0, 0.03, len(frame)))
    frame["tpot_s"] = feats["roofline_decode_step_s"] * 2.0 * noise
    frame["ttft_s"] = feats["roofline_ttft_s"] * 3.0 * noise
    root = tmp_path_factory.mktemp("predictors")
    for target in ("tpot_s", "ttft_s"):
        save_predictor(train_predictor(frame, target, n_folds=2), root / "promoted" / target)
        shutil.copytree(root / "promoted" / target, root / target)
    return root


def _ranked(devices_for_rps, keys=None):
    n = len(devices_for_rps)
    table = pd.DataFrame({"hardware": keys or [f"hw-{i}" for i in range(n)], "devices": [2] * n,
                          "devices_for_rps": devices_for_rps, "ttft_s": [0.5] * n,
                          "price_per_device_hour_usd": [np.nan] * n, "price_source": ["no cited price"] * n})
    setup = {"model": "m", "input_tokens": 1, "output_tokens": 1, "engine": "vllm", "dtype": "bfloat16",
             "max_ttft_s": None, "max_tpot_s": None, "rps": 10, "rank_by": "devices"}
    return Recommendation(table, pd.DataFrame(columns=["hardware", "reason"]), setup)


def test_the_shown_rows_extend_to_the_end_of_a_true_tie_only_and_say_how_many_are_left_out():
    rec = _ranked([8, 8, 10, 32, 32, 32, 40, 56])
    assert list(rec.shown(4)["devices_for_rps"]) == [8, 8, 10, 32, 32, 32]  # not one of three devices at 32
    assert len(rec.shown(3)) == 3 and len(rec.shown(20)) == 8
    text = _recommend_text(rec, show_dropped=False, top=4)
    assert "hw-5" in text and "hw-6" not in text
    assert "2 more ranked row(s) not shown (--top 8 shows all)" in text
    assert "more ranked" not in _recommend_text(rec, show_dropped=False, top=8)
    # equal on the first key only (one device each) is no tie: the next key orders them, --top 2 shows 2
    rec = _ranked([1, 1, 1, 1])
    rec.table["energy_per_output_token_j"] = [0.1, 0.2, 0.3, 0.3]
    assert list(rec.shown(2)["hardware"]) == ["hw-0", "hw-1"]
    assert list(rec.shown(3)["hardware"]) == ["hw-0", "hw-1", "hw-2", "hw-3"]  # hw-2 and hw-3 tie on every key


def test_the_table_never_truncates_a_hardware_key_and_says_when_prices_come_from_different_kinds_of_provider():
    rec = _ranked([8, 16], keys=["nvidia-rtx-pro-6000-blackwell-workstation", "nvidia-h100-nvl-94gb"])
    rec.table["price_per_device_hour_usd"] = [1.0, 6.98]
    rec.table["price_provider_kind"] = ["GPU cloud", "hyperscaler"]
    text = _recommend_text(rec, show_dropped=False, top=10)
    table_lines = text.split("hardware ", 1)[1]  # the key in full in the $/h block, shortened in the table
    assert "  nvidia-rtx-pro-6000-blackwell-workstation: $1/h" in text
    assert "\nnvidia-rtx-pro~workstation " in table_lines and "blackwell~" not in text
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "mix hyperscaler rates (nvidia-h100-nvl-94gb) with GPU-cloud rates" in text
    rec.table["price_provider_kind"] = ["GPU cloud", "GPU cloud"]
    assert "hyperscaler" not in _recommend_text(rec, show_dropped=False, top=10)


def test_a_drop_reason_quotes_the_closest_setting_tried_with_whole_batch_sizes():
    table = pd.DataFrame({"hardware": ["a100"] * 3, "devices": [2, 8, 4], "mode": ["offline"] * 3,
                          "batch_size": [1.0, 1.0, 1.0], "concurrency": [np.nan] * 3,
                          "ttft_s": [1.368, 1.153, 1.2], "tpot_s": [0.02, 0.02, 0.02]})
    table["_miss"] = _misses(table, 1.0, 0.05, None).str.rstrip("; ")
    (dropped,) = _closest_misses(table, 1.0, 0.05)
    assert dropped["reason"] == ("misses the limits at every setting tried; the closest, batch 1 on 8 device(s): "
                                 "TTFT 1153 ms > 1000 ms")


def test_a_setup_the_predictors_give_no_figure_for_is_not_ranked():
    table = pd.DataFrame({"hardware": ["mac", "gpu"], "devices": [4, 1], "ttft_s": [np.nan, 0.2],
                          "tpot_s": [np.nan, 0.01], "output_throughput_tok_s": [np.nan, 100.0],
                          "devices_for_rps": [np.nan, 1.0]})
    misses = _misses(table, None, None, 10)
    assert misses[0].startswith("no prediction for this setup") and misses[1] == ""
    assert _no_figure_refusal({"ttft_s": {"value": None}}).startswith("no figure could be predicted")


def test_recommend_ranks_or_drops_every_accelerator_it_searches_and_ranks_none_without_figures(
        catalog, predictors_dir):
    rec = recommend(catalog, predictors_dir, "llama-3.1-70b", 2000, 500, max_ttft_s=1.0, rps=10)
    searched = {hw.key for hw in _distinct_devices(catalog) if hw.kind != "cpu"}
    ranked, dropped = list(rec.table["hardware"]), list(rec.dropped["hardware"])
    assert sorted(ranked + dropped) == sorted(searched)  # each once, in one of the two
    assert rec.table[["ttft_s", "tpot_s"]].notna().any(axis=1).all()
    reasons = rec.dropped.set_index("hardware")["reason"]
    assert "an Apple GPU is one per machine" in reasons["apple-m1-max"]
    assert reasons["apple-m2-ultra"].startswith("no physics for apple-m2-ultra")
    mi355x = rec.table.set_index("hardware").loc["amd-mi355x"] if "amd-mi355x" in ranked else None
    assert mi355x is None or mi355x["devices"] > 1  # its interconnect is known now: tensor parallel is costed
