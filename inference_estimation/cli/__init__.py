"""The ``inference-estimation`` command: run sweeps through Dagster, predict, inspect the catalog.

One module per seam: :mod:`~inference_estimation.cli.sweep` sequences the Dagster jobs (``sweep``,
``refresh``, ``import``), :mod:`~inference_estimation.cli.predict` answers from the trained
predictors (``predict``, ``recommend``, ``evaluate``), :mod:`~inference_estimation.cli.catalog`,
:mod:`~inference_estimation.cli.calibrate` and :mod:`~inference_estimation.cli.ui` do what they
say, and :mod:`~inference_estimation.cli.args` holds what they share. This module is the argument
tree and the entry point. Heavy imports (Dagster, pandas, CatBoost) happen inside the commands,
so a cold ``predict`` imports no Dagster.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from inference_estimation.cli.args import DEFAULTS_HELP, Parser, batch_size_arg, vocabulary_arg
from inference_estimation.cli.calibrate import calibrate_command
from inference_estimation.cli.catalog import catalog_command
from inference_estimation.cli.predict import (
    EXIT_REFUSED,
    evaluate_command,
    predict_command,
    recommend_command,
)
from inference_estimation.cli.sweep import import_command, import_description, sweep_command
from inference_estimation.cli.ui import ui_command
from inference_estimation.constants import DEFAULT_SWEEP  # constants only: a light import

__all__ = ["build_parser", "main"]


def _add_pipeline_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """sweep, refresh and import: the commands that run the graph."""
    p = sub.add_parser("sweep", parents=[common], help="materialize the whole graph for a sweep (the main job)")
    p.add_argument("--sweep", action="append", default=None,
                   help=f"sweep name from the catalog; repeat for several (default: {DEFAULT_SWEEP})")
    p.add_argument("--log-level", default="CRITICAL",
                   help="Dagster console log level (INFO shows every event; failures are summarised either way)")
    p.add_argument("--external-from", default=None,
                   help="folder holding the public dataset folders to import first (default: "
                        "$INFERENCE_ESTIMATION_EXTERNAL_DIR, else download them from their pinned public URLs)")
    p.add_argument("--no-external", action="store_true", help="do not import public datasets")
    p.add_argument("--all-primitives", action="store_true",
                   help="also train the CatBoost time primitives (ttft_s, tpot_s: the previous design, kept for "
                        "comparison and SHAP); by default only what `predict` serves beside the step-time model")
    p.add_argument("--verbose", action="store_true",
                   help="show what each job prints (dbt's log lines); by default only a failed job's output is shown")
    p.set_defaults(func=sweep_command)

    p = sub.add_parser("refresh", parents=[common],
                       help="rebuild the marts and retrain, evaluate and promote the predictors from what is already "
                            "in the warehouse (after `import user-csv` or an import), benchmarking nothing")
    p.add_argument("--log-level", default="CRITICAL", help="Dagster console log level")
    p.add_argument("--verbose", action="store_true", help="show what each job prints (dbt's log lines)")
    p.add_argument("--all-primitives", action="store_true",
                   help="also retrain the CatBoost time primitives (ttft_s, tpot_s)")
    p.set_defaults(func=sweep_command, refresh_only=True, sweep=None, no_external=True, external_from=None)

    p = sub.add_parser("import", parents=[common], describe=import_description,
                       help="import a public dataset (or `all`, or `user-csv`) into the warehouse; "
                            "`import --help` lists the sources")
    p.add_argument("source", help="source name (see above), `all` (every public dataset) or `user-csv`")
    p.add_argument("--from", dest="from_path", default=None,
                   help="folder holding the dataset folders (default: $INFERENCE_ESTIMATION_EXTERNAL_DIR, "
                        "else download the pinned public files); for user-csv, a folder of canonical CSVs "
                        "(default: $INFERENCE_ESTIMATION_HOME/imports)")
    p.add_argument("--log-level", default="CRITICAL",
                   help="Dagster console log level (INFO shows every event; a failure prints one line either way)")
    p.set_defaults(func=import_command)


def _add_predict_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """predict: one configuration, or a CSV of them."""
    p = sub.add_parser("predict", parents=[common], help="predict latency/throughput/power for a configuration",
                       description="Predict every target for one configuration (or a CSV of them). A setup that "
                                   f"cannot run is refused with the reason (exit {EXIT_REFUSED}), never answered.")
    p.add_argument("--model", help="model key, Hugging Face id or alias")
    p.add_argument("--hardware", help="hardware key or alias")
    p.add_argument("--batch-size", type=batch_size_arg,
                   help="sequences per batch, or `max` (the largest batch whose KV cache fits); not needed "
                        "with --mode serving and --concurrency or --request-rate-rps")
    p.add_argument("--input-tokens", type=int, help="prompt tokens per sequence")
    p.add_argument("--output-tokens", type=int, help="generated tokens per sequence")
    p.add_argument("--input", help="CSV of configurations to predict (columns: see the README); needs --output")
    p.add_argument("--output", help="CSV to write predictions to")
    p.add_argument("--explain", action="store_true",
                   help="take each prediction apart: the step model's terms, efficiencies and overheads for time "
                        "targets; baseline x base correction x top SHAP factors x remainder for power and memory")
    p.add_argument("--engine", type=vocabulary_arg("engine"), default=None,
                   help=f"engine (vllm, sglang, tensorrt-llm, transformers, llama.cpp, ... or a synonym); {DEFAULTS_HELP}")
    p.add_argument("--dtype", type=vocabulary_arg("dtype"), default=None,
                   help=f"weights dtype (float32, bfloat16, float16, fp8, int8, fp4, int4 or a synonym such as "
                        f"bf16, nvfp4, mxfp4, awq, q4_k_m); {DEFAULTS_HELP}")
    p.add_argument("--device-count", type=int, default=None,
                   help="devices the model is spread over (default: the hardware entry's count)")
    p.add_argument("--mode", choices=["offline", "serving"], default="offline",
                   help="offline: a fixed batch; serving: a concurrency or a request rate")
    p.add_argument("--concurrency", type=int, default=None, help="requests in flight (with --mode serving)")
    p.add_argument("--request-rate-rps", "--request-rate", dest="request_rate_rps", type=float, default=None,
                   help="requests per second (with --mode serving)")
    p.add_argument("--source", default="local",
                   help="whose measurement conventions to predict (local: this project's harness; or a source "
                        "the predictors were trained on)")
    p.add_argument("--allow-unpromoted", action="store_true",
                   help="also use predictors that did not beat their baselines (flagged in the output)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.set_defaults(func=predict_command)


def _add_recommend_command(sub: Any, common: argparse.ArgumentParser) -> None:
    """recommend: hardware for a model under service-level limits."""
    p = sub.add_parser("recommend", parents=[common], help="rank hardware for a model by devices needed, energy and cost",
                       description="Rank every accelerator of the catalog for serving a model: device counts "
                                   "1, 2, 4, 8, offline batches up to the largest whose KV cache fits and servers "
                                   "at each concurrency are searched; each hardware keeps its best candidate within "
                                   "the limits, ranked by the fewest devices (for --rps: for the rate), then energy per "
                                   "token (--rank-by cost: cost first); each row names the $/h it used, its "
                                   "source and the date it was read.")
    p.add_argument("--model", required=True, help="model key, Hugging Face id or alias")
    p.add_argument("--input-tokens", type=int, required=True, help="prompt tokens per request")
    p.add_argument("--output-tokens", type=int, required=True, help="generated tokens per request")
    p.add_argument("--max-ttft-ms", type=float, default=None, help="limit on the predicted time to first token (ms)")
    p.add_argument("--max-tpot-ms", type=float, default=None, help="limit on the predicted time per output token (ms)")
    p.add_argument("--rps", type=float, default=None, help="requests per second to serve (sizes the fleet)")
    p.add_argument("--engine", type=vocabulary_arg("engine"), default=None, help=f"engine; {DEFAULTS_HELP}")
    p.add_argument("--dtype", type=vocabulary_arg("dtype"), default=None,
                   help=f"weights dtype; {DEFAULTS_HELP}; a device without that math is dropped")
    p.add_argument("--max-devices", type=int, default=8, help="most devices per replica to consider")
    p.add_argument("--rank-by", choices=["devices", "cost"], default="devices",
                   help="devices: fewest devices needed, then energy per token, cost only breaking ties (a "
                        "device without a cited price is never ranked below a priced one); cost: cost per "
                        "token first, unpriced devices after the priced")
    p.add_argument("--source", default="local", help="whose measurement conventions to predict")
    p.add_argument("--top", type=int, default=10,
                   help="rows of the ranking to show (a tie on the first rank key is shown whole; the output "
                        "says how many ranked rows are left out)")
    p.add_argument("--show-dropped", action="store_true", help="say why each hardware left out was dropped")
    p.add_argument("--allow-unpromoted", action="store_true",
                   help="also use predictors that did not beat their baselines")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.set_defaults(func=recommend_command)


def _add_other_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """evaluate, ui, calibrate and catalog."""
    p = sub.add_parser("evaluate", parents=[common], help="print the predictors' evaluation tables")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.set_defaults(func=evaluate_command)

    p = sub.add_parser("ui", parents=[common], help="start the Dagster UI on this machine's loopback")
    p.add_argument("--host", default="127.0.0.1", help="bind address (loopback unless told otherwise)")
    p.add_argument("--port", type=int, default=3000, help="port")
    p.set_defaults(func=ui_command)

    p = sub.add_parser("calibrate", parents=[common], help="plan (and benchmark) the few points that calibrate a device best")
    p.add_argument("--hardware", default=None, help="hardware key or alias (benchmarking needs a launcher; --dry-run plans any device)")
    p.add_argument("--from", dest="from_csv", default=None, metavar="FILE.csv",
                   help="calibrate the step model from your own measurements (canonical CSV) in seconds, "
                        "one calibration per device and engine in it")
    p.add_argument("--points", type=int, default=5, help="points to plan (k)")
    p.add_argument("--model", dest="models", action="append", default=None, metavar="MODEL",
                   help="plan points for this model (repeatable; default: the sweep's models)")
    p.add_argument("--sweep", default=None, help="sweep whose grid and settings to use (default: one covering it)")
    p.add_argument("--uncertainty", choices=["distance", "ensemble"], default="distance")
    p.add_argument("--dry-run", action="store_true", help="print the plan only; benchmark nothing")
    p.add_argument("--no-refresh", action="store_true", help="benchmark the points but do not rebuild and retrain")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--log-level", default="WARNING")
    p.set_defaults(func=calibrate_command)

    p = sub.add_parser("catalog", parents=[common], help="validate and list the catalog, or `catalog show KEY`")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list",
                   help="list every key, or show one entry (specs, aliases, spec sources)")
    p.add_argument("key", nargs="?", help="for show: a model, hardware or sweep key, or an alias")
    p.add_argument("--check-specs-from", default=None,
                   help="folder holding wattgpu_watt_counts (or that folder): list spec facts where the catalog "
                        "and WattGPU's GPU table differ beyond --spec-tolerance-pct (reports only; edits nothing)")
    p.add_argument("--spec-tolerance-pct", type=float, default=5.0, help="tolerance of the spec cross-check, %%")
    p.set_defaults(func=catalog_command)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (units in every flag name; ``--home`` before or after the subcommand)."""
    home_help = "state folder (default: $INFERENCE_ESTIMATION_HOME or ~/.inference-estimation)"
    parser = Parser(prog="inference-estimation", description=__doc__.splitlines()[0])
    parser.add_argument("--home", help=home_help)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help=home_help)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    for add in (_add_pipeline_commands, _add_predict_command, _add_recommend_command, _add_other_commands):
        add(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    from inference_estimation.lib.catalog import CatalogError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CatalogError as exc:  # e.g. `sweep` with a malformed overlay: the file and field, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (`... | head`): what it wanted was printed; no traceback, and stdout
        # pointed at /dev/null so the interpreter's final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0

