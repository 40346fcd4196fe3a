"""create_model / load_model: kinds by name, clear errors for unknown kinds and parameters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.models import (
    MODEL_CLASSES,
    EaseRecommender,
    ModelError,
    PopularityRecommender,
    create_model,
    load_model,
)


def test_every_kind_is_registered() -> None:
    assert set(MODEL_CLASSES) == {"popularity", "item_item", "als", "ease"}
    assert {cls.scorer for cls in MODEL_CLASSES.values()} == {
        "popularity",
        "item_weights",
        "embeddings",
    }


def test_unknown_kind_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="als, ease, item_item, popularity"):
        create_model("bpr")


def test_unknown_parameter_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"lambda.*valid: embedding_dim, l2"):
        create_model("ease", **{"lambda": 3.0})


def test_load_model_reads_the_kind(user_items: sp.csr_matrix, tmp_path: Path) -> None:
    create_model("ease", l2=10.0).fit(user_items).save(tmp_path)
    loaded = load_model(tmp_path)
    assert isinstance(loaded, EaseRecommender) and loaded.l2 == 10.0


def test_load_refuses_another_kind(user_items: sp.csr_matrix, tmp_path: Path) -> None:
    create_model("ease").fit(user_items).save(tmp_path)
    with pytest.raises(ModelError, match="holds a 'ease' model"):
        PopularityRecommender.load(tmp_path)


def test_load_from_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not hold a saved model"):
        load_model(tmp_path)


def test_saving_an_unfitted_model_fails(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not fitted"):
        create_model("als").save(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_non_sparse_input_is_refused() -> None:
    with pytest.raises(ModelError, match="scipy sparse"):
        create_model("popularity").fit(np.ones((2, 2)))  # type: ignore[arg-type]
