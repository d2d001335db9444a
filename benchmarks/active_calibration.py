"""Active calibration benchmark: how many measurements does a new device need, chosen how?

For each held-out device (hardware with at least ``--min-rows`` measured rows in the public data),
starting from the primitives fitted without it, its measurements are added one at a time, chosen

* ``planner`` -- :func:`lib.ml.calibration.plan_points` with the distance uncertainty,
* ``planner_ensemble`` -- the same planner with the bootstrap-ensemble uncertainty,
* ``planner_nocost`` -- the planner (distance) choosing by error reduction alone, cost ignored,
* ``random`` -- uniformly (median over ``--random-seeds`` orders),
* ``corners`` -- a fixed corners-of-the-grid design (:func:`lib.ml.calibration.corner_order`),

and after each addition the rest of the device's rows are scored (MdAPE of TPOT, throughput,
TTFT and e2e from the coherent model). A device's few rows never enter the trees
(``MIN_DEVICE_ROWS_FOR_TREES``), so "retrain" changes only its per-device correction: the script
recomputes that correction with :func:`lib.ml.hardware_correction.hardware_corrections` exactly as
:func:`lib.ml.modeling.fit_primitive` does, holding the first-stage phase estimate (which splits
e2e-only rows into phase labels) at the training frame's. It checks both against a real refit:
identical with the same phase estimate; with the phase estimate refitted on train + chosen rows,
its median moves by a hair, the split labels with it, and the trees by a few percent (retrain
noise, not calibration) -- both gaps are printed.

It also measures which uncertainty ranks real errors best: Spearman between uncertainty and the
absolute log error of the leave-one-hardware-out predictions (pooled, and within device after
removing the device's median residual -- what the correction cannot remove).

Usage:
    .venv/bin/python benchmarks/active_calibration.py [--warehouse FILE] [--iterations 150] [--devices N]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

TARGETS = ("tpot_s", "output_throughput_tok_s", "ttft_s", "e2e_latency_s")
GOALS = {"tpot_s": 5.0, "output_throughput_tok_s": 7.0}
MAX_POINTS = 10


def _residuals(fitted, rows: pd.DataFrame, primitive: str, phase) -> tuple[np.ndarray, pd.DataFrame]:
    """Labelled rows of ``rows`` and their log residuals to the fitted trees (no correction)."""
    from inference_estimation.lib.ml.modeling import log_offset, model_matrix, predict_log
    from inference_estimation.lib.ml.performance_model import primitive_labels
    from inference_estimation.lib.physics.features import MODEL_FEATURES

    label, _ = primitive_labels(rows, primitive, phase)
    keep = ~np.isnan(label)
    labelled = rows[keep]
    offset, known = log_offset(labelled, primitive, fitted.fallback_log)
    resid = np.log(label[keep]) - predict_log(fitted.model, model_matrix(labelled, known, MODEL_FEATURES), offset)
    return resid, labelled


def calibrated(fitted, train_resid: tuple[np.ndarray, pd.DataFrame], chosen: pd.DataFrame, primitive: str, phase):
    """The fitted primitive with the correction fit_primitive would learn from train + chosen rows."""
    from inference_estimation.lib.ml.hardware_correction import hardware_corrections

    resid, labelled = train_resid
    if len(chosen):
        more, more_rows = _residuals(fitted, chosen, primitive, phase)
        resid = np.concatenate([resid, more])
        labelled = pd.concat([labelled, more_rows])
    correction = hardware_corrections(labelled["hardware_key"], resid, labelled["source"])
    return dataclasses.replace(fitted, hardware_correction=correction)


def answers(fits: dict, rows: pd.DataFrame) -> pd.DataFrame:
    """Coherent answers (TTFT, TPOT, e2e, throughput) from the time primitives."""
    from inference_estimation.lib.ml.modeling import predict_primitive_log
    from inference_estimation.lib.ml.performance_model import PrimitiveBounds, derive_targets

    value = {p: np.exp(predict_primitive_log(f, rows)) for p, f in fits.items()}
    return derive_targets(rows, PrimitiveBounds(value, value, value))


def local_answers(uncorrected: dict, chosen: pd.DataFrame, rest: pd.DataFrame, phase, error_model,
                  chosen_u: np.ndarray, rest_u: np.ndarray) -> pd.DataFrame:
    """Answers for ``rest`` with :func:`lib.ml.calibration.local_correction` from the chosen rows' residuals."""
    from inference_estimation.lib.ml import calibration as cal
    from inference_estimation.lib.ml.modeling import predict_primitive_log
    from inference_estimation.lib.ml.performance_model import (
        PrimitiveBounds,
        derive_targets,
        primitive_labels,
    )

    value = {}
    for p, fitted in uncorrected.items():
        log_pred = predict_primitive_log(fitted, rest)
        if len(chosen):
            label, _ = primitive_labels(chosen, p, phase)
            resid = np.log(label) - predict_primitive_log(fitted, chosen)
            log_pred = log_pred + cal.local_correction(error_model, chosen, resid, rest, chosen_u, rest_u)
        value[p] = np.exp(log_pred)
    return derive_targets(rest, PrimitiveBounds(value, value, value))


