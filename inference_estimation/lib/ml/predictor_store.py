"""The predictor store: immutable, content-addressed model versions and small pointer files.

Layout under the home's predictors folder::

    store/<name>/<version>/            one trained version, never rewritten (model.cbm + card.json
                                       for a CatBoost primitive, step_model.json for the step model)
    pointers/trained/<name>.json       the version the latest training run produced
    pointers/promoted/<name>.json      the version ``predict`` serves

``<name>`` is a learned primitive (``tpot_s``) or ``step_model``; ``<version>`` is a hash of the
folder's files, so the same bytes always land in the same folder and a pointer names exactly
what was checked. Promotion moves a pointer, it never copies a model.

The layout before the store (``<name>/`` trained, ``promoted/<name>/`` promoted, and the step
model at ``step_model/step_model.json`` and ``promoted/step_model.json``) stays readable: a
name without a pointer resolves to its old folder, so an existing home keeps answering until
its next training run writes pointers.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inference_estimation.lib.ml.modeling import TrainedPredictor, load_predictor, save_predictor
from inference_estimation.lib.ml.step_model import StepModel

STORE_DIR = "store"
POINTERS_DIR = "pointers"
TRAINED, PROMOTED = "trained", "promoted"
STAGES = (TRAINED, PROMOTED)
#: The step-time model's name in the store (the primitives are named by their target).
STEP_MODEL = "step_model"
STEP_MODEL_FILE = "step_model.json"
#: Trained versions kept per name besides those a pointer names (older ones are deleted).
KEEP_UNREFERENCED_VERSIONS = 2
_PREDICTOR_FILES = ("model.cbm", "card.json")
#: The version of a model found in the layout before the store (a folder that is not content-addressed).
LEGACY = "legacy"


@dataclass(frozen=True)
class Pointer:
    """What a pointer file says: which stored version of a name a stage uses.

    Attributes:
        name: the primitive (``tpot_s``) or ``step_model``.
        stage: ``trained`` or ``promoted``.
        version: the content hash naming the folder; :data:`LEGACY` for a folder of the old layout.
        data_version: the training frame's data version the model was fitted on.
        folder: the version's folder.
    """

    name: str
    stage: str
    version: str
    data_version: str | None
    folder: Path


@dataclass(frozen=True)
class StoredPredictor:
    """A loaded model version, as the store hands it to whoever depends on it.

    Attributes:
        pointer: where it came from (name, stage, version, data version, folder).
        model: the CatBoost regressor or the :class:`StepModel`.
        card: the model's card (what it was trained on, its scores).
    """

    pointer: Pointer
    model: Any
    card: dict[str, Any]

    @property
    def name(self) -> str:
        """The primitive or ``step_model``."""
        return self.pointer.name

    @property
    def version(self) -> str:
        """The content hash of the stored version."""
        return self.pointer.version

    @property
    def data_version(self) -> str | None:
        """The data version the model was fitted on."""
        return self.pointer.data_version


def _pointer_path(predictors_dir: Path, stage: str, name: str) -> Path:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; one of {STAGES}")
    return predictors_dir / POINTERS_DIR / stage / f"{name}.json"


def _content_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def save_artifact(model: TrainedPredictor | StepModel, folder: Path) -> str | None:
    """Writes a model in its own format (no pickle) into ``folder``; returns its data version."""
    if isinstance(model, StepModel):
        model.save(folder / STEP_MODEL_FILE)
        return model.card.get("data_version")
    if isinstance(model, TrainedPredictor):
        save_predictor(model, folder)
        return model.card.get("data_version")
    raise TypeError(f"the predictor store keeps CatBoost primitives and step models, not {type(model).__name__}")


def load_artifact(folder: Path) -> tuple[Any, dict[str, Any]]:
    """The model and card stored in a version folder (either kind).

    Raises:
        FileNotFoundError: the folder holds neither kind.
    """
    if (folder / STEP_MODEL_FILE).exists():
        model = StepModel.load(folder / STEP_MODEL_FILE)
        return model, dict(model.card)
    return load_predictor(folder)


def _store_folder(predictors_dir: Path, name: str, fill) -> tuple[str, Any]:
    """Fills a staging folder (``fill(folder)``), hashes it and renames it to ``store/<name>/<hash>``
    (the same content twice is one folder); returns the hash and what ``fill`` returned."""
    versions = predictors_dir / STORE_DIR / name
    versions.mkdir(parents=True, exist_ok=True)
    staging = versions / f".staging-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        result = fill(staging)
        for tmp in staging.glob(".*"):  # a writer's temporary files are not part of the content
            tmp.unlink()
        version = _content_hash(staging)
        if not (versions / version).exists():
            staging.rename(versions / version)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return version, result


def write_version(predictors_dir: Path, name: str, model: TrainedPredictor | StepModel) -> Pointer:
    """Stores a trained model as a new immutable version and points ``trained`` at it.

    Older versions that no pointer names are pruned (:func:`prune_versions`).
    """
    version, data_version = _store_folder(predictors_dir, name, lambda folder: save_artifact(model, folder))
    pointer = set_pointer(predictors_dir, TRAINED, name, version, data_version)
    prune_versions(predictors_dir, name)
    return pointer


def point_at(predictors_dir: Path, stage: str, pointer: Pointer) -> Pointer:
    """Points ``stage`` at the version another pointer names (promotion).

    A version of the layout before the store (``legacy``) is first copied into the store once, so
    the pointer names an immutable folder like any other.
    """
    version = pointer.version
    if version == LEGACY:
        files = [STEP_MODEL_FILE] if pointer.name == STEP_MODEL else list(_PREDICTOR_FILES)
        version, _ = _store_folder(predictors_dir, pointer.name, lambda folder: [
            shutil.copyfile(pointer.folder / f, folder / f) for f in files])
    return set_pointer(predictors_dir, stage, pointer.name, version, pointer.data_version)


def set_pointer(predictors_dir: Path, stage: str, name: str, version: str, data_version: str | None) -> Pointer:
    """Points ``stage`` of ``name`` at a stored version (atomic: readers see the old or the new one).

    Raises:
        FileNotFoundError: no such version is stored.
    """
    folder = predictors_dir / STORE_DIR / name / version
    if not folder.is_dir():
        raise FileNotFoundError(f"no stored version {version} of {name} in {predictors_dir / STORE_DIR}")
    path = _pointer_path(predictors_dir, stage, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps({"name": name, "stage": stage, "version": version, "data_version": data_version,
                               "folder": folder.relative_to(predictors_dir).as_posix(),
                               "written_at": datetime.now(UTC).isoformat(timespec="seconds")}, indent=2))
    tmp.replace(path)
    return Pointer(name, stage, version, data_version, folder)


def clear_pointer(predictors_dir: Path, stage: str, name: str) -> None:
    """Removes a stage's pointer, and the old layout's folder of that stage (no model is served from it)."""
    _pointer_path(predictors_dir, stage, name).unlink(missing_ok=True)
    legacy = _legacy_folder(predictors_dir, stage, name)
    if legacy is not None and name != STEP_MODEL:
        shutil.rmtree(legacy, ignore_errors=True)
    elif legacy is not None:
        (legacy / STEP_MODEL_FILE).unlink(missing_ok=True)


def _legacy_folder(predictors_dir: Path, stage: str, name: str) -> Path | None:
    """The old layout's folder of a name and stage, when it holds a model."""
    if name == STEP_MODEL:
        folder = predictors_dir / (PROMOTED if stage == PROMOTED else STEP_MODEL)
        return folder if (folder / STEP_MODEL_FILE).exists() else None
    folder = predictors_dir / PROMOTED / name if stage == PROMOTED else predictors_dir / name
    return folder if all((folder / f).exists() for f in _PREDICTOR_FILES) else None


