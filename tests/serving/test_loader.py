"""Bundle validation: every kind of damage is refused with the file and the fix named."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
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


def test_a_valid_bundle_loads_into_memory_read_only(bundles: dict[str, Path]) -> None:
    model = load_bundle(bundles["embeddings"])
    assert not isinstance(model.user_embeddings.base, np.memmap)  # small: a private copy
    assert not model.item_embeddings.flags.writeable
    assert (model.n_users, model.n_items) == (120, 90)
    assert model.item_weights is None
    assert model.items[0].movie_id == model.item_ids[0] == 1


def test_dense_arrays_above_the_copy_threshold_are_memory_mapped(
    bundles: dict[str, Path],
) -> None:
    model = load_bundle(bundles["embeddings"], copy_below_bytes=0)
    assert isinstance(model.user_embeddings.base, np.memmap)  # pages shared across workers
    assert isinstance(model.item_embeddings.base, np.memmap)
    assert not model.item_embeddings.flags.writeable


def is_mapped(array: np.ndarray) -> bool:
    """Whether `array` views a memory map (shared pages) rather than a private copy."""
    while array is not None and not isinstance(array, np.memmap):
        array = array.base
    return array is not None


def test_sparse_matrices_above_the_copy_threshold_are_memory_mapped(
    bundles: dict[str, Path],
) -> None:
    copied = load_bundle(bundles["item_weights"])
    mapped = load_bundle(bundles["item_weights"], copy_below_bytes=0)
    for name in ("user_items", "item_weights"):
        matrix, private = getattr(mapped, name), getattr(copied, name)
        assert is_mapped(matrix.indices) and is_mapped(matrix.data), name
        assert not is_mapped(private.data) and not matrix.data.flags.writeable
        assert matrix.has_sorted_indices and (matrix != private).nnz == 0, name


def test_a_compressed_sparse_matrix_of_an_older_export_still_loads(bundle: Path) -> None:
    expected = load_bundle(bundle).user_items
    sp.save_npz(bundle / art.USER_ITEMS, sp.load_npz(bundle / art.USER_ITEMS), compressed=True)
    art.write_manifest(bundle)
    loaded = load_bundle(bundle, copy_below_bytes=0).user_items
    assert not is_mapped(loaded.data) and (loaded != expected).nnz == 0


def test_a_mapped_sparse_matrix_is_checked_as_a_copied_one(bundle: Path) -> None:
    items = sp.load_npz(bundle / art.USER_ITEMS)
    items.data[0] = np.inf
    sp.save_npz(bundle / art.USER_ITEMS, items, compressed=False)
    art.write_manifest(bundle)
    with pytest.raises(BundleError, match="NaN or infinite") as error:
        load_bundle(bundle, copy_below_bytes=0)
    assert art.USER_ITEMS in str(error.value)


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
    art.write_manifest(bundle)  # damaged at export, not afterwards: the manifest agrees
    with pytest.raises(BundleError) as error:
        load_bundle(bundle)
    message = str(error.value)
    assert named in message and problem in message and "make train" in message


def test_unknown_year_loads_as_none(tmp_path: Path) -> None:
    bundle = build_synthetic_bundle(tmp_path / "b")
    edit_json(bundle / art.ITEM_FEATURES, lambda items: [{**items[0], "year": None}, *items[1:]])
    art.write_manifest(bundle)
    assert load_bundle(bundle).items[0].year is None


def scale(name: str, factor: float) -> Callable[[Path], None]:
    def damage(bundle: Path) -> None:
        np.save(bundle / name, np.load(bundle / name) * np.float32(factor))

    return damage


def scale_weights(bundle: Path) -> None:
    weights = sp.load_npz(bundle / art.ITEM_WEIGHTS).tocsr()
    weights.data *= np.float32(1e20)
    sp.save_npz(bundle / art.ITEM_WEIGHTS, weights)


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (scale(art.USER_EMBEDDINGS, 1e20), art.USER_EMBEDDINGS),
        (scale(art.ITEM_EMBEDDINGS, 1e15), art.ITEM_EMBEDDINGS),
        (scale_weights, art.ITEM_WEIGHTS),
    ],
)
def test_huge_finite_values_that_cannot_rank_are_refused(
    bundle: Path, damage: Callable[[Path], None], named: str
) -> None:
    damage(bundle)
    art.write_manifest(bundle)
    with pytest.raises(BundleError, match="cannot rank") as error:
        load_bundle(bundle)
    assert named in str(error.value)


def rewrite_in_place(path: Path, change: Callable[[np.ndarray], np.ndarray]) -> None:
    """Overwrite a released .npy file's bytes in place (same file, same size)."""
    path.chmod(0o644)
    array = np.load(path)
    with path.open("r+b") as file:
        file.seek(path.stat().st_size - array.nbytes)
        file.write(change(array).astype(array.dtype).tobytes())


