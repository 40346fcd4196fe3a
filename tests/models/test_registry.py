"""The registry: kinds by name, their params and search types, and `training.models` choices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from pydantic import ValidationError

from movierec.models import (
    MODEL_CLASSES,
    AlsParams,
    AlsRecommender,
    EaseParams,
    EaseRecommender,
    ModelError,
    PopularityRecommender,
    create_model,
    load_model,
)
from movierec.models.registry import ModelChoices, every_model


def test_every_kind_is_registered() -> None:
    assert list(MODEL_CLASSES) == ["popularity", "item_item", "als", "ease"]
    assert {cls.scorer for cls in MODEL_CLASSES.values()} == {
        "popularity",
        "item_weights",
        "embeddings",
    }
    assert list(ModelChoices.model_fields) == list(MODEL_CLASSES)


def test_unknown_kind_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="als, ease, item_item, popularity"):
        create_model("bpr")


def test_unknown_parameter_names_the_valid_ones() -> None:
    with pytest.raises(ModelError, match=r"lambda.*valid: embedding_dim, l2, max_items, weighting"):
        create_model("ease", **{"lambda": 3.0})


def test_a_bad_value_names_the_parameter() -> None:
    with pytest.raises(ModelError, match=r"the als model .*factors: Input should be greater"):
        create_model("als", factors=0)


def test_unset_parameters_take_the_params_class_defaults() -> None:
    model = create_model("als", factors=8)
    assert model.get_params() == AlsParams(factors=8).model_dump()
    assert AlsRecommender().params == AlsParams()


def test_a_model_refuses_another_kinds_parameters() -> None:
    with pytest.raises(ModelError, match="the als model takes AlsParams, got EaseParams"):
        AlsRecommender(EaseParams())  # type: ignore[arg-type]


def test_load_model_reads_the_kind(user_items: sp.csr_matrix, tmp_path: Path) -> None:
    create_model("ease", l2=10.0).fit(user_items).save(tmp_path)
    loaded = load_model(tmp_path)
    assert isinstance(loaded, EaseRecommender) and loaded.params.l2 == 10.0


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


def test_choices_keep_registry_order_and_leave_out_absent_or_null_kinds() -> None:
    choices = ModelChoices.model_validate({"ease": {}, "item_item": None, "popularity": {}})
    assert choices.kinds() == ["popularity", "ease"]
    assert every_model().kinds() == list(MODEL_CLASSES)


def test_a_list_of_kinds_takes_their_defaults() -> None:
    choices = ModelChoices.model_validate(["als", "popularity"])
    assert choices.kinds() == ["popularity", "als"]
    assert choices.params("als") == AlsParams()


def test_a_kind_not_configured_has_its_defaults() -> None:
    choices = ModelChoices.model_validate({"als": {"factors": 8}})
    assert choices.params("popularity") == PopularityRecommender.params_type()
    assert len(choices.grid("popularity")) == 1


@pytest.mark.parametrize(
    ("models", "location"),
    [
        ({"bpr": {}}, ("bpr",)),
        (["popularity", "bpr"], ("bpr",)),
        ({"als": {"factorz": 8}}, ("als", "factorz")),
        ({"als": {"weighting": "tfidf"}}, ("als", "weighting")),
        ({"als": {"search": {"iterations": [5]}}}, ("als", "search", "iterations")),
        ({"ease": {"search": {"l2": [100.0, 0.0]}}}, ("ease", "search", "l2", 1)),
    ],
)
def test_unknown_kinds_parameters_and_bad_values_are_located(
    models: object, location: tuple[object, ...]
) -> None:
    with pytest.raises(ValidationError) as error:
        ModelChoices.model_validate(models)
    assert [e["loc"] for e in error.value.errors()] == [location]


def test_no_kind_at_all_is_refused() -> None:
    with pytest.raises(ValidationError, match="no model configured; list one or more of"):
        ModelChoices.model_validate({"ease": None})


def test_the_grid_crosses_the_searched_values_over_the_configured_point() -> None:
    choices = ModelChoices.model_validate({"als": {"iterations": 5, "factors": 16}})
    grid = choices.grid("als")
    assert [(p.factors, p.regularization) for p in grid] == [
        (32, 10.0),
        (32, 20.0),
        (64, 10.0),
        (64, 20.0),
    ]
    assert {p.iterations for p in grid} == {5}
    assert choices.params("als") == AlsParams(iterations=5, factors=16)


def test_an_empty_axis_is_not_searched() -> None:
    choices = ModelChoices.model_validate(
        {"als": {"factors": 16, "search": {"factors": [], "weighting": ["bm25", "none"]}}}
    )
    grid = choices.grid("als")
    assert [(p.factors, p.regularization, p.weighting) for p in grid] == [
        (16, 10.0, "bm25"),
        (16, 10.0, "none"),
        (16, 20.0, "bm25"),
        (16, 20.0, "none"),
    ]


def test_a_kind_with_nothing_searched_is_its_configured_point() -> None:
    choices = ModelChoices.model_validate({"item_item": {"neighbours": 7}})
    assert [p.model_dump() for p in choices.grid("item_item")] == [
        {"embedding_dim": 64, "neighbours": 7, "shrinkage": 10.0}
    ]
