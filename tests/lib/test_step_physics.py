"""The step physics and each engine's scheduler: bounds, identities and the scheduling rules."""

import numpy as np
import pandas as pd
import pytest

from inference_estimation.lib.catalog import load_catalog
from inference_estimation.lib.ml.engines import engine_defaults
from inference_estimation.lib.ml.scheduler import physical_bounds
from inference_estimation.lib.ml.step_fit import _levels
from inference_estimation.lib.ml.step_model import prepare, simulate
from inference_estimation.lib.ml.step_parameters import Layout
from inference_estimation.lib.ml.step_report import catalog_grid
from inference_estimation.lib.physics.features import prediction_row
from inference_estimation.lib.physics.step import (
    Efficiencies,
    smooth_max,
    step_bound,
    step_facts,
    step_terms,
    step_time,
)

#: Before learning (every efficiency 1, no overheads) a step is at most this many times its
#: slowest physical term: two smooth maxima (each <= 2^(1/3) x its larger term) plus the collectives.
MAX_STEP_OVER_SLOWEST_TERM = 2 * 2 ** (1 / 3) + 1


def _grid() -> pd.DataFrame:
    """A third of the catalog's LLM x device pairs (every model and device appears) at a few workloads."""
    return catalog_grid(load_catalog(strict=False), stride=3)


@pytest.fixture(scope="module")
def grid():
    return _grid()


def test_smooth_max_lies_between_max_and_its_stated_ceiling():
    a, b = np.array([1.0, 2.0, 0.0, 5.0]), np.array([1.0, 0.5, 3.0, 5.0])
    s = smooth_max(a, b)
    assert np.all(s >= np.maximum(a, b))
    assert np.all(s <= np.maximum(a, b) * 2 ** (1 / 3) + 1e-12)


def test_no_step_is_slower_than_its_slowest_term_by_more_than_the_stated_factor_before_learning(grid):
    facts = step_facts(grid)
    assert facts.valid.sum() > 100
    n = len(grid)
    for P, D, K in ((np.full(n, 2048.0), np.zeros(n), np.zeros(n)), (np.zeros(n), np.full(n, 64.0), np.full(n, 1500.0)),
                    (np.full(n, 512.0), np.full(n, 32.0), np.full(n, 700.0))):
        t = step_terms(facts, P, np.ones(n), P / 2, D, K)
        unit = step_time(t, Efficiencies(collective_latency_s=0.0))
        slowest = np.maximum.reduce([t.gemm_s, t.weight_s, t.attn_s, t.kv_s, t.comm_s])
        ok = facts.valid
        assert np.all(unit[ok] >= step_bound(t)[ok] * (1 - 1e-9))
        assert np.all(unit[ok] <= slowest[ok] * MAX_STEP_OVER_SLOWEST_TERM * (1 + 1e-9))


def test_no_answer_is_faster_than_its_physical_bound_on_the_catalog_grid_whatever_the_coefficients(grid):
    """Efficiencies are bounded in (0, 1] and overheads >= 0, so even extreme coefficients cannot
    make a step faster than physics: try the most favourable ones."""
    prep = prepare(grid)
    layout = Layout(_levels(prep, np.arange(len(grid))))
    bounds = physical_bounds(prep.facts, prep.work)
    for fill in (-30.0, 0.0, 3.0):
        x = np.full(len(layout.names), fill)
        sched = simulate(layout.coefficients(x), prep)
        ok = prep.facts.valid
        assert np.all(sched.tpot_s[ok] >= bounds["tpot_s"][ok] * (1 - 1e-9))
        has_ttft = ok & np.isfinite(bounds["ttft_s"])
        assert np.all(sched.ttft_s[has_ttft] >= bounds["ttft_s"][has_ttft] * (1 - 1e-9))


def test_scheduler_answers_keep_the_identities_exactly(grid):
    prep = prepare(grid)
    layout = Layout(_levels(prep, np.arange(len(grid))))
    sched = simulate(layout.coefficients(layout.initial()), prep)
    out = prep.work.output_tokens
    ok = prep.facts.valid
    assert np.allclose(sched.e2e_latency_s[ok], (sched.ttft_s + (out - 1) * sched.tpot_s)[ok], rtol=1e-12)
    closed = ok & np.isnan(sched.steady_tokens_per_step) & np.isnan(sched.open_loop_tok_s)
    assert closed.sum() > 100
    expected = sched.in_flight * out / sched.e2e_latency_s
    assert np.allclose(sched.output_throughput_tok_s[closed], expected[closed], rtol=1e-12)


def _one(workloads: list[dict], engine: str = "vllm", hardware: str = "nvidia-h100-sxm-80gb",
         model: str = "llama-3.1-8b") -> pd.DataFrame:
    catalog = load_catalog(strict=False)
    return pd.DataFrame([prediction_row(catalog.model(model), catalog.hw(hardware),
                                        {"engine": engine, "dtype": "bfloat16", **w}) for w in workloads])


def _simulate(frame: pd.DataFrame):
    prep = prepare(frame)
    layout = Layout(_levels(prep, np.arange(len(frame))))
    return simulate(layout.coefficients(layout.initial()), prep)


