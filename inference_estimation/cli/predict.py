"""``predict``, ``recommend`` and ``evaluate``: answers from the trained predictors, as text or JSON.

They load model files, reports and the catalog only (no Dagster), so a cold ``predict`` is quick;
the text formatting of each answer lives here too.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

from inference_estimation.cli.args import lenient_catalog, print_error

#: Exit status of a setup that cannot run (a refusal: the reason, no numbers).
EXIT_REFUSED = 3


def _setup_line(echo: dict[str, Any], defaulted: list[str]) -> str:
    """The ``setup:`` line: what is predicted, and which settings took their defaults."""
    load = (f", concurrency {echo['concurrency']}" if echo.get("concurrency") else "") + \
        (f", {echo['request_rate_rps']:g} req/s" if echo.get("request_rate_rps") else "")
    taken = f" (defaults: {', '.join(defaulted)})" if defaulted else ""
    # a serving question is about the load, not a batch (the batch formed is what the load keeps in flight)
    batch = "" if echo["mode"] == "serving" else f"batch {echo['batch_size']}, "
    return (f"setup: {echo['model']} on {echo['devices']}, {echo['engine']}, "
            f"{echo['dtype']}{' weight-only' if echo.get('weight_only') else ''}, {batch}{echo['input_tokens']}+{echo['output_tokens']} tokens, "
            f"{echo['mode']}{load}, source {echo['source']}{taken}")


def predict_command(args: argparse.Namespace) -> int:
    """``predict``: every target for one setup (or each row of a CSV); a setup that cannot run is refused."""
    from inference_estimation.lib.catalog import CatalogError
    from inference_estimation.lib.home import activate_home
    from inference_estimation.lib.ml.explain import explain_prediction
    from inference_estimation.lib.ml.predict import (
        PredictorsMissingError,
        SetupRefused,
        predict_setup,
        predictor_folders,
        resolve_setup,
        workload,
    )

    home = activate_home(args.home)
    if args.input:
        return _predict_file(args, home)
    required = ["model", "hardware", "input_tokens", "output_tokens"]
    if args.mode == "offline" or (args.concurrency is None and args.request_rate_rps is None):
        required.insert(2, "batch_size")
    missing = [f"--{k.replace('_', '-')}" for k in required if getattr(args, k) is None]
    if missing:
        print(f"error: missing {', '.join(missing)} (or use --input FILE --output FILE; a serving question "
              "takes --mode serving with --concurrency or --request-rate-rps instead of --batch-size)", file=sys.stderr)
        return 2
    defaulted = _defaulted(args)
    try:
        work = workload(args.batch_size, args.input_tokens, args.output_tokens, engine=args.engine,
                        dtype=args.dtype, device_count=args.device_count, mode=args.mode, source=args.source,
                        concurrency=args.concurrency, request_rate_rps=args.request_rate_rps)
        catalog = lenient_catalog()
        setup = resolve_setup(catalog, args.model, args.hardware, work)
        echo = setup.echo()
        if setup.refusal:
            raise SetupRefused(setup)
        result = predict_setup(setup, home.predictors_dir, allow_unpromoted=args.allow_unpromoted)
        explanations = {}
        if args.explain:
            for target in (t for t, p in result.items() if p["value"] is not None):
                explanations[target] = explain_prediction(catalog, home.predictors_dir, args.model, args.hardware, work, target,
                                               allow_unpromoted=args.allow_unpromoted)
        if not any(p["value"] is not None for p in result.values()):
            setup.refusal = _no_figure_refusal(result)  # an answer of n/a only is a refusal with the reason
            raise SetupRefused(setup)
    except SetupRefused as exc:
        if args.format == "json":
            print(json.dumps({"setup": exc.setup.echo(), "refusal": str(exc)}, indent=2))
        else:
            print(_setup_line(exc.setup.echo(), defaulted))
            print(f"refused: {exc}")
        return EXIT_REFUSED
    except (CatalogError, PredictorsMissingError, ValueError) as exc:
        print_error(exc)
        return 2
    left_out = sorted(set(predictor_folders(home.predictors_dir, allow_unpromoted=True)) - set(result))
    if left_out:
        print(f"note: trained but not promoted, left out: {', '.join(left_out)} "
              "(--allow-unpromoted shows them, flagged)", file=sys.stderr)
    if args.format == "json":
        for target, ex in explanations.items():
            result[target]["explanation"] = {k: v for k, v in ex.items() if k != "target"}
        print(json.dumps({"setup": echo, "notes": setup.notes, "predictions": result}, indent=2))
        return 0
    _print_answer(echo, defaulted, setup.notes, result, explanations)
    return 0


def _defaulted(args: argparse.Namespace) -> list[str]:
    """The settings a question leaves to their defaults: not given, nor stated by a name (``8x H200``
    states its device count, ``Llama-3.1-8B-Instruct-FP8`` its dtype)."""
    from inference_estimation.lib.catalog.names import parse_hardware
    from inference_estimation.lib.catalog.vocabulary import VocabularyError, dtype_named_by

    try:
        named_dtype = dtype_named_by(args.model)
    except VocabularyError:  # resolve_setup refuses the name, saying why
        named_dtype = None
    named_count = parse_hardware(args.hardware).count
    return [name for name, value in (("engine", args.engine), ("dtype", args.dtype or named_dtype),
                                     ("device count", args.device_count or named_count)) if value is None]


def _no_figure_refusal(result: dict[str, Any]) -> str:
    """Why a setup that passed every rule got no figure at all: each target's reason, once."""
    reasons = list(dict.fromkeys(p["reason"] for p in result.values() if p.get("reason")))
    why = "; ".join(reasons) if reasons else "the predictors gave no figure for it (a fact the physics needs is missing)"
    return f"no figure could be predicted for this setup: {why}"


