"""The learner comparison in predictor_evaluation and the feature-selection report (session pipeline)."""

import json
import subprocess
import sys

import dagster as dg
import duckdb
import pytest

from inference_estimation.definitions import defs
from inference_estimation.lib.ml.evaluation import METHODS
from inference_estimation.lib.ml.modeling import select_rows
from tests.conftest import TARGETS


def _metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    mats = result.asset_materializations_for_node(key)
    assert mats, f"no materialization of {key}"
    return {k: v.value for k, v in mats[-1].metadata.items()}


def test_evaluation_compares_every_learner_with_the_baselines_on_the_same_splits(pipeline, session_home):
    meta = _metadata(pipeline["tpot_s"], "predictor_evaluation")
    comparison = meta["comparison"]
    for method in METHODS:
        assert f"| {method} |" in meta["table"] or f"| random | {method} |" in meta["table"], method
        assert method in comparison.splitlines()[2], method  # the column header of the wide table
    assert "| tpot_s | random |" in comparison and "| tpot_s | LO-modelO |" in comparison
    assert "CatBoost stays the served predictor" in meta["comparison_verdict"]
    assert "#### MdAPE % by learner" in (session_home.reports_dir / "tpot_s" / "evaluation.md").read_text()
    saved = json.loads((session_home.reports_dir / "tpot_s" / "evaluation.json").read_text())
    assert set(saved["splits"]["random"]) == set(METHODS)


def test_cli_evaluate_prints_the_comparison_across_targets(pipeline, session_home):
    out = subprocess.run([sys.executable, "-m", "inference_estimation.cli", "--home", str(session_home.root),
                          "evaluate"], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "MdAPE % by learner and baseline" in out.stdout and "| hist_gbm |" in out.stdout
    assert out.stdout.count("#### MdAPE % by learner (same folds)") == len(TARGETS)  # one per evaluation
    assert "### Coherent model: primitives + identities" in out.stdout  # every answer target, as served


def test_the_coherent_model_is_scored_on_every_answer_target_with_zero_identity_residuals(pipeline, session_home):
    assert pipeline["performance_model"].success
    meta = _metadata(pipeline["performance_model"], "performance_model_evaluation")
    assert meta["max_identity_residual"] == 0.0
    for target in ("e2e_latency_s", "ttft_s", "tpot_s", "output_throughput_tok_s"):
        assert f"| {target} | coherent |" in meta["table"], target
    saved = json.loads((session_home.reports_dir / "performance_model" / "evaluation.json").read_text())
    assert saved["labels"]["tpot_s"]["measured"] > 0


def test_feature_selection_report_names_each_group_with_its_mdape_change(pipeline, session_home):
    result = defs.resolve_job_def("feature_selection_job").execute_in_process(
        instance=dg.DagsterInstance.get(), partition_key="tpot_s",
        run_config={"ops": {"feature_selection_reports": {"config": {"iterations": 30, "folds": 2}}}})
    assert result.success
    meta = _metadata(result, "feature_selection_reports")
    # leave-one-hardware-out when the session's mart has rows on 2+ hardware (other tests import
    # public data into it), else the next split (test-tiny alone has one hardware)
    con = duckdb.connect(str(session_home.warehouse_path), read_only=True)
    try:
        rows = select_rows(con.execute("select * from marts.training_features").df(), "tpot_s")
    finally:
        con.close()
    expected = "leave_one_hardware_out" if rows["hardware_key"].nunique() >= 2 else "leave_one_model_out"
    assert meta["split"] == expected
    deltas = meta["delta_mdape_pct_by_group"]
    assert "roofline times" in deltas and all(isinstance(v, float) for v in deltas.values())
    report = (session_home.reports_dir / "tpot_s" / "feature_selection.md").read_text()
    assert "| roofline times | roofline_prefill_s, roofline_decode_step_s" in report
    saved = json.loads((session_home.reports_dir / "tpot_s" / "feature_selection.json").read_text())
    assert saved["full"]["mdape_pct"] == pytest.approx(meta["full_mdape_pct"], abs=1e-3)
    assert set(saved["groups"]) == set(deltas)
