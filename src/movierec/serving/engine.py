"""The engine: recommend, similar and popular from one loaded bundle, as typed results.

One `Scorer` serves both kinds of bundle (see `movierec.serving.scorers`). Genre and year
filters are boolean masks over the item columns built once at load; a query ORs its genre
masks and ANDs the year range, then `movierec.serving.ranking` picks the top k. The common
request (no filters, embeddings) goes through one compiled kernel instead
(`movierec.serving.kernels`). When the model cannot answer, popularity does, and the result
says why (`FallbackReason`). Query fields the model cannot take raise `InvalidQueryError`,
unknown movies `UnknownMovieError`. An `Engine` is immutable: a reload builds a new one.

Usage:
    >>> engine = Engine(load_bundle(Path("models/production")), max_k=100)  # doctest: +SKIP
    >>> engine.recommend(user_id=1, k=10).columns  # item columns, best first  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from movierec.artifacts import ItemRecord
from movierec.serving import kernels
from movierec.serving.errors import InvalidQueryError, UnknownMovieError
from movierec.serving.fallback import FallbackReason, most_popular, popularity_order
from movierec.serving.loader import LoadedModel
from movierec.serving.profiles import Profile
from movierec.serving.ranking import ItemFilters, top_k
from movierec.serving.scorers import (
    EmbeddingScorer,
    FoldIn,
    History,
    ItemWeightsScorer,
    Scorer,
)


class Ranking(NamedTuple):
    """Item columns best first, their scores, and whether (and why) a fallback answered."""

    columns: np.ndarray
    scores: np.ndarray
    is_fallback: bool = False
    fallback_reason: FallbackReason | None = None


class SimilarMovies(NamedTuple):
    """The movies most similar to `seed`, best first, and why each is there: `shared[i]` of
    the seed's `audience` also have movie i, and `shared_genres[i]` are the seed's genres it
    has too."""

    seed: ItemRecord
    columns: np.ndarray
    scores: np.ndarray
    shared: list[int]
    audience: int
    shared_genres: list[list[str]]


EMPTY_PROFILE = Profile(
    np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
)


class Engine:
    """Answers recommend, similar and popular queries from one loaded model."""

    def __init__(self, model: LoadedModel, max_k: int) -> None:
        self.model = model
        self.max_k = max_k
        self.version = model.metadata.version
        self.largest_user_id = max(model.user_rows, default=0)
        self.filters = ItemFilters(model.items)
        self.popular_order = popularity_order(model.popularity)
        # Python lists: indexing them per request costs less than numpy's fancy indexing.
        self.seen_bounds: list[int] = model.user_items.indptr.tolist()
        self.movie_ids: list[int] = model.item_ids.tolist()
        self.genre_sets = [frozenset(item.genres) for item in model.items]
        self.scorer: Scorer
        if model.item_weights is not None:
            self.scorer = ItemWeightsScorer(model.user_items, model.item_weights)
        else:
            self.scorer = EmbeddingScorer(
                model.user_embeddings,
                model.item_embeddings,
                FoldIn.of(model.metadata.hyperparameters),
            )
            kernels.compile_for(
                self.scorer.item_factors, model.user_embeddings, model.user_items.indices
            )

    def _check_k(self, k: int) -> None:
        if k > self.max_k:
            raise InvalidQueryError(("k",), f"k must be at most {self.max_k} (serving.max_k)", k)

    def column(self, movie_id: int) -> int:
        """The item column of `movie_id`; `UnknownMovieError` when the model does not know it."""
        column = self.model.item_columns.get(movie_id)
        if column is None:
            raise UnknownMovieError(movie_id)
        return column

    def recommend(
        self,
        user_id: int | None,
        k: int,
        exclude_seen: bool = True,
        genres: Sequence[str] | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
        profile: Profile | None = None,
    ) -> Ranking:
        """Top `k` for the user (None: an anonymous session), scored from their training row
        and their `profile`'s feedback; without a positive interaction, popularity answers."""
        self._check_k(k)
        eligible = self.filters.select(genres, year_min, year_max)
        row = None if user_id is None else self.model.user_rows.get(user_id)
        if profile is None:
            if row is None:
                return self._popular_for(eligible, k, FallbackReason.UNKNOWN_USER)
            return self._known_user(row, k, exclude_seen, eligible)
        history, seen = self._history(row, profile, exclude_seen)
        if not (history.weights > 0).any():
            if profile.registered and row is None:
                return self._popular_for(eligible, k, FallbackReason.NEW_USER, seen)
            reason = FallbackReason.NO_POSITIVE_FEEDBACK if profile.has_events else None
            return self._popular_for(eligible, k, reason or FallbackReason.UNKNOWN_USER, seen)
        return self._rank(self.scorer.score_history(history), seen, eligible, k)

    def _known_user(
        self, row: int, k: int, exclude_seen: bool, eligible: np.ndarray | None
    ) -> Ranking:
        start, end = self.seen_bounds[row], self.seen_bounds[row + 1]
        if not exclude_seen:
            end = start
        if (
            eligible is None
            and isinstance(self.scorer, EmbeddingScorer)
            and self.model.n_items - (end - start) > k
        ):
            indices = self.model.user_items.indices
            return Ranking(*self.scorer.top_k(row, indices, start, end, k))
        seen = self.model.user_items.indices[start:end]
        return self._rank(self.scorer.score(row), seen, eligible, k)

    def _columns(self, movie_ids: np.ndarray) -> np.ndarray:
        """The item columns of the movies the model knows (feedback may name others)."""
        get = self.model.item_columns.get
        return np.array(
            [column for column in map(get, movie_ids.tolist()) if column is not None],
            dtype=np.int64,
        )

    def _history(
        self, row: int | None, profile: Profile, exclude_seen: bool
    ) -> tuple[History, np.ndarray]:
        """The user's training row with their feedback laid over it (feedback wins where both
        have a movie), and the columns to leave out: the disliked always, and with
        `exclude_seen` the training row's and the rated or watched."""
        columns = self._columns(profile.movie_ids)
        weights = profile.weights[np.isin(profile.movie_ids, self.model.item_ids)]
        excluded = [self._columns(profile.disliked)]
        if row is not None:
            start, end = self.seen_bounds[row], self.seen_bounds[row + 1]
            trained = self.model.user_items.indices[start:end]
            kept = ~np.isin(trained, columns)
            columns = np.concatenate([trained[kept], columns])
            weights = np.concatenate([self.model.user_items.data[start:end][kept], weights])
            if exclude_seen:
                excluded.append(trained)
        if exclude_seen:
            excluded.append(self._columns(profile.seen))
        history = History(columns.astype(np.int64), weights.astype(np.float32))
        return history, np.unique(np.concatenate(excluded)).astype(np.int64)

    def because(
        self, user_id: int | None, profile: Profile | None, columns: np.ndarray, most: int = 3
    ) -> list[list[int]]:
        """Per recommended column, the columns of up to `most` movies of the user's history
        (training row and positive feedback) that explain it best (`Scorer.because`)."""
        row = None if user_id is None else self.model.user_rows.get(user_id)
        if profile is None:
            profile = EMPTY_PROFILE
        history, _ = self._history(row, profile, exclude_seen=False)
        liked = history.weights > 0
        return self.scorer.because(
            History(history.columns[liked], history.weights[liked]), columns, most
        )

    def _popular_for(
        self,
        eligible: np.ndarray | None,
        k: int,
        reason: FallbackReason,
        excluded: np.ndarray | None = None,
    ) -> Ranking:
        if excluded is not None and len(excluded):
            if eligible is None:
                eligible = np.ones(self.model.n_items, dtype=bool)
            eligible[excluded] = False
        columns = most_popular(self.popular_order, eligible, k)
        popularity = self.model.popularity[columns]
        return Ranking(columns, popularity, True, reason)

    def _rank(
        self, scores: np.ndarray, seen: np.ndarray, eligible: np.ndarray | None, k: int
    ) -> Ranking:
        """The best `k` eligible unseen columns by `scores`, then popular ones if too few."""
        if eligible is None:
            eligible = np.ones(self.model.n_items, dtype=bool)
        eligible[seen] = False
        candidates = eligible & (scores > 0) if self.scorer.sparse else eligible
        columns = top_k(scores, candidates, k)
        if len(columns) == k:
            return Ranking(columns, scores[columns])
        filler = most_popular(self.popular_order, eligible & ~candidates, k - len(columns))
        columns = np.concatenate([columns, filler])
        return Ranking(columns, scores[columns], True, FallbackReason.INSUFFICIENT_CANDIDATES)

    def similar(self, movie_id: int, k: int) -> SimilarMovies:
        """The `k` movies most similar to the seed by the bundle's similar-items table, each
        with the audience it shares with the seed and the genres they have in common."""
        self._check_k(k)
        column = self.column(movie_id)
        table = self.model.similar_items
        listed = table.columns[column, :k]
        columns = listed[listed >= 0].astype(np.int64)  # padding (-1) ends a row
        count = len(columns)
        seed_genres = self.genre_sets[column]
        items = self.model.items
        return SimilarMovies(
            seed=items[column],
            columns=columns,
            scores=table.scores[column, :count],
            shared=table.shared[column, :count].tolist(),
            audience=int(table.audience[column]),
            shared_genres=[
                [genre for genre in items[other].genres if genre in seed_genres]
                for other in columns.tolist()
            ],
        )

    def popular(self, k: int, genre: str | None = None) -> Ranking:
        """The `k` most popular items, of `genre` when given."""
        self._check_k(k)
        eligible = None if genre is None else self.filters.genre(genre, ("genre",))
        columns = most_popular(self.popular_order, eligible, k)
        return Ranking(columns, self.model.popularity[columns])