def read_pointer(predictors_dir: Path, stage: str, name: str) -> Pointer | None:
    """Where ``stage`` of ``name`` points: its pointer file, else the old layout's folder, else None."""
    path = _pointer_path(predictors_dir, stage, name)
    if path.exists():
        data = json.loads(path.read_text())
        return Pointer(name, stage, data["version"], data.get("data_version"), predictors_dir / data["folder"])
    legacy = _legacy_folder(predictors_dir, stage, name)
    if legacy is None:
        return None
    card_path = legacy / (STEP_MODEL_FILE if name == STEP_MODEL else "card.json")
    card = json.loads(card_path.read_text())
    data_version = (card.get("card") or {}).get("data_version") if name == STEP_MODEL else card.get("data_version")
    return Pointer(name, stage, LEGACY, data_version, legacy)


def load(predictors_dir: Path, stage: str, name: str) -> StoredPredictor | None:
    """The model a stage points at, loaded; None when there is none."""
    pointer = read_pointer(predictors_dir, stage, name)
    if pointer is None:
        return None
    model, card = load_artifact(pointer.folder)
    return StoredPredictor(pointer, model, card)


def names(predictors_dir: Path, stage: str) -> list[str]:
    """The names a stage has a model for (pointers and the old layout), step model included."""
    found = {p.stem for p in (predictors_dir / POINTERS_DIR / stage).glob("*.json")}
    legacy_root = predictors_dir / PROMOTED if stage == PROMOTED else predictors_dir
    found |= {p.parent.name for p in legacy_root.glob("*/card.json")
              if p.parent.name not in (STORE_DIR, POINTERS_DIR, PROMOTED)}
    if _legacy_folder(predictors_dir, stage, STEP_MODEL) is not None:
        found.add(STEP_MODEL)
    return sorted(found)


def resolve(predictors_dir: Path, name: str, allow_unpromoted: bool) -> tuple[Pointer | None, bool]:
    """The version ``predict`` uses for a name: the promoted one, else (if allowed) the trained one;
    and whether it is promoted."""
    promoted = read_pointer(predictors_dir, PROMOTED, name)
    if promoted is not None:
        return promoted, True
    return (read_pointer(predictors_dir, TRAINED, name) if allow_unpromoted else None), False


def prune_versions(predictors_dir: Path, name: str, keep: int = KEEP_UNREFERENCED_VERSIONS) -> list[str]:
    """Deletes the stored versions of a name that no pointer names, but the ``keep`` newest; returns them."""
    versions = predictors_dir / STORE_DIR / name
    named = {p.version for stage in STAGES if (p := read_pointer(predictors_dir, stage, name)) is not None}
    loose = sorted((f for f in versions.iterdir() if f.is_dir() and not f.name.startswith(".")
                    and f.name not in named), key=lambda f: f.stat().st_mtime, reverse=True)
    for folder in loose[keep:]:
        shutil.rmtree(folder, ignore_errors=True)
    return [f.name for f in loose[keep:]]