def refit_check(train: pd.DataFrame, chosen: pd.DataFrame, rest: pd.DataFrame, phase, fits: dict,
                iterations: int) -> dict[str, tuple[float, float]]:
    """|log difference| (max, median) between the recomputed correction and real refits on train + chosen."""
    from inference_estimation.lib.ml.modeling import fit_phase_estimate, fit_primitive, predict_primitive_log

    both = pd.concat([train, chosen])
    out = {}
    for label, ph in (("same phase estimate", phase), ("phase estimate refitted", fit_phase_estimate(both, "physics", 0))):
        gaps = np.concatenate([np.abs(predict_primitive_log(fit_primitive(both, p, 0, iterations, ph), rest)
                                      - predict_primitive_log(fits[p], rest)) for p in fits])
        out[label] = (float(np.nanmax(gaps)), float(np.nanmedian(gaps)))
    return out


def mdape(frame: pd.DataFrame, pred: pd.DataFrame, target: str) -> float:
    """MdAPE % of ``pred`` on the rows of ``frame`` that measured ``target`` (NaN when none)."""
    from inference_estimation.lib.ml.coherent_evaluation import measured_mask

    mask = measured_mask(frame, target)
    p = pred[target].to_numpy(dtype=float)
    mask &= np.isfinite(p) & (p > 0)
    if mask.sum() == 0:
        return float("nan")
    y = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float)
    return float(np.median(np.abs(p[mask] - y[mask]) / y[mask]) * 100)


def _report_ranking(ranking: list, refit_gap: dict | None, planning_s: list) -> tuple[dict, dict]:
    """Which uncertainty ranks real errors best, the spread of device offsets, planning time."""
    from inference_estimation.lib.ml import calibration as cal

    rank = pd.concat(ranking, ignore_index=True)
    rank["abs"] = rank["signed"].abs()
    rank["within"] = (rank["signed"] - rank.groupby("device")["signed"].transform("median")).abs()
    print("\n## Which uncertainty ranks real errors (leave-one-hardware-out, time primitives, mean |log error|)")
    print("| uncertainty | Spearman vs |log error| (pooled) | Spearman vs |error - device median| (pooled) | "
          "median per-device Spearman (within) |")
    print("|---|---|---|---|")
    rank_summary = {}
    for method in cal.UNCERTAINTY_METHODS:
        col = f"u_{method}"
        per_dev = [cal.spearman(g[col].to_numpy(), g["within"].to_numpy()) for _, g in rank.groupby("device")]
        rank_summary[method] = {"pooled_abs": cal.spearman(rank[col].to_numpy(), rank["abs"].to_numpy()),
                                "pooled_within": cal.spearman(rank[col].to_numpy(), rank["within"].to_numpy()),
                                "median_per_device_within": float(np.nanmedian(per_dev))}
        s = rank_summary[method]
        print(f"| {method} | {s['pooled_abs']:.3f} | {s['pooled_within']:.3f} | {s['median_per_device_within']:.3f} |")
    offsets = rank.groupby("device")["signed"].median()
    within_std = rank.groupby("device").apply(lambda g: float(np.nanstd(g["signed"] - g["signed"].median())))
    robust = 1.4826 * float(np.nanmedian(np.abs(offsets - offsets.median())))
    summary_priors = {"offset_std": float(offsets.std()), "offset_robust_std": robust,
                      "within_device_std_median": float(within_std.median())}
    print(f"\nSpread of device offsets (std of per-device median log residual): {float(offsets.std()):.3f}, robust "
          f"(1.4826 x MAD) {robust:.3f} "
          f"(planner prior DEVICE_OFFSET_STD {cal.DEVICE_OFFSET_STD}); median within-device log std: "
          f"{float(within_std.median()):.3f} (POINT_ERROR_STD {cal.POINT_ERROR_STD})")
    for label, (worst, median) in (refit_gap or {}).items():
        print(f"Recomputed correction vs a real fit_primitive refit on train + 3 planner points (first device), "
              f"{label}: |log difference| max {worst:.2e}, median {median:.2e}")
    print(f"Planning time on a device's rows: median {np.median(planning_s) * 1000:.1f} ms")
    return rank_summary, summary_priors


