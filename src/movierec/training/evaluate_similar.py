"""Offline quality of similar-movie lists: co-liked pairs of held-out users, franchise pairs.

Protocol (`compare_candidates`): users are split into `folds` at random; in each fold every
candidate is built from the other users' ratings, and each held-out user's liked movies
(rating >= `liked_rating`) make pairs: every liked movie is a seed, paired with another movie
the same user liked, drawn at random. On each candidate's top-k lists (`movierec.models.
similarity` tables):

- `pair_hit_rate`: the share of pairs whose target is in the seed's list. Lists of
  blockbusters score well on it (most people who liked anything liked them too), so it is
  reported but not selected on.
- `item_hit_rate`: the same share per target movie, averaged over the movies: how often a
  movie is found from the movies its fans liked, be it a blockbuster or not. Selected on.
- `franchise_recall`: the share of `FRANCHISE_PAIRS` (a seed and its sequel or companion,
  looked up by title) whose second movie is in the seed's top 5 or top 10: the sanity check
  that the lists look right to a person.
- `mean_audience` (how popular the listed movies are) and `coverage` (the share of the
  catalogue in at least one list).

`choose` picks the best item hit rate among the candidates that keep at least
`FRANCHISE_FLOOR` of the franchise pairs in the top 10.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from movierec.config import Settings
from movierec.data.preprocess import confidence_weights
from movierec.models import Recommender
from movierec.models.registry import model_class
from movierec.models.similarity import (
    RowSource,
    embedding_cosine,
    shrunk_cosine,
    similar_items_table,
    weight_rows,
)

SourceKind = Literal["popularity", "shrunk_cosine", "ease", "ease_svd", "item_item", "als"]

FRANCHISE_PAIRS: tuple[tuple[str, str], ...] = (
    ("Star Wars (1977)", "Empire Strikes Back, The (1980)"),
    ("Star Wars (1977)", "Return of the Jedi (1983)"),
    ("Godfather, The (1972)", "Godfather: Part II, The (1974)"),
    ("Three Colors: Red (1994)", "Three Colors: Blue (1993)"),
    ("Three Colors: Red (1994)", "Three Colors: White (1994)"),
    ("Wrong Trousers, The (1993)", "Close Shave, A (1995)"),
    ("Wrong Trousers, The (1993)", "Grand Day Out, A (1992)"),
    ("Alien (1979)", "Aliens (1986)"),
    ("Terminator, The (1984)", "Terminator 2: Judgment Day (1991)"),
    ("Raiders of the Lost Ark (1981)", "Indiana Jones and the Last Crusade (1989)"),
    ("Die Hard (1988)", "Die Hard 2 (1990)"),
    ("Batman (1989)", "Batman Returns (1992)"),
    ("Star Trek: The Wrath of Khan (1982)", "Star Trek III: The Search for Spock (1984)"),
    ("Jurassic Park (1993)", "Lost World: Jurassic Park, The (1997)"),
    ("Free Willy (1993)", "Free Willy 2: The Adventure Home (1995)"),
)
FRANCHISE_FLOOR = 0.9
EXAMPLE_SEED = "Star Wars (1977)"


# Metrics over lists: int arrays (n_items, k) whose row i is item i's list, -1 for no item.


def list_hits(lists: np.ndarray, seeds: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Whether each pair's target is in its seed's list."""
    return np.asarray((lists[seeds] == targets[:, None]).any(axis=1))


def pair_hit_rate(lists: np.ndarray, seeds: np.ndarray, targets: np.ndarray) -> float:
    """The share of (seed, target) pairs whose target is in the seed's list."""
    return float(list_hits(lists, seeds, targets).mean()) if len(seeds) else 0.0


def item_hit_rate(lists: np.ndarray, seeds: np.ndarray, targets: np.ndarray) -> float:
    """The hit rate of each target movie over its own pairs, averaged over target movies."""
    if not len(seeds):
        return 0.0
    _, movie = np.unique(targets, return_inverse=True)
    per_movie = np.bincount(movie, weights=list_hits(lists, seeds, targets)) / np.bincount(movie)
    return float(per_movie.mean())


def coverage(lists: np.ndarray) -> float:
    """The share of the catalogue (the rows) listed at least once."""
    return len(np.unique(lists[lists >= 0])) / len(lists)


def mean_audience(lists: np.ndarray, audience: np.ndarray) -> float:
    """The mean audience (users who rated it) of the movies listed, counting repeats."""
    listed = lists[lists >= 0]
    return float(audience[listed].mean()) if len(listed) else 0.0