def test_serving_tpot_grows_with_concurrency_and_saturation_runs_the_engines_own_batch():
    frame = _one([{"mode": "serving", "concurrency": c, "input_tokens": 1024, "output_tokens": 1024} for c in (1, 8, 64, 256)]
                 + [{"mode": "offline", "batch_size": None, "input_tokens": 1024, "output_tokens": 1024}])
    sched = _simulate(frame)
    assert np.all(np.diff(sched.tpot_s[:4]) > 0)
    assert np.all(np.diff(sched.output_throughput_tok_s[:4]) > 0)
    # vLLM on an 80 GB device allows 1024 sequences; the KV cache of 2048-token requests holds fewer
    assert 64 < sched.running_batch[4] < 1024
    assert sched.output_throughput_tok_s[4] > sched.output_throughput_tok_s[2]


def test_open_loop_below_capacity_serves_the_rate_and_above_it_is_flagged_saturated():
    frame = _one([{"mode": "serving", "request_rate_rps": r, "input_tokens": 512, "output_tokens": 256}
                  for r in (1.0, 10_000.0)])
    sched = _simulate(frame)
    assert not sched.saturated[0] and sched.saturated[1]
    assert sched.output_throughput_tok_s[0] == pytest.approx(1.0 * 256)
    assert sched.in_flight[0] >= 1.0
    assert sched.output_throughput_tok_s[1] < 10_000.0 * 256


def test_static_engines_prefill_the_whole_batch_at_once_and_continuous_ones_in_budget_chunks():
    static = _simulate(_one([{"mode": "offline", "batch_size": 64, "input_tokens": 2048, "output_tokens": 16}],
                            engine="transformers"))
    continuous = _simulate(_one([{"mode": "offline", "batch_size": 64, "input_tokens": 2048, "output_tokens": 16}]))
    assert static.running_batch[0] == 64 and continuous.running_batch[0] == 64
    # one pass of 131k tokens vs 8 passes of 16k: the same work, a few per-step overheads apart
    assert continuous.ttft_s[0] == pytest.approx(static.ttft_s[0], rel=0.5)


def test_engine_defaults_follow_the_documented_tiers():
    assert engine_defaults("vllm", 80.0, serving=True).max_seqs == 1024
    assert engine_defaults("vllm", 80.0, serving=True).token_budget == 8192
    assert engine_defaults("vllm", 80.0, serving=False).token_budget == 16384
    assert engine_defaults("vllm", 24.0, serving=True).max_seqs == 256
    assert engine_defaults("vllm", 24.0, serving=True).token_budget == 2048
    assert not engine_defaults("vllm", 80.0, serving=True, engine_version="0.5.4").mixed
    assert engine_defaults("vllm", 80.0, serving=True, engine_version="vllm/vllm-openai:v0.13.0").mixed
    assert not engine_defaults("sglang", 80.0, serving=True).mixed
    assert engine_defaults("sglang", 180.0, serving=True).token_budget == 16384
    assert not engine_defaults("transformers", 80.0, serving=False).continuous
    assert not engine_defaults("tgi", 80.0, serving=True, engine_version="2.0.4").mixed
    assert engine_defaults("tgi", 80.0, serving=True, engine_version="3.0.0").mixed


def test_llama_cpp_splits_layers_across_devices_so_more_devices_add_memory_not_speed():
    one = _simulate(_one([{"mode": "offline", "batch_size": 1, "input_tokens": 0, "output_tokens": 128,
                           "device_count": 1}], engine="llama.cpp", hardware="nvidia-rtx-4090"))
    two = _simulate(_one([{"mode": "offline", "batch_size": 1, "input_tokens": 0, "output_tokens": 128,
                           "device_count": 2}], engine="llama.cpp", hardware="nvidia-rtx-4090"))
    assert two.tpot_s[0] == pytest.approx(one.tpot_s[0], rel=1e-9)
    assert np.isnan(one.ttft_s[0])  # a decode from an empty prompt has no first-token latency


def test_kv_cache_per_replica_counts_heads_copied_across_ranks_and_whole_mla_latents():
    catalog = load_catalog(strict=False)
    def facts(model: str, tp: int):
        row = prediction_row(catalog.model(model), catalog.hw("nvidia-h100-sxm-80gb"),
                             {"engine": "vllm", "dtype": "bfloat16", "device_count": tp, "tensor_parallel": tp})
        return step_facts(pd.DataFrame([row]))
    gqa = catalog.model("llama-3.1-70b").architecture  # 8 KV heads
    per_head = 2 * gqa.resolved_head_dim * gqa.layers * 2.0  # K and V, bf16, every layer
    assert facts("llama-3.1-70b", 4).kv_bytes_per_token[0] == pytest.approx(per_head * 8)
    assert facts("llama-3.1-70b", 16).kv_bytes_per_token[0] == pytest.approx(per_head * 16)  # one head per rank
    mla = catalog.model("deepseek-r1").architecture
    latent = mla.resolved_kv_cache_dim_per_layer * mla.layers * 2.0
    assert facts("deepseek-r1", 8).kv_bytes_per_token[0] == pytest.approx(latent * 8)  # whole on each rank


def test_a_mixing_engines_steady_state_holds_what_one_steps_token_budget_sustains():
    # vLLM serving on a 48 GB device: 2048 tokens a step; 2048-token prompts with 128-token outputs
    frame = _one([{"mode": "serving", "concurrency": 256, "input_tokens": 2048, "output_tokens": 128}],
                 hardware="nvidia-l40s")
    sched = _simulate(frame)
    assert sched.running_batch[0] <= 2048 * 128 / (2048 + 128)