def _predict_file(args: argparse.Namespace, home: Any) -> int:
    """``predict --input configs.csv --output predictions.csv``: every row, refusals per row."""
    from pathlib import Path

    from inference_estimation.lib.ml.batch_predict import predict_batch
    from inference_estimation.lib.ml.predict import BatchInputError, PredictorsMissingError

    if not args.output:
        print("error: --input needs --output", file=sys.stderr)
        return 2
    try:
        t0 = time.perf_counter()
        stats: dict[str, int] = {}
        n = predict_batch(lenient_catalog(), home.predictors_dir, Path(args.input), Path(args.output),
                          allow_unpromoted=args.allow_unpromoted, stats=stats)
    except (BatchInputError, PredictorsMissingError) as exc:
        print_error(exc)
        return 2
    refused = f"; {stats['refused']} refused (see the refusal column)" if stats.get("refused") else ""
    print(f"{n} rows predicted in {time.perf_counter() - t0:.2f}s{refused} -> {args.output}")
    return 0


def _print_answer(echo: dict[str, Any], defaulted: list[str], notes: list[str], result: dict[str, Any],
                  explanations: dict[str, Any]) -> None:
    """The text answer: setup, memory, notes and warnings, then one line per target (and its explanation)."""
    print(_setup_line(echo, defaulted))
    if "memory" in echo:
        m = echo["memory"]
        # a paged engine's figure is its scheduler's (the KV cache by its own rule and its sequence
        # limit): the sequences it runs at once, the saturation batch of ``--batch-size max``
        held = (f"{echo['engine']} runs up to {m['max_batch']} sequences at once (its KV cache and sequence limit)"
                if m.get("paged") else f"the KV cache holds up to {m['max_batch']} sequences of "
                f"{echo['input_tokens'] + echo['output_tokens']} tokens at once")
        print(f"memory: needs about {m['required_gb']:.1f} GB of {m['usable_gb']:.1f} GB usable "
              f"(weights {m['weights_gb']:.1f} GB); {held}")
    for note in notes:
        print(f"note: {note}")
    for warning in dict.fromkeys(w for p in result.values() for w in p.get("warnings", [])):
        print(f"warning: {warning}")
    seen = seen_line(result)
    if seen:
        print(seen)
    for target, p in result.items():
        if p["value"] is None and p.get("estimate"):  # a rule's estimate, labelled as such
            e = p["estimate"]
            print(f"{target:26s} {e['value']:.4g} {e['unit']}  (estimate, not predicted: {e['basis']}; "
                  f"{p.get('reason', 'no prediction')})")
            continue
        if p["value"] is None:
            print(f"{target:26s} n/a ({p.get('reason', 'no prediction')})")
            continue
        interval = (f"  [90%: {p['lower_90']:.4g} - {p['upper_90']:.4g}]" if p["lower_90"] is not None else "")
        flag = "" if p["promoted"] else "  (not promoted: did not beat its baselines)"
        derived = f"  (= {p['identity']})" if p.get("identity") else ""  # generated from the target registry
        print(f"{target:26s} {p['value']:.4g} {p['unit']}{interval}{flag}{derived}")
        if target in explanations and "terms_at_peak_s" in explanations[target]:
            _print_step_explanation(explanations[target])
        if target in explanations and "physics_known" in explanations[target]:
            ex = explanations[target]
            base = "physics baseline" if ex["physics_known"] else "constant baseline (physics unknown)"
            device = (f" x this device's own measurements {ex['hardware_correction_factor']:.3f}"
                      if abs(ex.get("hardware_correction_factor", 1.0) - 1.0) > 1e-9 else "")
            print(f"    = {base} {ex['physics_baseline']:.4g} x base correction {ex['base_correction']:.3f}"
                  f" x the factors below x remainder {ex['remainder']:.3f} (all other features){device}")
            for c in ex["contributions"]:
                value = f"{c['value']:.4g}" if isinstance(c["value"], float) else c["value"]
                print(f"      x{c['factor']:.3f}  {c['feature']} = {value}")


