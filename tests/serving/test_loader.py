"""Bundle validation: every kind of damage is refused with the file and the fix named."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import pytest
import scipy.sparse as sp

from movierec import artifacts as art
from movierec.artifacts import BundleError
from movierec.serving.loader import load_bundle
from tests.bundles import build_synthetic_bundle


@pytest.fixture
def bundle(tmp_path: Path, bundles: dict[str, Path]) -> Path:
    """A private copy of the item-weights bundle (it holds every file) to damage."""
    return Path(shutil.copytree(bundles["item_weights"], tmp_path / "bundle"))


def edit_json(path: Path, change: Callable[[object], object]) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def test_a_valid_bundle_loads_memory_mapped(bundles: dict[str, Path]) -> None:
    model = load_bundle(bundles["embeddings"])
    assert isinstance(model.user_embeddings.base, np.memmap)  # pages shared across workers
    assert isinstance(model.item_embeddings.base, np.memmap)
    assert not model.item_embeddings.flags.writeable
    assert (model.n_users, model.n_items) == (120, 90)
    assert model.item_weights is None
    assert model.items[0].movie_id == model.item_ids[0] == 1


def drop(name: str) -> Callable[[Path], None]:
    return lambda bundle: (bundle / name).unlink()


def nan_in(name: str) -> Callable[[Path], None]:
    def damage(bundle: Path) -> None:
        array = np.load(bundle / name)
        array[-1, -1] = np.inf
        np.save(bundle / name, array)

    return damage


def reshape(name: str) -> Callable[[Path], None]:
    return lambda bundle: np.save(bundle / name, np.load(bundle / name)[:-1])


def bad_weights(bundle: Path) -> None:
    weights = sp.load_npz(bundle / art.ITEM_WEIGHTS).tocsr()
    weights.data[0] = np.nan
    sp.save_npz(bundle / art.ITEM_WEIGHTS, weights)


def small_index(bundle: Path) -> None:
    index = faiss.IndexFlatIP(3)
    index.add(np.ones((90, 3), dtype=np.float32))
    faiss.write_index(index, str(bundle / art.ITEM_INDEX))


def edit_similar(change: Callable[[dict[str, np.ndarray]], None]) -> Callable[[Path], None]:
    def damage(bundle: Path) -> None:
        with np.load(bundle / art.SIMILAR_ITEMS) as stored:
            arrays = dict(stored)
        change(arrays)
        np.savez(bundle / art.SIMILAR_ITEMS, **arrays)

    return damage


def first_similar(name: str, row: int, value: float) -> Callable[[Path], None]:
    """Set the first entry of `row` in the similar-items array `name`."""
    return edit_similar(lambda arrays: arrays[name].__setitem__((row, 0), value))


@pytest.mark.parametrize(
    ("damage", "named", "problem"),
    [
        (drop(art.MODEL_METADATA), art.MODEL_METADATA, "no production model"),
        (drop(art.USER_ITEMS), art.USER_ITEMS, "missing"),
        (drop(art.ITEM_WEIGHTS), art.ITEM_WEIGHTS, "missing"),
        (nan_in(art.ITEM_EMBEDDINGS), art.ITEM_EMBEDDINGS, "NaN or infinite"),
        (reshape(art.USER_EMBEDDINGS), art.USER_EMBEDDINGS, "shape (119, 16)"),
        (bad_weights, art.ITEM_WEIGHTS, "NaN"),
        (drop(art.SIMILAR_ITEMS), art.SIMILAR_ITEMS, "missing"),
        (edit_similar(lambda a: a.pop("shared")), art.SIMILAR_ITEMS, "columns, scores, shared"),
        (first_similar("columns", 3, 3), art.SIMILAR_ITEMS, "itself"),
        (first_similar("columns", 0, 90), art.SIMILAR_ITEMS, "[0, 90)"),
        (first_similar("columns", 0, -1), art.SIMILAR_ITEMS, "padding"),
        (first_similar("scores", 0, np.nan), art.SIMILAR_ITEMS, "NaN"),
        (
            edit_similar(lambda a: a.update(audience=a["audience"][:-1])),
            art.SIMILAR_ITEMS,
            "audience (90,)",
        ),
        (small_index, art.ITEM_INDEX, "dim 3"),
        (lambda b: (b / art.ITEM_INDEX).write_bytes(b"junk"), art.ITEM_INDEX, "FAISS"),
        (lambda b: (b / art.POPULARITY).write_text("{"), art.POPULARITY, "JSON"),
        (
            lambda b: edit_json(b / art.USER_MAPPING, lambda m: {**m, "100000": 0}),
            art.USER_MAPPING,
            "indices must be exactly",
        ),
        (
            lambda b: edit_json(b / art.ITEM_FEATURES, lambda items: items[::-1]),
            art.ITEM_FEATURES,
            "column order",
        ),
        (
            lambda b: edit_json(b / art.POPULARITY, lambda entries: entries[1:]),
            art.POPULARITY,
            "every item",
        ),
        (
            lambda b: edit_json(b / art.MODEL_METADATA, lambda m: {**m, "n_items": 91}),
            art.ITEM_MAPPING,
            "0..90",
        ),
        (
            lambda b: edit_json(b / art.MODEL_METADATA, lambda m: {**m, "scorer": "magic"}),
            art.MODEL_METADATA,
            "ModelMetadata",
        ),
    ],
)
def test_damaged_bundles_are_refused_with_the_file_and_the_fix(
    bundle: Path, damage: Callable[[Path], None], named: str, problem: str
) -> None:
    damage(bundle)
    with pytest.raises(BundleError) as error:
        load_bundle(bundle)
    message = str(error.value)
    assert named in message and problem in message and "make train" in message


def test_unknown_year_loads_as_none(tmp_path: Path) -> None:
    bundle = build_synthetic_bundle(tmp_path / "b")
    edit_json(bundle / art.ITEM_FEATURES, lambda items: [{**items[0], "year": None}, *items[1:]])
    assert load_bundle(bundle).items[0].year is None