def _report_curves(curves: dict, costs: dict, devices: list, iterations: int, rank_summary: dict,
                   summary_priors: dict) -> dict:
    """The MdAPE curves per strategy, the cost spent and the goals; returns the JSON summary."""
    from inference_estimation.lib.ml import calibration as cal

    ks = [0, 1, 2, 3, 5, 7, 10]
    summary: dict = {"devices": devices, "iterations": iterations, "ranking": rank_summary, "curves": {},
                     "priors": summary_priors}
    for t in TARGETS:
        print(f"\n## {t}: MdAPE % on the device's remaining rows vs measurements (median over devices [q25-q75])")
        print("| strategy | " + " | ".join(f"k={k}" for k in ks) + " |")
        print("|---|" + "---|" * len(ks))
        for s in curves:
            arr = np.array(curves[s][t], dtype=float)
            med, q25, q75 = (np.nanmedian(arr, axis=0), np.nanpercentile(arr, 25, axis=0),
                             np.nanpercentile(arr, 75, axis=0))
            summary["curves"].setdefault(t, {})[s] = {"median": med.tolist(), "q25": q25.tolist(), "q75": q75.tolist()}
            print(f"| {s} | " + " | ".join(f"{med[k]:.1f} [{q25[k]:.1f}-{q75[k]:.1f}]" for k in ks) + " |")
    print("\n## Cost spent (median over devices, device-seconds: 4 generations of the measured e2e + 5 s per point)")
    print("| strategy | " + " | ".join(f"k={k}" for k in ks if k) + " |")
    print("|---|" + "---|" * (len(ks) - 1))
    for s in costs:
        med = np.median(np.array(costs[s]), axis=0)
        summary.setdefault("cost_s", {})[s] = med.tolist()
        print(f"| {s} | " + " | ".join(f"{med[k]:.0f}" for k in ks if k) + " |")

    print("\n## Goals")
    for t, estimator in itertools.product(TARGETS[:2], cal.ESTIMATORS):
        plan = np.array(summary["curves"][t][f"planner/{estimator}"]["median"])
        rand10 = summary["curves"][t][f"random/{estimator}"]["median"][10]
        reach = next((k for k in range(1, MAX_POINTS + 1) if plan[k] <= rand10), None)
        print(f"- {t}, {estimator} correction: random's 10-point MdAPE {rand10:.1f}%; the planner reaches it with "
              f"{reach if reach is not None else 'more than 10'} point(s) (goal <= 5: "
              f"{'met' if reach is not None and reach <= 5 else 'NOT met'}); planner at 5 points {plan[5]:.1f}% "
              f"(goal <= {GOALS[t]}%: {'met' if plan[5] <= GOALS[t] else 'NOT met'})")
    return summary


def _ranking_rows(device: str, dev: pd.DataFrame, base: dict, u: dict) -> pd.DataFrame:
    """The uncalibrated predictor's real errors on the device (mean over time primitives) beside each
    uncertainty, for the ranking measurement."""
    from inference_estimation.lib.ml.modeling import predict_primitive_log, scored_labels

    errs = []
    for p, fitted in base.items():
        y, _ = scored_labels(dev, p)
        errs.append(np.log(y) - predict_primitive_log(dataclasses.replace(fitted, hardware_correction={}), dev))
    signed = np.nanmean(np.vstack(errs), axis=0)
    return pd.DataFrame({"device": device, "signed": signed, **{f"u_{k}": v for k, v in u.items()}})