def test_a_file_edited_in_place_is_refused_at_the_next_load(tmp_path: Path) -> None:
    bundle = build_synthetic_bundle(tmp_path / "release")
    art.seal(bundle)
    load_bundle(bundle)
    size = (bundle / art.USER_EMBEDDINGS).stat().st_size
    rewrite_in_place(bundle / art.USER_EMBEDDINGS, lambda a: a[::-1])
    assert (bundle / art.USER_EMBEDDINGS).stat().st_size == size
    with pytest.raises(BundleError, match=re.escape("SHA-256 differs from manifest.json")) as error:
        load_bundle(bundle)
    assert art.USER_EMBEDDINGS in str(error.value) and "movierec export" in str(error.value)


def test_an_edit_after_load_does_not_reach_the_loaded_model(tmp_path: Path) -> None:
    bundle = build_synthetic_bundle(tmp_path / "release")
    model = load_bundle(bundle)
    before = model.user_embeddings.copy()
    rewrite_in_place(bundle / art.USER_EMBEDDINGS, lambda a: a * 1e20)
    np.testing.assert_array_equal(model.user_embeddings, before)


def test_a_bundle_without_its_manifest_is_refused(bundle: Path) -> None:
    (bundle / art.MANIFEST).unlink()
    with pytest.raises(BundleError, match=re.escape("no manifest.json")):
        load_bundle(bundle)


def test_sealed_files_are_read_only(tmp_path: Path) -> None:
    bundle = build_synthetic_bundle(tmp_path / "release")
    art.seal(bundle)
    modes = {path.name: path.stat().st_mode & 0o777 for path in bundle.iterdir()}
    assert set(modes.values()) == {0o444}, modes
    assert set(json.loads((bundle / art.MANIFEST).read_text())["files"]) == set(modes) - {
        art.MANIFEST
    }


TRUNCATE_AFTER_LOAD = """
import sys
from pathlib import Path
from movierec.serving.loader import load_bundle
bundle = Path(sys.argv[1])
model = load_bundle(bundle)
(bundle / "user_embeddings.npy").chmod(0o644)
(bundle / "user_embeddings.npy").open("r+b").truncate(0)
print(float(model.user_embeddings.sum()))
"""


def test_truncating_a_file_of_the_loaded_model_cannot_crash_the_process(tmp_path: Path) -> None:
    bundle = build_synthetic_bundle(tmp_path / "release")
    run = subprocess.run(
        [sys.executable, "-c", TRUNCATE_AFTER_LOAD, str(bundle)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, f"exit {run.returncode} (-7 is SIGBUS): {run.stderr[-2000:]}"
    assert np.isfinite(float(run.stdout.strip().splitlines()[-1]))


def test_a_reload_reads_every_file_from_one_release_while_the_link_moves(tmp_path: Path) -> None:
    """Export swaps the `production` link; a load that went through the link for every file
    paired one release's embeddings with the other's metadata."""
    releases = {
        version: build_synthetic_bundle(tmp_path / version, seed=seed, version=version)
        for seed, version in enumerate(("first", "second"))
    }
    embeddings = {
        version: np.load(path / art.USER_EMBEDDINGS) for version, path in releases.items()
    }
    production = tmp_path / "production"
    production.symlink_to(releases["first"])
    stop = threading.Event()

    def keep_swapping() -> None:
        turn = 0
        while not stop.is_set():
            turn += 1
            link = tmp_path / f".link-{turn}"
            link.symlink_to(releases["second" if turn % 2 else "first"])
            link.replace(production)
            stop.wait(0.002)

    swapper = threading.Thread(target=keep_swapping)
    swapper.start()
    mixed, directories = [], set()
    try:
        for _ in range(40):
            model = load_bundle(production)
            version = model.metadata.version
            directories.add(model.directory == releases[version].resolve())
            if not np.array_equal(model.user_embeddings, embeddings[version]):
                mixed.append(version)
    finally:
        stop.set()
        swapper.join()
    assert mixed == []
    assert directories == {True}  # each model names the one release it was read from
