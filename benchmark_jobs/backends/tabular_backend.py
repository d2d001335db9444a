"""Tabular models: inference of XGBoost, CatBoost and scikit-learn tree ensembles.

The model is trained in-process on seeded synthetic data (no download, seconds), shaped by the
catalog's architecture for a tabular model:

    family: xgboost | catboost | sklearn
    architecture:
      n_features: 32          # columns of the input
      n_trees: 100            # boosting rounds / forest size
      max_depth: 6
      task: regression        # or classification
      n_classes: 2            # classification only
      estimator: random_forest  # sklearn only: random_forest, extra_trees,
                                # gradient_boosting, hist_gradient_boosting

``backend_options``: ``train_rows`` (2000) -- rows of the synthetic training set;
``min_trial_s`` (0.01) -- shortest timed trial.

A trial is a loop of back-to-back ``predict`` calls on the same ``batch_size`` random rows
(fixed per point, generated before timing). A single call on a few rows takes well under a
millisecond, where one ``perf_counter`` pair measures scheduler noise more than the model; so,
as ``timeit`` does, the fastest of the first few calls of a batch size (outside any trial)
calibrates how many calls make a trial last ``min_trial_s``, and each trial reports the mean
per call. Large batches stay at one call per trial. Record mapping: ``batch_size`` = rows per
call, ``e2e_latency_s`` = median over trials of the latency per call, ``row_throughput_rows_s``
= rows / latency; token fields are null; ``engine`` is the
library (``xgboost``, ``catboost``, ``scikit-learn``) with its version. Threads come from the
sweep's ``threads`` (None = the library's default: all cores for XGBoost and CatBoost, one
for scikit-learn). Only XGBoost runs on a CUDA device; the others are CPU-only.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark_jobs.backends.base import Backend, PointTimeoutError
from benchmark_jobs.device import cpu_model_name, is_cuda
from benchmark_jobs.metrics import TrialSummary
from benchmark_jobs.spec import JobSpec, ModelSpec, WorkloadPoint

FAMILIES = ("xgboost", "catboost", "sklearn")
SKLEARN_ESTIMATORS = ("random_forest", "extra_trees", "gradient_boosting", "hist_gradient_boosting")
DEFAULT_TRAIN_ROWS = 2000
DEFAULT_MIN_TRIAL_S = 0.01
#: Cap on calls per trial (a trial of 1-row calls on a tiny model stays bounded).
MAX_CALLS_PER_TRIAL = 10_000
OPTIONS = ("train_rows", "min_trial_s")
CALIBRATION_CALLS = 3
_ENGINE_MODULES = {"xgboost": ("xgboost", "xgboost"), "catboost": ("catboost", "catboost"), "sklearn": ("scikit-learn", "sklearn")}


@dataclass(frozen=True)
class TabularArchitecture:
    """The shape of a tabular model (validated at construction)."""

    family: str
    n_features: int
    n_trees: int
    max_depth: int
    task: str = "regression"
    n_classes: int = 2
    estimator: str = "random_forest"

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"tabular family {self.family!r} is not supported; allowed: {', '.join(FAMILIES)}")
        for name in ("n_features", "n_trees", "max_depth", "n_classes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"tabular architecture field '{name}' must be a positive integer, got {value!r}")
        if self.task not in ("regression", "classification"):
            raise ValueError(f"tabular task {self.task!r}; allowed: regression, classification")
        if self.task == "classification" and self.n_classes < 2:
            raise ValueError("a classification model needs n_classes >= 2")
        if self.estimator not in SKLEARN_ESTIMATORS:
            raise ValueError(f"sklearn estimator {self.estimator!r}; allowed: {', '.join(SKLEARN_ESTIMATORS)}")

    @classmethod
    def from_model_spec(cls, model_spec: ModelSpec) -> TabularArchitecture:
        family = "sklearn" if model_spec.family in ("scikit-learn", "sklearn") else model_spec.family
        known = {"n_features", "n_trees", "max_depth", "task", "n_classes", "estimator"}
        unknown = sorted(set(model_spec.architecture) - known)
        if unknown:
            raise ValueError(f"unknown tabular architecture field(s) {unknown}; known: {sorted(known)}")
        try:
            return cls(family=family, **model_spec.architecture)
        except TypeError as exc:
            raise ValueError(f"tabular architecture of {model_spec.key!r} is incomplete: {exc}") from exc


@dataclass(frozen=True)
class TabularTiming:
    """One trial: ``calls`` back-to-back prediction calls on ``rows`` rows (``perf_counter`` s)."""

    start_s: float
    end_s: float
    rows: int
    calls: int = 1

    @property
    def duration_s(self) -> float:
        """Wall time of the whole trial."""
        return self.end_s - self.start_s

    @property
    def e2e_latency_s(self) -> float:
        """Mean latency of one call."""
        return (self.end_s - self.start_s) / self.calls


def calls_per_trial(one_call_s: float, min_trial_s: float) -> int:
    """Calls that make a trial last at least ``min_trial_s`` (1 to ``MAX_CALLS_PER_TRIAL``)."""
    if one_call_s <= 0:
        return MAX_CALLS_PER_TRIAL
    return max(1, min(MAX_CALLS_PER_TRIAL, math.ceil(min_trial_s / one_call_s)))


def synthetic_data(rng: np.random.Generator, rows: int, arch: TabularArchitecture) -> tuple[np.ndarray, np.ndarray]:
    """Features ~ N(0, 1); a smooth non-linear target with interactions, so trees grow full.

    Classification labels are the target's quantile bins (balanced classes).
    """
    x = rng.standard_normal((rows, arch.n_features)).astype(np.float32)
    weights = rng.standard_normal(arch.n_features)
    score = np.sin(x) @ weights + 0.5 * x[:, 0] * x[:, -1] + 0.1 * rng.standard_normal(rows)
    if arch.task == "regression":
        return x, score.astype(np.float32)
    edges = np.quantile(score, np.linspace(0, 1, arch.n_classes + 1)[1:-1])
    return x, np.searchsorted(edges, score).astype(np.int32)


def train_model(arch: TabularArchitecture, x: np.ndarray, y: np.ndarray, *, threads: int | None, seed: int, device: str) -> Callable[[np.ndarray], Any]:
    """Trains the model and returns its prediction function."""
    if is_cuda(device) and arch.family != "xgboost":
        raise ValueError(f"the {arch.family} tabular backend runs on CPU only, not {device!r}")
    classify = arch.task == "classification"
    if arch.family == "xgboost":
        import xgboost as xgb

        cls = xgb.XGBClassifier if classify else xgb.XGBRegressor
        model = cls(
            n_estimators=arch.n_trees,
            max_depth=arch.max_depth,
            tree_method="hist",
            device="cuda" if is_cuda(device) else "cpu",
            n_jobs=threads,
            random_state=seed,
        )
    elif arch.family == "catboost":
        import catboost

        cls = catboost.CatBoostClassifier if classify else catboost.CatBoostRegressor
        model = cls(
            iterations=arch.n_trees,
            depth=min(arch.max_depth, 16),  # CatBoost's limit for symmetric trees
            thread_count=threads or -1,
            random_seed=seed,
            verbose=False,
            allow_writing_files=False,
        )
    else:
        model = _sklearn_model(arch, classify, threads, seed)
    model.fit(x, y)
    return model.predict


def _sklearn_model(arch: TabularArchitecture, classify: bool, threads: int | None, seed: int) -> Any:
    from sklearn import ensemble

    if arch.estimator in ("random_forest", "extra_trees"):
        prefix = "RandomForest" if arch.estimator == "random_forest" else "ExtraTrees"
        cls = getattr(ensemble, prefix + ("Classifier" if classify else "Regressor"))
        return cls(n_estimators=arch.n_trees, max_depth=arch.max_depth, n_jobs=threads, random_state=seed)
    if arch.estimator == "gradient_boosting":
        cls = ensemble.GradientBoostingClassifier if classify else ensemble.GradientBoostingRegressor
        return cls(n_estimators=arch.n_trees, max_depth=arch.max_depth, random_state=seed)
    cls = ensemble.HistGradientBoostingClassifier if classify else ensemble.HistGradientBoostingRegressor
    return cls(max_iter=arch.n_trees, max_depth=arch.max_depth, random_state=seed, early_stopping=False)


class TabularBackend(Backend):
    """A tree ensemble trained in-process, timed on ``predict``."""

    engine_name = "tabular"

    def __init__(self) -> None:
        self.arch: TabularArchitecture | None = None
        self.train_rows = DEFAULT_TRAIN_ROWS
        self.min_trial_s = DEFAULT_MIN_TRIAL_S
        self._calls: dict[int, int] = {}
        self._predict: Callable[[np.ndarray], Any] | None = None
        self._rng = np.random.default_rng(0)
        self._batches: dict[int, np.ndarray] = {}
        self._device = "cpu"

    @property
    def engine_version(self) -> str:
        if self.arch is None:
            return "unknown"
        return importlib.import_module(_ENGINE_MODULES[self.arch.family][1]).__version__

    @property
    def device_name(self) -> str | None:
        return None if is_cuda(self._device) else cpu_model_name()

    def configure(self, spec: JobSpec) -> None:
        unknown = sorted(set(spec.backend_options) - set(OPTIONS))
        if unknown:
            raise ValueError(f"unknown tabular backend option(s) {unknown}; known: {list(OPTIONS)}")
        self.train_rows = int(spec.backend_options.get("train_rows", DEFAULT_TRAIN_ROWS))
        if self.train_rows < 10:
            raise ValueError("tabular backend option 'train_rows' must be >= 10")
        self.min_trial_s = float(spec.backend_options.get("min_trial_s", DEFAULT_MIN_TRIAL_S))
        if self.min_trial_s < 0:
            raise ValueError("tabular backend option 'min_trial_s' must be >= 0")
        self.arch = TabularArchitecture.from_model_spec(spec.model)
        self.engine_name = _ENGINE_MODULES[self.arch.family][0]

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
        if dtype != "float32":
            raise ValueError(f"tabular models take float32 features, not {dtype!r}")
        if weight_source != "random":
            raise ValueError("tabular models are trained in-process on synthetic data (weight_source 'random')")
        self.arch = TabularArchitecture.from_model_spec(model_spec)
        self.engine_name = _ENGINE_MODULES[self.arch.family][0]
        self._rng = np.random.default_rng(seed)
        x, y = synthetic_data(self._rng, self.train_rows, self.arch)
        self._predict = train_model(self.arch, x, y, threads=threads, seed=seed, device=device)
        self._device = device
        self._batches = {}
        self._calls = {}

    def run(self, point: WorkloadPoint, *, deadline_s: float | None = None) -> TabularTiming:
        if self._predict is None or self.arch is None:
            raise RuntimeError("run() called before load()")
        rows = point.batch_size
        if rows not in self._batches:
            self._batches[rows] = self._rng.standard_normal((rows, self.arch.n_features)).astype(np.float32)
        batch = self._batches[rows]
        if rows not in self._calls:  # calibration: the fastest of a few calls, outside any trial
            fastest_s = math.inf
            for _ in range(CALIBRATION_CALLS):
                start_s = time.perf_counter()
                predictions = self._predict(batch)
                fastest_s = min(fastest_s, time.perf_counter() - start_s)
                if len(predictions) != rows:
                    raise RuntimeError(f"the model returned {len(predictions)} predictions for {rows} rows")
                if fastest_s >= self.min_trial_s:
                    break  # one call already fills a trial
            self._calls[rows] = calls_per_trial(fastest_s, self.min_trial_s)
        calls = self._calls[rows]
        predict = self._predict
        start_s = time.perf_counter()
        for _ in range(calls):
            predictions = predict(batch)
        end_s = time.perf_counter()
        if len(predictions) != rows:
            raise RuntimeError(f"the model returned {len(predictions)} predictions for {rows} rows")
        if deadline_s is not None and end_s > deadline_s:
            raise PointTimeoutError(f"the prediction finished {end_s - deadline_s:.1f} s past the deadline")
        return TabularTiming(start_s, end_s, rows, calls)

    def workload_fields(self, point: WorkloadPoint) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "batch_size": point.batch_size,
            "input_tokens": None,
            "output_tokens": None,
            "prompt_type": None,
        }

    def summarize(self, point: WorkloadPoint, timings: Sequence[Any]) -> TrialSummary:
        from benchmark_jobs.metrics import tabular_summary

        return tabular_summary(point, timings)

    def unload(self) -> None:
        self._predict = None
        self._batches = {}
        self._calls = {}

