"""Predictions from saved model files and the catalog only -- no warehouse, no Dagster.

Every function builds feature rows with the same code that built the training frame
(:mod:`inference_estimation.lib.features`), so a configuration gets identical features at
training and prediction time. ``predict`` answers one configuration, ``predict_batch`` many,
``explain`` says which features moved one prediction away from its physics baseline, and
``recommend`` ranks hardware for a model and a service-level target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from catboost import Pool

from inference_estimation.lib.catalog import Catalog, CatalogError
from inference_estimation.lib.features import (
    BYTES_PER_ELEMENT, CATEGORICAL_FEATURES, HARDWARE_FACT_COLUMNS, MODEL_FACT_COLUMNS, feature_frame, hardware_facts, model_facts,
    prediction_row,
)
from inference_estimation import constants
from inference_estimation.lib.modeling import card_matrix, correction_for, load_predictor, physics_baseline, predict_log
from inference_estimation.lib.performance_model import (
    ANSWER_TARGETS, DERIVED_FROM, PRIMITIVES, PrimitiveBounds, derive_targets,
)


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


#: Targets that need a power basis: a TDP fact of the hardware (the physics baseline) or measured
#: power on hardware of its kind in the predictor's training data. Without either, CatBoost would
#: extrapolate from other kinds (e.g. a 2-core VM predicted like the MLPerf servers' wall power).
POWER_TARGETS = ("avg_power_w", "energy_per_output_token_j")


def power_basis_missing(card: dict[str, Any], features: pd.DataFrame) -> pd.Series:
    """True for the feature rows whose power/energy prediction would have no basis (see POWER_TARGETS).

    Cards written before ``hardware_kinds`` existed are not guarded (retraining adds it).
    """
    kinds = card.get("hardware_kinds")
    if card.get("target") not in POWER_TARGETS or kinds is None:
        return pd.Series(False, index=features.index)
    has_tdp = pd.to_numeric(features["tdp_total_w"], errors="coerce").notna()
    seen_kind = features["hardware_kind"].astype(str).isin(kinds)
    return ~(has_tdp | seen_kind)


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
        wanted = None if targets is None else {p for t in targets for p in DERIVED_FROM.get(t, (t,))}
        for target, folder in found.items():
            if target in PRIMITIVES and (wanted is None or target in wanted):
                model, card = load_predictor(folder)
                models[target] = (model, card, folder.parent.name == "promoted")
        if not models:
            hint = "" if allow_unpromoted else " (--allow-unpromoted uses predictors that did not beat their baselines)"
            raise PredictorsMissingError(f"no {'trained' if allow_unpromoted else 'promoted'} predictors in "
                                         f"{models_dir}; run `inference-estimation sweep` first{hint}")
        return cls(models)

    def frame(self, features: pd.DataFrame, hardware_keys: Any = None) -> pd.DataFrame:
        """Every answer target with ``_lower_90``/``_upper_90`` for feature rows.

        ``hardware_keys`` (one catalog key per row) apply each primitive's per-device correction
        learned from that device's own measurements (none for a device it never saw).

        The primitives are predicted (90% bounds from their conformal log half-width) and every
        other target is derived from them by the identities of
        :mod:`inference_estimation.lib.performance_model`, bounds included, so the answers never
        contradict each other. A target whose primitives are not all loaded is left out.
        """
        # pandas categoricals reach CatBoost as categories + codes: building its Pool is ~10x faster
        # than from strings on large batches, with the same predictions (values are hashed alike).
        features = features.astype({c: "category" for c in CATEGORICAL_FEATURES if c in features})
        value, lower, upper = {}, {}, {}
        for target, (model, card, _) in self.models.items():
            X, offset = card_matrix(card, features)
            correction = (card.get("hardware_correction") or {}).get("log", {})
            sources = features["source"].astype(str).to_numpy() if "source" in features else None
            log_pred = predict_log(model, X, offset) + correction_for(correction, hardware_keys, len(features), sources)
            half = (card.get("interval") or {}).get("log_halfwidth")
            value[target] = np.exp(log_pred)
            lower[target] = np.exp(log_pred - half) if half is not None else np.full(len(features), np.nan)
            upper[target] = np.exp(log_pred + half) if half is not None else np.full(len(features), np.nan)
            missing = power_basis_missing(card, features).to_numpy()
            for array in (value[target], lower[target], upper[target]):
                array[missing] = np.nan
        answers = derive_targets(features, PrimitiveBounds(value, lower, upper))
        keep = [t for t in ANSWER_TARGETS if all(p in self.models for p in DERIVED_FROM.get(t, (t,)))]
        return answers[[f"{t}{w}" for t in keep for w in ("", "_lower_90", "_upper_90")]]

    def unseen_choices(self, features: pd.DataFrame) -> list[list[str]]:
        """Per row, the categorical choices no loaded primitive was trained on (engine, dtype, mode).

        CatBoost answers an unseen category with the average effect of the seen ones; that is a
        guess, so predictions say it rather than hide it.
        """
        seen: dict[str, set[str]] = {"engine": set(), "dtype": set(), "mode": set()}
        for _, card, _ in self.models.values():
            for column, values in (("engine", card.get("engines")), ("dtype", card.get("dtypes")),
                                   ("mode", card.get("modes"))):
                if values is None:
                    seen[column] = None  # an older card: unknown, no warning
                elif seen[column] is not None:
                    seen[column].update(values)
        out: list[list[str]] = [[] for _ in range(len(features))]
        for column, known in seen.items():
            if not known or column not in features:
                continue
            for i, value in enumerate(features[column].astype(str)):
                if value not in known:
                    out[i].append(f"{column} {value!r} was never measured in the training data "
                                  f"({', '.join(sorted(known))}); its effect is the average of those, not learned")
        return out

    def promoted(self, target: str) -> bool:
        """Whether a target's answer comes only from promoted primitives."""
        return all(self.models[p][2] for p in DERIVED_FROM.get(target, (target,)) if p in self.models)

    def unit(self, target: str) -> str:
        """The unit of an answer target."""
        return constants.TARGET_UNITS.get(target, "")


