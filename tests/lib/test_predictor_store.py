"""The predictor store: content-addressed versions, pointers instead of copies, the old layout still read."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from catboost import CatBoostRegressor

from inference_estimation.lib.ml import predictor_store as store
from inference_estimation.lib.ml.modeling import TrainedPredictor, save_predictor
from inference_estimation.lib.ml.predict import predictor_folders, stored_primitives
from inference_estimation.lib.ml.step_fit import fit_step_model
from inference_estimation.lib.ml.step_serving import load_step_model, step_model_path
from tests.lib.step_rows import synthetic_rows


def trained(data_version: str, seed: int = 0) -> TrainedPredictor:
    """A tiny CatBoost primitive with a card naming its data version (enough for the store)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x": rng.normal(size=30)})
    model = CatBoostRegressor(iterations=5, depth=2, verbose=False, random_seed=seed)
    model.fit(X, X["x"] * 2)
    return TrainedPredictor("tpot_s", model, {"target": "tpot_s", "data_version": data_version}, pd.DataFrame())


@pytest.fixture(scope="module")
def step_model():
    frame = synthetic_rows({}, noise=0.02, seed=1)
    model = fit_step_model(frame, np.ones(len(frame), dtype=bool), max_evaluations=5)
    model.card["data_version"] = "frame-1"
    return model


def versions(root, name="tpot_s"):
    return sorted(p.name for p in (root / store.STORE_DIR / name).iterdir() if not p.name.startswith("."))


def test_a_trained_model_is_stored_once_per_content_and_the_trained_pointer_names_it(tmp_path):
    predictor = trained("frame-1")
    first = store.write_version(tmp_path, "tpot_s", predictor)
    again = store.write_version(tmp_path, "tpot_s", predictor)
    assert first.version == again.version and versions(tmp_path) == [first.version]
    assert first.folder == tmp_path / "store" / "tpot_s" / first.version
    assert sorted(p.name for p in first.folder.iterdir()) == ["card.json", "model.cbm"]  # no temporary files
    loaded = store.load(tmp_path, store.TRAINED, "tpot_s")
    assert loaded.version == first.version and loaded.data_version == "frame-1"
    assert loaded.model.predict(pd.DataFrame({"x": [1.0]}))[0] == pytest.approx(predictor.model.predict(
        pd.DataFrame({"x": [1.0]}))[0])
    other = store.write_version(tmp_path, "tpot_s", trained("frame-2", seed=1))
    assert other.version != first.version and store.read_pointer(tmp_path, store.TRAINED, "tpot_s") == other


def test_promotion_moves_a_pointer_to_the_stored_folder_and_copies_nothing(tmp_path):
    version = store.write_version(tmp_path, "tpot_s", trained("frame-1"))
    promoted = store.point_at(tmp_path, store.PROMOTED, version)
    assert promoted.folder == version.folder and versions(tmp_path) == [version.version]
    pointer_file = json.loads((tmp_path / "pointers" / "promoted" / "tpot_s.json").read_text())
    assert pointer_file["folder"] == f"store/tpot_s/{version.version}" and pointer_file["data_version"] == "frame-1"
    # a newer training run moves the trained pointer only: predict keeps serving the promoted version
    newer = store.write_version(tmp_path, "tpot_s", trained("frame-2", seed=1))
    assert stored_primitives(tmp_path) == {"tpot_s": (version.folder, True)}
    assert stored_primitives(tmp_path, allow_unpromoted=True) == {"tpot_s": (version.folder, True)}
    assert store.resolve(tmp_path, "tpot_s", allow_unpromoted=True)[0].version == version.version != newer.version


def test_an_unpromoted_model_is_served_only_when_allowed_and_flagged(tmp_path):
    version = store.write_version(tmp_path, "tpot_s", trained("frame-1"))
    assert stored_primitives(tmp_path) == {}
    assert stored_primitives(tmp_path, allow_unpromoted=True) == {"tpot_s": (version.folder, False)}


def test_too_little_data_clears_the_trained_pointer_and_keeps_the_promoted_one(tmp_path):
    version = store.write_version(tmp_path, "tpot_s", trained("frame-1"))
    store.point_at(tmp_path, store.PROMOTED, version)
    store.clear_pointer(tmp_path, store.TRAINED, "tpot_s")
    assert store.read_pointer(tmp_path, store.TRAINED, "tpot_s") is None
    assert store.read_pointer(tmp_path, store.PROMOTED, "tpot_s").version == version.version


def test_versions_no_pointer_names_are_pruned_beyond_the_newest_few(tmp_path):
    first = store.write_version(tmp_path, "tpot_s", trained("frame-1", seed=0))
    store.point_at(tmp_path, store.PROMOTED, first)
    written = [store.write_version(tmp_path, "tpot_s", trained(f"frame-{s}", seed=s)).version for s in range(1, 6)]
    kept = set(versions(tmp_path))
    assert first.version in kept and written[-1] in kept  # the promoted and the trained one
    assert len(kept) <= 2 + store.KEEP_UNREFERENCED_VERSIONS


def test_the_layout_before_the_store_is_still_served_and_promoting_it_stores_it_once(tmp_path):
    save_predictor(trained("old-1"), tmp_path / "tpot_s")  # <predictors>/<target>/ = trained, old layout
    save_predictor(trained("old-0", seed=1), tmp_path / "promoted" / "tpot_s")
    assert predictor_folders(tmp_path) == {"tpot_s": tmp_path / "promoted" / "tpot_s"}
    legacy = store.read_pointer(tmp_path, store.TRAINED, "tpot_s")
    assert legacy.version == store.LEGACY and legacy.data_version == "old-1"
    adopted = store.point_at(tmp_path, store.PROMOTED, legacy)
    assert adopted.folder.parent == tmp_path / "store" / "tpot_s" and adopted.data_version == "old-1"
    assert stored_primitives(tmp_path) == {"tpot_s": (adopted.folder, True)}  # the pointer wins over the old folder
    assert store.names(tmp_path, store.PROMOTED) == ["tpot_s"]


def test_the_step_model_is_stored_promoted_and_served_through_pointers(tmp_path, step_model):
    assert load_step_model(tmp_path, allow_unpromoted=True) == (None, False)
    version = store.write_version(tmp_path, store.STEP_MODEL, step_model)
    assert sorted(p.name for p in version.folder.iterdir()) == ["step_model.json"]
    model, promoted = load_step_model(tmp_path, allow_unpromoted=True)
    assert model is not None and not promoted and load_step_model(tmp_path, allow_unpromoted=False) == (None, False)
    store.point_at(tmp_path, store.PROMOTED, version)
    model, promoted = load_step_model(tmp_path, allow_unpromoted=False)
    assert promoted and model.card["data_version"] == "frame-1"
    assert stored_primitives(tmp_path, allow_unpromoted=True) == {}  # the step model is not a primitive


def test_an_old_promoted_step_model_file_is_still_served(tmp_path, step_model):
    step_model.save(step_model_path(tmp_path, promoted=True))
    model, promoted = load_step_model(tmp_path, allow_unpromoted=False)
    assert promoted and model.card["data_version"] == "frame-1"
    pointer = store.read_pointer(tmp_path, store.PROMOTED, store.STEP_MODEL)
    assert pointer.version == store.LEGACY and pointer.data_version == "frame-1"
    shutil.rmtree(tmp_path / "promoted")
    assert load_step_model(tmp_path, allow_unpromoted=True) == (None, False)
