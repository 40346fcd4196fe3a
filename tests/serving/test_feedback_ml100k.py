"""On the real ml-100k: five science-fiction ratings make science fiction rise, for a new user
(from the popular list) and for a known user (from their own list), with both scorers."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from movierec.data.loaders import load_dataset
from movierec.serving.engine import Engine
from movierec.serving.loader import load_bundle
from movierec.serving.profiles import Profile, UserEvent, profile_of
from tests.bundles import build_bundle
from tests.conftest import real_mirror, requires_ml100k

pytestmark = [pytest.mark.slow, requires_ml100k]

SCI_FI = "Sci-Fi"


@pytest.fixture(scope="module", params=["embeddings", "item_weights"])
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    mirror = real_mirror()
    assert mirror is not None
    root = tmp_path_factory.mktemp("ml100k")
    with zipfile.ZipFile(mirror / "ml-100k.zip") as archive:
        archive.extractall(root)
    raw = load_dataset("ml-100k", root / "ml-100k")
    directory = build_bundle(root / "bundle", raw.ratings, raw.items, request.param, dim=32)
    return Engine(load_bundle(directory), max_k=100)


def sci_fi_share(engine: Engine, columns: np.ndarray) -> float:
    return float(np.mean([SCI_FI in engine.genre_sets[c] for c in columns.tolist()]))


def five_sci_fi_ratings(engine: Engine, user_id: int, seen: set[int]) -> tuple[Profile, list[int]]:
    """5-star ratings of the five most popular science-fiction movies not in `seen`, and
    their columns."""
    sci_fi = [c for c in engine.popular_order.tolist() if SCI_FI in engine.genre_sets[c]]
    chosen = [c for c in sci_fi if c not in seen][:5]
    events = [
        UserEvent(n, user_id, engine.movie_ids[c], "rating", 5.0) for n, c in enumerate(chosen)
    ]
    return profile_of(events), chosen


def test_a_new_user_who_rates_science_fiction_gets_science_fiction(engine: Engine) -> None:
    profile, rated = five_sci_fi_ratings(engine, 10_001, set())
    # Before: the popular list (without the five, which are left out after).
    eligible = np.ones(engine.model.n_items, dtype=bool)
    eligible[rated] = False
    before = engine.popular_order[eligible[engine.popular_order]][:20]
    after = engine.recommend(10_001, k=20, profile=Profile(*profile[:4], registered=True))
    assert not after.is_fallback
    assert sci_fi_share(engine, after.columns) >= sci_fi_share(engine, before) + 0.1


def test_a_known_users_science_fiction_rises_after_five_ratings(engine: Engine) -> None:
    model = engine.model
    counts = np.diff(model.user_items.indptr)
    shares = {u: sci_fi_share(engine, engine.recommend(u, k=20).columns) for u in range(1, 301)}
    # Of the users with little science fiction today, the one with the shortest history.
    few = [u for u in shares if shares[u] <= 0.1]
    user = min(few, key=lambda u: (counts[model.user_rows[u]], u))
    before = shares[user]
    row = model.user_rows[user]
    seen = model.user_items.indices[model.user_items.indptr[row] : model.user_items.indptr[row + 1]]
    profile, _ = five_sci_fi_ratings(engine, user, set(seen.tolist()))
    after = sci_fi_share(engine, engine.recommend(user, k=20, profile=profile).columns)
    assert after > before, (user, before, after)
