"""Many questions at once: a CSV of setups in, the same rows with every answer (or the refusal) out.

Each row is resolved and checked like a single ``predict`` question, column-wise, so 10k rows take
about a second; a bad cell is a one-line error naming the row, the column and the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inference_estimation.lib.catalog import Catalog, CatalogError
from inference_estimation.lib.catalog.vocabulary import VocabularyError, canonical_dtype, canonical_engine
from inference_estimation.lib.ml.predict import (
    DEFAULT_SOURCE,
    MODES,
    PAGED_MAX_SEQUENCES,
    BatchInputError,
    Predictors,
    check_source,
)
from inference_estimation.lib.physics.features import (
    HARDWARE_FACT_COLUMNS,
    MODEL_FACT_COLUMNS,
    hardware_facts,
    model_facts,
)
from inference_estimation.lib.physics.memory import DEVICE_COUNTS, memory_fit_arrays
from inference_estimation.lib.physics.refusals import (
    context_refusal,
    default_engine_dtype,
    device_memory_gb,
    dtype_unsupported,
    memory_refusal,
    tabular_refusal,
)

BATCH_COLUMNS = {"model": str, "hardware": str, "batch_size": int, "input_tokens": int, "output_tokens": int,
                 "engine": str, "dtype": str, "device_count": int, "mode": str, "concurrency": int,
                 "request_rate_rps": float, "source": str}
#: Columns every row needs; ``batch_size`` too offline (a serving row names a concurrency or a rate).
REQUIRED_BATCH_COLUMNS = ("model", "hardware", "input_tokens", "output_tokens")
#: Columns the output adds after the input's: what was answered, and why a row got no numbers.
RESOLVED_BATCH_COLUMNS = ("resolved_model", "resolved_hardware", "resolved_engine", "resolved_dtype",
                          "resolved_device_count", "resolved_batch_size", "refusal")
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


def _batch_fact_rows(catalog: Catalog, input_csv: Path, raw: pd.DataFrame,
                     defaults: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validates a batch CSV column-wise, resolves every row, and joins catalog facts.

    The fact rows are what :func:`prediction_row` builds for each resolved configuration, in one
    frame; the second frame holds :data:`RESOLVED_BATCH_COLUMNS` (``refusal`` empty where the
    setup can run). Resolution and refusals follow :func:`resolve_setup` row by row, column-wise.

    Raises:
        BatchInputError: one line per bad cell (up to :data:`MAX_REPORTED_ERRORS`), in file order,
            each naming the line, column, value and what was expected; nothing is predicted.
    """
    n = len(raw)
    errors = _RowErrors(input_csv)
    text = {c: (raw[c].str.strip() if c in raw else pd.Series([""] * n, index=raw.index, dtype=object))
            for c in BATCH_COLUMNS}
    values: dict[str, Any] = {}
    batch_max = (text["batch_size"].str.lower() == "max").to_numpy()
    for column, kind in BATCH_COLUMNS.items():
        t = text[column]
        empty = (t == "").to_numpy()
        default = defaults.get(column)
        if kind is str:
            values[column] = np.where(empty, default if default is not None else "", t.to_numpy(dtype=object))
            continue
        skip = empty | (batch_max if column == "batch_size" else False)
        number = pd.to_numeric(t.where(~skip), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            if kind is int:
                bad = ~skip & (~np.isfinite(number) | (number != np.round(number)) | (number < 1))
                expected = "an integer >= 1" + (" or 'max'" if column == "batch_size" else "")
            else:
                bad = ~skip & (~np.isfinite(number) | (number <= 0))
                expected = "a number > 0"
        errors.add(bad, column, lambda i, t=t, e=expected: f"{t.iloc[i]!r} is not allowed; expected {e}")
        values[column] = np.where(skip, np.nan if default is None else float(default), number)
    mode = values["mode"]
    errors.add(~np.isin(mode, MODES), "mode",
               lambda i: f"{mode[i]!r} is not allowed; expected one of {', '.join(MODES)}")
    serving = mode == "serving"
    load = ~np.isnan(values["concurrency"]) | ~np.isnan(values["request_rate_rps"])
    errors.add(~serving & ~np.isnan(values["concurrency"]), "concurrency",
               lambda i: "a concurrency describes a serving load; expected mode 'serving' (or no concurrency)")
    errors.add(~serving & ~np.isnan(values["request_rate_rps"]), "request_rate_rps",
               lambda i: "a request rate describes a serving load; expected mode 'serving' (or no rate)")
    for column in REQUIRED_BATCH_COLUMNS:
        v = values[column]
        missing = (v == "") if v.dtype == object else np.isnan(v)
        errors.add(np.asarray(missing, dtype=bool), column, lambda i: "value is required")
    no_batch = (text["batch_size"] == "").to_numpy()
    errors.add(no_batch & ~(serving & load), "batch_size",
               lambda i: "value is required offline; expected an integer >= 1 or 'max' "
                         "(a serving row names a concurrency or a request_rate_rps instead)")
    entries: dict[str, dict[str, Any]] = {"model": {}, "hardware": {}}
    for column, resolve in (("model", catalog.model), ("hardware", catalog.hw)):
        names = pd.Series(values[column], dtype=object)
        failed: dict[str, str] = {}
        for name in names.unique():
            if name == "":
                continue
            try:
                entries[column][name] = resolve(name)
            except CatalogError as exc:
                failed[name] = str(exc)
        errors.add(names.isin(failed).to_numpy(), column, lambda i, f=failed, v=names: f[v.iloc[i]])
    for column, canon in (("engine", canonical_engine), ("dtype", canonical_dtype)):
        names = pd.Series(values[column], dtype=object)
        failed, canonical = {}, {"": ""}
        for name in names.unique():
            if name == "":
                continue
            try:
                canonical[name] = canon(name)
            except VocabularyError as exc:
                failed[name] = str(exc).split(": ", 1)[1]
        errors.add(names.isin(failed).to_numpy(), column, lambda i, f=failed, v=names: f[v.iloc[i]])
        values[column] = names.map(lambda x, c=canonical: c.get(x, x)).to_numpy(dtype=object)
    errors.raise_if_any()

    model_codes, model_names = pd.factorize(pd.Series(values["model"], dtype=object))
    hw_codes, hw_names = pd.factorize(pd.Series(values["hardware"], dtype=object))
    model_list = [entries["model"][m] for m in model_names]
    hw_list = [entries["hardware"][h] for h in hw_names]
    models = pd.DataFrame([model_facts(m) for m in model_list], columns=MODEL_FACT_COLUMNS)
    hardware = pd.DataFrame([hardware_facts(h) for h in hw_list], columns=HARDWARE_FACT_COLUMNS)
    facts = pd.concat([models.iloc[model_codes].reset_index(drop=True),
                       hardware.iloc[hw_codes].reset_index(drop=True)], axis=1)
    hw_defaults = [default_engine_dtype(h) for h in hw_list]
    engine = np.where(values["engine"] == "", np.array([d[0] for d in hw_defaults], dtype=object)[hw_codes],
                      values["engine"])
    dtype = np.where(values["dtype"] == "", np.array([d[1] for d in hw_defaults], dtype=object)[hw_codes],
                     values["dtype"])
    given = values["device_count"]
    hw_count = np.array([h.device_count for h in hw_list], dtype="float64")[hw_codes]
    devices = np.where(np.isnan(given), hw_count, given)
    memory_per_device = np.array([np.nan if device_memory_gb(h) is None else device_memory_gb(h) for h in hw_list],
                                 dtype="float64")[hw_codes]
    kinds = np.array([h.kind for h in hw_list], dtype=object)[hw_codes]
    context = values["input_tokens"] + values["output_tokens"]

    arch = [pd.to_numeric(facts[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            for c in ("params", "layers", "kv_heads", "head_dim", "kv_cache_dim_per_layer")]

    def fit(batch: np.ndarray, device_count: np.ndarray = devices) -> dict[str, np.ndarray]:
        return memory_fit_arrays(*arch[:4], dtype, engine, batch, context, memory_per_device, device_count, kinds,
                                 kv_cache_dim_per_layer=arch[4])

    llm = np.array([m.kind == "llm" for m in model_list], dtype=bool)[model_codes]
    at_one = fit(np.ones(n))
    largest = np.where(at_one["paged"], np.minimum(at_one["max_batch"], PAGED_MAX_SEQUENCES), at_one["max_batch"])
    batch = values["batch_size"].copy()
    batch = np.where(batch_max, np.maximum(largest, 1.0), batch)
    batch = np.where(np.isnan(batch) & serving, np.where(np.isnan(values["concurrency"]), 1.0, values["concurrency"]),
                     batch)
    max_unknown = batch_max & np.isnan(largest) & llm
    memory = fit(batch)
    max_pos = np.array([m.architecture.max_position_embeddings if m.architecture else np.nan for m in model_list],
                       dtype="float64")[model_codes]
    pairs = pd.DataFrame({"h": hw_codes, "d": dtype})
    refusal = np.full(n, "", dtype=object)
    refusal[max_unknown] = [f"batch_size 'max' needs {h}'s memory size (its catalog entry has none)"
                            for h in np.asarray(values["hardware"])[max_unknown]]
    # setup_refusal's checks and messages, column-wise, in its order: tabular, context, dtype, memory
    open_rows = refusal == ""
    tabular = open_rows & ~llm
    for m in np.unique(model_codes[tabular]):
        refusal[tabular & (model_codes == m)] = tabular_refusal(model_list[m])
    open_rows = refusal == ""
    with np.errstate(invalid="ignore"):
        too_long = open_rows & (context > max_pos)
    keys = [model_list[m].key for m in model_codes[too_long]]
    refusal[too_long] = [context_refusal(k, int(i), int(o), int(limit)) for k, i, o, limit in
                         zip(keys, values["input_tokens"][too_long], values["output_tokens"][too_long],
                             max_pos[too_long], strict=False)]
    open_rows = refusal == ""
    for (h, d), rows in pairs.groupby(["h", "d"]).groups.items():
        reason = dtype_unsupported(hw_list[h], d)
        if reason:
            rows = np.asarray(rows)
            refusal[rows[open_rows[rows]]] = reason
    open_rows = refusal == ""
    with np.errstate(invalid="ignore"):
        short = open_rows & (memory["memory_fit_ratio"] > 1.0)
    if short.any():
        fewest = np.full(n, np.nan)
        for count in DEVICE_COUNTS:
            fits = fit(batch, np.full(n, float(count)))["memory_fit_ratio"] <= 1.0
            fewest = np.where(np.isnan(fewest) & fits, count, fewest)
        model_keys = np.array([m.key for m in model_list], dtype=object)[model_codes]
        hw_keys = np.array([h.key for h in hw_list], dtype=object)[hw_codes]
        refusal[short] = [
            memory_refusal(mk, hk, d, e, bool(p), None if np.isnan(b) else int(b), int(c), int(dev), req, use,
                           None if np.isnan(f) else int(f))
            for mk, hk, d, e, p, b, c, dev, req, use, f in zip(
                model_keys[short], hw_keys[short], dtype[short], engine[short], memory["paged"][short], batch[short],
                context[short], devices[short], memory["required_gb"][short], memory["usable_gb"][short],
                fewest[short], strict=False)]
    facts = facts.assign(
        engine=engine, dtype=dtype, mode=mode, source=values["source"], power_scope="all-devices",
        batch_size=batch, input_tokens=values["input_tokens"], output_tokens=values["output_tokens"],
        concurrency=values["concurrency"], request_rate_rps=values["request_rate_rps"], device_count=devices,
        tensor_parallel=given,
    )
    resolved = pd.DataFrame({
        "resolved_model": np.array([m.key for m in model_list], dtype=object)[model_codes],
        "resolved_hardware": np.array([h.key for h in hw_list], dtype=object)[hw_codes],
        "resolved_engine": engine, "resolved_dtype": dtype, "resolved_device_count": devices.astype(int),
        "resolved_batch_size": pd.array(np.where(np.isnan(batch), np.nan, batch), dtype="Int64"),
        "refusal": refusal,
    })
    return facts, resolved


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
    answered; ``refusal`` says why a row that cannot run got no numbers) and ``<target>``,
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
    facts, resolved = _batch_fact_rows(catalog, input_csv, raw, defaults)
    predictors = Predictors.load(predictors_dir, allow_unpromoted)
    errors = _RowErrors(input_csv)
    sources = pd.Series(facts["source"], dtype=object)
    bad_sources = {}
    for source in sources.unique():
        try:
            check_source(predictors, source)
        except ValueError as exc:
            bad_sources[source] = str(exc).split(": ", 1)[1]
    errors.add(sources.isin(bad_sources).to_numpy(), "source", lambda i: bad_sources[sources.iloc[i]])
    errors.raise_if_any()
    _, result = predictors.answer(facts)
    result = result.drop(columns="saturated").reset_index(drop=True)
    refused = (resolved["refusal"] != "").to_numpy()
    result.loc[refused, :] = np.nan
    if stats is not None:
        stats["refused"] = int(refused.sum())
    out = pd.concat([raw.reset_index(drop=True), resolved, result], axis=1)
    output_csv.parent.mkdir(parents=True, exist_ok=True)
    _write_csv(out, output_csv)
    return len(out)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Writes a frame as CSV with pyarrow's writer (about 10x pandas' ``to_csv`` on wide float frames)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    pa_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), str(path))