def _print_prefill_explanation(ex: dict[str, Any]) -> None:
    """The step model's account of a TTFT: the prompt's prefill, the scheduler's prefill steps, the server."""
    t, eta, o = ex["prompt_terms_at_peak_s"], ex["efficiencies"], ex["overheads_s"]
    n_in = ex["prompt_tokens"]
    print(f"    = {ex['model']}: one {n_in:.0f}-token prompt alone prefills in {ex['prompt_alone_s'] * 1e3:.3g} ms "
          f"(tensor parallel {ex['tensor_parallel']:.0f}, {ex['replicas']:.0f} replica(s))")
    print(f"      GEMM {t['gemm'] * 1e3:.3g} ms at peak / efficiency {eta['gemm']:.2f}; weights {t['weights'] * 1e3:.3g} ms "
          f"/ {eta['memory']:.2f}; attention {t['attention'] * 1e3:.3g} ms / {eta['attention']:.2f}; KV cache writes "
          f"{t['kv_cache'] * 1e3:.3g} ms / {eta['kv_memory']:.2f}; collectives {t['collectives'] * 1e3:.3g} ms / "
          f"{eta['link']:.2f}")
    if ex["serving"]:
        how = (f"serving: it waits for a step, then its prompt's chunks run beside the other requests' decodes "
               f"(prefill step {ex['prefill_step_s'] * 1e3:.3g} ms), and a server adds "
               f"{o['ttft_overhead'] * 1e3:.3g} ms before the first token")
    elif ex["batch"] == ex["batch"] and ex["batch"] > 1:
        how = (f"offline: the batch's {ex['batch']:.0f} prompts arrive at once, so a request waits for the prefill "
               f"ahead of it (prefill steps of {ex['prefill_step_s'] * 1e3:.3g} ms on average)")
    else:
        how = f"offline: prefill steps of {ex['prefill_step_s'] * 1e3:.3g} ms on average before the first token"
    print(f"      TTFT: {how}")
    if ex.get("campaign_factor") and abs(ex["campaign_factor"] - 1.0) > 1e-6:
        print(f"      x {ex['campaign_factor']:.3f} from the campaign or your calibration")


