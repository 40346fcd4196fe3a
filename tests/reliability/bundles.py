"""Releases for reload tests and the soak benchmark: copies of a good release, the link switch
export makes, and every kind of bad bundle a reload must refuse, with what its refusal says."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from movierec import artifacts as art
from tests.bundles import build_bundle
from tests.synthetic import generate


def switch(releases: Path, name: str) -> None:
    """Point `releases/production` at a release as export does: a new link renamed over it."""
    link = releases / f".link-{name}"
    link.symlink_to(releases / name)
    link.replace(releases / "production")


def copy_release(source: Path, target: Path) -> Path:
    """A writable copy of the release `source` at `target`."""
    shutil.copytree(source, target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


def resealed(change: Callable[[Path], None]) -> Callable[[Path], None]:
    """`change`, then a manifest that agrees with it: a bundle exported broken."""

    def damage(bundle: Path) -> None:
        change(bundle)
        art.write_manifest(bundle)

    return damage


def scaled(bundle: Path) -> None:
    path = bundle / art.USER_EMBEDDINGS
    np.save(path, np.load(path) * np.float32(1e20))


def with_nan(bundle: Path) -> None:
    path = bundle / art.ITEM_EMBEDDINGS
    array = np.load(path)
    array[0, 0] = np.nan
    np.save(path, array)


def edited_in_place(bundle: Path) -> None:
    path = bundle / art.USER_EMBEDDINGS
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(size - 64)
        file.write(b"\x7f" * 64)


def truncated(bundle: Path) -> None:
    with (bundle / art.USER_EMBEDDINGS).open("r+b") as file:
        file.truncate(200)


def other_dataset(bundle: Path) -> None:
    shutil.rmtree(bundle)
    data = generate()
    build_bundle(bundle, data.ratings, data.items, version="other", dataset="ml-25m")


BAD_BUNDLES: dict[str, tuple[Callable[[Path], None], str]] = {
    "nan": (resealed(with_nan), "NaN"),
    "huge": (resealed(scaled), "cannot rank"),
    "edited": (edited_in_place, "SHA-256"),
    "truncated": (truncated, "size"),
    "missing": (resealed(lambda b: (b / art.SIMILAR_ITEMS).unlink()), "missing"),
    "unsealed": (lambda b: (b / art.MANIFEST).unlink(), "manifest"),
    "dataset": (other_dataset, "restart the API"),
}