def coliked_pairs(liked: sp.csr_matrix, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(seeds, targets): every liked item of every user with two or more, each paired with
    another item the same user liked, drawn uniformly."""
    lengths = np.diff(liked.indptr)
    starts = np.repeat(liked.indptr[:-1], lengths)
    sizes = np.repeat(lengths, lengths)
    position = np.arange(liked.nnz) - starts
    offset = rng.integers(1, np.maximum(sizes, 2))
    partner = starts + (position + offset) % np.maximum(sizes, 1)
    keep = sizes >= 2
    return liked.indices[keep].astype(np.int64), liked.indices[partner[keep]].astype(np.int64)


@dataclass(frozen=True)
class Candidate:
    """One way of listing similar movies: a similarity source and a popularity penalty."""

    source: SourceKind
    popularity_penalty: float = 0.0
    shrinkage: float = 0.0

    @property
    def name(self) -> str:
        shrunk = f" shrinkage={self.shrinkage:g}" if self.source == "shrunk_cosine" else ""
        return f"{self.source}{shrunk} penalty={self.popularity_penalty:g}"


def default_candidates() -> list[Candidate]:
    """Popularity (a reference), what /similar used before the table (the winner's item
    vectors: ALS factors, or the SVD of EASE's weights), the models' own similarity (EASE
    and item-item weights) and shrunk cosine, each over a few popularity penalties."""
    penalties = (0.0, 0.2, 0.3, 0.4, 0.5)
    return [
        Candidate("popularity"),
        *[Candidate("als", penalty) for penalty in (0.0, 0.1, 0.2)],
        Candidate("ease_svd"),
        Candidate("item_item"),
        *[Candidate("ease", penalty) for penalty in penalties],
        *[
            Candidate("shrunk_cosine", penalty, shrinkage)
            for shrinkage in (0.0, 10.0, 50.0, 100.0)
            for penalty in penalties
        ],
    ]


def _popularity(start: int, stop: int, shared: np.ndarray, audience: np.ndarray) -> np.ndarray:
    """The reference source: every co-rated movie scores its audience."""
    return np.broadcast_to(audience.astype(np.float32), shared.shape)


class _Sources:
    """The row sources of one training matrix, each model fitted once and only when asked."""

    def __init__(self, matrix: sp.csr_matrix, settings: Settings) -> None:
        self.matrix = matrix
        self.training = settings.training
        self.fitted: dict[str, Recommender] = {}

    def _model(self, kind: str) -> Recommender:
        if kind not in self.fitted:
            self.fitted[kind] = model_class(kind)(self.training.models.params(kind))
            self.fitted[kind].fit(self.matrix)
        return self.fitted[kind]

    def get(self, candidate: Candidate) -> RowSource:
        source = candidate.source
        if source == "popularity":
            return _popularity
        if source == "shrunk_cosine":
            return shrunk_cosine(candidate.shrinkage)
        if source == "als":
            return embedding_cosine(self._model("als").item_vectors())
        if source == "ease_svd":
            return embedding_cosine(self._model("ease").item_vectors())
        weights = self._model(source).item_weight_matrix()
        assert weights is not None  # ease and item_item score by item weights
        return weight_rows(weights)


@dataclass
class CandidateResult:
    """A candidate's metrics: means over the folds (and the spread of the item hit rate)."""

    name: str
    candidate: dict[str, Any]
    pair_hit_rate: float
    item_hit_rate: float
    item_hit_rate_fold_std: float
    franchise_recall_at_5: float
    franchise_recall_at_10: float
    mean_audience: float
    coverage: float


@dataclass
class SimilarityComparison:
    """Every candidate's results, the protocol's sizes and the chosen candidate."""

    k: int
    folds: int
    liked_rating: float
    n_users: int
    n_items: int
    n_pairs: int
    franchise_pairs: list[tuple[str, str]]
    results: list[CandidateResult]
    chosen: str
    examples: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def choose(results: Iterable[CandidateResult]) -> CandidateResult:
    """The best item hit rate among results with franchise recall@10 >= `FRANCHISE_FLOOR`
    (among all results when none reaches it)."""
    results = list(results)
    sane = [r for r in results if r.franchise_recall_at_10 >= FRANCHISE_FLOOR] or results
    return max(sane, key=lambda result: result.item_hit_rate)


def title_labels(items: pd.DataFrame) -> pd.Series:
    """'Title (year)' per movie id, as ml-100k writes titles."""
    years = items["year"].astype("string").fillna("")
    labels = items["title"].where(years == "", items["title"] + " (" + years + ")")
    return pd.Series(labels.to_numpy(), index=items["movie_id"].to_numpy())


def _franchise_columns(
    items: pd.DataFrame, movie_ids: np.ndarray
) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """The franchise pairs whose two movies are both rated, and their columns."""
    labels = title_labels(items)
    column = {label: i for i, label in enumerate(labels.reindex(movie_ids).fillna(""))}
    found = [(a, b) for a, b in FRANCHISE_PAIRS if a in column and b in column]
    seeds = np.array([column[a] for a, _ in found], dtype=np.int64)
    targets = np.array([column[b] for _, b in found], dtype=np.int64)
    return found, seeds, targets


def compare_candidates(
    ratings: pd.DataFrame,
    items: pd.DataFrame,
    settings: Settings,
    candidates: list[Candidate] | None = None,
    folds: int = 5,
    k: int = 10,
    liked_rating: float = 4.0,
    seed: int = 42,
) -> SimilarityComparison:
    """Measure every candidate on `ratings` (user_id, movie_id, rating) by the protocol of
    the module docstring; `items` (movie_id, title, year) names the franchise movies."""
    candidates = candidates or default_candidates()
    rng = np.random.default_rng(seed)
    user_ids, rows = np.unique(ratings["user_id"].to_numpy(), return_inverse=True)
    movie_ids, columns = np.unique(ratings["movie_id"].to_numpy(), return_inverse=True)
    rating = ratings["rating"].to_numpy(dtype=np.float64)
    shape = (len(user_ids), len(movie_ids))
    data = settings.data
    weights = confidence_weights(rating, data.confidence, data.confidence_alpha)
    confidence = sp.csr_matrix((weights.astype(np.float32), (rows, columns)), shape=shape)
    is_liked = rating >= liked_rating
    liked = sp.csr_matrix(
        (np.ones(int(is_liked.sum()), dtype=np.float32), (rows[is_liked], columns[is_liked])),
        shape=shape,
    )
    franchise, franchise_seeds, franchise_targets = _franchise_columns(items, movie_ids)
    fold_of = rng.permutation(len(user_ids)) % folds
    per_fold: dict[Candidate, list[list[float]]] = {candidate: [] for candidate in candidates}
    n_pairs = 0
    for fold in range(folds):
        train = confidence[fold_of != fold]
        seeds, targets = coliked_pairs(liked[fold_of == fold], rng)
        n_pairs += len(seeds)
        sources = _Sources(train, settings)
        for candidate in candidates:
            table = similar_items_table(
                train, sources.get(candidate), candidate.popularity_penalty, k
            )
            lists = table.columns
            per_fold[candidate].append(
                [
                    pair_hit_rate(lists, seeds, targets),
                    item_hit_rate(lists, seeds, targets),
                    pair_hit_rate(lists[:, :5], franchise_seeds, franchise_targets),
                    pair_hit_rate(lists, franchise_seeds, franchise_targets),
                    mean_audience(lists, table.audience),
                    coverage(lists),
                ]
            )
    results = [_result(candidate, np.asarray(values)) for candidate, values in per_fold.items()]
    chosen = choose(results)
    previous = Candidate("als")  # what /similar ranked by before, the ALS winner's factors
    shown = [previous, *[c for c in candidates if c.name == chosen.name and c != previous]]
    return SimilarityComparison(
        k=k,
        folds=folds,
        liked_rating=liked_rating,
        n_users=len(user_ids),
        n_items=len(movie_ids),
        n_pairs=n_pairs,
        franchise_pairs=franchise,
        results=results,
        chosen=chosen.name,
        examples=_examples(confidence, title_labels(items).reindex(movie_ids), settings, shown),
    )


def _result(candidate: Candidate, per_fold: np.ndarray) -> CandidateResult:
    """Means over the folds of the metrics `compare_candidates` lists, in its order."""
    means = per_fold.mean(axis=0).tolist()
    return CandidateResult(
        name=candidate.name,
        candidate=asdict(candidate),
        pair_hit_rate=means[0],
        item_hit_rate=means[1],
        item_hit_rate_fold_std=float(per_fold[:, 1].std()),
        franchise_recall_at_5=means[2],
        franchise_recall_at_10=means[3],
        mean_audience=means[4],
        coverage=means[5],
    )


def _examples(
    matrix: sp.csr_matrix, labels: pd.Series, settings: Settings, candidates: list[Candidate]
) -> dict[str, list[str]]:
    """`EXAMPLE_SEED`'s top 10 by each candidate, built from every user's ratings; `labels`
    names the columns of `matrix`."""
    names = labels.fillna("").to_numpy()
    where = np.flatnonzero(names == EXAMPLE_SEED)
    if not len(where):
        return {}
    sources = _Sources(matrix, settings)
    examples = {}
    for candidate in candidates:
        table = similar_items_table(
            matrix, sources.get(candidate), candidate.popularity_penalty, 10
        )
        listed = table.columns[where[0]]
        examples[candidate.name] = [str(names[c]) for c in listed[listed >= 0]]
    return examples