def _print_step_explanation(ex: dict[str, Any]) -> None:
    """The step model's account of a time answer: terms at peak, efficiencies, overheads, batch."""
    if ex["target"] == "ttft_s" and "prompt_alone_s" in ex:
        _print_prefill_explanation(ex)
        return
    t, eta, o = ex["terms_at_peak_s"], ex["efficiencies"], ex["overheads_s"]
    print(f"    = {ex['model']}: decode step {ex['decode_step_s'] * 1e3:.3g} ms at {ex['running_batch']:.0f} running "
          f"sequences (tensor parallel {ex['tensor_parallel']:.0f}, {ex['replicas']:.0f} replica(s))")
    print(f"      GEMM {t['gemm'] * 1e3:.3g} ms at peak / efficiency {eta['gemm']:.2f}; weights {t['weights'] * 1e3:.3g} ms "
          f"at peak bandwidth / efficiency {eta['memory']:.2f}; KV cache {t['kv_cache'] * 1e3:.3g} ms / "
          f"{eta['kv_memory']:.2f}; attention "
          f"{t['attention'] * 1e3:.3g} ms / {eta['attention']:.2f}; collectives {t['collectives'] * 1e3:.3g} ms / "
          f"{eta['link']:.2f} + {t['collective_calls']:.0f} calls x {o['collective_latency'] * 1e6:.3g} us")
    print(f"      overheads: {o['step_overhead'] * 1e6:.3g} us per step, {o['layer_overhead'] * 1e6:.3g} us per layer, "
          f"{o['seq_overhead'] * 1e6:.3g} us per sequence")
    if ex.get("campaign_factor") and abs(ex["campaign_factor"] - 1.0) > 1e-6:
        print(f"      x {ex['campaign_factor']:.3f} from the campaign or your calibration")


def _price_lines(table: Any, rank_by: str, width: int) -> list[str]:
    """The ranking rule and the $/h each shown row used, with a note when the prices mix kinds of provider."""
    import textwrap

    ranking = ("fewest devices, then energy per token (cost breaks ties)" if rank_by == "devices"
               else "cost per token (devices without a cited price after the priced)")
    lines = [f"ranked by {ranking}", "$/h used, per device (on-demand list price, source, date read):"]
    for _, row in table.iterrows():
        price = row.get("price_per_device_hour_usd")
        used = "-" if price is None or (isinstance(price, float) and math.isnan(price)) else f"${price:.4g}/h"
        lines.extend(textwrap.wrap(f"{row['hardware']}: {used}, {row['price_source']}", width=width,
                                   initial_indent="  ", subsequent_indent="      "))
    kinds = table.get("price_provider_kind")
    if kinds is not None and {"hyperscaler", "GPU cloud"} <= set(kinds.dropna()):
        hyperscaler = ", ".join(table.loc[kinds == "hyperscaler", "hardware"])
        lines.extend(textwrap.wrap(
            f"note: these prices mix hyperscaler rates ({hyperscaler}) with GPU-cloud rates (the others); "
            "hyperscaler list prices run higher, so $/Mtok compares providers as well as devices",
            width=width, initial_indent="  ", subsequent_indent="      "))
    return lines


def _short_keys(keys: list[str], width: int) -> list[str]:
    """Hardware keys that fit ``width``: a longer key keeps its leading words and its last one, joined by
    ``~`` (``nvidia-rtx-pro-6000~workstation``), so variants stay told apart; one that would clash stays whole."""
    short = []
    for key in keys:
        parts = key.split("-")
        head = next((i for i in range(len(parts) - 1, 0, -1) if len("-".join(parts[:i])) + 1 + len(parts[-1]) <= width),
                    None)
        short.append(key if len(key) <= width or head is None else "-".join(parts[:head]) + "~" + parts[-1])
    return [s if short.count(s) == 1 else k for s, k in zip(short, keys, strict=True)]


