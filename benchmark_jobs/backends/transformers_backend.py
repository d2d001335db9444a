"""Hugging Face transformers backend: eager PyTorch ``generate`` with per-token timestamps.

The model is built from its architecture with seeded random weights (no download) unless the
spec asks for pretrained weights. Generation is greedy and forced to exactly ``output_tokens``
new tokens (``min_new_tokens = max_new_tokens``, EOS disabled), and the length is verified,
because a latency for "up to N tokens" would not be comparable across models.
"""

from __future__ import annotations

import time

import torch
import transformers
from transformers import AutoModelForCausalLM, GenerationConfig
from transformers.generation.streamers import BaseStreamer

from benchmark_jobs.backends.base import Backend, GenerationTiming, PointTimeoutError
from benchmark_jobs.backends.transformers_config import build_config, max_positions
from benchmark_jobs.constants import PROMPT_TOKEN_ID_MIN
from benchmark_jobs.device import device_name, is_cuda
from benchmark_jobs.spec import JobSpec, ModelSpec
from benchmark_jobs.trackers.latency import LatencyTracker

TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class TimestampStreamer(BaseStreamer):
    """Records when each generation step's tokens reach the host.

    ``generate`` calls ``put`` once with the prompt (shape (batch, input_tokens)), then once per
    generated step with that step's tokens (shape (batch,), one per sequence), then ``end``.
    Moving a step's tokens to the host is what makes the reading honest on CUDA; transformers
    already hands them over on the CPU.

    Attributes:
        token_times_s: ``perf_counter`` reading per generated step.
        tokens_per_step: tokens received per step (the batch size).
    """

    def __init__(self, deadline_s: float | None = None) -> None:
        self.deadline_s = deadline_s
        self.token_times_s: list[float] = []
        self.tokens_per_step: list[int] = []
        self.prompt_seen = False
        self.ended = False

    def put(self, value: torch.Tensor) -> None:
        now_s = time.perf_counter()
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        self.token_times_s.append(now_s)
        self.tokens_per_step.append(int(value.numel()))
        if self.deadline_s is not None and now_s > self.deadline_s:
            # Raising inside generate() abandons the generation at once.
            raise PointTimeoutError(f"deadline passed after {len(self.token_times_s)} generated tokens")

    def end(self) -> None:
        self.ended = True


class TransformersBackend(Backend):
    """transformers ``AutoModelForCausalLM`` on a torch device."""

    engine_name = "transformers"

    def __init__(self) -> None:
        self.model: torch.nn.Module | None = None
        self.device = "cpu"
        self.vocab_size = 0
        self.max_positions: int | None = None
        self._generator: torch.Generator | None = None
        self._device_name: str | None = None

    @property
    def engine_version(self) -> str:
        return transformers.__version__

    def configure(self, spec: JobSpec) -> None:
        if spec.backend_options:
            raise ValueError(f"the transformers backend takes no backend_options, got {sorted(spec.backend_options)}")

    @property
    def device_name(self) -> str | None:
        return self._device_name

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
        if dtype not in TORCH_DTYPES:
            raise ValueError(f"dtype {dtype!r} is not supported; allowed: {', '.join(TORCH_DTYPES)}")
        if threads is not None:
            torch.set_num_threads(threads)
        torch_dtype = TORCH_DTYPES[dtype]
        if weight_source == "pretrained":
            if not model_spec.hf_id:
                raise ValueError(f"model {model_spec.key!r} has no hf_id; pretrained weights need one")
            model = AutoModelForCausalLM.from_pretrained(model_spec.hf_id, dtype=torch_dtype)
        elif weight_source == "random":
            config = build_config(model_spec)
            torch.manual_seed(seed)  # seeds the CUDA generators too
            # Initialise directly on the device: a large model built on the host first would need
            # its full size in host memory and a slow CPU initialisation.
            with torch.device(device):
                model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
        else:
            raise ValueError(f"weight_source {weight_source!r} is not supported; allowed: random, pretrained")
        model.to(device)
        model.eval()
        # EOS must never end a generation early; a pad id is required by generate() nonetheless.
        model.generation_config.eos_token_id = None
        if model.generation_config.pad_token_id is None:
            model.generation_config.pad_token_id = 0
        self.model = model
        self.device = device
        self.vocab_size = int(model.config.get_text_config().vocab_size)
        self.max_positions = max_positions(model.config)
        self._generator = torch.Generator().manual_seed(seed)
        self._device_name = device_name(device)

    def unload(self) -> None:
        self.model = None
        if is_cuda(self.device):
            torch.cuda.empty_cache()

    def random_prompt(self, batch_size: int, input_tokens: int) -> torch.Tensor:
        """Random token ids in [PROMPT_TOKEN_ID_MIN, vocab) of shape (batch, input_tokens)."""
        low = PROMPT_TOKEN_ID_MIN if self.vocab_size > PROMPT_TOKEN_ID_MIN else 0
        ids = torch.randint(low, self.vocab_size, (batch_size, input_tokens), generator=self._generator)
        return ids.to(self.device)

    def generate(
        self,
        batch_size: int,
        input_tokens: int,
        output_tokens: int,
        *,
        deadline_s: float | None = None,
    ) -> GenerationTiming:
        if self.model is None:
            raise RuntimeError("generate() called before load()")
        total_tokens = input_tokens + output_tokens
        if self.max_positions is not None and total_tokens > self.max_positions:
            raise ValueError(
                f"input_tokens + output_tokens = {total_tokens} exceeds the model's "
                f"{self.max_positions} positions"
            )
        input_ids = self.random_prompt(batch_size, input_tokens)
        attention_mask = torch.ones_like(input_ids)
        generation_config = GenerationConfig(
            do_sample=False,
            max_new_tokens=output_tokens,
            min_new_tokens=output_tokens,
            eos_token_id=None,
            pad_token_id=self.model.generation_config.pad_token_id,
            use_cache=True,
        )
        streamer = TimestampStreamer(deadline_s=deadline_s)
        with torch.inference_mode(), LatencyTracker(self.device) as latency:
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                generation_config=generation_config,
                streamer=streamer,
            )
        generated = int(output.shape[1]) - input_tokens
        if generated != output_tokens or len(streamer.token_times_s) != output_tokens:
            raise RuntimeError(
                f"generation was not forced to {output_tokens} tokens: got {generated} in the output "
                f"and {len(streamer.token_times_s)} streamed steps"
            )
        if any(n != batch_size for n in streamer.tokens_per_step):
            raise RuntimeError(
                f"streamer saw {streamer.tokens_per_step} tokens per step for batch {batch_size}"
            )
        return GenerationTiming(
            start_s=latency.start_s,
            token_times_s=tuple(streamer.token_times_s),
            end_s=latency.end_s if latency.end_s is not None else time.perf_counter(),
        )
