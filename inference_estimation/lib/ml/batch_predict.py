"""Many questions at once: a CSV of setups in, the same rows with every answer (or the refusal) out.

Each row is one ``predict`` question: its cells are parsed column-wise, checked by
:func:`~inference_estimation.lib.ml.setup_columns.workload_problems` (``workload``'s rules and
messages) and resolved and refused by :func:`~inference_estimation.lib.ml.setup_columns.resolve_columns`
-- the path a single question takes as a one-row batch -- for all rows at once; the answers are
predicted for all rows at once too. A bad cell is a one-line error naming the row, the column and
the file; a name nothing knows, or a device count a counted hardware name (``8x H200``)
contradicts, refuses its row only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inference_estimation.lib.catalog import Catalog, CatalogError
from inference_estimation.lib.catalog.vocabulary import VocabularyError, canonical_dtype, canonical_engine
from inference_estimation.lib.ml.answer_notes import answer_notes
from inference_estimation.lib.ml.predict import BatchInputError, Predictors, check_source
from inference_estimation.lib.ml.setup import DEFAULT_SOURCE, memory_estimate_gb
from inference_estimation.lib.ml.setup_columns import (
    NUMBER_COLUMNS,
    SetupColumns,
    resolve_columns,
    workload_problems,
)

BATCH_COLUMNS = {"model": str, "hardware": str, "batch_size": int, "input_tokens": int, "output_tokens": int,
                 "engine": str, "dtype": str, "device_count": int, "mode": str, "concurrency": int,
                 "request_rate_rps": float, "source": str}
#: Columns every row needs; ``batch_size`` too offline (a serving row names a concurrency or a rate).
REQUIRED_BATCH_COLUMNS = ("model", "hardware", "input_tokens", "output_tokens")
#: Columns the output adds after the input's: what was answered, and why a row got no numbers.
RESOLVED_BATCH_COLUMNS = ("resolved_model", "resolved_hardware", "resolved_engine", "resolved_dtype",
                          "resolved_device_count", "resolved_batch_size", "resolved_concurrency", "refusal", "notes")
#: How the notes of one row are joined in the ``notes`` cell.
NOTES_SEPARATOR = " | "
#: Bad rows named in one error (the rest are counted).
MAX_REPORTED_ERRORS = 20


class _RowErrors:
    """Bad cells of a batch CSV, reported in file order, one line each."""

    def __init__(self, input_csv: Path):
        self.input_csv, self.found = input_csv, []

    def add(self, bad: np.ndarray, column: str, message) -> None:
        order = list(BATCH_COLUMNS).index(column) if column in BATCH_COLUMNS else len(BATCH_COLUMNS)
        for i in np.flatnonzero(bad):
            self.found.append((int(i), order, column, message, int(i)))

    def add_row(self, i: int, column: str, message: str) -> None:
        """One bad cell, its message given."""
        order = list(BATCH_COLUMNS).index(column) if column in BATCH_COLUMNS else len(BATCH_COLUMNS)
        self.found.append((i, order, column, lambda _: message, i))

    def raise_if_any(self) -> None:
        if not self.found:
            return
        cells: dict[tuple[int, int], tuple[str, Any, int]] = {}
        for i, order, column, message, row in self.found:
            cells.setdefault((i, order), (column, message, row))  # the first problem found in a cell
        first_per_cell = sorted(cells.items())
        lines = [f"{self.input_csv}: line {i + 2}, column '{column}': {message(row)}"
                 for (i, _), (column, message, row) in first_per_cell[:MAX_REPORTED_ERRORS]]
        rows = len({i for i, *_ in self.found})
        if len(first_per_cell) > MAX_REPORTED_ERRORS:
            lines.append(f"{self.input_csv}: ... {len(first_per_cell) - MAX_REPORTED_ERRORS} more bad cell(s); "
                         f"{rows} bad row(s) in all")
        raise BatchInputError("\n".join(lines))


def _parse_cells(raw: pd.DataFrame, defaults: dict[str, Any], errors: _RowErrors) -> dict[str, np.ndarray]:
    """The cells as typed columns (empty = the default), each malformed or missing cell noted in ``errors``.

    Text columns stay strings; number columns become floats (NaN where empty), ``batch_size`` also
    ``max`` (marked in ``batch_max``). What the values mean together is :func:`workload`'s to judge.
    """
    n = len(raw)
    values: dict[str, np.ndarray] = {}
    for column, kind in BATCH_COLUMNS.items():
        t = raw[column].str.strip() if column in raw else pd.Series([""] * n, index=raw.index, dtype=object)
        empty = (t == "").to_numpy()
        default = defaults.get(column)
        if kind is str:
            values[column] = np.where(empty, default if default is not None else "", t.to_numpy(dtype=object))
            continue
        if column == "batch_size":
            values["batch_max"] = (t.str.lower() == "max").to_numpy()
            values["batch_given"] = ~empty
        skip = empty | values["batch_max"] if column == "batch_size" else empty
        codes, cells = pd.factorize(t.where(~skip))  # each distinct cell parsed once (NaN: code -1)
        parsed = pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        number = np.append(parsed, np.nan)[codes]
        with np.errstate(invalid="ignore"):
            if kind is int:
                bad = ~skip & (~np.isfinite(number) | (number != np.round(number)) | (number < 1))
                expected = "an integer >= 1" + (" or 'max'" if column == "batch_size" else "")
            else:
                bad = ~skip & (~np.isfinite(number) | (number <= 0))
                expected = "a number > 0"
        errors.add(bad, column, lambda i, t=t, e=expected: f"{t.iloc[i]!r} is not allowed; expected {e}")
        values[column] = np.where(skip, np.nan if default is None else float(default), number)
    for column in REQUIRED_BATCH_COLUMNS:
        v = values[column]
        errors.add(np.asarray((v == "") if v.dtype == object else np.isnan(v), dtype=bool), column,
                   lambda i: "value is required")
    return values


def _column_of(message: str) -> tuple[str, str]:
    """The column a :func:`workload_problems` message is about, and the message without its ``field:`` prefix."""
    field, colon, rest = message.partition(": ")
    if colon and field in BATCH_COLUMNS:
        return field, rest
    first = message.split(" ", 1)[0]
    return (first if first in BATCH_COLUMNS else "mode"), message


def _questions(values: dict[str, np.ndarray], errors: _RowErrors) -> dict[str, np.ndarray]:
    """The rows as question columns, each row's workload checked by ``workload``'s own rules and messages.

    A row they reject is noted in ``errors`` at the column its message names; a row with a
    malformed cell is not judged again. Engine and dtype are left to :func:`_resolve_rows`.
    """
    n = len(values["mode"])
    q = {name: values[name] for name in NUMBER_COLUMNS if name in values}
    q.update(batch_max=values["batch_max"], mode=values["mode"], source=values["source"],
             power_scope=np.full(n, "all-devices", dtype=object), tensor_parallel=values["device_count"],
             engine=np.full(n, None, dtype=object), dtype=np.full(n, None, dtype=object))
    bad_rows = np.zeros(n, dtype=bool)
    bad_rows[[i for i, *_ in errors.found]] = True
    problems = workload_problems(q)
    for i in np.flatnonzero(np.not_equal(problems, None) & ~bad_rows):
        errors.add_row(int(i), *_column_of(problems[i]))
    return q


def _names(values: np.ndarray, resolve, error: type[Exception]) -> tuple[dict[str, Any], dict[str, str]]:
    """Each distinct non-empty name resolved once: (name -> what it names, name -> why it names nothing)."""
    known, unknown = {}, {}
    for name in pd.unique(values):
        if name == "":
            continue
        try:
            known[name] = resolve(name)
        except error as exc:
            message = str(exc)
            unknown[name] = message.split(": ", 1)[1] if isinstance(exc, VocabularyError) else message
    return known, unknown


def _resolve_rows(catalog: Catalog, values: dict[str, np.ndarray],
                  q: dict[str, np.ndarray]) -> tuple[SetupColumns, np.ndarray, np.ndarray]:
    """The rows resolved and checked by :func:`resolve_columns`, the path of a single question.

    A model, hardware, engine or dtype that no catalog entry or vocabulary spelling names refuses
    its row with the message ``predict`` gives (and no setup), not the file; so does a device
    count that a hardware name with a count (``8x H200``) contradicts, or a dtype that a model name
    with a quantisation (``Llama-3.1-8B-Instruct-FP8``) contradicts.

    Returns:
        (the setups of the rows whose names all resolve, those rows, why each row names nothing
        or is wrong as asked -- empty where it is not).
    """
    n = len(values["mode"])
    lookups = {"model": _names(values["model"], catalog.model_and_dtype, CatalogError),
               "hardware": _names(values["hardware"], catalog.hw_and_count, CatalogError),
               "engine": _names(values["engine"], canonical_engine, VocabularyError),
               "dtype": _names(values["dtype"], canonical_dtype, VocabularyError)}
    why = np.full(n, "", dtype=object)
    for column, (_, unknown) in lookups.items():
        if not unknown:
            continue
        names = values[column]
        for i in np.flatnonzero(pd.Series(names, dtype=object).isin(list(unknown)).to_numpy()):
            why[i] = f"{why[i]}; " * bool(why[i]) + f"{column}: {unknown[names[i]]}"
    rows = np.flatnonzero(why == "")
    model_codes, model_names = pd.factorize(values["model"][rows])
    hardware_codes, hardware_names = pd.factorize(values["hardware"][rows])
    counted = [lookups["hardware"][0][name] for name in hardware_names]
    named_count = np.array([np.nan if c is None else c for _, c in counted], dtype="float64")[hardware_codes]
    named = [lookups["model"][0][name] for name in model_names]
    named_dtype = np.array([d for _, d in named], dtype=object)[model_codes]
    asked = {name: column[rows] for name, column in q.items()}
    for column in ("engine", "dtype"):
        canonical = {"": None, **lookups[column][0]}
        asked[column] = np.array([canonical[name] for name in values[column][rows]], dtype=object)
    resolved = resolve_columns([m for m, _ in named], model_codes, [h for h, _ in counted], hardware_codes, asked,
                               hardware_names=values["hardware"][rows], named_count=named_count,
                               model_names=values["model"][rows], named_dtype=named_dtype)
    wrong = np.not_equal(resolved.error, None)
    why[rows[wrong]] = resolved.error[wrong]  # each names its field (dtype, device_count)
    return resolved, rows, why


def _resolved_columns(resolved: SetupColumns, rows: np.ndarray, why: np.ndarray) -> pd.DataFrame:
    """:data:`RESOLVED_BATCH_COLUMNS` of each row: what was answered, or why not (and the notes)."""
    n, ok = len(why), why[rows] == ""
    w = resolved.work

    def column(values: np.ndarray, fill: Any = None, dtype: Any = object) -> np.ndarray:
        out = np.full(n, fill, dtype=dtype)
        out[rows[ok]] = values[ok]
        return out

    serving = w["mode"] == "serving"
    keys = {"resolved_model": np.array([m.key for m in resolved.models], dtype=object)[resolved.model_codes],
            "resolved_hardware": np.array([h.key for h in resolved.hardware], dtype=object)[resolved.hardware_codes]}
    refusal = column(np.where(np.equal(resolved.refusal, None), "", resolved.refusal), fill="")
    refusal[why != ""] = why[why != ""]
    return pd.DataFrame({
        **{name: column(values, fill="") for name, values in keys.items()},
        "resolved_engine": column(w["engine"], fill=""), "resolved_dtype": column(w["dtype"], fill=""),
        "resolved_device_count": pd.array(column(w["device_count"], np.nan, "float64"), dtype="Int64"),
        # a serving row's batch is its load: the concurrency (given, or solved for by predict_batch)
        "resolved_batch_size": pd.array(column(np.where(serving, np.nan, w["batch_size"]), np.nan, "float64"),
                                        dtype="Int64"),
        "resolved_concurrency": pd.array(column(np.where(serving, w["concurrency"], np.nan), np.nan, "float64"),
                                         dtype="Float64"),
        "refusal": refusal,
        "notes": column(np.array([NOTES_SEPARATOR.join(notes) for notes in resolved.notes], dtype=object), fill=""),
    })


def _read_batch_csv(input_csv: Path) -> pd.DataFrame:
    """The CSV as strings, with its header checked.

    Raises:
        BatchInputError: a missing or empty file, a header-only file, an unknown or missing column.
    """
    if not input_csv.is_file():
        raise BatchInputError(f"{input_csv}: no such file; expected a CSV of configurations (see the README)")
    try:
        raw = pd.read_csv(input_csv, dtype=str, keep_default_na=False, na_filter=False, index_col=False)
    except pd.errors.EmptyDataError:
        raise BatchInputError(f"{input_csv}: the file is empty; expected a header naming columns "
                              f"({', '.join(REQUIRED_BATCH_COLUMNS)}, ...) and one configuration per line") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise BatchInputError(f"{input_csv}: not a readable CSV ({str(exc).strip()})") from None
    header = list(raw.columns)
    unknown = [c for c in header if c not in BATCH_COLUMNS]
    if unknown:
        raise BatchInputError(f"{input_csv}: line 1: unknown column(s) {unknown}; expected columns among "
                              f"{', '.join(BATCH_COLUMNS)}")
    for column in REQUIRED_BATCH_COLUMNS:
        if column not in header:
            raise BatchInputError(f"{input_csv}: line 1: required column '{column}' is missing")
    if raw.empty:
        raise BatchInputError(f"{input_csv}: only a header, no configuration; expected one configuration per line "
                              "after the header")
    return raw.fillna("")


def predict_batch(catalog: Catalog, predictors_dir: Path, input_csv: Path, output_csv: Path,
                  allow_unpromoted: bool = False, defaults: dict[str, Any] | None = None,
                  stats: dict[str, int] | None = None) -> int:
    """Predicts every row of a CSV of configurations (columns in :data:`BATCH_COLUMNS`).

    Required columns: model, hardware, input_tokens, output_tokens, and offline a batch_size (a
    number or ``max``); a serving row (mode ``serving``) names a concurrency or a
    request_rate_rps instead. Model and hardware accept keys or any resolvable name; engine and
    dtype any spelling of :mod:`inference_estimation.lib.catalog.vocabulary`, empty = the hardware's
    default. The output repeats the input columns, adds :data:`RESOLVED_BATCH_COLUMNS` (what was
    answered -- a serving row's ``resolved_concurrency`` is the concurrency given or solved for
    from its request rate; ``refusal`` says why a row that cannot run got no numbers; ``notes``
    every note and warning a single ``predict`` prints, joined by :data:`NOTES_SEPARATOR`) and ``<target>``,
    ``<target>_lower_90``, ``<target>_upper_90``. Column-wise throughout (one catalog lookup per
    distinct name, features built as arrays), so large files are fast.

    Args:
        catalog: the catalog.
        predictors_dir: folder of predictors.
        input_csv: the configurations.
        output_csv: where the predictions go (written only when every row is valid).
        allow_unpromoted: also use predictors that did not beat their baselines.
        defaults: values for empty cells (default mode ``offline``, source ``local``).
        stats: if given, receives ``refused`` (rows refused).

    Returns:
        Rows written.

    Raises:
        BatchInputError: for a bad file or bad rows (one line per bad cell, up to 20); nothing is written.
    """
    defaults = {"mode": "offline", "source": DEFAULT_SOURCE, **(defaults or {})}
    raw = _read_batch_csv(input_csv)
    errors = _RowErrors(input_csv)
    values = _parse_cells(raw, defaults, errors)
    questions = _questions(values, errors)
    errors.raise_if_any()
    predictors = Predictors.load(predictors_dir, allow_unpromoted)
    _check_sources(predictors, values["source"], input_csv)
    setups, rows, why = _resolve_rows(catalog, values, questions)
    resolved = _resolved_columns(setups, rows, why)
    result = _answer_rows(predictors, setups, rows, resolved)
    if stats is not None:
        stats["refused"] = int((resolved["refusal"] != "").sum())
    out = pd.concat([raw.reset_index(drop=True), resolved, result], axis=1)
    output_csv.parent.mkdir(parents=True, exist_ok=True)
    _write_csv(out, output_csv)
    return len(out)


def _check_sources(predictors: Predictors, sources: np.ndarray, input_csv: Path) -> None:
    """A source the predictors do not know is a bad cell (:func:`check_source`'s rule and message).

    Raises:
        BatchInputError: naming every such cell.
    """
    errors, column = _RowErrors(input_csv), pd.Series(sources, dtype=object)
    bad = {}
    for source in column.unique():
        try:
            check_source(predictors, source)
        except ValueError as exc:
            bad[source] = str(exc).split(": ", 1)[1]
    errors.add(column.isin(bad).to_numpy(), "source", lambda i: bad[column.iloc[i]])
    errors.raise_if_any()


def _answer_rows(predictors: Predictors, setups: SetupColumns, rows: np.ndarray,
                 resolved: pd.DataFrame) -> pd.DataFrame:
    """The answers of the rows that can run, all at once (NaN for a refused row).

    Each row's facts are :func:`prediction_row` of its setup, built column-wise
    (:meth:`SetupColumns.facts_frame`). The concurrency a request rate was solved for and
    ``predict``'s warnings (unseen choices, a saturating rate) are written into ``resolved``.
    """
    n = len(resolved)
    answered = np.flatnonzero((resolved["refusal"] == "").to_numpy())
    concurrency = np.full(n, np.nan)
    if len(answered) == 0:
        resolved["resolved_concurrency"] = pd.array(concurrency, dtype="Float64")
        resolved["memory_rule_gb"] = pd.array(np.full(n, np.nan), dtype="Float64")
        return pd.DataFrame(np.nan, index=range(n), columns=predictors.answer_columns())
    position = np.full(n, -1)
    position[rows] = np.arange(len(rows))
    features, result = predictors.answer(setups.facts_frame(position[answered]))
    saturated = result.pop("saturated").to_numpy(dtype=bool)
    in_flight = pd.to_numeric(features["concurrency"], errors="coerce").to_numpy(dtype="float64")
    serving = (features["mode"].astype(str) == "serving").to_numpy()
    concurrency[answered] = np.where(serving, in_flight, np.nan)
    resolved["resolved_concurrency"] = pd.array(concurrency, dtype="Float64")
    resolved["memory_rule_gb"] = _memory_rule_gb(setups, position[answered], answered, in_flight, n)
    notes = [[note] if note else [] for note in resolved["notes"]]
    keys = np.array([h.key for h in setups.hardware], dtype=object)[setups.hardware_codes[position[answered]]]
    said, warned = answer_notes(predictors, features, result.assign(saturated=saturated),
                                setups.work["engine"][position[answered]], keys)
    for j in range(len(answered)):
        notes[answered[j]].extend(said[j] + warned[j])
    resolved["notes"] = [NOTES_SEPARATOR.join(row) for row in notes]
    return result.set_axis(answered).reindex(range(n))


def _memory_rule_gb(setups: SetupColumns, j: np.ndarray, answered: np.ndarray, in_flight: np.ndarray,
                    n: int) -> Any:
    """The memory rule's GB of each answered row, all devices (``predict``'s estimate when no learned
    peak-memory predictor answers; :func:`memory_estimate_gb`): at the requests a rate keeps in flight."""
    m, w = setups.memory, setups.work
    rate = ~np.isnan(np.asarray(w["request_rate_rps"][j], dtype="float64")) \
        & np.isnan(np.asarray(w["concurrency"][j], dtype="float64"))
    total, _, _ = memory_estimate_gb(m["weights_gb"][j], m["kv_cache_gb"][j], m["usable_gb"][j], m["max_batch"][j],
                                     m["paged"][j].astype(bool), np.asarray(w["batch_size"][j], dtype="float64"),
                                     np.where(rate, in_flight, np.nan))
    out = np.full(n, np.nan)
    out[answered] = np.where(setups.has_memory[j], np.round(total, 2), np.nan)
    return pd.array(out, dtype="Float64")


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Writes a frame as CSV with pyarrow's writer (about 10x pandas' ``to_csv`` on wide float frames)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    pa_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), str(path))