def _recommend_text(rec: Any, show_dropped: bool, top: int, width: int = 100) -> str:
    """The ranked table (the first ``top`` rows, a tie on every rank key kept whole), how many
    ranked rows are not shown, and the dropped hardware, in ``width`` columns."""
    import textwrap

    shown = rec.shown(top)
    table = shown.copy()
    rest = 66 + (8 if "devices_for_rps" in table else 0)  # the other columns and their separators
    names = _short_keys(list(table["hardware"]), max(width - rest, 24))
    table["hardware"] = names
    cols = [("hardware", "hardware", max([len("hardware"), *map(len, names)]), "s"), ("devices", "dev", 3, "d"), ("batch_size", "batch", 5, "d"),
            ("concurrency", "conc", 4, "d"),
            ("dtype", "dtype", 8, "s"), ("ttft_s", "TTFT ms", 8, "ms"), ("tpot_s", "TPOT ms", 8, "ms"),
            ("output_throughput_tok_s", "tok/s", 8, "g"), ("usd_per_million_tokens", "$/Mtok", 7, "g"),
            ("energy_per_output_token_j", "J/tok", 6, "g"), ("devices_for_rps", "dev@rps", 7, "g")]
    cols = [c for c in cols if c[0] in table]

    def cell(value: Any, kind: str, size: int) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-".rjust(size)
        if kind == "s":
            return str(value).ljust(size)  # never cut: two keys can share a long prefix
        if kind == "d":
            return f"{int(value)}".rjust(size)
        if kind == "ms":
            value *= 1000
        return (f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}").rjust(size)

    s = rec.setup
    lines = textwrap.wrap(f"{s['model']}: {s['input_tokens']}+{s['output_tokens']} tokens, engine {s['engine']}, "
                          f"dtype {s['dtype']}"
                          + (f", TTFT <= {s['max_ttft_s'] * 1000:g} ms" if s["max_ttft_s"] else "")
                          + (f", TPOT <= {s['max_tpot_s'] * 1000:g} ms" if s["max_tpot_s"] else "")
                          + (f", {s['rps']:g} req/s" if s["rps"] else ""), width=width, subsequent_indent="  ")
    if not table.empty and "price_source" in table:
        lines.extend(_price_lines(shown, s.get("rank_by", "devices"), width))  # full keys here
    if not table.empty:
        lines.append(" ".join(h.ljust(size) if kind == "s" else h.rjust(size) for _, h, size, kind in cols))
        for _, row in table.iterrows():
            lines.append(" ".join(cell(row[c], kind, size) for c, _, size, kind in cols))
        more = len(rec.table) - len(table)
        if more:
            lines.append(f"{more} more ranked row(s) not shown (--top {len(rec.table)} shows all)")
    else:
        lines.append("no hardware fits the model and meets the limits; why each was dropped:")
    if show_dropped or table.empty:
        lines.append(f"dropped ({len(rec.dropped)}):")
        for _, row in rec.dropped.iterrows():
            lines.extend(textwrap.wrap(f"{row['hardware']}: {row['reason']}", width=width, initial_indent="  ",
                                       subsequent_indent="      "))
    elif len(rec.dropped):
        lines.append(f"{len(rec.dropped)} hardware dropped (--show-dropped says why)")
    return "\n".join(line.rstrip() for line in lines)