def _device_costs(catalog, device: str, dev: pd.DataFrame, base: dict) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Each point's planned cost (predicted run time: 1 warm-up + 3 trials + overhead), its true cost
    (measured where known) and the device's price per hour (None without one)."""
    from inference_estimation.lib.catalog import CatalogError
    from inference_estimation.lib.ml import calibration as cal

    before = answers({p: dataclasses.replace(f, hardware_correction={}) for p, f in base.items()}, dev)
    cost_s = cal.point_cost_s(cal.run_time_s(dev, before["e2e_latency_s"].to_numpy(), before["tpot_s"].to_numpy()))
    measured = {c: pd.to_numeric(dev[c], errors="coerce").to_numpy(dtype=float) for c in ("e2e_latency_s", "tpot_s")}
    tpot = np.where(np.isfinite(measured["tpot_s"]), measured["tpot_s"], before["tpot_s"].to_numpy())
    true_cost_s = cal.point_cost_s(np.where(np.isfinite(measured["e2e_latency_s"]), measured["e2e_latency_s"],
                                            cal.run_time_s(dev, before["e2e_latency_s"].to_numpy(), tpot)))
    try:
        hw = catalog.hw(device)
        price = (hw.specs.price_per_hour_usd or 0) * hw.device_count or None
    except CatalogError:
        price = None
    return cost_s, true_cost_s, price


