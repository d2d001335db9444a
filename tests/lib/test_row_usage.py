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
    R_POWER_ESTIMATE,
    R_ROOFLINE,
    REPORT_TARGETS,
    counts_for,
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
    for target in REPORT_TARGETS:
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
    assert (ttft_b.present, ttft_b.usable, ttft_b.used, ttft_b.reasons) == (2, 2, 1, {R_NO_INPUT: 1})
    assert usage_totals(report)["ttft_s"] == {"present": 6, "usable": 4, "used": 3}
    markdown = usage_markdown(report)
    assert "| a | ttft_s | 4 | 4 | 2 | 2 | not plain deployment 1; faster than roofline 1 |" in markdown
    assert "peak_memory_gb" not in markdown  # nothing present: no line


def test_a_frame_without_source_is_refused_by_name():
    with pytest.raises(ValueError, match="no 'source' column"):
        usage_report(pd.DataFrame({"ttft_s": [1.0]}))
