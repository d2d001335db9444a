"""Predictions from saved model files and the catalog only -- no warehouse, no Dagster.

Every function builds feature rows with the same code that built the training frame
(:mod:`inference_estimation.lib.features`), so a configuration gets identical features at
training and prediction time. ``predict`` answers one configuration, ``predict_batch`` many,
``explain`` says which features moved one prediction away from its physics baseline, and
``recommend`` ranks hardware for a model and a service-level target.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from catboost import Pool

from inference_estimation.lib.catalog import Catalog, CatalogError
from inference_estimation.lib.features import BYTES_PER_ELEMENT, feature_frame, model_facts, prediction_row
from inference_estimation.lib.modeling import card_matrix, load_predictor, physics_baseline, predict_log


class PredictorsMissingError(FileNotFoundError):
    """No trained predictor was found in the models folder."""


class BatchInputError(ValueError):
    """A row of a batch-prediction CSV is invalid; names the file, line and column."""


def workload(batch_size: int, input_tokens: int, output_tokens: int, engine: str = "transformers",
             dtype: str = "float32", device_count: int | None = None, mode: str = "offline",
             source: str = "local", power_scope: str = "all-devices", concurrency: int | None = None,
             request_rate_rps: float | None = None) -> dict[str, Any]:
    """A workload dict in the training frame's column names.

    ``source`` names whose measurement conventions the prediction follows (default ``local``: this
    project's harness -- offline, generation forced to ``output_tokens``); ``power_scope``
    ``all-devices`` means power summed over the devices used.

    Raises:
        ValueError: naming the field for non-positive sizes.
    """
    for name, value in (("batch_size", batch_size), ("input_tokens", input_tokens), ("output_tokens", output_tokens)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    out: dict[str, Any] = {"engine": engine, "dtype": dtype, "mode": mode, "batch_size": batch_size,
                           "input_tokens": input_tokens, "output_tokens": output_tokens, "source": source,
                           "power_scope": power_scope, "concurrency": concurrency,
                           "request_rate_rps": request_rate_rps}
    if device_count is not None:
        out["device_count"] = device_count
        out["tensor_parallel"] = device_count
    return out


def predictor_folders(models_dir: Path, allow_unpromoted: bool = False) -> dict[str, Path]:
    """Target -> predictor folder: the promoted ones, plus (if allowed) trained-but-unpromoted ones."""
    folders = {p.parent.name: p.parent for p in (models_dir / "promoted").glob("*/card.json")}
    if allow_unpromoted:
        for p in models_dir.glob("*/card.json"):
            folders.setdefault(p.parent.name, p.parent)
    return dict(sorted(folders.items()))


@dataclass
class Predictors:
    """Loaded predictors, kept in memory for many predictions."""

    models: dict[str, tuple[Any, dict[str, Any], bool]]

    @classmethod
    def load(cls, models_dir: Path, allow_unpromoted: bool = False, targets: list[str] | None = None) -> "Predictors":
        """Loads the promoted (or also unpromoted) predictors.

        Raises:
            PredictorsMissingError: when none is found.
        """
        found = predictor_folders(models_dir, allow_unpromoted)
        models = {}
        for target, folder in found.items():
            if targets is None or target in targets:
                model, card = load_predictor(folder)
                models[target] = (model, card, folder.parent.name == "promoted")
        if not models:
            hint = "" if allow_unpromoted else " (--allow-unpromoted uses predictors that did not beat their baselines)"
            raise PredictorsMissingError(f"no {'trained' if allow_unpromoted else 'promoted'} predictors in "
                                         f"{models_dir}; run `inference-estimation sweep` first{hint}")
        return cls(models)

    def frame(self, features: pd.DataFrame) -> pd.DataFrame:
        """Columns ``<target>``, ``<target>_lower_90``, ``<target>_upper_90`` for feature rows."""
        out = pd.DataFrame(index=features.index)
        for target, (model, card, _) in self.models.items():
            X, offset = card_matrix(card, features)
            log_pred = predict_log(model, X, offset)
            half = (card.get("interval") or {}).get("log_halfwidth")
            out[target] = np.exp(log_pred)
            out[f"{target}_lower_90"] = np.exp(log_pred - half) if half is not None else np.nan
            out[f"{target}_upper_90"] = np.exp(log_pred + half) if half is not None else np.nan
        return out


def predict(catalog: Catalog, models_dir: Path, model_key: str, hardware_key: str,
            work: dict[str, Any], targets: list[str] | None = None,
            allow_unpromoted: bool = False) -> dict[str, dict[str, Any]]:
    """Predicts every available target for one configuration.

    Args:
        catalog: the catalog (model and hardware facts).
        models_dir: folder of predictors (``<target>/`` trained, ``promoted/<target>/`` promoted).
        model_key: model key, Hugging Face id or alias.
        hardware_key: hardware key or alias.
        work: the workload (see :func:`workload`).
        targets: restrict to these targets (default: every promoted one).
        allow_unpromoted: also use predictors that did not (yet) beat their baselines.

    Returns:
        ``{target: {"value", "unit", "lower_90", "upper_90", "promoted"}}``.

    Raises:
        PredictorsMissingError: when no predictor is available.
        CatalogError: for an unknown model or hardware (listing the closest keys).
    """
    model, hardware = catalog.model(model_key), catalog.hw(hardware_key)
    predictors = Predictors.load(models_dir, allow_unpromoted, targets)
    values = predictors.frame(feature_frame([prediction_row(model, hardware, work)])).iloc[0]
    out: dict[str, dict[str, Any]] = {}
    for target, (_, card, promoted) in predictors.models.items():
        lower, upper = values[f"{target}_lower_90"], values[f"{target}_upper_90"]
        out[target] = {"value": float(values[target]), "unit": card["unit"],
                       "lower_90": None if math.isnan(lower) else float(lower),
                       "upper_90": None if math.isnan(upper) else float(upper), "promoted": promoted}
    return out


def explain(catalog: Catalog, models_dir: Path, model_key: str, hardware_key: str, work: dict[str, Any],
            target: str, top: int = 5, allow_unpromoted: bool = False) -> dict[str, Any]:
    """The physics baseline of one prediction and the features that moved it most (SHAP).

    Returns:
        ``{"target", "physics_baseline", "prediction", "contributions": [{"feature", "value", "factor"}]}``
        where ``factor`` multiplies the prediction (exp of the feature's SHAP value in log space).
    """
    model, hardware = catalog.model(model_key), catalog.hw(hardware_key)
    predictors = Predictors.load(models_dir, allow_unpromoted, [target])
    predictor, card, _ = predictors.models[target]
    features = feature_frame([prediction_row(model, hardware, work)])
    X, offset = card_matrix(card, features)
    cats = [c for c in card["categorical_features"] if c in X.columns]
    shap = predictor.get_feature_importance(Pool(X, cat_features=cats), type="ShapValues")[0]
    order = np.argsort(-np.abs(shap[:-1]))[:top]
    baseline = physics_baseline(features, target)[0]
    return {
        "target": target,
        "physics_baseline": None if math.isnan(baseline) else float(baseline),
        "prediction": float(np.exp(predict_log(predictor, X, offset))[0]),
        "contributions": [{"feature": X.columns[i], "value": _plain(X.iloc[0, i]), "factor": float(np.exp(shap[i]))}
                          for i in order],
    }


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    return value.item() if hasattr(value, "item") else value


BATCH_COLUMNS = {"model": str, "hardware": str, "batch_size": int, "input_tokens": int, "output_tokens": int,
                 "engine": str, "dtype": str, "device_count": int, "mode": str, "concurrency": int,
                 "request_rate_rps": float, "source": str}


def predict_batch(catalog: Catalog, models_dir: Path, input_csv: Path, output_csv: Path,
                  allow_unpromoted: bool = False, defaults: dict[str, Any] | None = None) -> int:
    """Predicts every row of a CSV of configurations (columns in :data:`BATCH_COLUMNS`).

    Required columns: model, hardware, batch_size, input_tokens, output_tokens. Model and hardware
    accept keys or any resolvable name. The output repeats the input columns and adds
    ``<target>``, ``<target>_lower_90`` and ``<target>_upper_90``.

    Returns:
        Rows written.

    Raises:
        BatchInputError: naming the file, line and column of the first bad row.
    """
    defaults = {"engine": "transformers", "dtype": "float32", "mode": "offline", "source": "local", **(defaults or {})}
    with input_csv.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        unknown = [c for c in header if c not in BATCH_COLUMNS]
        if unknown:
            raise BatchInputError(f"{input_csv}: line 1: unknown column(s) {unknown}; allowed: {', '.join(BATCH_COLUMNS)}")
        for column in ("model", "hardware", "batch_size", "input_tokens", "output_tokens"):
            if column not in header:
                raise BatchInputError(f"{input_csv}: line 1: required column '{column}' is missing")
        raw = list(reader)
    rows, resolved = [], {}
    for line, record in enumerate(raw, start=2):
        values: dict[str, Any] = {}
        for column, kind in BATCH_COLUMNS.items():
            text = (record.get(column) or "").strip()
            if not text:
                values[column] = defaults.get(column)
                continue
            try:
                values[column] = kind(float(text)) if kind is int else kind(text)
            except ValueError:
                raise BatchInputError(f"{input_csv}: line {line}, column '{column}': {text!r} is not a {kind.__name__}") from None
        for column in ("model", "hardware", "batch_size", "input_tokens", "output_tokens"):
            if values.get(column) in (None, ""):
                raise BatchInputError(f"{input_csv}: line {line}, column '{column}': value is required")
        try:
            key = (values["model"], values["hardware"])
            if key not in resolved:
                resolved[key] = (catalog.model(values["model"]), catalog.hw(values["hardware"]))
            work = workload(values["batch_size"], values["input_tokens"], values["output_tokens"],
                            engine=values["engine"], dtype=values["dtype"], device_count=values["device_count"],
                            mode=values["mode"], source=values["source"], concurrency=values["concurrency"],
                            request_rate_rps=values["request_rate_rps"])
        except CatalogError as exc:
            column = "model" if "model" in str(exc).split("'")[0] else "hardware"
            raise BatchInputError(f"{input_csv}: line {line}, column '{column}': {exc}") from None
        except ValueError as exc:
            raise BatchInputError(f"{input_csv}: line {line}: {exc}") from None
        rows.append(prediction_row(*resolved[key], work))
    predictors = Predictors.load(models_dir, allow_unpromoted)
    result = predictors.frame(feature_frame(rows))
    out = pd.concat([pd.DataFrame(raw), result.reset_index(drop=True)], axis=1)
    output_csv.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(output_csv, index=False)
    return len(out)


def recommend(catalog: Catalog, models_dir: Path, model_key: str, input_tokens: int, output_tokens: int,
              max_ttft_s: float | None = None, max_tpot_s: float | None = None, rps: float | None = None,
              engine: str = "vllm", dtype: str = "bfloat16", source: str = "local",
              allow_unpromoted: bool = False, max_devices: int = 8) -> pd.DataFrame:
    """Ranks hardware for serving a model: cost per million output tokens, then joules per token.

    For every catalog accelerator with memory and bandwidth facts: the fewest devices (1, 2, 4,
    8) that hold the weights, the largest batch (powers of two up to 256) whose KV cache still
    fits in 90% of their memory, the predicted TTFT/TPOT/throughput (with 90% intervals) at that
    batch, the limits checked on the predicted values, and the replicas needed for ``rps``
    requests per second.

    Returns:
        One row per hardware that fits and meets the limits, best first.
    """
    model = catalog.model(model_key)
    facts = model_facts(model)
    bpe = BYTES_PER_ELEMENT.get(dtype, 2.0)
    weights_gb = (facts["params"] or 0) * bpe / 1e9
    kv_per_token_gb = (2 * facts["layers"] * facts["kv_heads"] * facts["head_dim"] * bpe / 1e9
                       if facts["layers"] else 0.0)
    candidates = []
    for hw in catalog.hardware.values():
        if hw.kind == "cpu" or not hw.specs.memory_gb or not hw.specs.memory_bandwidth_gb_s:
            continue
        for devices in (1, 2, 4, 8):
            if devices > max_devices:
                break
            free = hw.specs.memory_gb * devices * 0.9 - weights_gb
            if free <= 0:
                continue
            batch = 1
            while batch * 2 <= 256 and (batch * 2) * (input_tokens + output_tokens) * kv_per_token_gb <= free:
                batch *= 2
            if batch * (input_tokens + output_tokens) * kv_per_token_gb > free:
                continue
            candidates.append((hw, devices, batch))
            break
    if not candidates:
        return pd.DataFrame()
    rows = [prediction_row(model, hw, workload(batch, input_tokens, output_tokens, engine=engine, dtype=dtype,
                                               device_count=devices, source=source))
            for hw, devices, batch in candidates]
    predictors = Predictors.load(models_dir, allow_unpromoted)
    pred = predictors.frame(feature_frame(rows))
    table = pd.DataFrame({
        "hardware": [hw.key for hw, _, _ in candidates], "devices": [d for _, d, _ in candidates],
        "batch_size": [b for _, _, b in candidates],
        "price_per_hour_usd": [(hw.specs.price_per_hour_usd or np.nan) * d for hw, d, _ in candidates],
    })
    for column in pred.columns:
        table[column] = pred[column].to_numpy()
    if "output_throughput_tok_s" in table:
        table["usd_per_million_tokens"] = table["price_per_hour_usd"] / (table["output_throughput_tok_s"] * 3600) * 1e6
        if "energy_per_output_token_j" not in table and "avg_power_w" in table:
            table["energy_per_output_token_j"] = table["avg_power_w"] / table["output_throughput_tok_s"]
        if rps:
            per_replica_rps = table["output_throughput_tok_s"] / output_tokens
            table["replicas_for_rps"] = np.ceil(rps / per_replica_rps)
            table["devices_for_rps"] = table["replicas_for_rps"] * table["devices"]
    keep = np.ones(len(table), dtype=bool)
    if max_ttft_s is not None and "ttft_s" in table:
        keep &= table["ttft_s"].to_numpy() <= max_ttft_s
    if max_tpot_s is not None and "tpot_s" in table:
        keep &= table["tpot_s"].to_numpy() <= max_tpot_s
    table = table[keep]
    sort = [c for c in ("usd_per_million_tokens", "energy_per_output_token_j") if c in table]
    return table.sort_values(sort, na_position="last").reset_index(drop=True) if sort else table
