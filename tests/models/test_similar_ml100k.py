"""Behaviour on the real ml-100k: the configured similar-items table lists the sequels."""

from __future__ import annotations

import pytest

from movierec.config import SimilarSettings, load_settings
from movierec.models.similarity import shrunk_cosine, similar_items_table
from tests.conftest import REPO_ROOT, requires_ml100k
from tests.models.conftest import MovieLens100k

STAR_WARS, EMPIRE_STRIKES_BACK, RETURN_OF_THE_JEDI = 50, 172, 181

pytestmark = [pytest.mark.slow, requires_ml100k]


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> SimilarSettings:
    """`training.similar` as the committed configs/training.yaml sets it."""
    monkeypatch.setenv("MOVIEREC_CONFIG_DIR", str(REPO_ROOT / "configs"))
    return load_settings().training.similar


def top(ml100k: MovieLens100k, similar: SimilarSettings, movie_id: int, k: int) -> list[str]:
    table = similar_items_table(
        ml100k.user_items,
        shrunk_cosine(similar.shrinkage),
        similar.popularity_penalty,
        similar.neighbours,
    )
    listed = table.columns[ml100k.column(movie_id), :k]
    return [ml100k.titles[int(ml100k.movie_ids[c])] for c in listed[listed >= 0]]


def test_star_wars_top_5_holds_both_sequels(
    ml100k: MovieLens100k, configured: SimilarSettings
) -> None:
    assert ml100k.titles[EMPIRE_STRIKES_BACK] == "Empire Strikes Back, The (1980)"
    assert ml100k.titles[RETURN_OF_THE_JEDI] == "Return of the Jedi (1983)"
    listed = top(ml100k, configured, STAR_WARS, 5)
    assert {ml100k.titles[EMPIRE_STRIKES_BACK], ml100k.titles[RETURN_OF_THE_JEDI]} <= set(listed)


@pytest.mark.parametrize(
    ("seed", "companion"),
    [
        (127, "Godfather: Part II, The (1974)"),  # The Godfather
        (183, "Aliens (1986)"),  # Alien
        (195, "Terminator 2: Judgment Day (1991)"),  # The Terminator
        (59, "Three Colors: Blue (1993)"),  # Three Colors: Red
        (169, "Close Shave, A (1995)"),  # Wallace & Gromit: The Wrong Trousers
    ],
)
def test_franchise_companions_are_in_the_top_5(
    ml100k: MovieLens100k, configured: SimilarSettings, seed: int, companion: str
) -> None:
    assert companion in top(ml100k, configured, seed, 5), ml100k.titles[seed]
