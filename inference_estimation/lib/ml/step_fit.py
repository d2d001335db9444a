"""Fitting the step-time model through the scheduler, with campaign effects concentrated out.

Every public row is an outcome of some engine's scheduler under some conditions: the shared
coefficients (:mod:`inference_estimation.lib.ml.step_model`) are fitted so that the simulated
figures match the measured ones across all rows and targets. For a given set of shared
coefficients the best campaign effects have a closed form (shrunken weighted means of the
campaign's log residuals, :func:`campaign_effects`), so the optimiser (scipy's trust-region least
squares with a soft-L1 loss) only moves the ~100 shared coefficients, and calibration to a user's
rows (:func:`fit_campaign`) is the same closed form: milliseconds, without retraining.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from inference_estimation.lib.ml.step_model import (
    BASE_YEAR,
    CAMPAIGN_SD_INIT,
    LOSS_SCALE,
    Z90,
    Observations,
    Prepared,
    StepModel,
    _signs,
    campaign_keys,
    observations,
    prepare,
    simulate,
)
from inference_estimation.lib.ml.step_parameters import BLOCKS, COEF_PRIOR_SD, Coefficients, Layout
from inference_estimation.lib.ml.step_prompts import fit_prompt_lengths, unknown_prompts, with_prompt_lengths

#: Least-squares evaluations allowed per fit (each is one simulation of every training row).
MAX_EVALUATIONS = 60
#: Weight of the coefficient prior residuals relative to one observation.
PRIOR_WEIGHT = 1.0
#: Campaign effects in the spread estimate need at least this many figures.
MIN_FIGURES_FOR_SPREAD = 3
#: Rows a campaign contributes to the shared fit at most (a deterministic sample beyond): one
#: large sweep adds little information per row after a few hundred, and costs time.
MAX_ROWS_PER_CAMPAIGN = 250
#: Spread of one figure's log residual assumed while the shared coefficients are fitted. Larger
#: than the residuals turn out to be, on purpose: campaign effects are then shrunk hard, so the
#: shared coefficients must explain what campaigns have in common (what an unseen campaign gets)
#: instead of leaving it to the effects. The final effects are re-estimated with the measured spread.
FIT_NOISE_SD = 1.0
#: Default spread of one figure's log residual (before one is measured).
NOISE_SD_INIT = 0.15


class StepFitError(ValueError):
    """The training rows cannot fit a step model (none usable)."""


@dataclass
class _Problem:
    prep: Prepared
    obs: Observations
    weight: np.ndarray
    campaign_code: np.ndarray
    campaigns: np.ndarray
    layout: Layout


def campaign_effects(residual: np.ndarray, sign: np.ndarray, is_ttft: np.ndarray, weight: np.ndarray,
                     code: np.ndarray, n_campaigns: int, sd: tuple[float, float],
                     noise_sd: float = NOISE_SD_INIT, center: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form campaign effects ``(u, v)`` that best absorb the residuals under their priors.

    With figures ``r ~ N(-s u, noise^2 / w^2)`` and ``u ~ N(0, sd_u^2)``, the posterior mean of
    ``u`` minimises ``sum w^2 (r + s u)^2 / noise^2 + u^2 / sd_u^2`` (a shrunken weighted mean) over
    the decode-side figures; ``v`` the same over the TTFT figures under ``sd_v``.

    Args:
        residual: log(predicted) - log(measured) per figure.
        sign: +1 for times, -1 for throughput.
        is_ttft: the figure is a TTFT.
        weight: per-figure weight.
        code: campaign index per figure.
        n_campaigns: number of campaigns.
        sd: prior spreads (u, v).
        noise_sd: spread of one figure's log residual (at weight 1).
        center: make the effects of the campaigns present sum to zero, so that the shared
            coefficients describe the typical campaign (what a campaign never seen gets).
    """
    w2 = weight**2
    ratio = noise_sd**2
    decode = ~is_ttft
    num = np.bincount(code, np.where(decode, w2 * sign * residual, 0.0), minlength=n_campaigns)
    den = np.bincount(code, np.where(decode, w2, 0.0), minlength=n_campaigns) + ratio / sd[0] ** 2
    u = -num / den
    has_u = np.bincount(code, decode, minlength=n_campaigns) > 0
    if center and has_u.sum() > 1:
        u = u - u[has_u].mean()  # the shared part is the typical campaign; effects sum to zero
    num_v = np.bincount(code, np.where(is_ttft, w2 * residual, 0.0), minlength=n_campaigns)
    den_v = np.bincount(code, np.where(is_ttft, w2, 0.0), minlength=n_campaigns) + ratio / sd[1] ** 2
    v = -num_v / den_v
    has_v = np.bincount(code, is_ttft, minlength=n_campaigns) > 0
    if center and has_v.sum() > 1:
        v = v - v[has_v].mean()
    return u, v


