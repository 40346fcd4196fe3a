"""Behaviour on the real ml-100k: the neighbours of Star Wars by cosine of each model's item
vectors (a source of the similar-items table) include Return of the Jedi."""

from __future__ import annotations

import time

import pytest

from movierec.models import create_model
from movierec.models.similarity import embedding_cosine, similar_items_table
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

    source = embedding_cosine(model.item_vectors())
    table = similar_items_table(ml100k.user_items, source, popularity_penalty=0.0, size=10)
    neighbours = table.columns[ml100k.column(STAR_WARS)]
    titles = [ml100k.titles[int(ml100k.movie_ids[i])] for i in neighbours if i >= 0]
    assert ml100k.column(RETURN_OF_THE_JEDI) in neighbours, titles
