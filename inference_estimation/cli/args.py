"""What the commands share: the parser's classes, argument types, one-line errors, the lenient catalog.

Everything here is light to import (no Dagster, no pandas): ``predict`` starts in well under a
second because the heavy modules are imported inside the commands that need them.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from inference_estimation.lib.catalog import Catalog

#: Help text of ``--engine`` and ``--dtype`` when they are left out.
DEFAULTS_HELP = ("default: the hardware's (GPU: vllm + bfloat16, float16 without bfloat16 math; "
                 "CPU: transformers + float32)")


class Parser(argparse.ArgumentParser):
    """Errors in one line (``prog: error: ...``, exit 2) instead of usage + error; ``describe``, a
    callable, fills the description only when help is shown (e.g. the import sources)."""

    def __init__(self, *args: Any, describe: Callable[[], str] | None = None, **kwargs: Any):
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)
        self._describe = describe

    def format_help(self) -> str:
        """The help text, its description filled in by ``describe`` first."""
        if self._describe is not None:
            self.description = self._describe()
        return super().format_help()

    def error(self, message: str) -> None:  # type: ignore[override]
        """Exits 2 with one line naming the problem."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Shows every flag's default, except where there is none or the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def batch_size_arg(text: str) -> int | str:
    """Parses ``--batch-size``: an integer >= 1, or ``max`` (the largest batch whose KV cache fits)."""
    if text.strip().lower() == "max":
        return "max"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 1 or 'max'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 1 or 'max'")
    return value


def vocabulary_arg(kind: str) -> Callable[[str], str]:
    """An argument type that spells an ``engine`` or ``dtype`` (or a synonym) the catalog's canonical way."""

    def parse(text: str) -> str:
        from inference_estimation.lib.catalog.vocabulary import (
            VocabularyError,
            canonical_dtype,
            canonical_engine,
        )

        try:
            return canonical_dtype(text) if kind == "dtype" else canonical_engine(text)
        except VocabularyError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[1]) from None

    parse.__name__ = kind
    return parse


def print_error(exc: BaseException) -> None:
    """Prints an error as ``error: ...`` lines on stderr (one per line of its message), no traceback."""
    for line in str(exc).strip().splitlines() or [type(exc).__name__]:
        print(f"error: {line}", file=sys.stderr)


def lenient_catalog() -> Catalog:
    """The catalog for predictions: an invalid overlay file is left out with a warning naming its file
    and field (predictions for everything else still work; ``inference-estimation catalog`` validates)."""
    from inference_estimation.lib.catalog import load_catalog

    catalog = load_catalog(strict=False)
    for error in catalog.skipped_overlays:
        print(f"warning: catalog overlay left out: {error}", file=sys.stderr)
    return catalog


def dagster_quietly() -> Any:
    """Imports ``dagster`` (only the commands that run jobs do), its preview and beta labels silenced.

    Dagster labels the APIs it ships as preview or beta (``Output(data_version=...)``, pools, ...)
    with a warning each time they are used; the job's own output is not the place for them. Only
    those two categories, raised from this package's code or Dagster's, are silenced (pytest's
    ``filterwarnings`` in pyproject.toml does the same).
    """
    import warnings

    import dagster as dg

    for category in (dg.PreviewWarning, dg.BetaWarning):
        warnings.filterwarnings("ignore", category=category, module=r"(inference_estimation|dagster)(\.|$)")
    return dg


def log_config(log_level: str) -> dict[str, Any]:
    """The run config that sets the Dagster console logger's level."""
    return {"loggers": {"console": {"config": {"log_level": log_level}}}}