def _residuals(problem: _Problem, x: np.ndarray, sd: tuple[float, float],
               noise_sd: float = NOISE_SD_INIT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    coef = problem.layout.coefficients(x)
    sched = simulate(coef, problem.prep)
    obs = problem.obs
    pred = np.empty(len(obs.row))
    for target in np.unique(obs.target):
        sel = obs.target == target
        pred[sel] = getattr(sched, target)[obs.row[sel]]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.log(pred) - obs.log_value
    r = np.where(np.isfinite(r), r, 0.0)  # a figure the model cannot answer is left out (weight 0 below)
    sign, is_ttft = _signs(obs.target), obs.target == "ttft_s"
    answered = np.isfinite(pred) & (pred > 0)
    u, v = campaign_effects(r, sign, is_ttft, np.where(answered, problem.weight, 0.0), problem.campaign_code,
                            len(problem.campaigns), sd, noise_sd)
    final = np.where(is_ttft, r + v[problem.campaign_code], r + sign * u[problem.campaign_code])
    final = np.where(answered, final, 0.0)
    return final, u, v


def _levels(prep: Prepared, rows: np.ndarray) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for block, (cats, _, _) in BLOCKS.items():
        out[block] = {col: sorted({str(v) for v in prep.categories[col][rows]} - {"unknown"}) for col in cats}
    return out


def _subset(prep: Prepared, rows: np.ndarray) -> Prepared:
    from inference_estimation.lib.ml.engines import EngineColumns
    from inference_estimation.lib.ml.scheduler import Workload

    eng = EngineColumns(*(getattr(prep.engines, f)[rows] for f in EngineColumns.__dataclass_fields__))
    work = Workload(*(getattr(prep.work, f)[rows] for f in Workload.__dataclass_fields__))
    return Prepared(n=len(rows), facts=prep.facts.take(rows), engines=eng, work=work,
                    categories={k: v[rows] for k, v in prep.categories.items()},
                    numerics={k: v[rows] for k, v in prep.numerics.items()}, campaign=prep.campaign[rows], codes={})


def fit_step_model(frame: pd.DataFrame, usable: np.ndarray, max_evaluations: int = MAX_EVALUATIONS,
                   initial: StepModel | None = None, fit_prompts: bool = False) -> StepModel:
    """Fits the shared coefficients and every campaign's effects on ``frame``'s usable rows.

    With ``fit_prompts``, where a dataset never published its mean prompt length (ML.ENERGY, four
    MLPerf benchmarks), the model is fitted twice: first on what is known, then -- with each such
    dataset's prompt length fitted from its own rows (:mod:`inference_estimation.lib.ml.step_prompts`)
    -- on every row; the card lists the fitted lengths under ``fitted_prompt_tokens``. Off by
    default: measured on the public rows, the fitted lengths sit at the search's lower bound for
    most datasets (ShareGPT chat fitted at 13 tokens where 161 is published), i.e. they absorb the
    model's own large-batch error rather than measure the prompts (``benchmarks/accuracy.py
    --fit-prompts`` reproduces the comparison).

    Args:
        frame: training rows (facts, workload, measured figures, ``source``, ``engine_version``,
            ``measured_at_ts``).
        usable: rows that may train (plain deployments, not faster than physics).
        max_evaluations: least-squares budget (function evaluations).
        initial: a previous model to start from (same data: the same answer, faster).
        fit_prompts: fit the unpublished prompt lengths (default False: rows without one train only
            what needs none).

    Raises:
        StepFitError: when no row carries a usable figure.
    """
    frame = frame.reset_index(drop=True)
    usable = np.asarray(usable, dtype=bool)
    if fit_prompts and unknown_prompts(frame, usable).any():
        t0 = time.perf_counter()
        # the first fit reads no row of unknown prompt length (were they in it, the coefficients
        # would adapt to whatever length a missing one is simulated with, and the profile would
        # find that length again)
        first = _fit(frame, usable & ~unknown_prompts(frame, usable), max_evaluations, initial)
        fits = fit_prompt_lengths(first.coefficients, frame, usable)
        if not fits:
            return first
        model = _fit(with_prompt_lengths(frame, fits, usable), usable, max_evaluations, first)
        model.card["fitted_prompt_tokens"] = {key: fit.to_json() for key, fit in fits.items()}
        model.card["fit_seconds"] = round(time.perf_counter() - t0, 2)
        return model
    return _fit(frame, usable, max_evaluations, initial)


def _fit(frame: pd.DataFrame, usable: np.ndarray, max_evaluations: int, initial: StepModel | None) -> StepModel:
    """One fit of the shared coefficients and the campaign effects (see :func:`fit_step_model`)."""
    t0 = time.perf_counter()
    frame = frame.reset_index(drop=True)
    prep_all = prepare(frame)
    usable = np.asarray(usable, dtype=bool) & prep_all.facts.valid
    obs_all = observations(frame, usable)
    if len(obs_all.row) == 0:
        raise StepFitError("no training row carries a usable latency or throughput figure")
    rows = _capped_rows(np.unique(obs_all.row), prep_all.campaign, MAX_ROWS_PER_CAMPAIGN)
    keep = np.isin(obs_all.row, rows)
    obs_all = Observations(obs_all.row[keep], obs_all.target[keep], obs_all.log_value[keep])
    remap = np.full(len(frame), -1)
    remap[rows] = np.arange(len(rows))
    prep = _subset(prep_all, rows)
    obs = Observations(remap[obs_all.row], obs_all.target, obs_all.log_value)
    campaigns, code = np.unique(prep.campaign[obs.row], return_inverse=True)
    counts = np.bincount(code)
    weight = counts[code] ** -0.25
    layout = Layout(_levels(prep, np.arange(len(rows))))
    problem = _Problem(prep, obs, weight, code, campaigns, layout)
    x = layout.initial() if initial is None else _vector(layout, initial.coefficients)
    sd = CAMPAIGN_SD_INIT

    def fun(x: np.ndarray) -> np.ndarray:
        final, _, _ = _residuals(problem, x, sd, FIT_NOISE_SD)
        prior = PRIOR_WEIGHT * np.where(layout.prior_mask, x / COEF_PRIOR_SD, 0.0)
        return np.concatenate([problem.weight * final, prior])

    result = least_squares(fun, x, loss="soft_l1", f_scale=LOSS_SCALE, method="trf", max_nfev=max_evaluations,
                           diff_step=1e-3, x_scale=1.0, jac_sparsity=_sparsity(problem), ftol=1e-10, xtol=1e-10)
    x, evaluations = result.x, int(result.nfev)
    # the campaign effects at their posterior: spreads measured, then the effects under them
    final, u, v = _residuals(problem, x, sd, FIT_NOISE_SD)
    sd, noise = _spreads(final, u, v, counts, code, obs, sd, NOISE_SD_INIT)
    final, u, v = _residuals(problem, x, sd, noise)
    sd, _ = _spreads(final, u, v, counts, code, obs, sd, noise)
    # the spread a campaign never seen can take: of the campaigns' unshrunk effects (the 90% quantile;
    # shrunken estimates understate how far a new campaign can be)
    _, u_raw, v_raw = _residuals(problem, x, sd, 1e-3)
    sd = _interval_spreads(u_raw, v_raw, counts, code, obs, sd)
    residual_sd = {}
    for target in np.unique(obs.target):
        r = final[obs.target == target]
        # the 90% quantile of |residual| (heavy tails: a MAD would understate the interval)
        residual_sd[str(target)] = float(max(np.quantile(np.abs(r), 0.9) / Z90, 0.02))
    residual_sd.setdefault("itl_p50_s", residual_sd.get("tpot_s", 0.2))
    residual_sd.setdefault("ttft_s", residual_sd.get("e2e_latency_s", 0.3))
    residual_sd.setdefault("tpot_s", residual_sd.get("itl_p50_s", 0.2))
    for target in ("e2e_latency_s", "output_throughput_tok_s"):
        residual_sd.setdefault(target, residual_sd["tpot_s"])
    engines = prep.categories["engine"]
    years = prep.numerics["year"]
    newest = {str(e): float(years[engines == e].max() + BASE_YEAR) for e in np.unique(engines)}
    effects = {str(c): (float(u[i]), float(v[i])) for i, c in enumerate(campaigns)}
    card = {"rows": int(len(rows)), "figures": int(len(obs.row)), "campaigns": int(len(campaigns)),
            "figures_by_target": {str(t): int((obs.target == t).sum()) for t in np.unique(obs.target)},
            "fit_seconds": round(time.perf_counter() - t0, 2), "evaluations": evaluations,
            "cost": float(result.cost), "parameters": int(len(x)), "noise_sd": noise}
    source_effects, within = _source_effects(effects, sd)
    return StepModel(layout.coefficients(x), effects, sd, residual_sd, newest, card, source_effects, within)


#: Pseudo-campaigns of zero effect in a source's mean (shrinks a source seen in few campaigns).
SOURCE_PRIOR_CAMPAIGNS = 1.0


def _source_effects(effects: dict[str, tuple[float, float]], sd: tuple[float, float]
                    ) -> tuple[dict[str, tuple[float, float]], tuple[float, float]]:
    """Each source's shrunken mean campaign effect and the spread of campaigns around it."""
    by_source: dict[str, list[tuple[float, float]]] = {}
    for key, uv in effects.items():
        by_source.setdefault(key.split("|")[0], []).append(uv)
    means, deviations = {}, []
    for source, values in by_source.items():
        arr = np.asarray(values)
        mean = arr.sum(axis=0) / (len(arr) + SOURCE_PRIOR_CAMPAIGNS)
        means[source] = (float(mean[0]), float(mean[1]))
        deviations.extend((arr - mean).tolist())
    dev = np.asarray(deviations) if deviations else np.zeros((0, 2))
    within = tuple(float(max(np.sqrt(np.mean(dev[:, i] ** 2)), 0.05)) if len(dev) > 2 else sd[i] for i in range(2))
    return means, (within[0], within[1])


def _spreads(final: np.ndarray, u: np.ndarray, v: np.ndarray, counts: np.ndarray, code: np.ndarray, obs: Observations,
             sd: tuple[float, float], noise: float) -> tuple[tuple[float, float], float]:
    """Re-estimated spreads: of campaign effects (campaigns with enough figures) and of one figure."""
    spread_rows = counts >= MIN_FIGURES_FOR_SPREAD
    su = float(np.sqrt(np.mean(u[spread_rows] ** 2))) if spread_rows.any() else sd[0]
    has_ttft = np.bincount(code, obs.target == "ttft_s", minlength=len(counts)) >= MIN_FIGURES_FOR_SPREAD
    sv = float(np.sqrt(np.mean(v[has_ttft] ** 2))) if has_ttft.any() else sd[1]
    noise_sd = float(1.4826 * np.median(np.abs(final))) if len(final) else noise
    return (max(su, 0.05), max(sv, 0.05)), max(noise_sd, 0.01)


def _interval_spreads(u: np.ndarray, v: np.ndarray, counts: np.ndarray, code: np.ndarray, obs: Observations,
                      sd: tuple[float, float]) -> tuple[float, float]:
    """The campaigns' effect spreads for intervals: 90% quantile of |effect| / z, per side."""
    spread_rows = counts >= MIN_FIGURES_FOR_SPREAD
    has_ttft = np.bincount(code, obs.target == "ttft_s", minlength=len(counts)) >= MIN_FIGURES_FOR_SPREAD
    su = float(np.quantile(np.abs(u[spread_rows]), 0.9) / Z90) if spread_rows.any() else sd[0]
    sv = float(np.quantile(np.abs(v[has_ttft]), 0.9) / Z90) if has_ttft.any() else sd[1]
    return max(su, sd[0], 0.05), max(sv, sd[1], 0.05)


def _capped_rows(rows: np.ndarray, campaign: np.ndarray, cap: int) -> np.ndarray:
    """At most ``cap`` rows per campaign (evenly spaced, so the same data gives the same rows)."""
    keys = campaign[rows]
    keep = []
    for key in np.unique(keys):
        members = rows[keys == key]
        if len(members) > cap:
            members = members[np.linspace(0, len(members) - 1, cap).round().astype(int)]
        keep.append(members)
    return np.sort(np.concatenate(keep))


def _sparsity(problem: _Problem):
    """Which residuals each coefficient can move (for grouped finite differences).

    A category level's coefficient moves the figures of rows with that level and, through the
    concentrated campaign effects, every figure of those rows' campaigns; intercepts and numeric
    slopes move everything. Levels of one category never share a row, so their columns are
    differenced together, which cuts the cost of a Jacobian several times.
    """
    from scipy.sparse import lil_matrix

    obs, layout, prep = problem.obs, problem.layout, problem.prep
    n_obs, n_par = len(obs.row), len(layout.names)
    pattern = lil_matrix((n_obs + n_par, n_par), dtype=bool)
    code = problem.campaign_code
    for j, name in enumerate(layout.names):
        if len(name) == 3 and name[1] != "slope":
            rows_with = prep.categories[name[1]][obs.row] == name[2]
            touched = np.isin(code, np.unique(code[rows_with]))
            pattern[np.flatnonzero(touched), j] = True
        else:
            pattern[:n_obs, j] = True
        pattern[n_obs + j, j] = True
    return pattern.tocsr()


def _vector(layout: Layout, coef: Coefficients) -> np.ndarray:
    x = layout.initial()
    for i, name in enumerate(layout.names):
        if name[1] == "intercept":
            x[i] = coef.intercept.get(name[0], x[i])
        elif name[1] == "slope":
            x[i] = coef.slopes.get(name[0], {}).get(name[2], 0.0)
        elif name[1] == "tokens_slope":
            x[i] = coef.gemm_tokens_slope
        else:
            x[i] = coef.levels.get(name[0], {}).get(name[1], {}).get(name[2], 0.0)
    return x


def fit_campaign(model: StepModel, frame: pd.DataFrame, campaign: str | None = None) -> tuple[float, float]:
    """The effects ``(u, v)`` of one campaign from its rows, shared coefficients fixed (calibration).

    Args:
        model: the shared model.
        frame: the campaign's rows with their measured figures.
        campaign: key to store the effects under (default: the rows' own campaign key).
    """
    frame = frame.reset_index(drop=True)
    usable = np.ones(len(frame), dtype=bool)
    obs = observations(frame, usable)
    if len(obs.row) == 0:
        raise StepFitError("the calibration rows carry no latency or throughput figure")
    prep = prepare(frame)
    sched = simulate(model.coefficients, prep)
    pred = np.array([getattr(sched, t)[r] for t, r in zip(obs.target, obs.row, strict=True)])
    r = np.log(pred) - obs.log_value
    ok = np.isfinite(r)
    code = np.zeros(ok.sum(), dtype=int)
    u, v = campaign_effects(r[ok], _signs(obs.target[ok]), obs.target[ok] == "ttft_s", np.ones(ok.sum()), code, 1,
                            model.campaign_sd, model.card.get("noise_sd", NOISE_SD_INIT), center=False)
    key = campaign or str(campaign_keys(frame)[0])
    model.campaign_effects[key] = (float(u[0]), float(v[0]))
    return float(u[0]), float(v[0])
