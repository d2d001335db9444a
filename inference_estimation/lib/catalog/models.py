"""Model entries: a transformer's architecture, a tabular model's shape, and what the model is."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from inference_estimation.lib.catalog.base import (
    DTYPES,
    CatalogError,
    StrictEntry,
    check_key,
)


class Architecture(StrictEntry):
    """Architecture facts, enough to build the model with random weights and compute FLOPs/bytes."""

    layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    intermediate_size: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    max_position_embeddings: int = Field(gt=0)
    head_dim: int | None = Field(default=None, gt=0)
    experts: int | None = Field(default=None, gt=0)
    active_experts: int | None = Field(default=None, gt=0)
    moe_intermediate_size: int | None = Field(default=None, gt=0)
    shared_experts: int | None = Field(default=None, ge=0)
    dense_layers: int | None = Field(default=None, ge=0)
    #: Values cached per token and layer when they are not ``2 * kv_heads * head_dim`` (K and V
    #: of every KV head): multi-head latent attention caches one compressed latent plus a shared
    #: RoPE key (DeepSeek-V3/R1: kv_lora_rank 512 + qk_rope_head_dim 64 = 576).
    kv_cache_dim_per_layer: int | None = Field(default=None, gt=0)
    tie_word_embeddings: bool = False
    gated_mlp: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Architecture:
        if self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads})")
        if (self.experts is None) != (self.active_experts is None):
            raise ValueError("experts and active_experts must be given together")
        if self.experts is not None and self.active_experts > self.experts:
            raise ValueError("active_experts cannot exceed experts")
        return self

    @property
    def resolved_head_dim(self) -> int:
        """Head dimension (explicit, else hidden_size / heads)."""
        return self.head_dim or self.hidden_size // self.heads

    @property
    def resolved_kv_cache_dim_per_layer(self) -> int:
        """Values the KV cache holds per token and layer (explicit for MLA, else K and V of every KV head)."""
        return self.kv_cache_dim_per_layer or 2 * self.kv_heads * self.resolved_head_dim


#: Tabular model families the ``tabular`` backend can train and time (scikit-learn as ``sklearn``).
TABULAR_FAMILIES = ("xgboost", "catboost", "sklearn")
SKLEARN_ESTIMATORS = ("random_forest", "extra_trees", "gradient_boosting", "hist_gradient_boosting")


class TabularShape(StrictEntry):
    """The shape of a tabular model (trained on seeded synthetic data by the ``tabular`` backend).

    Attributes:
        n_features: input columns.
        n_trees: boosting rounds or forest size.
        max_depth: tree depth.
        task: ``regression`` or ``classification``.
        n_classes: classes of a classification model.
        estimator: scikit-learn estimator (``sklearn`` family only).
    """

    n_features: int = Field(gt=0)
    n_trees: int = Field(gt=0)
    max_depth: int = Field(gt=0)
    task: Literal["regression", "classification"] = "regression"
    n_classes: int = Field(default=2, ge=2)
    estimator: Literal[SKLEARN_ESTIMATORS] | None = None  # type: ignore[valid-type]


class ModelEntry(StrictEntry):
    """One model (an LLM built from its architecture, or a tabular model built from its shape)."""

    key: str
    hf_id: str | None = None
    #: Other spellings datasets use (e.g. "Meta-Llama-3.1-8B-Instruct", "LLaMA 3 8B").
    aliases: list[str] = Field(default_factory=list)
    family: str
    kind: Literal["llm", "tabular"] = "llm"
    params: int | None = Field(default=None, gt=0)
    active_params: int | None = Field(default=None, gt=0)
    default_dtype: Literal[DTYPES] = "bfloat16"  # type: ignore[valid-type]
    architecture: Architecture | None = None
    tabular: TabularShape | None = None
    notes: str | None = None

    _key = field_validator("key")(classmethod(lambda cls, v: check_key(v)))

    @model_validator(mode="after")
    def _needs_architecture(self) -> ModelEntry:
        if self.kind == "llm" and self.architecture is None:
            raise ValueError("an llm entry needs 'architecture'")
        if self.kind == "llm" and self.tabular is not None:
            raise ValueError("'tabular' belongs to tabular entries (kind: tabular), not to an llm")
        if self.kind == "tabular":
            if self.tabular is None:
                raise ValueError("a tabular entry needs 'tabular' (n_features, n_trees, max_depth)")
            if self.family not in TABULAR_FAMILIES:
                raise ValueError(f"tabular family {self.family!r}; allowed: {', '.join(TABULAR_FAMILIES)}")
            if self.architecture is not None:
                raise ValueError("a tabular entry has 'tabular', not an llm 'architecture'")
            if (self.tabular.estimator is None) != (self.family != "sklearn"):
                raise ValueError("tabular.estimator is required for family sklearn and only allowed there")
        return self

    def tabular_config(self) -> dict[str, Any]:
        """The tabular backend's architecture dict (``benchmark_jobs.backends.tabular_backend``).

        Raises:
            CatalogError: when the entry is not a tabular model.
        """
        if self.tabular is None:
            raise CatalogError(f"model {self.key!r} is not a tabular model")
        return self.tabular.model_dump(exclude_none=True)

    def transformers_config(self) -> dict[str, Any]:
        """Config kwargs in the family's own names, for ``AutoConfig.for_model(family, **kw)``.

        Raises:
            CatalogError: when the family has no mapping (not runnable with transformers here).
        """
        a = self.architecture
        if a is None:
            raise CatalogError(f"model {self.key!r} has no architecture")
        if self.family == "gpt2":
            return {
                "n_layer": a.layers, "n_embd": a.hidden_size, "n_head": a.heads,
                "n_inner": a.intermediate_size, "vocab_size": a.vocab_size,
                "n_positions": a.max_position_embeddings,
            }
        if self.family in ("llama", "qwen2", "mistral"):
            cfg: dict[str, Any] = {
                "hidden_size": a.hidden_size, "intermediate_size": a.intermediate_size,
                "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
                "num_key_value_heads": a.kv_heads, "vocab_size": a.vocab_size,
                "max_position_embeddings": a.max_position_embeddings,
                "tie_word_embeddings": a.tie_word_embeddings,
            }
            if a.head_dim:
                cfg["head_dim"] = a.head_dim
            return cfg
        raise CatalogError(f"model {self.key!r}: family {self.family!r} cannot be built by the transformers backend")


