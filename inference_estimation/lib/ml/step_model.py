"""The step-time model: a few learned efficiencies, each engine's scheduler, campaign effects.

One engine iteration costs its physical terms (:mod:`inference_estimation.lib.physics.step`)
divided by efficiencies in (0, 1] plus non-negative overheads; each engine's scheduler
(:mod:`inference_estimation.lib.ml.scheduler`) turns step times into TTFT, TPOT, median ITL,
e2e and throughput. What is learned is small and explainable:

* ``gemm`` -- matmul efficiency, by platform (cpu/cuda/rocm/hpu/...), engine and dtype, lower for
  steps of few tokens (``log2(4096 / tokens)``, the GEMM's M dimension);
* ``memory`` -- achieved share of memory bandwidth reading weights, by platform, engine and dtype;
* ``kv_memory`` -- achieved share of memory bandwidth reading the KV cache (paged attention
  kernels gather blocks; they reach less of the peak than a weight GEMV), by platform and engine;
* ``attention`` -- attention-kernel efficiency, by platform and engine;
* ``link`` -- achieved share of interconnect bandwidth, and ``collective_latency`` the seconds one
  tensor-parallel collective costs besides its bytes (by platform);
* overheads: per step (by engine and platform, and software year), per layer (by platform, engine and software year), per
  decoding sequence (by engine and software year), and a server's fixed cost before the first token (by engine);
* ``burst`` -- in a closed loop, the share of requests that arrive in step with the others (by
  engine; :func:`inference_estimation.lib.ml.scheduler.schedule`).

Each efficiency is ``exp(-softplus(z))`` with ``z`` a sum of one coefficient per category level
(and the numeric terms): bounded, so no answer is faster than the physical bound, and readable
(``--explain`` prints them). Categories never seen in training add nothing (the intercept).

**Campaigns.** A campaign is source x hardware x engine x engine version. Slow or fast campaigns
(another harness, a tuned or an old build) would bias what is shared, so each gets a random
effect: ``u`` on its decode-side times (TPOT, ITL, e2e; throughput inversely) and ``v`` on its TTFT,
with Gaussian priors whose
spreads are estimated from the effects themselves. For fixed shared parameters the effects are
concentrated out in closed form (shrunken weighted means of the campaign's log residuals), so the
optimiser only moves the ~100 shared coefficients. A question about a campaign never seen gets
no effect, and its interval includes the effects' spread -- the honest uncertainty of a new
campaign. A user's own rows (calibration) pin their campaign's effects without moving the rest.

**Software moves.** The year of each row's measurement enters the step overhead; by default an answer is for the newest year seen for its engine (the setup says so).

The fit is robust (soft-L1 on log residuals) and weights every campaign by the square root of its
row count, so one large sweep does not decide the shared coefficients alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inference_estimation.lib.catalog.vocabulary import normalize_engine
from inference_estimation.lib.ml.engines import EngineColumns, engine_columns
from inference_estimation.lib.ml.scheduler import Schedule, Workload, physical_bounds, schedule
from inference_estimation.lib.ml.step_parameters import BLOCKS, Coefficients
from inference_estimation.lib.physics.step import (
    Efficiencies,
    StepFacts,
    StepTerms,
    canonical_dtypes,
    num_column,
    step_facts,
    step_time,
    text_column,
)
from inference_estimation.lib.physics.usability import step_labels
from inference_estimation.targets import REGISTRY

STEP_MODEL_VERSION = "1.0"
#: Targets the step model answers (times in s, throughput in output tokens/s).
TIME_TARGETS = ("ttft_s", "tpot_s", "itl_p50_s", "e2e_latency_s")
STEP_TARGETS = (*TIME_TARGETS, "output_throughput_tok_s")
#: z-score of a two-sided 90% interval.
Z90 = 1.6448536269514722
#: Year the software-trend terms are centred on.
BASE_YEAR = 2025.0
#: Fallback measurement year when a row has none.
DEFAULT_YEAR = 2025.0

#: Columns the step model reads from a row (model and hardware facts, workload, provenance); the
#: training frame carries them beside the feature frame, and ``predict`` builds them from the catalog.
STEP_INPUT_COLUMNS = (
    "source", "hardware_key", "engine", "engine_version", "prompt_type", "dtype", "mode", "batch_size",
    "concurrency", "request_rate_rps", "input_tokens", "output_tokens", "device_count", "tensor_parallel",
    "measured_at_ts", "latency_statistic", "itl_p50_s",
    "params", "matmul_params", "active_matmul_params", "layers", "hidden_size", "heads", "kv_heads", "head_dim",
    "vocab_size", "experts", "active_experts", "kv_cache_dim_per_layer",
    "hardware_kind", "peak_tflops_fp32", "peak_tflops_bf16", "peak_tflops_fp16", "peak_tflops_fp8",
    "peak_tflops_fp4", "memory_gb", "memory_bandwidth_gb_s", "interconnect_bandwidth_gb_s",
)

#: Initial prior spreads of the campaign effects (log units), re-estimated after the first fit.
CAMPAIGN_SD_INIT = (0.3, 0.5)
#: Soft-L1 scale of the robust loss (log units).
LOSS_SCALE = 0.1


def softplus(z: np.ndarray) -> np.ndarray:
    """``log(1 + e^z)`` without overflow."""
    return np.logaddexp(0.0, z)


def _year(frame: pd.DataFrame) -> np.ndarray:
    for col in ("measured_at_ts", "measured_at"):
        if col in frame:
            ts = pd.to_datetime(frame[col], errors="coerce", utc=True)
            years = (ts.dt.year + (ts.dt.day_of_year - 1) / 365.0).to_numpy(dtype="float64", na_value=np.nan)
            return np.where(np.isnan(years), DEFAULT_YEAR, years)
    return np.full(len(frame), DEFAULT_YEAR)


def _text(frame: pd.DataFrame, col: str, missing: str = "unknown") -> np.ndarray:
    return text_column(frame, col, missing)


_num = num_column


_VERSION = re.compile(r"(\d+\.\d+(?:\.\d+)?)")


def engine_version_number(text: object) -> str | None:
    """The release number inside an engine version or image tag (``vllm/vllm-openai:v0.13.0`` -> 0.13.0)."""
    if text is None or (isinstance(text, float) and text != text):
        return None
    match = _VERSION.search(str(text).split(":")[-1]) or _VERSION.search(str(text))
    return match.group(1) if match else None


def campaign_keys(frame: pd.DataFrame) -> np.ndarray:
    """``source|hardware|engine|version`` per row: the unit that shares one set of conditions."""
    version = [engine_version_number(v) or "" for v in _text(frame, "engine_version", "")]
    engine = [normalize_engine(e) or "unknown" for e in _text(frame, "engine")]
    parts = zip(_text(frame, "source"), _text(frame, "hardware_key"), engine, version, strict=True)
    return np.array(["|".join(p) for p in parts], dtype=object)


@dataclass
class Prepared:
    """Everything the simulation needs per row, computed once per frame."""

    n: int
    facts: Any
    engines: Any
    work: Workload
    categories: dict[str, np.ndarray]
    numerics: dict[str, np.ndarray]
    campaign: np.ndarray
    codes: dict[str, tuple[np.ndarray, list[str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for col, values in self.categories.items():
            codes, uniques = pd.factorize(pd.Series(values, dtype=object))
            self.codes[col] = (codes, [str(u) for u in uniques])


def deployment(frame: pd.DataFrame) -> tuple[StepFacts, EngineColumns]:
    """The step facts and engine defaults of rows (the scheduler's view of each deployment): what
    :func:`prepare` gives the scheduler, and what ``batch_size="max"`` is resolved with."""
    dtype = canonical_dtypes(frame)
    engine = np.array([normalize_engine(e) or "unknown" for e in _text(frame, "engine")], dtype=object)
    facts = step_facts(frame, dtype, layer_split=engine == "llama.cpp")
    serving = _text(frame, "mode", "offline") == "serving"
    prompt = _text(frame, "prompt_type", "")
    bench = (engine == "llama.cpp") & ~serving & np.array([("pp" in p or "tg" in p or p == "") for p in prompt])
    versions = np.array([engine_version_number(v) for v in _text(frame, "engine_version", "")], dtype=object)
    return facts, engine_columns(engine, _num(frame, "memory_gb"), serving, versions, bench)


def prepare(frame: pd.DataFrame, year: np.ndarray | None = None) -> Prepared:
    """Per-row facts, engine defaults, workload and the efficiency covariates of ``frame``.

    Args:
        frame: rows with the catalog's model and hardware facts and the workload columns
            (``engine``, ``engine_version``, ``dtype``, ``mode``, ``batch_size``, ``concurrency``,
            ``request_rate_rps``, ``input_tokens``, ``output_tokens``, ``device_count``,
            ``tensor_parallel``, ``prompt_type``, ``measured_at_ts``).
        year: the software year to answer for (default: each row's measurement year).
    """
    dtype = canonical_dtypes(frame)
    engine = np.array([normalize_engine(e) or "unknown" for e in _text(frame, "engine")], dtype=object)
    facts, eng = deployment(frame)
    serving = _text(frame, "mode", "offline") == "serving"
    work = Workload(serving=serving, batch=_num(frame, "batch_size"), concurrency=_num(frame, "concurrency"),
                    request_rate_rps=_num(frame, "request_rate_rps"), input_tokens=_num(frame, "input_tokens"),
                    output_tokens=_num(frame, "output_tokens"))
    kind = _text(frame, "hardware_kind")
    cats = {"platform": kind, "engine": engine, "dtype": dtype}
    yr = _year(frame) if year is None else year
    nums = {"year": yr - BASE_YEAR}
    return Prepared(n=len(frame), facts=facts, engines=eng, work=work, categories=cats, numerics=nums,
                    campaign=campaign_keys(frame))


def efficiencies_for(coef: Coefficients, prep: Prepared) -> dict[str, np.ndarray]:
    """Per-row z of each block (efficiencies before the token term, log overheads)."""
    return {block: coef.block_values(block, prep) for block in BLOCKS}


def make_clock(coef: Coefficients, z: dict[str, np.ndarray]):
    """The step clock: physical terms -> seconds, with these rows' efficiencies."""
    eta_mem = np.exp(-softplus(z["memory"]))
    eta_kv = np.exp(-softplus(z["kv_memory"]))
    eta_attn = np.exp(-softplus(z["attention"]))
    eta_link = np.exp(-softplus(z["link"]))
    o_step, o_layer, o_seq = np.exp(z["step_overhead"]), np.exp(z["layer_overhead"]), np.exp(z["seq_overhead"])
    latency = np.exp(z["collective_latency"])
    slope = softplus(coef.gemm_tokens_slope) - np.log(2.0)  # 0 at the initial value

    def clock(t: StepTerms) -> np.ndarray:
        with np.errstate(invalid="ignore"):  # rows with unknown facts carry NaN terms: NaN answers, no noise
            small = np.maximum(np.log2(4096.0 / np.maximum(t.tokens, 1.0)), 0.0)
            eta_gemm = np.exp(-softplus(z["gemm"] + slope * small))
        e = Efficiencies(gemm=eta_gemm, memory=eta_mem, kv_memory=eta_kv, attention=eta_attn, link=eta_link,
                         step_overhead_s=o_step, layer_overhead_s=o_layer, seq_overhead_s=o_seq,
                         collective_latency_s=latency)
        return step_time(t, e)

    return clock


def simulate(coef: Coefficients, prep: Prepared) -> Schedule:
    """Every figure of every row under the shared coefficients (no campaign effect)."""
    z = efficiencies_for(coef, prep)
    return schedule(prep.facts, prep.engines, prep.work, make_clock(coef, z), np.exp(z["ttft_overhead"]),
                    1.0 / (1.0 + np.exp(-z["burst"])))


# ---------------------------------------------------------------------------------------------
# labels: what each row measured, and what the simulation compares it with


@dataclass
class Observations:
    """Measured figures in log form: row index, target, log value (one entry per figure used)."""

    row: np.ndarray
    target: np.ndarray
    log_value: np.ndarray


def observations(frame: pd.DataFrame, usable: np.ndarray) -> Observations:
    """The figures each usable row trains (see :func:`label_rule` for which and why)."""
    rows, targets, values = [], [], []
    median = _text(frame, "latency_statistic", "") == "p50"
    for target, use in label_rule(frame, usable).items():
        value = _num(frame, target)
        if target == "itl_p50_s":  # a TPOT the source states as a median is the median ITL
            tpot = _num(frame, "tpot_s")
            value = np.where(median & np.isfinite(tpot) & (tpot > 0), tpot, value)
        idx = np.flatnonzero(use)
        rows.append(idx)
        targets.append(np.full(len(idx), target, dtype=object))
        values.append(np.log(value[idx]))
    return Observations(np.concatenate(rows), np.concatenate(targets), np.concatenate(values))


def label_rule(frame: pd.DataFrame, usable: np.ndarray) -> dict[str, np.ndarray]:
    """Which measured figure of each row trains the step model: the one rule,
    :func:`inference_estimation.lib.physics.usability.step_labels` (the usage report counts it too)."""
    return step_labels(frame, usable)


def _predicted(sched: Schedule, target: str) -> np.ndarray:
    return getattr(sched, target)


def _signs(targets: np.ndarray) -> np.ndarray:
    """+1 for times (a slow campaign raises them), -1 for throughput."""
    return np.where(targets == "output_throughput_tok_s", -1.0, 1.0)


@dataclass
class Adjustment:
    """Per-row effects and local log corrections that override the stored campaign's (calibration).

    Attributes:
        active: rows the adjustment applies to.
        u, v: decode-side and TTFT effects (log).
        local_log: target -> the interpolated log residual of the nearby measured points.
        local_weight: target -> how near measured points are (0 far .. 1 at one): the interval
            narrows towards ``noise_sd`` there.
        noise_sd: the spread of a measurement around its own point (log).
    """

    active: np.ndarray
    u: np.ndarray
    v: np.ndarray
    local_log: dict[str, np.ndarray]
    local_weight: dict[str, np.ndarray]
    noise_sd: float = 0.05

    @classmethod
    def none(cls, n: int) -> Adjustment:
        """No adjustment for ``n`` rows."""
        zeros = np.zeros(n)
        return cls(np.zeros(n, dtype=bool), zeros, zeros, {}, {})


@dataclass
class StepModel:
    """A fitted step-time model: shared coefficients, campaign effects and spreads.

    Attributes:
        coefficients: the shared parameters.
        campaign_effects: campaign -> (u on decode-side times, v on TTFT) in log units.
        campaign_sd: prior spreads (u, v) of campaign effects, log units.
        residual_sd: robust spread of the remaining log residuals per target.
        newest_year: engine -> the newest measurement year seen (answers default to it).
        card: training facts (rows, campaigns, data version, fit time, ...).
    """

    coefficients: Coefficients
    campaign_effects: dict[str, tuple[float, float]]
    campaign_sd: tuple[float, float]
    residual_sd: dict[str, float]
    newest_year: dict[str, float]
    card: dict[str, Any] = field(default_factory=dict)
    #: source -> (u, v): the shrunken mean of its campaigns' effects (a new campaign of a known source).
    source_effects: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: spread (u, v) of campaign effects around their source's mean.
    within_source_sd: tuple[float, float] | None = None

    # --- answers -----------------------------------------------------------------------------
    def predict(self, frame: pd.DataFrame, campaigns: np.ndarray | None = None,
                as_of_year: float | None = None, adjust: Adjustment | None = None) -> dict[str, np.ndarray]:
        """Every step target per row with its 90% interval.

        Args:
            frame: question rows (facts + workload).
            campaigns: the campaign each row is asked "as measured by" (None or unknown: a new
                campaign -- its source's mean effect when the row names a known ``source``, else
                none; the interval includes the spread of campaigns around that).
            as_of_year: software year to answer for (default: the newest seen per engine).
            adjust: per-row effects and local corrections that replace the stored campaign's (a
                user's calibration, :mod:`inference_estimation.lib.ml.step_calibration`).

        Returns:
            ``{target: values, f"{target}_lower_90": ..., f"{target}_upper_90": ..., "saturated",
            "running_batch", "in_flight"}``.
        """
        prep = prepare(frame, year=self.answer_years(frame, as_of_year))
        sched = simulate(self.coefficients, prep)
        keys = campaigns if campaigns is not None else np.full(len(frame), "", dtype=object)
        effects = np.array([self.campaign_effects.get(k, (np.nan, np.nan)) for k in keys], dtype="float64")
        sources = _text(frame, "source", "")
        by_source = np.array([self.source_effects.get(s, (np.nan, np.nan)) for s in sources], dtype="float64")
        from_source = np.isnan(effects[:, 0]) & ~np.isnan(by_source[:, 0])
        effects = np.where(from_source[:, None], by_source, effects)
        if adjust is None:
            adjust = Adjustment.none(len(frame))
        use = adjust.active
        known = use | (~np.isnan(effects[:, 0]) & ~from_source)
        u = np.where(use, adjust.u, np.nan_to_num(effects[:, 0]))
        v = np.where(use, adjust.v, np.nan_to_num(effects[:, 1]))
        su, sv = self.campaign_sd
        wu, wv = self.within_source_sd or self.campaign_sd
        su = np.where(from_source & ~use, wu, su)
        sv = np.where(from_source & ~use, wv, sv)
        out: dict[str, np.ndarray] = {}
        # no effect, calibration or interval makes an answer faster than physics allows
        bounds = physical_bounds(prep.facts, prep.work)
        bounds["itl_p50_s"] = bounds["tpot_s"]
        for target in ("ttft_s", "tpot_s", "itl_p50_s"):
            local = adjust.local_log.get(target, np.zeros(len(frame)))
            value = _predicted(sched, target) * np.exp((v if target == "ttft_s" else u) + local)
            value = np.fmax(value, bounds[target])
            extra = sv**2 if target == "ttft_s" else su**2
            sd = np.sqrt(self.residual_sd.get(target, 0.3) ** 2 + np.where(known, 0.0, extra))
            near = adjust.local_weight.get(target, np.zeros(len(frame)))
            sd = np.sqrt((1.0 - near) * sd**2 + near * adjust.noise_sd**2)
            out[target] = value
            out[f"{target}_lower_90"] = np.fmax(value * np.exp(-Z90 * sd), bounds[target])
            out[f"{target}_upper_90"] = value * np.exp(Z90 * sd)
        # e2e and throughput by the identities, bounds through the same monotone formulas
        n_out = np.maximum(np.nan_to_num(prep.work.output_tokens, nan=1.0), 1.0)
        e2e_identity = REGISTRY["e2e_latency_s"].identity["closed"]
        for suffix, other in (("", ""), ("_lower_90", "_upper_90"), ("_upper_90", "_lower_90")):
            out[f"e2e_latency_s{suffix}"] = e2e_identity({"ttft_s": out[f"ttft_s{suffix}"],
                                                          "tpot_s": out[f"tpot_s{suffix}"], "output_tokens": n_out})
            out[f"output_throughput_tok_s{suffix}"] = sched.throughput_from(
                out[f"ttft_s{other}"], out[f"tpot_s{other}"], prep.work.output_tokens)
        # a whole-request figure's own spread where it is wider than what the phases' bounds give
        # (the point values keep the identities exactly; the bounds are the wider of the two)
        whole = max(self.residual_sd.get("e2e_latency_s", 0.3), self.residual_sd.get("output_throughput_tok_s", 0.3))
        for target in ("e2e_latency_s", "output_throughput_tok_s"):
            # closed loop, throughput is e2e inverted: the wider of their two spreads for both
            sd = np.sqrt(whole**2 + np.where(known, 0.0, su**2))
            floor_lo, floor_hi = out[target] * np.exp(-Z90 * sd), out[target] * np.exp(Z90 * sd)
            # a calibrated row keeps the bounds its measured points narrowed
            out[f"{target}_lower_90"] = np.where(use, out[f"{target}_lower_90"],
                                                 np.fmin(out[f"{target}_lower_90"], floor_lo))
            out[f"{target}_upper_90"] = np.where(use, out[f"{target}_upper_90"],
                                                 np.fmax(out[f"{target}_upper_90"], floor_hi))
        out["saturated"] = sched.saturated
        out["running_batch"] = sched.running_batch
        out["in_flight"] = sched.in_flight
        out["decode_step_s"] = sched.decode_step_s * np.exp(u)
        out["prefill_step_s"] = sched.prefill_step_s * np.exp(u)
        out["campaign_known"] = known
        return out

    def answer_years(self, frame: pd.DataFrame, as_of_year: float | None = None) -> np.ndarray:
        """The software year each row is answered for: ``as_of_year``, else the newest seen for its engine."""
        if as_of_year is not None:
            return np.full(len(frame), float(as_of_year))
        engines = np.array([normalize_engine(e) or "unknown" for e in _text(frame, "engine")], dtype=object)
        fallback = max(self.newest_year.values(), default=DEFAULT_YEAR)
        return np.array([self.newest_year.get(e, fallback) for e in engines], dtype=float)

    # --- files -------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """Plain JSON data of the model (the file's content)."""
        c = self.coefficients
        return {"version": STEP_MODEL_VERSION, "intercept": c.intercept, "levels": c.levels, "slopes": c.slopes,
                "gemm_tokens_slope": c.gemm_tokens_slope,
                "campaign_effects": {k: list(v) for k, v in self.campaign_effects.items()},
                "campaign_sd": list(self.campaign_sd), "residual_sd": self.residual_sd,
                "newest_year": self.newest_year, "card": self.card,
                "source_effects": {k: list(v) for k, v in self.source_effects.items()},
                "within_source_sd": None if self.within_source_sd is None else list(self.within_source_sd)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepModel:
        """The model from :meth:`to_json`'s data."""
        coef = Coefficients(data["intercept"], data["levels"], data["slopes"], data["gemm_tokens_slope"])
        within = data.get("within_source_sd")
        return cls(coef, {k: (v[0], v[1]) for k, v in data["campaign_effects"].items()},
                   tuple(data["campaign_sd"]), data["residual_sd"], data["newest_year"], data.get("card", {}),
                   {k: (v[0], v[1]) for k, v in data.get("source_effects", {}).items()},
                   None if within is None else (within[0], within[1]))

    def save(self, path: Path) -> Path:
        """Writes the model as one JSON file (no pickle)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1, sort_keys=True))
        return path

    @classmethod
    def load(cls, path: Path) -> StepModel:
        """Reads a model written by :meth:`save`."""
        return cls.from_json(json.loads(Path(path).read_text()))