def recommend_command(args: argparse.Namespace) -> int:
    """``recommend``: the catalog's hardware ranked for serving a model (exit 1 when none fits)."""
    from inference_estimation.lib.catalog import CatalogError
    from inference_estimation.lib.home import activate_home
    from inference_estimation.lib.ml.predict import PredictorsMissingError, SetupRefused
    from inference_estimation.lib.ml.recommend import recommend

    home = activate_home(args.home)
    try:
        rec = recommend(lenient_catalog(), home.predictors_dir, args.model, args.input_tokens, args.output_tokens,
                        max_ttft_s=args.max_ttft_ms / 1000 if args.max_ttft_ms else None,
                        max_tpot_s=args.max_tpot_ms / 1000 if args.max_tpot_ms else None, rps=args.rps,
                        engine=args.engine, dtype=args.dtype, source=args.source, max_devices=args.max_devices,
                        allow_unpromoted=args.allow_unpromoted, rank_by=args.rank_by)
    except SetupRefused as exc:
        print(f"refused: {exc}")
        return EXIT_REFUSED
    except (CatalogError, PredictorsMissingError, ValueError) as exc:
        print_error(exc)
        return 2
    if args.format == "json":
        shown = rec.shown(args.top)
        print(json.dumps({"setup": rec.setup, "recommendations": json.loads(shown.to_json(orient="records")),
                          "more_ranked": len(rec.table) - len(shown),
                          "dropped": rec.dropped.to_dict(orient="records")}, indent=2))
    else:
        print(_recommend_text(rec, args.show_dropped, args.top))
    return 0 if not rec.table.empty else 1


def evaluate_command(args: argparse.Namespace) -> int:
    """``evaluate``: the predictors' evaluation tables (or their JSON) from the home's reports."""
    from inference_estimation import constants
    from inference_estimation.lib.home import activate_home

    home = activate_home(args.home)
    found = {}
    for target in constants.PRIMITIVES:
        path = home.reports_dir / target / "evaluation.json"
        if path.exists():
            found[target] = json.loads(path.read_text())
    coherent = home.reports_dir / "performance_model" / "evaluation.json"
    if not found:
        print(f"error: no evaluation in {home.reports_dir}; run `inference-estimation sweep` first", file=sys.stderr)
        return 2
    if args.format == "json":
        if coherent.exists():
            found["performance_model"] = json.loads(coherent.read_text())
        print(json.dumps(found, indent=2))
    else:
        from inference_estimation.lib.ml.evaluation import TargetEvaluation, comparison_table

        for target in found:
            print((home.reports_dir / target / "evaluation.md").read_text())
        evaluations = [TargetEvaluation(target=d["target"], rows=d["rows"], splits=d["splits"], skipped=d["skipped"])
                       for d in found.values()]
        print("### Leave-one-hardware-out: MdAPE % by learner and baseline (best learner in bold)\n")
        print(comparison_table(evaluations, split="leave_one_hardware_out"))
        if coherent.exists():  # every answer target, derived from the primitives as predict serves them
            print()
            print((coherent.parent / "evaluation.md").read_text())
    return 0


def seen_line(result: dict[str, dict[str, Any]]) -> str | None:
    """What the time primitives learned from this setup's hardware and model, as one line (None: unknown).

    One count when TTFT and TPOT were trained on the same rows of it, else each primitive's own: a
    model can be in TPOT's rows (decode-only public data) and not in TTFT's, and "0 of this model"
    alone would hide that the decode half has seen it.
    """
    seen = {t: p["measurements_seen"] for t, p in result.items() if t in ("ttft_s", "tpot_s")
            and p.get("measurements_seen") is not None}
    if not seen:
        return None
    counts = {(s["hardware"], s["model"]) for s in seen.values()}
    if len(counts) == 1:
        hardware_rows, model_rows = counts.pop()
        text = f"{hardware_rows} measurements on this hardware, {model_rows} of this model"
    else:
        text = "; ".join(f"{t.removesuffix('_s').upper()} from {s['hardware']} measurements on this hardware, "
                         f"{s['model']} of this model" for t, s in seen.items())
    new_hardware = all(s["hardware"] == 0 for s in seen.values())
    return f"seen in training: {text}" + (" (new hardware: predicted from its spec sheet)" if new_hardware else "")
