"""Behaviour on the real ml-100k: the neighbours of Star Wars in each model's item vectors
(through the FAISS index) include Return of the Jedi."""

from __future__ import annotations

import time

import numpy as np
import pytest

from movierec.models import create_model
from movierec.models.index import build_index, search_similar
from tests.conftest import requires_ml100k
from tests.models.conftest import MovieLens100k

STAR_WARS = 50
RETURN_OF_THE_JEDI = 181

pytestmark = [pytest.mark.slow, requires_ml100k]


@pytest.mark.parametrize("kind", ["als", "item_item", "ease"])
def test_star_wars_neighbours_include_return_of_the_jedi(
    kind: str, ml100k: MovieLens100k, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ml100k.titles[STAR_WARS] == "Star Wars (1977)"
    assert ml100k.titles[RETURN_OF_THE_JEDI] == "Return of the Jedi (1983)"
    started = time.perf_counter()
    model = create_model(kind).fit(ml100k.user_items)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n{kind} fit on ml-100k: {elapsed:.2f} s")

    query = np.array([ml100k.column(STAR_WARS)])
    jedi = ml100k.column(RETURN_OF_THE_JEDI)
    vectors = model.item_vectors()
    via_index, _ = search_similar(build_index(vectors), vectors, query, k=10)
    assert jedi in via_index[0], [ml100k.titles[int(ml100k.movie_ids[i])] for i in via_index[0]]
