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
    saturation_warning,
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
    default_engine_dtype_note,
    device_memory_gb,
    dtype_unsupported,
    layout_counts,
    layout_refusal,
    memory_refusal,
    node_note,
    tabular_refusal,
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

    A model, hardware, engine or dtype that no catalog entry or vocabulary spelling names refuses
    its row (``refusal`` gives the message ``predict`` gives), not the file.

    Raises:
        BatchInputError: one line per malformed cell (up to :data:`MAX_REPORTED_ERRORS`), in file
            order, each naming the line, column, value and what was expected; nothing is predicted.
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
    errors.add(serving & ~no_batch, "batch_size",
               lambda i: "a serving row is sized by its load, not by a batch; expected an empty batch_size with a "
                         "concurrency or a request_rate_rps (or mode 'offline' for a fixed batch)")
    errors.add(no_batch & ~(serving & load), "batch_size",
               lambda i: "value is required offline; expected an integer >= 1 or 'max' "
                         "(a serving row names a concurrency or a request_rate_rps instead)")
    # a name the catalog or the vocabulary does not know refuses its row (the message predict gives,
    # in `refusal`), not the file: the other rows are answered. Such a row is carried through the
    # column-wise checks below on a stand-in entry, and its answer blanked.
    unknown_names: list[list[str]] = [[] for _ in range(n)]
    entries: dict[str, dict[str, Any]] = {"model": {}, "hardware": {}}
    for column, resolve, table in (("model", catalog.model, catalog.models), ("hardware", catalog.hw, catalog.hardware)):
        names = pd.Series(values[column], dtype=object)
        failed: dict[str, str] = {}
        for name in names.unique():
            if name == "":
                continue
            try:
                entries[column][name] = resolve(name)
            except CatalogError as exc:
                failed[name] = str(exc)
        bad = names.isin(failed).to_numpy()
        for i in np.flatnonzero(bad):
            unknown_names[i].append(f"{column}: {failed[names.iloc[i]]}")
        if bad.any():
            stand_in = next(iter(entries[column]), None) or next(iter(table))
            entries[column].setdefault(stand_in, table.get(stand_in) or resolve(stand_in))
            values[column] = np.where(bad, stand_in, values[column])
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
        bad = names.isin(failed).to_numpy()
        for i in np.flatnonzero(bad):
            unknown_names[i].append(f"{column}: {failed[names.iloc[i]]}")
        values[column] = np.where(bad, "", names.map(lambda x, c=canonical: c.get(x, x)).to_numpy(dtype=object))
    errors.raise_if_any()
    named = np.array([not row for row in unknown_names], dtype=bool)

    model_codes, model_names = pd.factorize(pd.Series(values["model"], dtype=object))
    hw_codes, hw_names = pd.factorize(pd.Series(values["hardware"], dtype=object))
    model_list = [entries["model"][m] for m in model_names]
    hw_list = [entries["hardware"][h] for h in hw_names]
    models = pd.DataFrame([model_facts(m) for m in model_list], columns=MODEL_FACT_COLUMNS)
    hardware = pd.DataFrame([hardware_facts(h) for h in hw_list], columns=HARDWARE_FACT_COLUMNS)
    facts = pd.concat([models.iloc[model_codes].reset_index(drop=True),
                       hardware.iloc[hw_codes].reset_index(drop=True)], axis=1)
    # defaults per (model, hardware): the model's released dtype where the device runs it
    pair_codes, pair_index = pd.factorize(pd.Series(list(zip(model_codes, hw_codes, strict=True)), dtype=object))
    pair_defaults = [default_engine_dtype_note(hw_list[h], model_list[m]) for m, h in pair_index]
    engine = np.where(values["engine"] == "", np.array([d[0] for d in pair_defaults], dtype=object)[pair_codes],
                      values["engine"])
    dtype_defaulted = values["dtype"] == ""
    dtype = np.where(dtype_defaulted, np.array([d[1] for d in pair_defaults], dtype=object)[pair_codes],
                     values["dtype"])
    notes: list[list[str]] = [[] for _ in range(n)]
    for i in np.flatnonzero(dtype_defaulted):
        notes[i].append(pair_defaults[pair_codes[i]][2])
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
    # setup_refusal's checks and messages, column-wise, in its order: tabular, context, dtype, layout, memory
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
    layouts = pd.DataFrame({"m": model_codes, "h": hw_codes, "d": devices})
    interconnect = pd.to_numeric(facts["interconnect_bandwidth_gb_s"], errors="coerce").to_numpy(dtype="float64", copy=True)
    for (m, h, d), rows in layouts[open_rows].groupby(["m", "h", "d"]).groups.items():
        rows = np.asarray(rows)
        reason = layout_refusal(model_list[m], hw_list[h], int(d))
        if reason:
            refusal[rows] = reason
            continue
        across_nodes = node_note(hw_list[h], int(d))
        if across_nodes:  # costed at the network between nodes, as resolve_setup does
            interconnect[rows] = hw_list[h].specs.scale_out_bandwidth_gb_s
            for i in rows:
                notes[i].append(across_nodes)
    facts["interconnect_bandwidth_gb_s"] = interconnect
    open_rows = refusal == ""
    with np.errstate(invalid="ignore"):
        short = open_rows & (memory["memory_fit_ratio"] > 1.0)
    if short.any():
        fewest = np.full(n, np.nan)
        allowed = np.array([[count in layout_counts(model_list[m], hw_list[h]) for count in DEVICE_COUNTS]
                            for m, h in pair_index], dtype=bool)[pair_codes]
        for j, count in enumerate(DEVICE_COUNTS):
            fits = (fit(batch, np.full(n, float(count)))["memory_fit_ratio"] <= 1.0) & allowed[:, j]
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
    open_rows = refusal == ""
    with np.errstate(invalid="ignore"):
        queued = open_rows & memory["paged"].astype(bool) & (batch > memory["max_batch"])
    for i in np.flatnonzero(queued):  # resolve_setup's note, row by row
        notes[i].append(f"{engine[i]}'s KV cache holds {int(memory['max_batch'][i])} of the {int(batch[i])} "
                        "sequences at once; the rest queue")
    facts = facts.assign(
        engine=engine, dtype=dtype, mode=mode, source=values["source"], power_scope="all-devices",
        batch_size=batch, input_tokens=values["input_tokens"], output_tokens=values["output_tokens"],
        concurrency=values["concurrency"], request_rate_rps=values["request_rate_rps"], device_count=devices,
        tensor_parallel=given,
    )
    refusal[~named] = ["; ".join(row) for row in unknown_names if row]
    for i in np.flatnonzero(~named):
        notes[i] = []

    def answered(column: np.ndarray) -> np.ndarray:  # a row refused for its names resolved nothing
        return np.where(named, column, "")

    resolved = pd.DataFrame({
        "resolved_model": answered(np.array([m.key for m in model_list], dtype=object)[model_codes]),
        "resolved_hardware": answered(np.array([h.key for h in hw_list], dtype=object)[hw_codes]),
        "resolved_engine": answered(engine), "resolved_dtype": answered(dtype),
        "resolved_device_count": devices.astype(int),
        # a serving row's batch is its load: the concurrency (given, or solved for by predict_batch)
        "resolved_batch_size": pd.array(np.where(np.isnan(batch) | serving, np.nan, batch), dtype="Float64"),
        "resolved_concurrency": pd.array(np.where(serving, values["concurrency"], np.nan), dtype="Float64"),
        "refusal": refusal,
        "notes": [NOTES_SEPARATOR.join(row) for row in notes],
    })
    resolved["resolved_batch_size"] = resolved["resolved_batch_size"].astype("Int64")
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
    features, result = predictors.answer(facts)
    saturated = result["saturated"].to_numpy(dtype=bool)
    result = result.drop(columns="saturated").reset_index(drop=True)
    refused = (resolved["refusal"] != "").to_numpy()
    result.loc[refused, :] = np.nan
    serving = (facts["mode"].astype(str) == "serving").to_numpy()
    in_flight = pd.to_numeric(features["concurrency"], errors="coerce").to_numpy(dtype="float64")
    resolved["resolved_concurrency"] = pd.array(np.where(serving & ~refused, in_flight, np.nan), dtype="Float64")
    notes = [[note] if note else [] for note in resolved["notes"]]
    for i, warnings in enumerate(predictors.unseen_choices(features)):
        if not refused[i]:
            notes[i].extend(warnings)
    for i in np.flatnonzero(saturated & ~refused):
        notes[i].append(saturation_warning(in_flight[i]))
    resolved["notes"] = [NOTES_SEPARATOR.join(row) for row in notes]
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
