"""The console script: predict from model files and the catalog only."""

import json
import subprocess
import sys

import pytest


def _cli(*args, home):
    return subprocess.run([sys.executable, "-m", "inference_estimation.cli", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=120)


def test_predict_json_has_value_unit_and_90_percent_bounds_per_target(pipeline, session_home):
    out = _cli("predict", "--model", "gpt2-small", "--hardware", "local-cpu", "--batch-size", "2",
               "--input-tokens", "16", "--output-tokens", "4", "--format", "json", "--allow-unpromoted",
               home=session_home.root)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert (body["setup"]["model"], body["setup"]["engine"], body["setup"]["dtype"]) == \
        ("gpt2-small", "transformers", "float32")  # a CPU's defaults
    result = body["predictions"]
    # test-tiny measures no power (estimates only), so power and energy have no predictor
    assert set(result) == {"e2e_latency_s", "ttft_s", "tpot_s", "output_throughput_tok_s", "peak_memory_gb"}
    for _target, p in result.items():
        assert {"value", "unit", "lower_90", "upper_90", "promoted", "derived_from"} <= set(p)
        assert 0 < p["lower_90"] < p["value"] < p["upper_90"]
    # one coherent answer: e2e is TTFT plus the remaining decode steps, throughput follows from it
    assert result["e2e_latency_s"]["value"] == pytest.approx(result["ttft_s"]["value"] + 3 * result["tpot_s"]["value"])
    assert result["output_throughput_tok_s"]["value"] == pytest.approx(2 * 4 / result["e2e_latency_s"]["value"])
    assert result["e2e_latency_s"]["derived_from"] == ["ttft_s", "tpot_s"]
    assert result["e2e_latency_s"]["unit"] == "s" and result["output_throughput_tok_s"]["unit"] == "tok/s"


def test_predict_for_unbenchmarked_gpu_uses_its_spec_sheet(pipeline, session_home):
    out = _cli("predict", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--hardware", "NVIDIA H100 80GB HBM3",
               "--batch-size", "1", "--input-tokens", "128", "--output-tokens", "32", "--dtype", "bfloat16",
               "--format", "json", "--allow-unpromoted", home=session_home.root)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["predictions"]["e2e_latency_s"]["value"] > 0


def test_predict_unknown_hardware_exits_2_listing_closest_keys(session_home):
    out = _cli("predict", "--model", "gpt2-small", "--hardware", "h100-sxm-80", "--batch-size", "1",
               "--input-tokens", "8", "--output-tokens", "4", home=session_home.root)
    assert out.returncode == 2 and "closest" in out.stderr and "nvidia-h100-sxm-80gb" in out.stderr


@pytest.mark.parametrize("flag", ["--batch-size", "--output-tokens"])
def test_predict_rejects_non_positive_sizes_naming_the_field(session_home, flag):
    args = {"--batch-size": "1", "--input-tokens": "8", "--output-tokens": "4"}
    args[flag] = "0"
    out = _cli("predict", "--model", "gpt2-small", "--hardware", "local-cpu",
               *[x for kv in args.items() for x in kv], home=session_home.root)
    assert out.returncode == 2 and (flag in out.stderr or flag.strip("-").replace("-", "_") in out.stderr)
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_a_cold_predict_imports_neither_dagster_nor_plotting_nor_sklearn(pipeline, session_home):
    code = ("import sys\nfrom inference_estimation import cli\n"
            f"rc = cli.main(['--home', {str(session_home.root)!r}, 'predict', '--model', 'gpt2-small', '--hardware', "
            "'local-cpu', '--batch-size', '1', '--input-tokens', '8', '--output-tokens', '4', '--allow-unpromoted'])\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'dagster', 'shap', 'matplotlib', 'sklearn', 'duckdb'})\n"
            "print('HEAVY', heavy, rc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert "HEAVY [] 0" in out.stdout, out.stdout + out.stderr


def test_the_cli_silences_dagsters_beta_and_preview_labels_from_its_own_code_only():
    import warnings

    from inference_estimation.cli.args import dagster_quietly

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        dg = dagster_quietly()
        ours = {"__name__": "inference_estimation.defs.training.assets", "dg": dg}
        exec("dg.Output(1, data_version=dg.DataVersion('v'))", ours)  # Dagster's beta parameter, from our code
        warnings.warn("elsewhere", dg.BetaWarning, stacklevel=1)  # another module's: still shown
    assert [str(w.message) for w in seen if issubclass(w.category, dg.BetaWarning)] == ["elsewhere"]
