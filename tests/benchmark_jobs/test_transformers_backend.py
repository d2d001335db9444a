"""The transformers backend: forced-length generation and per-token timestamps."""

from __future__ import annotations

import itertools
import time

import pytest
import torch

from benchmark_jobs.backends import GenerationTiming, PointTimeoutError, create_backend
from benchmark_jobs.backends.transformers_backend import TimestampStreamer, TransformersBackend


def _loaded(model_spec, dtype: str = "float32") -> TransformersBackend:
    backend = create_backend("transformers")
    backend.load(model_spec, dtype, "cpu", "random", threads=1, seed=0)
    return backend


def test_generation_is_forced_to_exactly_n_tokens_although_the_config_eos_would_stop_it_after_one(
    tiny_gpt2, monkeypatch
):
    output_tokens = 12
    prompt = torch.randint(100, 1000, (1, 16), generator=torch.Generator().manual_seed(1))
    # The greedy first token of this prompt under the seeded random weights becomes the EOS.
    probe_backend = _loaded(tiny_gpt2())
    with torch.inference_mode():
        greedy_token = int(probe_backend.model(input_ids=prompt).logits[0, -1].argmax())
    backend = _loaded(tiny_gpt2(eos_token_id=greedy_token))
    assert backend.model.config.eos_token_id == greedy_token
    for a, b in zip(probe_backend.model.parameters(), backend.model.parameters(), strict=False):
        assert torch.equal(a, b), "same seed must give the same weights"

    # Control: an unforced greedy generation with that EOS stops after one token.
    with torch.inference_mode():
        unforced = backend.model.generate(
            input_ids=prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=output_tokens,
            do_sample=False,
            eos_token_id=greedy_token,
            pad_token_id=0,
        )
    assert unforced.shape[1] - prompt.shape[1] == 1

    monkeypatch.setattr(backend, "random_prompt", lambda batch_size, input_tokens: prompt)
    timing = backend.generate(1, 16, output_tokens)
    assert timing.output_tokens == output_tokens


def test_batched_generation_streams_one_timestamp_per_step_in_order_between_start_and_end(tiny_gpt2):
    backend = _loaded(tiny_gpt2())
    timing = backend.generate(batch_size=3, input_tokens=20, output_tokens=6)
    assert timing.output_tokens == 6
    times = timing.token_times_s
    assert timing.start_s < times[0]
    assert all(a <= b for a, b in itertools.pairwise(times))
    assert times[-1] <= timing.end_s
    assert 0 < timing.ttft_s < timing.e2e_latency_s


def test_tiny_llama_with_grouped_query_attention_generates_the_forced_length_in_float32_and_bfloat16(
    tiny_llama,
):
    for dtype in ("float32", "bfloat16"):
        backend = _loaded(tiny_llama(), dtype)
        assert backend.model.dtype == getattr(torch, dtype)
        assert backend.model.config.num_key_value_heads < backend.model.config.num_attention_heads
        assert backend.generate(batch_size=2, input_tokens=12, output_tokens=5).output_tokens == 5


def test_prompts_are_random_token_ids_above_the_special_range_with_the_requested_shape(tiny_gpt2):
    backend = _loaded(tiny_gpt2())
    prompt = backend.random_prompt(4, 30)
    assert tuple(prompt.shape) == (4, 30)
    assert int(prompt.min()) >= 100 and int(prompt.max()) < 1000


def test_a_workload_longer_than_the_models_positions_is_refused_with_a_message_naming_the_limit(tiny_gpt2):
    backend = _loaded(tiny_gpt2())
    with pytest.raises(ValueError, match="exceeds the model's 256 positions"):
        backend.generate(batch_size=1, input_tokens=250, output_tokens=10)


def test_streamer_abandons_generation_with_point_timeout_once_the_deadline_has_passed(tiny_gpt2):
    backend = _loaded(tiny_gpt2())
    with pytest.raises(PointTimeoutError):
        backend.generate(batch_size=1, input_tokens=8, output_tokens=4, deadline_s=time.perf_counter() - 1.0)


def test_streamer_treats_the_first_put_as_the_prompt_and_counts_tokens_per_step():
    streamer = TimestampStreamer()
    streamer.put(torch.zeros((2, 7), dtype=torch.long))
    streamer.put(torch.zeros(2, dtype=torch.long))
    streamer.put(torch.zeros(2, dtype=torch.long))
    streamer.end()
    assert len(streamer.token_times_s) == 2
    assert streamer.tokens_per_step == [2, 2]
    assert streamer.ended


def test_generation_timing_derives_ttft_tpot_and_inter_token_latencies_from_its_clock_readings():
    timing = GenerationTiming(start_s=10.0, token_times_s=(10.5, 10.7, 11.0), end_s=11.1)
    assert timing.ttft_s == pytest.approx(0.5)
    assert timing.e2e_latency_s == pytest.approx(1.1)
    assert timing.tpot_s == pytest.approx(0.25)  # (11.0 - 10.5) / (3 - 1)
    assert timing.itl_s == pytest.approx([0.2, 0.3])
    single = GenerationTiming(start_s=0.0, token_times_s=(0.4,), end_s=0.5)
    assert single.tpot_s is None and single.itl_s == []


def test_unknown_backend_name_is_rejected_with_the_available_names():
    with pytest.raises(ValueError, match="available: openai-server, tabular, transformers, vllm"):
        create_backend("no-such-engine")


def test_the_transformers_backend_refuses_engine_options_it_does_not_have(make_spec, point):
    import dataclasses

    from benchmark_jobs.runner import BenchmarkSetupError, run_spec

    spec = dataclasses.replace(make_spec([point]), backend_options={"enforce_eager": True})
    with pytest.raises(BenchmarkSetupError, match="takes no backend_options"):
        run_spec(spec, lambda r: None, lambda m: None)
