"""The contract every recommender passes (as implicit's RecommenderBaseTestMixin).

A test class mixes in `RecommenderContract` and implements `make_model`; the `user_items`
fixture (tests/models/conftest.py) is synthetic data whose taste groups are item index % 4.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.models import MODEL_CLASSES, ModelError, NotFittedError, Recommender, create_model
from movierec.models.similarity import embedding_cosine, similar_items_table, weight_rows

N_GROUPS = 4


class RecommenderContract:
    """Behaviour shared by every model; subclasses say how to build one."""

    collaborative = True

    def make_model(self) -> Recommender:
        raise NotImplementedError

    @pytest.fixture
    def model(self, user_items: sp.csr_matrix) -> Recommender:
        return self.make_model().fit(user_items)

    def test_kind_is_registered(self) -> None:
        model = self.make_model()
        assert MODEL_CLASSES[model.kind] is type(model)
        assert model.scorer in ("embeddings", "item_weights", "popularity")

    def test_params_class_holds_the_defaults(self) -> None:
        cls = type(self.make_model())
        assert isinstance(self.make_model().params, cls.params_type)
        assert cls().get_params() == cls.params_type().model_dump()
        assert create_model(cls.kind).get_params() == cls().get_params()

    def test_search_space_names_parameters_and_its_points_are_valid(self) -> None:
        cls = type(self.make_model())
        assert set(cls.search_type.model_fields) <= set(cls.params_type.model_fields)
        points = cls.search_type().points(cls.params_type())
        assert points and all(type(point) is cls.params_type for point in points)

    def test_unfitted_model_says_so(self, user_items: sp.csr_matrix) -> None:
        with pytest.raises(NotFittedError, match="not fitted"):
            self.make_model().score(np.arange(2), user_items[:2])

    def test_score_shape_and_dtype(self, model: Recommender, user_items: sp.csr_matrix) -> None:
        scores = model.score(np.arange(5), user_items[:5])
        assert model.n_items == user_items.shape[1]
        assert scores.shape == (5, user_items.shape[1])
        assert scores.dtype == np.float32
        assert np.isfinite(scores).all()

    def test_rows_must_match_users(self, model: Recommender, user_items: sp.csr_matrix) -> None:
        with pytest.raises(ModelError, match="1 row for every user"):
            model.recommend(np.arange(3), user_items[:5])

    def test_recommend_shapes_and_order(
        self, model: Recommender, user_items: sp.csr_matrix
    ) -> None:
        ids, scores = model.recommend(np.arange(10), user_items[:10], k=7)
        assert ids.shape == scores.shape == (10, 7)
        assert ids.dtype == np.int64 and scores.dtype == np.float32
        assert ((ids >= 0) & (ids < model.n_items)).all()
        assert (np.diff(scores, axis=1) <= 0).all()
        assert all(len(set(row)) == 7 for row in ids)

    def test_recommend_excludes_seen(self, model: Recommender, user_items: sp.csr_matrix) -> None:
        ids, _ = model.recommend(np.arange(20), user_items[:20], k=20)
        for user, row in enumerate(ids):
            seen = set(user_items[user].indices)
            assert seen and not seen & set(row.tolist())

    def test_recommend_keeps_seen_when_asked(
        self, model: Recommender, user_items: sp.csr_matrix
    ) -> None:
        n_items = user_items.shape[1]
        ids, scores = model.recommend(np.arange(3), user_items[:3], k=n_items, exclude_seen=False)
        assert (np.sort(ids, axis=1) == np.arange(n_items)).all()
        assert np.isfinite(scores).all()

    def test_batch_equals_one_user_at_a_time(
        self, model: Recommender, user_items: sp.csr_matrix
    ) -> None:
        users = np.array([0, 7, 3, 42])
        ids, scores = model.recommend(users, user_items[users], k=10)
        for row, user in enumerate(users):
            one_ids, one_scores = model.recommend(np.array([user]), user_items[[user]], k=10)
            np.testing.assert_array_equal(one_ids[0], ids[row])
            np.testing.assert_allclose(one_scores[0], scores[row], rtol=1e-6)

    def test_k_beyond_catalogue_pads(self, model: Recommender, user_items: sp.csr_matrix) -> None:
        n_items = user_items.shape[1]
        ids, scores = model.recommend(np.arange(4), user_items[:4], k=n_items + 5)
        for user in range(4):
            unseen = n_items - user_items[user].nnz
            assert (ids[user, :unseen] >= 0).all()
            assert (ids[user, unseen:] == -1).all()
            assert np.isneginf(scores[user, unseen:]).all()
            assert np.isfinite(scores[user, :unseen]).all()

    def test_own_similarity_finds_the_taste_group(
        self, model: Recommender, user_items: sp.csr_matrix
    ) -> None:
        """The model's similarity (its weights, or cosine of its item vectors), as a source
        of the shared similar-items table, keeps each item's neighbours in its taste group."""
        if not self.collaborative:
            pytest.skip("popularity has no notion of similarity")
        weights = model.item_weight_matrix()
        source = (
            weight_rows(weights) if weights is not None else embedding_cosine(model.item_vectors())
        )
        table = similar_items_table(user_items, source, popularity_penalty=0.0, size=5)
        items = np.broadcast_to(np.arange(model.n_items)[:, None], table.columns.shape)
        listed = table.columns >= 0
        same_group = table.columns % N_GROUPS == items % N_GROUPS
        assert listed.mean() > 0.9
        assert same_group[listed].mean() > 0.8

    def test_save_load_round_trip(
        self, model: Recommender, user_items: sp.csr_matrix, tmp_path: Path
    ) -> None:
        model.save(tmp_path / "model")
        loaded = type(model).load(tmp_path / "model")
        assert loaded.get_params() == model.get_params()
        assert loaded.n_items == model.n_items
        users = np.arange(15)
        np.testing.assert_array_equal(
            loaded.score(users, user_items[:15]), model.score(users, user_items[:15])
        )
        assert not list((tmp_path / "model").glob("*.pkl"))

    def test_params_are_json_and_rebuild_the_model(self, model: Recommender) -> None:
        params = json.loads(json.dumps(model.get_params()))
        assert params == model.get_params()
        assert create_model(model.kind, **params).get_params() == params

    def test_item_weight_matrix_reproduces_scores(
        self, model: Recommender, user_items: sp.csr_matrix
    ) -> None:
        weights = model.item_weight_matrix()
        if model.scorer != "item_weights":
            assert weights is None
            return
        assert weights is not None and sp.isspmatrix_csr(weights)
        assert weights.shape == (model.n_items, model.n_items)
        users = np.arange(user_items.shape[0])
        served = (user_items.astype(np.float32) @ weights).toarray()
        np.testing.assert_array_equal(served, model.score(users, user_items))

    def test_same_seed_same_model(self, model: Recommender, user_items: sp.csr_matrix) -> None:
        again = self.make_model().fit(user_items)
        users = np.arange(user_items.shape[0])
        np.testing.assert_array_equal(
            again.score(users, user_items), model.score(users, user_items)
        )

    def test_embeddings(self, model: Recommender, user_items: sp.csr_matrix) -> None:
        if model.scorer == "popularity":
            with pytest.raises(ModelError, match="no item embeddings"):
                model.item_vectors()
            return
        items = model.item_vectors()
        users = model.user_vectors(user_items)
        assert items.dtype == users.dtype == np.float32
        assert items.shape[0] == model.n_items and users.shape[0] == user_items.shape[0]
        assert items.shape[1] == users.shape[1] >= 1
        assert np.isfinite(items).all() and np.isfinite(users).all()
        # Their inner products are (ALS) or approximate (item weights) the model's scores.
        scores = model.score(np.arange(user_items.shape[0]), user_items)
        error = np.linalg.norm(users @ items.T - scores) / np.linalg.norm(scores)
        assert error < 0.25