def _held_out_devices(args) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """The training frame, which rows measured a time figure, and the devices held out in turn."""
    import duckdb

    from inference_estimation.lib.ml.coherent_evaluation import measured_mask

    con = duckdb.connect(args.warehouse, read_only=True)
    frame = con.execute("select * from marts.training_features").df()
    con.close()
    any_measured = np.zeros(len(frame), dtype=bool)
    for target in ("e2e_latency_s", "ttft_s", "tpot_s", "output_throughput_tok_s"):
        any_measured |= measured_mask(frame, target)
    counts = frame[any_measured].groupby("hardware_key").size().sort_values(ascending=False)
    devices = list(counts[counts >= args.min_rows].index)
    if args.devices:
        devices = devices[:: max(1, len(devices) // args.devices)][: args.devices]  # spread over sizes
    return frame, any_measured, devices


def _orders(dev, u: dict, cost_s, price, device: str, n_dev: int, estimator: str, random_seeds: int,
            planning_s: list) -> dict[str, list]:
    """The orders in which each strategy adds the device's rows (planner variants, random, corners)."""
    from inference_estimation.lib.ml import calibration as cal

    orders = {}
    for name, method, power in (("planner", "distance", 1.0), ("planner_ensemble", "ensemble", 1.0),
                                ("planner_nocost", "distance", 0.0)):
        plan = cal.plan_points(dev, u[method], cost_s, MAX_POINTS, price_per_hour_usd=price, method=method,
                               hardware_key=device, estimator=estimator, cost_power=power)
        planning_s.append(plan.planning_s)
        orders[name] = [plan.order]
    orders["random"] = [list(np.random.default_rng([seed, n_dev]).permutation(len(dev))[:MAX_POINTS])
                        for seed in range(random_seeds)]
    orders["corners"] = [cal.corner_order(dev, MAX_POINTS)]
    return orders


def _print_device_line(curves: dict, device: str, rows: int, started: float, t0: float) -> None:
    """One progress line per held-out device: TPOT MdAPE at k = 0 and 5 for the main strategies."""
    c = curves
    print(f"[{time.perf_counter() - started:6.0f}s] {device}: {rows} rows, tpot MdAPE k=0 "
          f"{c['planner/constant']['tpot_s'][-1][0]:.1f}%; k=5 planner/constant "
          f"{c['planner/constant']['tpot_s'][-1][5]:.1f}%, random/constant {c['random/constant']['tpot_s'][-1][5]:.1f}%"
          f", planner/local {c['planner/local']['tpot_s'][-1][5]:.1f}%, random/local "
          f"{c['random/local']['tpot_s'][-1][5]:.1f}% ({time.perf_counter() - t0:.0f}s)", flush=True)


def main() -> None:
    """Runs the simulation over the held-out devices and prints the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", default="/tmp/acc-home3/warehouse.duckdb",
                        help="a warehouse with marts.training_features (benchmarks/accuracy.py builds one); read-only")
    parser.add_argument("--iterations", type=int, default=150, help="CatBoost rounds per fit (served: 600)")
    parser.add_argument("--min-rows", type=int, default=20)
    parser.add_argument("--devices", type=int, default=0, help="at most this many devices (0: all)")
    parser.add_argument("--random-seeds", type=int, default=5)
    parser.add_argument("--out", default=None, help="write the curves as JSON here")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from inference_estimation.lib.catalog import load_catalog
    from inference_estimation.lib.ml import calibration as cal
    from inference_estimation.lib.ml.modeling import fit_phase_estimate, fit_primitive
    from inference_estimation.lib.ml.performance_model import TIME_PRIMITIVES

    started = time.perf_counter()
    frame, any_measured, devices = _held_out_devices(args)
    catalog = load_catalog(strict=True)
    print(f"training_features: {len(frame)} rows; held-out devices ({len(devices)}, >= {args.min_rows} measured "
          f"time rows): {', '.join(devices)}; {args.iterations} CatBoost rounds per fit\n")

    curves: dict[str, dict[str, list[list[float]]]] = {}
    costs: dict[str, list[list[float]]] = {}
    ranking: list[pd.DataFrame] = []
    refit_gap = None
    planning_s = []
    for n_dev, device in enumerate(devices):
        t0 = time.perf_counter()
        is_dev = (frame["hardware_key"] == device).to_numpy()
        train = frame[~is_dev]
        dev = frame[is_dev & any_measured].reset_index(drop=True)
        phase = fit_phase_estimate(train, "physics", 0)
        base = {p: fit_primitive(train, p, 0, args.iterations, phase) for p in TIME_PRIMITIVES}
        ensemble = cal.fit_ensemble(train, iterations=args.iterations)
        u = {"distance": cal.distance_uncertainty(train, dev), "ensemble": cal.ensemble_uncertainty(ensemble, dev)}
        ranking.append(_ranking_rows(device, dev, base, u))
        cost_s, true_cost_s, price = _device_costs(catalog, device, dev, base)
        train_resid = {p: _residuals(f, train, p, phase) for p, f in base.items()}
        uncorrected = {p: dataclasses.replace(f, hardware_correction={}) for p, f in base.items()}
        for estimator in cal.ESTIMATORS:
            orders = _orders(dev, u, cost_s, price, device, n_dev, estimator, args.random_seeds, planning_s)
            error_model = {m: cal.DeviceErrorModel.fit(dev, u[m]) for m in cal.UNCERTAINTY_METHODS}
            for strategy, order_list in orders.items():
                key = f"{strategy}/{estimator}"
                method = "ensemble" if strategy == "planner_ensemble" else "distance"
                per_order = {t: [] for t in TARGETS}
                per_cost = []
                for order in order_list:
                    scores = {t: [] for t in TARGETS}
                    for k in range(0, MAX_POINTS + 1):
                        chosen = dev.iloc[order[:k]]
                        rest = dev.drop(index=dev.index[order[:k]])
                        if estimator == "constant":
                            fits = {p: calibrated(f, train_resid[p], chosen, p, phase) for p, f in base.items()}
                            pred = answers(fits, rest)
                        else:
                            pred = local_answers(uncorrected, chosen, rest, phase, error_model[method],
                                                 u[method][order[:k]], u[method][rest.index])
                        for t in TARGETS:
                            scores[t].append(mdape(rest, pred, t))
                        if refit_gap is None and key == "planner/constant" and k == 3:
                            refit_gap = refit_check(train, chosen, rest, phase, fits, args.iterations)
                    for t in TARGETS:
                        per_order[t].append(scores[t])
                    per_cost.append(np.cumsum([0.0] + [true_cost_s[i] for i in order]).tolist())
                for t in TARGETS:
                    curves.setdefault(key, {}).setdefault(t, []).append(
                        np.nanmedian(np.array(per_order[t], dtype=float), axis=0).tolist())
                costs.setdefault(key, []).append(np.median(np.array(per_cost), axis=0).tolist())
        _print_device_line(curves, device, len(dev), started, t0)

    rank_summary, summary_priors = _report_ranking(ranking, refit_gap, planning_s)
    summary = _report_curves(curves, costs, devices, args.iterations, rank_summary, summary_priors)
    print(f"\ntotal {time.perf_counter() - started:.0f}s")
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2, default=float))


if __name__ == "__main__":
    main()
