"""ML.ENERGY Leaderboard data -> measurement records (three sources, one module each).

* ``mlenergy-v3`` -- ML.ENERGY Benchmark v3.0 (github ml-energy/leaderboard @ 0cd52da, data
  ``last_updated`` 2026-02-16): vLLM serving on NVIDIA H100 (80GB HBM3, 700 W, SXM) and B200,
  1-8 GPUs, BF16/FP8/MXFP4, dense, MoE and hybrid Mamba models. Read from the published
  ``public/data/index.json`` and ``public/data/tasks/<task>.json`` (the originals; ``models/*.json``
  repeat the same configurations per model and the ``*_flat.csv`` files are conveniences "derived by
  us" -- neither is read, so nothing is counted twice).
* ``mlenergy-v2`` -- ML.ENERGY Leaderboard v2.0 (github ml-energy/leaderboard-v2 @ c3af7f3, V2.0
  released 2024-09-20): vLLM 0.5.4 on A100-SXM4-40GB (AWS p4d) and H100 80GB HBM3 (AWS p5), one JSON
  file per configuration under ``data/{llm,mllm}_text_generation/<task>/<GPU>/<org>/<model>/``.
* ``mlenergy-v1`` -- the v1 "legacy" leaderboard (2023) kept in the same repository under
  ``data/legacy``: PyTorch 2.0.1 + FastChat (Hugging Face transformers), batch size 1, FP16, on V100,
  A40 and A100.

v1 and v2 live in one folder and one commit but are two sources: different harness (single-stream
transformers generation vs a vLLM server with continuous batching), different hardware, different
era (2023 vs 2024) and different metrics. Keeping them apart keeps ``engine``/``mode`` honest and
lets each be re-imported (and partitioned) on its own.

What all three share (from SOURCE.md and the leaderboard's about pages):

* Energy is GPU-only, measured with Zeus, which reads the NVML total-energy counter
  (``power_source="nvml-energy"``). v2/v3 energy and power are summed over every GPU of the run
  (``power_scope="all-devices"``); v1 runs on one GPU (``power_scope="device"``).
* Output lengths are NOT forced: the model stops on its own. ``output_tokens`` is the rounded mean
  output length per request as the source reports it, so rows stay comparable to forced-length
  rows on the average, but a single request may be much shorter or longer.
* No source gives an input (prompt) length -- prompts come from task datasets (ShareGPT, LM Arena,
  GPQA, HumanEval+, ...) -- so ``input_tokens`` is always null; ``prompt_type`` names the task.
* Weights are the real checkpoints (``weight_source="pretrained"``).

Rows that are not mapped are counted by reason: diffusion configurations ("diffusion model (not an
LLM)"), repeated runs of a configuration already mapped (v3 publishes a second seed of three
configurations), and rows without a usable metric.
"""

# Re-exported for callers (the tests); the adapters import the other shared constants from .common.
from inference_estimation.lib.data.external.adapters.mlenergy.common import (
    DIFFUSION_REASON,
    DUPLICATE_REASON,
    MLLM_TEXT_DECODER,
)
from inference_estimation.lib.data.external.adapters.mlenergy.v1 import MLEnergyV1Adapter
from inference_estimation.lib.data.external.adapters.mlenergy.v2 import MLEnergyV2Adapter
from inference_estimation.lib.data.external.adapters.mlenergy.v3 import MLEnergyV3Adapter

ADAPTERS = [MLEnergyV3Adapter(), MLEnergyV2Adapter(), MLEnergyV1Adapter()]

__all__ = [
    "ADAPTERS",
    "DIFFUSION_REASON",
    "DUPLICATE_REASON",
    "MLLM_TEXT_DECODER",
    "MLEnergyV1Adapter",
    "MLEnergyV2Adapter",
    "MLEnergyV3Adapter",
]
