"""Fixtures for the model tests: a small synthetic matrix and, when mirrored, real ml-100k."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tests.conftest import real_mirror
from tests.synthetic import generate


@pytest.fixture(scope="session")
def user_items() -> sp.csr_matrix:
    """Synthetic ratings (120 users x 90 items, taste groups = item index % 4) as a CSR matrix."""
    ratings = generate().ratings
    return sp.csr_matrix(
        (
            ratings["rating"].to_numpy(np.float32),
            (ratings["user_id"].to_numpy() - 1, ratings["movie_id"].to_numpy() - 1),
        ),
        shape=(ratings["user_id"].max(), ratings["movie_id"].max()),
    )


@dataclass
class MovieLens100k:
    """ml-100k as a user x item rating matrix; column i is movie `movie_ids[i]`."""

    user_items: sp.csr_matrix
    movie_ids: np.ndarray
    titles: dict[int, str]

    def column(self, movie_id: int) -> int:
        return int(np.searchsorted(self.movie_ids, movie_id))


@pytest.fixture(scope="session")
def ml100k() -> MovieLens100k:
    """Real ml-100k read straight from the mirror's zip (tests using it need requires_ml100k)."""
    mirror = real_mirror()
    assert mirror is not None, "mark the test with tests.conftest.requires_ml100k"
    with zipfile.ZipFile(mirror / "ml-100k.zip") as archive:
        ratings = pd.read_csv(
            io.BytesIO(archive.read("ml-100k/u.data")),
            sep="\t",
            names=["user_id", "movie_id", "rating", "timestamp"],
        )
        items = pd.read_csv(
            io.BytesIO(archive.read("ml-100k/u.item")),
            sep="|",
            header=None,
            usecols=[0, 1],
            names=["movie_id", "title"],
            encoding="latin-1",
        )
    movie_ids = np.sort(ratings["movie_id"].unique())
    users = ratings["user_id"].to_numpy() - 1
    columns = np.searchsorted(movie_ids, ratings["movie_id"].to_numpy())
    matrix = sp.csr_matrix(
        (ratings["rating"].to_numpy(np.float32), (users, columns)),
        shape=(users.max() + 1, len(movie_ids)),
    )
    return MovieLens100k(matrix, movie_ids, dict(zip(items.movie_id, items.title, strict=True)))
