"""Building a transformers config from the catalog's architecture (no torch needed).

Shared by the transformers backend (which builds the model from it) and the vLLM backend (which
writes it to a folder and loads dummy weights from it).
"""

from __future__ import annotations

import transformers
from transformers import AutoConfig
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

from benchmark_jobs.spec import ModelSpec

#: Config attributes that bound the sequence length, by family naming.
_MAX_POSITION_ATTRS = ("max_position_embeddings", "n_positions")


def build_config(model_spec: ModelSpec) -> transformers.PreTrainedConfig:
    """The model's config from its family and architecture (as the catalog spells them).

    Special token ids default to None: a random-weight model has no tokenizer, and the families'
    defaults (e.g. GPT-2's 50256) may lie outside a small test vocabulary. An architecture may
    still set them.

    Raises:
        ValueError: the family is not a transformers model type.
    """
    if model_spec.family not in CONFIG_MAPPING:
        raise ValueError(
            f"model family {model_spec.family!r} is not a transformers model type "
            f"(transformers {transformers.__version__})"
        )
    kwargs = {"bos_token_id": None, "eos_token_id": None, **model_spec.architecture}
    return AutoConfig.for_model(model_spec.family, **kwargs)


def max_positions(config: transformers.PreTrainedConfig) -> int | None:
    """The longest sequence the model's positions allow (None if the config does not say)."""
    text_config = config.get_text_config()
    for attr in _MAX_POSITION_ATTRS:
        value = getattr(text_config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
