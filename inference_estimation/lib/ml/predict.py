"""Predictions from saved model files and the catalog only -- no warehouse, no Dagster.

Every function builds feature rows with the same code that built the training frame
(:mod:`inference_estimation.lib.physics.features`), so a configuration gets identical features at
training and prediction time. ``predict`` answers one configuration
(:mod:`inference_estimation.lib.ml.explain` takes one answer apart); many configurations at once are
:mod:`inference_estimation.lib.ml.batch_predict`, the hardware search for a model and a
service-level target :mod:`inference_estimation.lib.ml.recommend`.

A question is first *resolved* (:func:`resolve_setup`): names to catalog keys, dtype and engine to
their canonical spelling (:mod:`inference_estimation.lib.catalog.vocabulary`), defaults that fit the
hardware (GPU: vLLM in the model's released dtype where the device runs it, else bfloat16; CPU:
transformers + float32), ``batch_size="max"`` to the largest
batch whose KV cache fits; then *checked* (:func:`inference_estimation.lib.physics.refusals.setup_refusal`):
a setup that cannot run -- a tabular model, a context beyond the model's, a dtype the device has
no math for, a tensor-parallel count that does not divide the attention heads, more devices than
a node without a known network between nodes, a model that does not fit (with the fewest devices
that would) -- is refused with the
reason and gets no numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inference_estimation import constants
from inference_estimation.lib.catalog import Catalog
from inference_estimation.lib.ml import predictor_store
from inference_estimation.lib.ml.answer_notes import answer_notes
from inference_estimation.lib.ml.hardware_correction import correction_for
from inference_estimation.lib.ml.modeling import card_matrix, load_predictor, predict_log
from inference_estimation.lib.ml.performance_model import (
    ANSWER_TARGETS,
    DERIVED_FROM,
    POWER_TARGETS,
    PRIMITIVES,
    PrimitiveBounds,
    derive_targets,
)
from inference_estimation.lib.ml.setup import (  # noqa: F401  (re-exported: the question side of predict)
    DEFAULT_SOURCE,
    MODES,
    PAGED_MAX_SEQUENCES,
    Setup,
    SetupRefused,
    memory_estimate,
    resolve_setup,
    workload,
)
from inference_estimation.lib.ml.step_calibration import load_calibrations
from inference_estimation.lib.ml.step_serving import (
    answer_regime,
    answer_with_step_model,
    derive_energy,
    load_step_model,
)
from inference_estimation.lib.physics.features import (
    CATEGORICAL_FEATURES,
    feature_frame,
    prediction_row,
)
from inference_estimation.lib.physics.memory import PAGED_ENGINES, memory_fit_arrays
from inference_estimation.targets import REGISTRY

#: Damped fixed-point iterations that solve a request rate for the concurrency in flight.
SERVING_FIXED_POINT_ITERATIONS = 16
#: Requests in flight beyond which a request rate counts as saturating the server.
MAX_SOLVED_CONCURRENCY = 4096.0


class PredictorsMissingError(FileNotFoundError):
    """No trained predictor was found in the models folder."""


class BatchInputError(ValueError):
    """Rows of a batch-prediction CSV are invalid; one line per bad row (file, line, column, value, expected)."""


def stored_primitives(predictors_dir: Path, allow_unpromoted: bool = False) -> dict[str, tuple[Path, bool]]:
    """Target -> (the stored version's folder, whether it is promoted): the promoted primitives, plus
    (if allowed) the trained version of those not promoted (:func:`predictor_store.resolve`)."""
    stages = predictor_store.STAGES if allow_unpromoted else (predictor_store.PROMOTED,)
    candidates = {n for stage in stages for n in predictor_store.names(predictors_dir, stage)}
    found = {}
    for name in sorted(candidates - {predictor_store.STEP_MODEL}):
        pointer, promoted = predictor_store.resolve(predictors_dir, name, allow_unpromoted)
        if pointer is not None:
            found[name] = (pointer.folder, promoted)
    return found


def predictor_folders(predictors_dir: Path, allow_unpromoted: bool = False) -> dict[str, Path]:
    """Target -> predictor folder: the promoted ones, plus (if allowed) trained-but-unpromoted ones."""
    return {name: folder for name, (folder, _) in stored_primitives(predictors_dir, allow_unpromoted).items()}


#: Power and energy (:data:`performance_model.POWER_TARGETS`) need a power basis: a TDP fact of the
#: hardware (the physics baseline) or measured power on hardware of its kind in the predictor's
#: training data. Without either, CatBoost would extrapolate from other kinds (e.g. a 2-core VM
#: predicted like the MLPerf servers' wall power).


def power_basis_missing(card: dict[str, Any], features: pd.DataFrame) -> pd.Series:
    """True for the feature rows whose power/energy prediction would have no basis (see POWER_TARGETS).

    Cards written before ``hardware_kinds`` existed are not guarded (retraining adds it).
    """
    kinds = card.get("hardware_kinds")
    if kinds is None:
        return pd.Series(False, index=features.index)
    seen_kind = features["hardware_kind"].astype(str).isin(kinds)
    if card.get("target") == "peak_memory_gb":
        # what a device reports as peak memory depends on its kind (a CPU's resident set with the
        # runtime; a GPU allocator's peak; an engine's reservation): no transfer across kinds
        return ~seen_kind
    if card.get("target") not in POWER_TARGETS:
        return pd.Series(False, index=features.index)
    has_tdp = pd.to_numeric(features["tdp_total_w"], errors="coerce").notna()
    return ~(has_tdp | seen_kind)


@dataclass
class Predictors:
    """Loaded predictors, kept in memory for many predictions."""

    models: dict[str, tuple[Any, dict[str, Any], bool]]
    #: The step-time model that answers the time targets when present (and whether it is promoted).
    step: Any = None
    step_promoted: bool = False
    #: The user's calibrations of the step model, by (hardware, engine).
    calibrations: dict = field(default_factory=dict)

    @classmethod
    def load(cls, predictors_dir: Path, allow_unpromoted: bool = False, targets: list[str] | None = None) -> "Predictors":
        """Loads the promoted (or also unpromoted) predictors.

        Raises:
            PredictorsMissingError: when none is found.
        """
        found = stored_primitives(predictors_dir, allow_unpromoted)
        models = {}
        wanted = None if targets is None else {p for t in targets for p in DERIVED_FROM.get(t, (t,))}
        for target, (folder, promoted) in found.items():
            if target in PRIMITIVES and (wanted is None or target in wanted):
                model, card = load_predictor(folder)
                models[target] = (model, card, promoted)
        step, step_promoted = load_step_model(predictors_dir, allow_unpromoted)
        if not models and step is None:
            hint = "" if allow_unpromoted else " (--allow-unpromoted uses predictors that did not beat their baselines)"
            raise PredictorsMissingError(f"no {'trained' if allow_unpromoted else 'promoted'} predictors in "
                                         f"{predictors_dir}; run `inference-estimation sweep` first{hint}")
        calibrations = load_calibrations(predictors_dir) if step is not None else {}
        return cls(models, step, step_promoted, calibrations)

    def frame(self, features: pd.DataFrame, hardware_keys: Any = None) -> pd.DataFrame:
        """Every answer target with ``_lower_90``/``_upper_90`` for feature rows.

        ``hardware_keys`` (one catalog key per row) apply each primitive's per-device correction
        learned from that device's own measurements (none for a device it never saw).

        The primitives are predicted (90% bounds from their conformal log half-width) and every
        other target is derived from them by the identities of
        :mod:`inference_estimation.lib.ml.performance_model`, bounds included, so the answers never
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
        return answers[self.answer_columns()]

    def answer_columns(self) -> list[str]:
        """The columns of :meth:`frame`: each target whose primitives are all loaded, with its bounds."""
        keep = [t for t in ANSWER_TARGETS if all(p in self.models for p in DERIVED_FROM.get(t, (t,)))]
        return [f"{t}{w}" for t in keep for w in ("", "_lower_90", "_upper_90")]

    def answer(self, rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Features and answers for fact rows (model facts, hardware facts, workload, ``hardware_key``).

        A serving question at a request rate without a concurrency is solved for the concurrency in
        flight by Little's law, ``concurrency = rate * e2e(concurrency)``, a fixed point found by
        damped iteration from one request in flight. Where even :data:`MAX_SOLVED_CONCURRENCY`
        requests in flight cannot serve the rate, the server is saturated: the row keeps that
        concurrency and says so in ``saturated``.

        Returns:
            (feature rows with the concurrency used, answers of :meth:`frame` plus ``saturated``).
        """
        rows = serving_batch_is_its_load(rows.reset_index(drop=True).copy())
        hardware = rows["hardware_key"].to_numpy() if "hardware_key" in rows else None
        if self.step is not None and hardware is not None:
            return self._answer_with_step(rows, hardware)
        rate = pd.to_numeric(rows.get("request_rate_rps"), errors="coerce") if "request_rate_rps" in rows else None
        concurrency = pd.to_numeric(rows.get("concurrency"), errors="coerce") if "concurrency" in rows else None
        solve = np.zeros(len(rows), dtype=bool)
        if rate is not None:
            solve = ((rows.get("mode", pd.Series("offline", index=rows.index)).astype(str) == "serving").to_numpy()
                     & rate.notna().to_numpy()
                     & (concurrency.isna().to_numpy() if concurrency is not None else True))
        saturated = np.zeros(len(rows), dtype=bool)
        if solve.any():
            c = np.ones(int(solve.sum()))
            sub = rows.loc[solve].copy()
            cap = self._in_flight_cap(sub)
            for _ in range(SERVING_FIXED_POINT_ITERATIONS):
                sub["concurrency"] = c
                e2e = self.frame(feature_frame(sub), None if hardware is None else hardware[solve])
                e2e = e2e["e2e_latency_s"].to_numpy() if "e2e_latency_s" in e2e else np.full(len(sub), np.nan)
                target = np.clip(rate.to_numpy()[solve] * e2e, 1.0, cap)
                c = np.where(np.isnan(target), c, np.sqrt(c * target))  # damped: geometric mean of old and new
            saturated[solve] = c >= cap * 0.99
            rows.loc[solve, "concurrency"] = np.round(c, 2)
        features = feature_frame(rows)
        answers = self.frame(features, hardware)
        answers["saturated"] = saturated
        return features, answers

    def _answer_with_step(self, rows: pd.DataFrame, hardware: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
        """:meth:`answer` with the time targets from the step model and each engine's scheduler."""
        # ``max`` on a paged engine is its scheduler's saturation (the setup's batch is that figure); an
        # engine of static batches runs the setup's largest batch as one (the memory rule's)
        saturation = (rows["batch_is_max"].fillna(False).astype(bool).to_numpy()
                      & rows["engine"].isin(PAGED_ENGINES).to_numpy() if "batch_is_max" in rows
                      else np.zeros(len(rows), dtype=bool))
        features = feature_frame(rows)
        answers = self.frame(features, hardware)
        answers, extras = answer_with_step_model(self.step, rows, answers, saturation, self.calibrations)
        solved = np.isnan(pd.to_numeric(rows.get("concurrency"), errors="coerce").to_numpy(dtype=float)) \
            if "concurrency" in rows else np.ones(len(rows), dtype=bool)
        rate_rows = solved & pd.to_numeric(rows.get("request_rate_rps"), errors="coerce").notna().to_numpy() \
            if "request_rate_rps" in rows else np.zeros(len(rows), dtype=bool)
        features["concurrency"] = np.where(rate_rows, np.round(extras["in_flight"], 2), features["concurrency"])
        if rate_rows.any():
            # power and memory at the load the rate puts in flight (the step model solved it), not at one
            # request; energy follows from that power
            loaded = rows.loc[rate_rows].copy()
            loaded["concurrency"] = np.round(extras["in_flight"][rate_rows], 2)
            loaded["batch_size"] = np.nan
            again = self.frame(feature_frame(serving_batch_is_its_load(loaded)), hardware[rate_rows])
            for column in [c for c in again.columns if c.startswith(constants.SERVED_PRIMITIVES)]:
                answers.loc[rate_rows, column] = again[column].to_numpy()
            derive_energy(answers)
        answers["saturated"] = extras["saturated"]
        answers["running_batch"] = extras["running_batch"]
        answers["campaign"] = extras["campaign"]
        return features, answers

    @staticmethod
    def _in_flight_cap(rows: pd.DataFrame) -> np.ndarray:
        """The most requests a setup can hold in flight: a paged engine's KV-cache capacity (the
        memory rule's ``max_batch``, at most :data:`PAGED_MAX_SEQUENCES`), else
        :data:`MAX_SOLVED_CONCURRENCY`. Beyond it requests queue and the rate is not served."""
        def col(name: str) -> np.ndarray:
            return pd.to_numeric(rows.get(name), errors="coerce").to_numpy(dtype="float64", na_value=np.nan) \
                if name in rows else np.full(len(rows), np.nan)
        dtype = rows["dtype"].astype(str).to_numpy() if "dtype" in rows else "bfloat16"
        engine = rows["engine"].astype(str).to_numpy() if "engine" in rows else "unknown"
        fit = memory_fit_arrays(col("params"), col("layers"), col("kv_heads"), col("head_dim"), dtype, engine, 1.0,
                                col("input_tokens") + col("output_tokens"), col("memory_gb"), col("device_count"),
                                rows["hardware_kind"].astype(str).to_numpy() if "hardware_kind" in rows else "unknown",
                                kv_cache_dim_per_layer=col("kv_cache_dim_per_layer"))
        cap = np.where(fit["paged"], np.minimum(fit["max_batch"], PAGED_MAX_SEQUENCES), MAX_SOLVED_CONCURRENCY)
        return np.where(np.isnan(cap) | (cap < 1), MAX_SOLVED_CONCURRENCY, cap)

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
        # the step model answers the time targets from every row it trained on; the warning is about
        # the CatBoost predictors only, so it names them
        which = ", ".join(sorted(self.models))
        out: list[list[str]] = [[] for _ in range(len(features))]
        for column, known in seen.items():
            if not known or column not in features:
                continue
            codes, values = pd.factorize(features[column].astype(str).to_numpy(dtype=object))
            for code, value in enumerate(values):  # once per distinct value, not per row
                if value in known:
                    continue
                warning = (f"{column} {value!r} was never measured in the rows that trained {which} "
                           f"({', '.join(sorted(known))}); for those its effect is the average of the seen ones, "
                           "not learned")
                for i in np.flatnonzero(codes == code):
                    out[i].append(warning)
        return out

    def promoted(self, target: str) -> bool:
        """Whether a target's answer comes only from promoted primitives (and step model)."""
        if self.step is not None and target in ("ttft_s", "tpot_s", "e2e_latency_s", "output_throughput_tok_s",
                                                "energy_per_output_token_j") and not self.step_promoted:
            return False
        return all(self.models[p][2] for p in DERIVED_FROM.get(target, (target,)) if p in self.models)

    def unit(self, target: str) -> str:
        """The unit of an answer target."""
        return constants.TARGET_UNITS.get(target, "")


def _in_flight(setup: Setup, features: pd.DataFrame) -> float | None:
    """The requests in flight a request-rate question was solved for (None for other questions)."""
    if setup.work.get("request_rate_rps") is None or setup.work.get("concurrency") is not None:
        return None
    return float(pd.to_numeric(features["concurrency"], errors="coerce").iloc[0])


def serving_batch_is_its_load(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows whose serving batch is unstated get their concurrency as the batch, as
    :func:`~inference_estimation.lib.ml.setup_columns.resolve_columns` sets it for a question, so a
    setup built by hand (``recommend``'s candidates) is answered exactly like the same question
    asked (the batch is a feature: 3310 W against 3312 W before)."""
    if "mode" not in rows or "concurrency" not in rows:
        return rows
    batch = pd.to_numeric(rows.get("batch_size"), errors="coerce") if "batch_size" in rows else None
    unstated = (rows["mode"].astype(str) == "serving") & (batch.isna() if batch is not None else True)
    concurrency = pd.to_numeric(rows["concurrency"], errors="coerce")
    if (unstated & concurrency.notna()).any():
        rows["batch_size"] = (batch if batch is not None else pd.Series(np.nan, index=rows.index)).where(
            ~(unstated & concurrency.notna()), concurrency)
    return rows


def measurements_seen(cards: list[dict[str, Any]], hardware_key: str, model_key: str) -> dict[str, int] | None:
    """How many rows of this hardware and of this model trained an answer, or None if unknown.

    Reads each card's ``rows_by_hardware`` and ``rows_by_model`` (rows that labelled the
    primitive); an answer derived from several primitives reports the fewest (its weakest part).
    Cards written before the counts existed give None.

    Args:
        cards: the cards of the primitives the answer is made of.
        hardware_key: the catalog hardware key.
        model_key: the catalog model key.
    """
    if not cards or any("rows_by_hardware" not in c for c in cards):
        return None
    return {"hardware": min(int(c["rows_by_hardware"].get(hardware_key, 0)) for c in cards),
            "model": min(int(c.get("rows_by_model", {}).get(model_key, 0)) for c in cards)}


def check_source(predictors: Predictors, source: str) -> None:
    """An unknown source is an error listing the sources the predictors were trained on."""
    known = {DEFAULT_SOURCE}
    cards = [card for _, card, _ in predictors.models.values()]
    if any("sources" not in card for card in cards):
        return
    for card in cards:
        known.update(card["sources"])
    if source not in known:
        raise ValueError(f"source: {source!r} is not a source the predictors know; use one of {', '.join(sorted(known))}")


def predict_setup(setup: Setup, predictors_dir: Path, targets: list[str] | None = None,
                  allow_unpromoted: bool = False) -> dict[str, dict[str, Any]]:
    """Predicts every available target for a resolved setup (see :func:`predict`).

    Raises:
        SetupRefused: when the setup cannot run.
    """
    if setup.refusal:
        raise SetupRefused(setup)
    predictors = Predictors.load(predictors_dir, allow_unpromoted, targets)
    check_source(predictors, setup.work["source"])
    features, answers = predictors.answer(pd.DataFrame([prediction_row(setup.model, setup.hardware, setup.work)]))
    values = answers.iloc[0]
    notes, warnings = answer_notes(predictors, features, answers, np.array([setup.work["engine"]], dtype=object),
                                   np.array([setup.hardware.key], dtype=object))
    setup.notes.extend(notes[0])
    out: dict[str, dict[str, Any]] = {}
    hardware = setup.hardware
    # the step model's scheduler answers a saturation batch and an open loop by their own identities;
    # the CatBoost primitives answer every load as a closed loop at the (solved) concurrency
    regime = answer_regime(setup.work, bool(values["saturated"])) if predictors.step is not None else "closed"
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
        identity = REGISTRY[target].identity_text(regime) if target in REGISTRY else None
        if identity:
            out[target]["identity"] = identity
        seen = measurements_seen([predictors.models[p][1] for p in DERIVED_FROM.get(target, (target,))
                                  if p in predictors.models], hardware.key, setup.model.key)
        if seen is not None:
            out[target]["measurements_seen"] = seen
        if warnings[0]:
            out[target]["warnings"] = list(warnings[0])
        if setup.work.get("request_rate_rps") is not None and setup.work.get("concurrency") is None:
            out[target]["concurrency_in_flight"] = float(features["concurrency"].iloc[0])
        if math.isnan(value) and target == "peak_memory_gb":
            memory_card = predictors.models.get("peak_memory_gb", (None, {}, False))[1]
            out[target]["reason"] = (
                f"no peak-memory measurement on {hardware.kind} hardware in training (trained on: "
                f"{', '.join(memory_card.get('hardware_kinds', []))})")
            out[target]["estimate"] = memory_estimate(setup, _in_flight(setup, features))
        elif math.isnan(value) and target in POWER_TARGETS:
            out[target]["reason"] = (
                f"no power basis for {hardware.key}: it has no TDP fact and the predictor saw no measured "
                f"power on {hardware.kind} hardware (trained on: {', '.join(power_card.get('hardware_kinds', []))})")
    if "peak_memory_gb" not in values and (targets is None or "peak_memory_gb" in targets) \
            and setup.model.kind == "llm" and "peak_memory_gb" in predictor_folders(predictors_dir, True):
        # a memory predictor was trained but not promoted (its gate found the physics baseline as good
        # on unseen models): the memory rule is then the best answer there is, said as such
        out["peak_memory_gb"] = {"value": None, "unit": "GB", "lower_90": None, "upper_90": None, "promoted": False,
                                 "derived_from": [], "reason": "the learned peak-memory predictor was not promoted "
                                 "(it did not beat the physics baseline on unseen models): the memory rule's estimate"}
        out["peak_memory_gb"]["estimate"] = memory_estimate(setup, _in_flight(setup, features))
    return out


def predict(catalog: Catalog, predictors_dir: Path, model_key: str, hardware_key: str,
            work: dict[str, Any], targets: list[str] | None = None,
            allow_unpromoted: bool = False) -> dict[str, dict[str, Any]]:
    """Predicts every available target for one configuration.

    Args:
        catalog: the catalog (model and hardware facts).
        predictors_dir: folder of predictors (the store: :mod:`inference_estimation.lib.ml.predictor_store`).
        model_key: model key, Hugging Face id or alias.
        hardware_key: hardware key or alias.
        work: the workload (see :func:`workload`); engine and dtype default per hardware.
        targets: restrict to these targets (default: every promoted one).
        allow_unpromoted: also use predictors that did not (yet) beat their baselines.

    Returns:
        ``{target: {"value", "unit", "lower_90", "upper_90", "promoted"}}``; ``value`` and bounds are
        None, with a ``reason``, for power and energy without a power basis (see POWER_TARGETS).

    Raises:
        PredictorsMissingError: when no predictor is available.
        CatalogError: for an unknown model or hardware (listing the closest keys).
        SetupRefused: when the setup cannot run (the reason names what to change).
    """
    return predict_setup(resolve_setup(catalog, model_key, hardware_key, work), predictors_dir, targets,
                         allow_unpromoted)
