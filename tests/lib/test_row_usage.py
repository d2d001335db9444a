"""The one row rule (lib.physics.usability) and the usage report built on it (lib.data.row_usage)."""

import numpy as np
import pandas as pd
import pytest

from inference_estimation.lib.data.row_usage import usage_markdown, usage_report, usage_totals
from inference_estimation.lib.ml.modeling import select_rows
from inference_estimation.lib.ml.performance_model import usable_rows
from inference_estimation.lib.physics.usability import (
    R_NO_INPUT,
    R_NO_OUTPUT,
    R_NOT_PLAIN,
    R_OPEN_LOOP,
    R_PINNED,
    R_POWER_ESTIMATE,
    R_REPEATS,
    R_ROOFLINE,
    R_WEIGHTS,
    REASONS,
    REPORT_TARGETS,
    STEP_FIGURES,
    WORKLOAD_NEEDS,
    counts_for,
    step_label_reasons,
    step_labels,
    step_usable,
    unused_reasons,
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "source": ["a", "a", "a", "a", "b", "b", "b"],
        "plain_deployment": [True, False, True, True, True, None, True],
        "roofline_violation": ["", "", "tpot_s", "", "", "", ""],
        "power_source": ["nvml-energy", "wall", "none", "estimate", "none", "amdsmi", "none"],
        "input_tokens": [128, 128, 128, 128, np.nan, 0, 512],
        "output_tokens": [128, 128, 128, 128, 64, 128, 1],
        "ttft_s": [0.1, 0.1, 0.1, 0.1, 0.2, np.nan, 0.3],
        "tpot_s": [0.01, 0.01, 0.01, 0.01, 0.02, 0.02, np.nan],
        "e2e_latency_s": [1.4, 1.4, 1.4, 1.4, np.nan, np.nan, 0.3],
        "output_throughput_tok_s": [90.0, 90.0, 90.0, 90.0, 50.0, 50.0, np.nan],
        "avg_power_w": [300.0, 3000.0, np.nan, 250.0, np.nan, 500.0, np.nan],
        "energy_per_output_token_j": [3.3, 33.0, np.nan, 2.7, np.nan, 10.0, np.nan],
        "peak_memory_gb": [np.nan] * 7,
    })


def test_each_row_gets_the_first_reason_that_applies():
    frame = _frame()
    assert list(unused_reasons(frame, "ttft_s")) == ["", R_NOT_PLAIN, R_ROOFLINE, "", R_NO_INPUT, "", ""]
    assert list(unused_reasons(frame, "avg_power_w")) == [
        "", R_NOT_PLAIN, R_ROOFLINE, R_POWER_ESTIMATE, "power not measured by a sensor", "", "power not measured by a sensor"]
    # a decode from an empty prompt (input 0) has a known workload
    assert unused_reasons(frame, "output_throughput_tok_s")[5] == ""
    assert unused_reasons(frame.assign(output_tokens=np.nan), "tpot_s")[0] == R_NO_OUTPUT
    with pytest.raises(ValueError, match="'latency_s' is not one of"):
        unused_reasons(frame, "latency_s")


def test_training_and_the_gate_apply_the_same_rule():
    frame = _frame()
    for target in WORKLOAD_NEEDS:
        selected = select_rows(frame, target)
        assert len(selected) == int(counts_for(frame, target).sum())
        assert (usable_rows(frame, target) == (unused_reasons(frame, target) == "")).all()
    # the plain-deployment filter is in select_rows too (it was missing before)
    assert "wall" not in set(select_rows(frame, "avg_power_w")["power_source"])


