"""Similar-list metrics against hand-computed cases, and the comparison on synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from movierec.config import Settings, load_settings
from movierec.training.evaluate_similar import (
    FRANCHISE_PAIRS,
    Candidate,
    CandidateResult,
    choose,
    coliked_pairs,
    compare_candidates,
    coverage,
    item_hit_rate,
    mean_audience,
    pair_hit_rate,
    title_labels,
)
from tests.conftest import REPO_ROOT
from tests.synthetic import generate

# Item 0 lists 1 then 2, item 1 lists only 0, item 2 lists 0 then 1, item 3 lists nothing.
LISTS = np.array([[1, 2], [0, -1], [0, 1], [-1, -1]])
# Pairs (seed -> target): 0 -> 1 hit, 2 -> 1 hit, 1 -> 2 miss, 3 -> 0 miss.
SEEDS, TARGETS = np.array([0, 2, 1, 3]), np.array([1, 1, 2, 0])


def test_pair_hit_rate_by_hand() -> None:
    assert pair_hit_rate(LISTS, SEEDS, TARGETS) == 2 / 4
    assert pair_hit_rate(LISTS[:, :1], SEEDS, TARGETS) == 1 / 4  # 2 -> 1 is second
    assert pair_hit_rate(LISTS, SEEDS[:0], TARGETS[:0]) == 0.0


def test_item_hit_rate_averages_per_target_movie() -> None:
    # target 1: 2 of 2 pairs hit; target 2: 0 of 1; target 0: 0 of 1 -> (1 + 0 + 0) / 3
    assert item_hit_rate(LISTS, SEEDS, TARGETS) == pytest.approx(1 / 3)
    # one more pair for the popular target 1 changes the pair rate, not the item rate
    seeds, targets = np.append(SEEDS, 0), np.append(TARGETS, 1)
    assert pair_hit_rate(LISTS, seeds, targets) == 3 / 5
    assert item_hit_rate(LISTS, seeds, targets) == pytest.approx(1 / 3)


def test_coverage_and_mean_audience_by_hand() -> None:
    assert coverage(LISTS) == 3 / 4  # items 0, 1, 2 are listed, item 3 never
    audience = np.array([10, 20, 30, 40])
    # listed: 1, 2, 0, 0, 1 -> (20 + 30 + 10 + 10 + 20) / 5
    assert mean_audience(LISTS, audience) == pytest.approx(18.0)


def test_coliked_pairs_pair_each_liked_movie_with_another_of_the_same_user() -> None:
    liked = sp.csr_matrix(
        np.array([[1, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 1, 0, 0, 1]], dtype=np.float32)
    )
    users = {0: {0, 1, 2}, 2: {1, 4}}  # user 1 has one liked movie: no pair
    for seed in range(20):
        seeds, targets = coliked_pairs(liked, np.random.default_rng(seed))
        assert sorted(seeds.tolist()) == [0, 1, 1, 2, 4]
        assert (seeds != targets).all()
        assert all(
            any({s, t} <= movies for movies in users.values())
            for s, t in zip(seeds.tolist(), targets.tolist(), strict=True)
        )


def result(name: str, item_hit: float, franchise_at_10: float) -> CandidateResult:
    return CandidateResult(name, {}, 0.0, item_hit, 0.0, 0.0, franchise_at_10, 0.0, 0.0)


def test_choose_prefers_the_best_item_hit_rate_that_looks_right() -> None:
    results = [result("popular", 0.03, 0.5), result("sane", 0.02, 0.9), result("b", 0.01, 1.0)]
    assert choose(results).name == "sane"
    assert choose([result("a", 0.01, 0.1), result("b", 0.02, 0.0)]).name == "b"


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("MOVIEREC_CONFIG_DIR", str(REPO_ROOT / "configs"))
    return load_settings(training={"models": {"als": {"factors": 8, "iterations": 3}}})


def test_compare_candidates_on_synthetic_data(settings: Settings) -> None:
    data = generate()
    # Name two synthetic movies after a franchise pair, so the sanity check has one pair.
    items = data.items.copy()
    seed_title, companion_title = FRANCHISE_PAIRS[0]
    items.loc[items["movie_id"] == 1, ["title", "year"]] = [seed_title[:-7], 1977]
    items.loc[items["movie_id"] == 5, ["title", "year"]] = [companion_title[:-7], 1980]
    candidates = [
        Candidate("popularity"),
        Candidate("shrunk_cosine", 0.3, 10.0),
        Candidate("ease", 0.2),
        Candidate("als"),
    ]
    comparison = compare_candidates(data.ratings, items, settings, candidates, folds=3, k=5)
    liked_users = data.ratings[data.ratings["rating"] >= 4].groupby("user_id").size()
    assert comparison.n_pairs == int(liked_users[liked_users >= 2].sum())
    assert comparison.franchise_pairs == [FRANCHISE_PAIRS[0]]
    by_name = {r.name: r for r in comparison.results}
    assert list(by_name) == [c.name for c in candidates]
    for measured in comparison.results:
        for rate in (measured.pair_hit_rate, measured.item_hit_rate, measured.coverage):
            assert 0.0 <= rate <= 1.0
    # Synthetic tastes come in groups: the penalised cosine finds them, popularity does not.
    popular, cosine = (
        by_name["popularity penalty=0"],
        by_name["shrunk_cosine shrinkage=10 penalty=0.3"],
    )
    assert cosine.item_hit_rate > popular.item_hit_rate
    assert cosine.mean_audience < popular.mean_audience
    assert comparison.chosen in by_name
    assert set(comparison.examples) >= {"als penalty=0", comparison.chosen}
    assert all(len(titles) == 10 for titles in comparison.examples.values())
    again = compare_candidates(data.ratings, items, settings, candidates, folds=3, k=5)
    assert again.to_dict() == comparison.to_dict()


def test_titles_without_a_year_are_looked_up_by_title() -> None:
    items = pd.DataFrame({"movie_id": [1, 2], "title": ["A", "B"], "year": [1990, None]})
    items["year"] = items["year"].astype("Int64")
    assert title_labels(items).tolist() == ["A (1990)", "B"]
