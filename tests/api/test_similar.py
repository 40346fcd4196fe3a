"""/similar answers from the bundle's similar-items table and says why each movie is there."""

from __future__ import annotations

from fastapi.testclient import TestClient

from movierec.api.schemas import SimilarResponse
from tests.synthetic import SyntheticMovieLens

SEED = 10


def audiences(data: SyntheticMovieLens) -> dict[int, set[int]]:
    """Movie id -> the users who rated it (hand-computed reference)."""
    grouped = data.ratings.groupby("movie_id")["user_id"]
    return {int(movie): set(users.tolist()) for movie, users in grouped}


def test_each_similar_movie_says_why(
    client: TestClient, synthetic_data: SyntheticMovieLens
) -> None:
    body = client.post("/similar", json={"movie_id": SEED, "k": 8}).json()
    SimilarResponse.model_validate(body, strict=True)
    audience = audiences(synthetic_data)
    genres = dict(
        zip(synthetic_data.items["movie_id"], synthetic_data.items["genres"], strict=True)
    )
    assert len(body["similar_items"]) == 8
    for movie in body["similar_items"]:
        both = len(audience[SEED] & audience[movie["movie_id"]])
        assert movie["shared_audience"] == both > 0
        assert abs(movie["audience_share"] - both / len(audience[SEED])) < 1e-3
        assert movie["shared_genres"] == [g for g in movie["genres"] if g in genres[SEED]]


def test_the_table_ranks_by_penalised_shrunk_cosine(
    client: TestClient, synthetic_data: SyntheticMovieLens
) -> None:
    """The bundle's table (shrinkage 10, penalty 0.4 in tests/bundles.py), recomputed here."""
    audience = audiences(synthetic_data)
    seed = audience[SEED]

    def score(movie: int) -> float:
        others = audience[movie]
        cosine = len(seed & others) / ((len(seed) * len(others)) ** 0.5 + 10.0)
        return cosine / len(others) ** 0.4

    candidates = [m for m in audience if m != SEED and audience[m] & seed]
    expected = sorted(candidates, key=score, reverse=True)[:5]
    body = client.post("/similar", json={"movie_id": SEED, "k": 5}).json()
    assert [m["movie_id"] for m in body["similar_items"]] == expected
    for movie in body["similar_items"]:
        assert abs(movie["score"] - score(movie["movie_id"])) < 1e-5


def test_k_beyond_the_listed_neighbours_returns_what_there_is(client: TestClient) -> None:
    body = client.post("/similar", json={"movie_id": SEED, "k": 100}).json()
    ids = [m["movie_id"] for m in body["similar_items"]]
    assert 0 < len(ids) <= 89 and SEED not in ids and len(set(ids)) == len(ids)