def measurements_seen(cards: list[dict[str, Any]], hardware_key: str, model_key: str) -> dict[str, int] | None:
    """How many measured rows of this hardware and of this model trained an answer, or None if unknown.

    Reads each card's ``measurement_counts`` (``{"hardware": {key: rows}, "models": {key: rows}}``,
    rows that labelled the primitive); an answer derived from several primitives reports the
    fewest (its weakest part). Cards without the field (written before it existed) give None.

    Args:
        cards: the cards of the primitives the answer is made of.
        hardware_key: the catalog hardware key.
        model_key: the catalog model key.
    """
    counts = [card.get("measurement_counts") for card in cards]
    if not counts or any(c is None for c in counts):
        return None
    return {"hardware_rows": min(int(c.get("hardware", {}).get(hardware_key, 0)) for c in counts),
            "model_rows": min(int(c.get("models", {}).get(model_key, 0)) for c in counts)}


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
        ``{target: {"value", "unit", "lower_90", "upper_90", "promoted"}}``; ``value`` and bounds are
        None, with a ``reason``, for power and energy without a power basis (see POWER_TARGETS);
        ``measurements_seen`` (``{"hardware_rows", "model_rows"}``, see :func:`measurements_seen`)
        when the cards record it.

    Raises:
        PredictorsMissingError: when no predictor is available.
        CatalogError: for an unknown model or hardware (listing the closest keys).
    """
    model, hardware = catalog.model(model_key), catalog.hw(hardware_key)
    predictors = Predictors.load(models_dir, allow_unpromoted, targets)
    features = feature_frame([prediction_row(model, hardware, work)])
    values = predictors.frame(features, [hardware.key]).iloc[0]
    unseen = predictors.unseen_choices(features)[0]
    out: dict[str, dict[str, Any]] = {}
    power_card = predictors.models.get("avg_power_w", (None, {}, False))[1]
    for target in ANSWER_TARGETS:
        if target not in values or (targets is not None and target not in targets):
            continue
        value, lower, upper = values[target], values[f"{target}_lower_90"], values[f"{target}_upper_90"]
        out[target] = {"value": None if math.isnan(value) else float(value), "unit": predictors.unit(target),
                       "lower_90": None if math.isnan(lower) else float(lower),
                       "upper_90": None if math.isnan(upper) else float(upper),
                       "promoted": predictors.promoted(target),
                       "derived_from": list(DERIVED_FROM.get(target, ()))}
        if unseen:
            out[target]["warnings"] = unseen
        seen = measurements_seen([predictors.models[p][1] for p in DERIVED_FROM.get(target, (target,))
                                  if p in predictors.models], hardware.key, model.key)
        if seen is not None:
            out[target]["measurements_seen"] = seen
        if math.isnan(value) and target in POWER_TARGETS:
            out[target]["reason"] = (
                f"no power basis for {hardware.key}: it has no TDP fact and the predictor saw no measured "
                f"power on {hardware.kind} hardware (trained on: {', '.join(power_card.get('hardware_kinds', []))})")
    return out


def explain(catalog: Catalog, models_dir: Path, model_key: str, hardware_key: str, work: dict[str, Any],
            target: str, top: int = 5, allow_unpromoted: bool = False) -> dict[str, Any]:
    """The physics baseline of one prediction and the features that moved it most (SHAP).

    Returns:
        ``{"target", "physics_baseline", "prediction", "contributions": [{"feature", "value", "factor"}]}``
        where ``factor`` multiplies the prediction (exp of the feature's SHAP value in log space);
        ``prediction`` None, no contributions and a ``reason`` where :func:`predict` gives no value
        (power or energy without a power basis).
    """
    model, hardware = catalog.model(model_key), catalog.hw(hardware_key)
    if target in DERIVED_FROM:
        # A derived target is explained through the primitives it is made of.
        answer = predict(catalog, models_dir, model_key, hardware_key, work, [target], allow_unpromoted)[target]
        return {"target": target, "physics_baseline": None, "prediction": answer["value"], "contributions": [],
                "identity": IDENTITIES[target],
                "primitives": {p: explain(catalog, models_dir, model_key, hardware_key, work, p, top, allow_unpromoted)
                               for p in DERIVED_FROM[target]}}
    predictors = Predictors.load(models_dir, allow_unpromoted, [target])
    predictor, card, _ = predictors.models[target]
    features = feature_frame([prediction_row(model, hardware, work)])
    if bool(power_basis_missing(card, features).iloc[0]):
        return {"target": target, "physics_baseline": None, "prediction": None, "contributions": [],
                "reason": f"no power basis for {hardware.key} (see predict)"}
    X, offset = card_matrix(card, features)
    cats = [c for c in card["categorical_features"] if c in X.columns]
    shap = predictor.get_feature_importance(Pool(X, cat_features=cats), type="ShapValues")[0]
    order = np.argsort(-np.abs(shap[:-1]))[:top]
    baseline = physics_baseline(features, target)[0]
    correction = float(correction_for((card.get("hardware_correction") or {}).get("log", {}), [hardware.key], 1,
                                      [str(features["source"].iloc[0])])[0])
    return {
        "target": target,
        "physics_baseline": None if math.isnan(baseline) else float(baseline),
        "prediction": float(np.exp(predict_log(predictor, X, offset)[0] + correction)),
        "contributions": [{"feature": X.columns[i], "value": _plain(X.iloc[0, i]), "factor": float(np.exp(shap[i]))}
                          for i in order],
        # what this device's own measurements said beyond its physics (1.0 for a device never measured)
        "hardware_correction_factor": float(np.exp(correction)),
    }


#: How each derived target follows from the primitives.
IDENTITIES = {
    "e2e_latency_s": "e2e = ttft + (output_tokens - 1) * tpot",
    "output_throughput_tok_s": "throughput = batch (or concurrency) * output_tokens / e2e",
    "energy_per_output_token_j": "energy/token = power * e2e / (batch * output_tokens)",
}


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    return value.item() if hasattr(value, "item") else value


BATCH_COLUMNS = {"model": str, "hardware": str, "batch_size": int, "input_tokens": int, "output_tokens": int,
                 "engine": str, "dtype": str, "device_count": int, "mode": str, "concurrency": int,
                 "request_rate_rps": float, "source": str}


REQUIRED_BATCH_COLUMNS = ("model", "hardware", "batch_size", "input_tokens", "output_tokens")


def _batch_fact_rows(catalog: Catalog, input_csv: Path, raw: pd.DataFrame, defaults: dict[str, Any]) -> pd.DataFrame:
    """Validates a batch CSV column-wise and joins catalog facts per distinct model and hardware.

    The rows are what :func:`prediction_row` builds for each configuration (model facts,
    hardware facts, the :func:`workload`), in one frame.

    Raises:
        BatchInputError: for the first bad line, naming its column: a value of the wrong type
            (columns in :data:`BATCH_COLUMNS` order), a missing required value, an unknown model or
            hardware, then a non-positive size.
    """
    n = len(raw)
    values: dict[str, Any] = {}
    problems: list[tuple[np.ndarray, Any]] = []  # (bad rows, message for a line), in precedence order
    for column, kind in BATCH_COLUMNS.items():
        text = raw[column].str.strip() if column in raw else pd.Series([""] * n, index=raw.index, dtype=object)
        empty = (text == "").to_numpy()
        default = defaults.get(column)
        if kind is str:
            values[column] = np.where(empty, default, text.to_numpy(dtype=object))
            continue
        number = pd.to_numeric(text.where(~empty), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = ~empty & ~np.isfinite(number)
        problems.append((bad, lambda i, c=column, t=text, k=kind.__name__:
                         f"column '{c}': {t.iloc[i]!r} is not a {k}"))
        parsed = np.trunc(number) if kind is int else number
        values[column] = np.where(empty, np.nan if default is None else float(default), parsed)
    for column in REQUIRED_BATCH_COLUMNS:
        value = values[column]
        missing = pd.isna(value) | (value == "") if value.dtype == object else np.isnan(value)
        problems.append((np.asarray(missing, dtype=bool), lambda i, c=column: f"column '{c}': value is required"))
    entries: dict[str, dict[str, Any]] = {"model": {}, "hardware": {}}
    for column, resolve in (("model", catalog.model), ("hardware", catalog.hw)):
        names = pd.Series(values[column], dtype=object)
        failed: dict[str, str] = {}
        for name in names.dropna().unique():
            if name == "":
                continue
            try:
                entries[column][name] = resolve(name)
            except CatalogError as exc:
                failed[name] = str(exc)
        problems.append((names.isin(failed).to_numpy(), lambda i, c=column, f=failed, v=names:
                         f"column '{c}': {f[v.iloc[i]]}"))
    for column in ("batch_size", "input_tokens", "output_tokens"):
        value = values[column]
        problems.append((value < 1, lambda i, c=column, v=value: f"{c} must be >= 1, got {int(v[i])}"))
    bad_rows = [np.flatnonzero(bad) for bad, _ in problems]
    first = min((int(rows[0]) for rows in bad_rows if len(rows)), default=None)
    if first is not None:
        for (bad, message), rows in zip(problems, bad_rows):
            if len(rows) and bad[first]:
                text = message(first)
                sep = ", " if text.startswith("column") else ": "
                raise BatchInputError(f"{input_csv}: line {first + 2}{sep}{text}")
    model_codes, model_names = pd.factorize(pd.Series(values["model"], dtype=object))
    hw_codes, hw_names = pd.factorize(pd.Series(values["hardware"], dtype=object))
    models = pd.DataFrame([model_facts(entries["model"][m]) for m in model_names], columns=MODEL_FACT_COLUMNS)
    hardware = pd.DataFrame([hardware_facts(entries["hardware"][h]) for h in hw_names],
                            columns=HARDWARE_FACT_COLUMNS)
    facts = pd.concat([models.iloc[model_codes].reset_index(drop=True),
                       hardware.iloc[hw_codes].reset_index(drop=True)], axis=1)
    given = values["device_count"]
    hw_count = np.array([entries["hardware"][h].device_count for h in hw_names], dtype="float64")[hw_codes]
    facts = facts.assign(
        engine=values["engine"], dtype=values["dtype"], mode=values["mode"], source=values["source"],
        power_scope="all-devices", batch_size=values["batch_size"], input_tokens=values["input_tokens"],
        output_tokens=values["output_tokens"], concurrency=values["concurrency"],
        request_rate_rps=values["request_rate_rps"], device_count=np.where(np.isnan(given), hw_count, given),
        tensor_parallel=given,
    )
    return facts


def predict_batch(catalog: Catalog, models_dir: Path, input_csv: Path, output_csv: Path,
                  allow_unpromoted: bool = False, defaults: dict[str, Any] | None = None) -> int:
    """Predicts every row of a CSV of configurations (columns in :data:`BATCH_COLUMNS`).

    Required columns: model, hardware, batch_size, input_tokens, output_tokens. Model and hardware
    accept keys or any resolvable name. The output repeats the input columns and adds
    ``<target>``, ``<target>_lower_90`` and ``<target>_upper_90``. Column-wise throughout (one
    catalog lookup per distinct name, features built as arrays), so large files are fast.

    Returns:
        Rows written.

    Raises:
        BatchInputError: naming the file, line and column of the first bad row.
    """
    defaults = {"engine": "transformers", "dtype": "float32", "mode": "offline", "source": "local", **(defaults or {})}
    try:
        raw = pd.read_csv(input_csv, dtype=str, keep_default_na=False, na_filter=False, index_col=False)
    except pd.errors.EmptyDataError:
        raw = pd.DataFrame()
    except pd.errors.ParserError as exc:
        raise BatchInputError(f"{input_csv}: {exc}") from None
    header = list(raw.columns)
    unknown = [c for c in header if c not in BATCH_COLUMNS]
    if unknown:
        raise BatchInputError(f"{input_csv}: line 1: unknown column(s) {unknown}; allowed: {', '.join(BATCH_COLUMNS)}")
    for column in REQUIRED_BATCH_COLUMNS:
        if column not in header:
            raise BatchInputError(f"{input_csv}: line 1: required column '{column}' is missing")
    raw = raw.fillna("")
    facts = _batch_fact_rows(catalog, input_csv, raw, defaults)
    predictors = Predictors.load(models_dir, allow_unpromoted)
    result = predictors.frame(feature_frame(facts), facts["hardware_key"].to_numpy())
    out = pd.concat([raw.reset_index(drop=True), result.reset_index(drop=True)], axis=1)
    output_csv.parent.mkdir(parents=True, exist_ok=True)
    _write_csv(out, output_csv)
    return len(out)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Writes a frame as CSV with pyarrow's writer (about 10x pandas' ``to_csv`` on wide float frames)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    pa_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), str(path))


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
    pred = predictors.frame(feature_frame(rows), [r["hardware_key"] for r in rows])
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