def test_every_present_row_is_used_or_counted_under_a_reason():
    frame = _frame()
    report = usage_report(frame)
    assert len(report) == 2 * len(REPORT_TARGETS)
    for line in report.itertuples():
        assert line.present - line.used == sum(line.reasons.values())
        assert line.used <= line.usable <= line.present <= line.rows
    ttft_a = report[(report["source"] == "a") & (report["target"] == "ttft_s")].iloc[0]
    assert (ttft_a.present, ttft_a.usable, ttft_a.used) == (4, 2, 2)
    assert ttft_a.reasons == {R_NOT_PLAIN: 1, R_ROOFLINE: 1}
    ttft_b = report[(report["source"] == "b") & (report["target"] == "ttft_s")].iloc[0]
    # the time figures are counted by the step model's label rule (row 4 states no prompt)
    assert (ttft_b.present, ttft_b.usable, ttft_b.used, ttft_b.reasons) == (2, 2, 1, {R_NO_INPUT: 1})
    assert usage_totals(report)["ttft_s"] == {"present": 6, "usable": 4, "used": 3}
    markdown = usage_markdown(report)
    assert "| a | ttft_s | 4 | 4 | 2 | 2 | not plain deployment 1; faster than roofline 1 |" in markdown
    assert "peak_memory_gb" not in markdown  # nothing present: no line


def test_a_frame_without_source_is_refused_by_name():
    with pytest.raises(ValueError, match="no 'source' column"):
        usage_report(pd.DataFrame({"ttft_s": [1.0]}))


def _serving_frame() -> pd.DataFrame:
    """One row per case of the step model's label rule."""
    return pd.DataFrame({
        "source": ["s"] * 6,
        "mode": ["serving", "serving", "serving", "offline", "offline", "serving"],
        "concurrency": [8, np.nan, 8, np.nan, np.nan, 8],
        "request_rate_rps": [np.nan, 2.0, np.nan, np.nan, np.nan, np.nan],
        "batch_size": [np.nan, np.nan, np.nan, 4, np.nan, np.nan],
        "input_tokens": [128, 128, np.nan, 128, 128, 128],
        "output_tokens": [64] * 6,
        "latency_statistic": ["mean", "mean", "p50", "mean", "mean", "mean"],
        "ttft_s": [0.1, 0.1, np.nan, 0.2, np.nan, 0.1],
        "tpot_s": [0.01, 0.01, 0.02, 0.01, np.nan, 0.01],
        "itl_p50_s": [0.009, np.nan, 0.02, np.nan, np.nan, np.nan],
        "e2e_latency_s": [0.8, 0.8, np.nan, 0.9, np.nan, 0.8],
        "output_throughput_tok_s": [600.0, 128.0, 400.0, 300.0, 900.0, 600.0],
        "weights_gb": [16.0, 16.0, 16.0, 16.0, 16.0, 200.0],
        "memory_gb": [80.0] * 6,
        "device_count": [1] * 6,
    })


def test_the_step_label_rule_trains_one_figure_per_row_and_names_why_not_the_others():
    frame = _serving_frame()
    labels = step_labels(frame, step_usable(frame))
    assert list(labels["ttft_s"]) == [True, True, False, True, False, False]
    # a TPOT stated as a median trains as the median ITL
    assert list(labels["itl_p50_s"]) == [False, False, True, False, False, False]
    # a saturation row (offline, no batch) with its prompt trains through its throughput
    assert list(labels["output_throughput_tok_s"]) == [False, False, False, False, True, False]
    assert step_label_reasons(frame, "e2e_latency_s")[0] == R_REPEATS
    thr = step_label_reasons(frame, "output_throughput_tok_s")
    assert (thr[0], thr[1], thr[2], thr[5]) == (R_PINNED, R_OPEN_LOOP, R_PINNED, R_WEIGHTS)
    assert step_label_reasons(frame, "itl_p50_s")[0] == "the row's TPOT trains it"
    # every measured figure is either trained or counted under a reason of the list
    for figure in STEP_FIGURES:
        reason = step_label_reasons(frame, figure)
        present = pd.to_numeric(frame[figure]).to_numpy() > 0
        trains = reason == ""
        assert set(reason[present & ~trains]) <= set(REASONS), figure
    with pytest.raises(ValueError, match="'latency_s' is not one of"):
        step_label_reasons(frame, "latency_s")


def test_the_step_model_trains_exactly_what_the_rule_labels():
    from inference_estimation.lib.ml.step_model import observations

    frame = _serving_frame()
    usable = step_usable(frame)
    obs = observations(frame, usable)
    labels = step_labels(frame, usable)
    assert len(obs.row) == sum(int(m.sum()) for m in labels.values())
    # the median TPOT is the ITL figure's value
    at = obs.target == "itl_p50_s"
    assert np.allclose(np.exp(obs.log_value[at]), [0.02])
