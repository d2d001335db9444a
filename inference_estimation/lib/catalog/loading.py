"""The validated catalog and how it is loaded: the package YAML plus the home's overlay files."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    PrivateAttr,
    ValidationError,
)

from inference_estimation.lib.catalog.base import (
    CatalogError,
    StrictEntry,
)
from inference_estimation.lib.catalog.hardware import HardwareEntry
from inference_estimation.lib.catalog.models import ModelEntry
from inference_estimation.lib.catalog.vocabulary import VocabularyError, dtype_named_by

#: libyaml's safe loader when PyYAML was built with it (about 5x faster on the catalog; a cold
#: ``predict`` parses it once), else the pure-Python safe loader. Both construct plain types only.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PACKAGE_CATALOG_DIR = Path(__file__).resolve().parents[2] / "catalog"
from inference_estimation.lib.catalog.sweeps import SweepEntry


class Catalog(StrictEntry):
    """The validated catalog."""

    models: dict[str, ModelEntry]
    hardware: dict[str, HardwareEntry]
    sweeps: dict[str, SweepEntry]
    files: tuple[str, ...] = ()
    #: Overlay files left out because they are invalid (lenient loading only): one error per file,
    #: naming the file and field. Empty when every file loaded.
    skipped_overlays: tuple[str, ...] = ()

    #: Name indexes per kind, built on first lookup: (the table they were built from, index).
    _name_indexes: dict[str, tuple[Any, Any]] = PrivateAttr(default_factory=dict)

    def model(self, key: str) -> ModelEntry:
        """Looks up a model by key, Hugging Face id or alias, or as people write it.

        Case, separators, the organisation of a Hugging Face id and packaging suffixes
        (``-Instruct``, ``-hf``, ``-FP8``, ``-AWQ``, release dates) do not matter; see
        :mod:`inference_estimation.lib.catalog.names`.

        Raises:
            CatalogError: naming the candidates best first (``.candidates``) when the name is
                unknown or could mean several models.
        """
        return _lookup("model", key, self.models, self._index("model"))

    def model_and_dtype(self, key: str) -> tuple[ModelEntry, str | None]:
        """Looks up a model as :meth:`model` does and returns the dtype the name states.

        ``Llama-3.1-8B-Instruct-FP8``, ``...-AWQ``, ``...-Q4_K_M``: the base model and the canonical
        dtype (fp8, int4, int4; :func:`inference_estimation.lib.catalog.vocabulary.dtype_named_by`);
        None for a name without one. So ``Llama-3.1-8B-Instruct-FP8`` and ``Llama-3.1-8B-Instruct``
        at fp8 are one question.

        Raises:
            CatalogError: as :meth:`model`, and for a name whose quantisation has no dtype here
                (``Q5_K_M``) or that names two dtypes.
        """
        model = self.model(key)
        try:
            return model, dtype_named_by(key)
        except VocabularyError as exc:
            raise CatalogError(f"{exc}; give the model without it and the dtype separately",
                               candidates=(model.key,)) from None

    def hw(self, key: str) -> HardwareEntry:
        """Looks up hardware by key, device name or alias, or as people write it.

        Vendor, model, memory size, form factor and memory type are read from the spelling
        (``H100 SXM 80GB``, ``GB200 192GB``); see :mod:`inference_estimation.lib.catalog.names`.

        Raises:
            CatalogError: naming the candidates best first (``.candidates``) when the name is
                unknown or could mean several devices, or when it counts devices (``8x H200``)
                that no one entry holds (:meth:`hw_and_count` answers those).
        """
        entry, count = _lookup_counted("hardware", key, self.hardware, self._index("hardware"))
        if count is not None and count != entry.device_count:
            raise CatalogError(f"hardware {key!r} names {count} x {entry.key}; here give the device "
                               f"({entry.key}) and its count separately", candidates=(entry.key,))
        return entry

    def hw_and_count(self, key: str) -> tuple[HardwareEntry, int | None]:
        """Looks up hardware as :meth:`hw` does and returns the device count the name states.

        ``8x H200``, ``8 x H100``, ``2xA100-80GB``, ``H200 x8``: the one-device entry and the count
        (an entry of several devices, such as the ``-x8`` node, only by its key or names); None for a
        name without a count. So ``8x H100`` and ``H100`` on 8 devices are one question.

        Raises:
            CatalogError: as :meth:`hw`, for an unknown or ambiguous device.
        """
        return _lookup_counted("hardware", key, self.hardware, self._index("hardware"), single=True)

    def _index(self, kind: str) -> Any:
        from inference_estimation.lib.catalog.names import HardwareIndex, ModelIndex

        table = self.models if kind == "model" else self.hardware
        cached = self._name_indexes.get(kind)
        if cached is None or cached[0] is not table:  # a model_copy may have replaced the table
            if kind == "model":
                index = ModelIndex.build(table, lambda m: m.aliases + ([m.hf_id] if m.hf_id else []))
            else:
                index = HardwareIndex.build(table, lambda h: h.aliases + ([h.device_name] if h.device_name else []))
            cached = self._name_indexes[kind] = (table, index)
        return cached[1]

    def sweep(self, name: str) -> SweepEntry:
        """Looks up a sweep by name.

        Raises:
            CatalogError: listing the known sweeps.
        """
        if name not in self.sweeps:
            raise CatalogError(f"unknown sweep {name!r}; known: {', '.join(sorted(self.sweeps))}")
        return self.sweeps[name]

    @property
    def partition_models(self) -> list[str]:
        """Model keys of the ``model`` partition dimension: every model some sweep benchmarks.

        A sweep is what makes a model benchmarkable; the other catalog models (most of them,
        known from public data and architecture facts) are predicted, never launched.
        """
        return sorted({k for sweep in self.sweeps.values() for k in sweep.models})

    @property
    def partition_hardware(self) -> list[str]:
        """Hardware keys of the ``hardware`` partition dimension (entries with a launcher)."""
        return sorted(k for k, h in self.hardware.items() if h.benchmarkable)


def _lookup(kind: str, key: str, table: dict[str, Any], index: Any) -> Any:
    return _lookup_counted(kind, key, table, index)[0]


def _lookup_counted(kind: str, key: str, table: dict[str, Any], index: Any,
                    single: bool = False) -> tuple[Any, int | None]:
    """The entry a name resolves to and the device count the name states (None when it states none);
    ``single``: a counted name takes the one-device entry (:meth:`HardwareIndex.resolve`)."""
    if key in table:
        return table[key], None
    found = index.resolve(key, single) if single else index.resolve(key)
    if found.key is not None:
        return table[found.key], found.count
    reason = "" if found.reason in ("unknown", "ambiguous") else f" ({found.reason})"
    label = "closest" if found.reason != "ambiguous" else "could be"
    hint = f"; {label}: {', '.join(found.candidates)}" if found.candidates else ""
    verb = "ambiguous" if found.reason == "ambiguous" else "unknown"
    advice = ""
    if found.reason == "unknown":
        lead = "if it is none of these, add" if found.candidates else "not in the catalog: add"
        advice = f"; {lead} it {HOW_TO_ADD[kind]}"
    raise CatalogError(f"{verb} {kind} {key!r}{reason}{hint}{advice}", candidates=found.candidates)


#: What a refusal of an unknown name says about adding the entry (the overlay and its fields).
HOW_TO_ADD = {
    "hardware": ("in a hardware overlay, $INFERENCE_ESTIMATION_HOME/catalog/<name>.yaml, under 'hardware:' "
                 "with key, kind (cpu|cuda|rocm|xpu|hpu|rdu|mps|tpu|tt), vendor, device_name, aliases, "
                 "spec_source, spec_reference and specs (peak_tflops_bf16 or _fp16, memory_gb and "
                 "memory_bandwidth_gb_s are needed; peak_tflops_fp8/_fp4, tdp_w, interconnect, "
                 "interconnect_bandwidth_gb_s, price_per_hour_usd as known); `inference-estimation catalog` "
                 "checks the file"),
    "model": ("in a model overlay, $INFERENCE_ESTIMATION_HOME/catalog/<name>.yaml, under 'models:' with key, "
              "hf_id, family, params, default_dtype and architecture (layers, hidden_size, heads, kv_heads, "
              "intermediate_size, vocab_size, max_position_embeddings; experts/active_experts for MoE) from the "
              "model's config.json; `inference-estimation catalog` checks the file"),
}


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _format_error(path: Path, section: str, index: int, raw: dict[str, Any], exc: ValidationError) -> str:
    ident = raw.get("key") or raw.get("name")
    where = f"{path.name}: {section}[{index}]" + (f" (key={ident!r})" if ident else "")
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
        lines.append(f"{where}.{loc}: {err['msg']}" if loc else f"{where}: {err['msg']}")
    return f"invalid catalog file {path}:\n  " + "\n  ".join(lines)


_SECTIONS = {"models": ModelEntry, "hardware": HardwareEntry, "sweeps": SweepEntry}


def _read_file(path: Path) -> dict[str, list[dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # unreadable, a dangling link, not UTF-8
        raise CatalogError(f"invalid catalog file {path}: cannot be read as UTF-8 text: {exc}") from exc
    try:
        data = yaml.load(text, Loader=_YAML_LOADER) or {}
    except yaml.YAMLError as exc:
        raise CatalogError(f"invalid catalog file {path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"invalid catalog file {path}: top level must be a mapping with models/hardware/sweeps")
    unknown = set(data) - set(_SECTIONS)
    if unknown:
        raise CatalogError(f"invalid catalog file {path}: unknown section(s) {sorted(unknown)}; "
                           f"allowed: {', '.join(_SECTIONS)}")
    for section, items in data.items():
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise CatalogError(f"invalid catalog file {path}: section '{section}' must be a list of mappings")
    return data


def load_catalog(overlay_dirs: list[Path] | None = None, base_dir: Path | None = None,
                 strict: bool = True) -> Catalog:
    """Loads the package catalog plus overlays, validating every entry.

    Args:
        overlay_dirs: folders whose ``*.yaml`` files add or override entries (in order);
            defaults to ``[$INFERENCE_ESTIMATION_HOME/catalog]``.
        base_dir: the package catalog folder (tests point this elsewhere).
        strict: raise on an invalid overlay file (validation, the ``sweep`` and ``catalog``
            commands). When False (the Dagster code location, its sensors and assets,
            ``predict``), an overlay file that is invalid on its own or together with the files
            before it is left out *whole*, its error kept in :attr:`Catalog.skipped_overlays`, and
            everything else loads: one user's broken file does not take the code location down.
            The package catalog itself must always be valid.

    Returns:
        The validated catalog.

    Raises:
        CatalogError: naming the file and field of the first invalid entry, or a sweep that
            references an unknown model or hardware key.
    """
    if overlay_dirs is None:
        from inference_estimation.lib.home import get_home

        overlay_dirs = [get_home(create=False).catalog_dir]
    base_files = sorted((base_dir or PACKAGE_CATALOG_DIR).glob("*.yaml"))
    overlay_files = [f for folder in overlay_dirs if folder.exists() for f in sorted(folder.glob("*.yaml"))]
    if strict:
        return _build([(path, _read_file(path)) for path in base_files + overlay_files])
    accepted = [(path, _read_file(path)) for path in base_files]
    catalog, skipped = _build(accepted), []
    for path in overlay_files:
        try:
            candidate = [*accepted, (path, _read_file(path))]
            catalog = _build(candidate)
        except CatalogError as exc:
            skipped.append(str(exc))
            continue
        accepted = candidate
    return catalog.model_copy(update={"skipped_overlays": tuple(skipped)}) if skipped else catalog


def _build(files: list[tuple[Path, dict[str, list[dict[str, Any]]]]]) -> Catalog:
    """Merges read catalog files (later entries override earlier ones by key) and validates them."""
    raw: dict[str, dict[str, tuple[dict[str, Any], Path, int]]] = {s: {} for s in _SECTIONS}
    for path, data in files:
        for section, items in data.items():
            id_field = "name" if section == "sweeps" else "key"
            for index, item in enumerate(items):
                ident = item.get(id_field)
                if not ident:
                    raise CatalogError(f"invalid catalog file {path}: {section}[{index}].{id_field}: Field required")
                if ident in raw[section]:
                    base_item, _, _ = raw[section][ident]
                    item = _deep_merge(base_item, item)
                raw[section][ident] = (item, path, index)

    parsed: dict[str, dict[str, Any]] = {s: {} for s in _SECTIONS}
    for section, entries in raw.items():
        for ident, (item, path, index) in entries.items():
            try:
                parsed[section][ident] = _SECTIONS[section].model_validate(item)
            except ValidationError as exc:
                raise CatalogError(_format_error(path, section, index, item, exc)) from None

    for name, sweep in parsed["sweeps"].items():
        _, path, index = raw["sweeps"][name]
        for field, table in (("models", parsed["models"]), ("hardware", parsed["hardware"])):
            for i, key in enumerate(getattr(sweep, field)):
                if key not in table:
                    raise CatalogError(f"invalid catalog file {path}: sweeps[{index}] (key={name!r}).{field}[{i}]: "
                                       f"unknown {field} key {key!r}")
        for i, key in enumerate(sweep.hardware):
            if not parsed["hardware"][key].benchmarkable:
                raise CatalogError(f"invalid catalog file {path}: sweeps[{index}] (key={name!r}).hardware[{i}]: "
                                   f"{key!r} has no launcher, so it cannot be benchmarked")
    return Catalog(models=parsed["models"], hardware=parsed["hardware"], sweeps=parsed["sweeps"],
                   files=tuple(str(path) for path, _ in files))
