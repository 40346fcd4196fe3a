"""The plan of a training run: grids by data size, the up-front fit check, users and threads."""

from __future__ import annotations

import pytest

from movierec.config import TrainingSettings
from movierec.models import EaseParams
from movierec.training import TrainingError
from movierec.training.plan import (
    fit_options,
    grid_points_allowed,
    plan_candidates,
    planned_grid,
    search_users,
)


def settings(**fields: object) -> TrainingSettings:
    return TrainingSettings.model_validate(fields)


def test_grid_limits_follow_the_size_of_the_data() -> None:
    search = settings().search
    assert grid_points_allowed(search, 90_000) == 1000  # ml-100k: the whole grid
    assert grid_points_allowed(search, 8_000_000) == 2
    assert grid_points_allowed(search, 20_000_001) == 1


def test_a_limited_grid_keeps_the_configured_point_and_draws_the_rest() -> None:
    training = settings()
    whole, size = planned_grid(training, "als", 90_000)
    assert size == len(whole) == 4
    limited, size = planned_grid(training, "als", 8_000_000)
    assert size == 4 and len(limited) == 2
    assert limited[0] == training.models.params("als") != limited[1]
    assert limited[1] in whole
    assert planned_grid(training, "als", 8_000_000) == (limited, 4)  # seeded
    assert planned_grid(training, "als", 30_000_000)[0] == [training.models.params("als")]


def test_a_catalogue_above_ease_limit_skips_ease_with_one_warning() -> None:
    training = settings(models={"popularity": {}, "als": {}, "ease": {"max_items": 100}})
    warnings: list[str] = []
    plans = plan_candidates(
        training, ["popularity", "als", "ease"], (500, 101), 5000, warnings.append
    )
    assert [plan.kind for plan in plans] == ["popularity", "als"]
    assert len(warnings) == 1
    assert warnings[0].startswith("skipping ease: EASE needs a dense 101 x 101 Gram matrix")
    assert "max_items is 100" in warnings[0]


def test_on_unfit_fail_refuses_before_anything_is_fitted() -> None:
    training = settings(on_unfit="fail", memory_budget_gb=0.001)
    with pytest.raises(TrainingError, match=r"als cannot run on this data: als needs about .* GB"):
        plan_candidates(training, ["popularity", "als"], (100_000, 10_000), 5_000_000, print)


def test_grid_points_over_the_budget_are_left_out_with_a_word() -> None:
    # 3 x 1000^2 x 8 B = 24 MB for EASE, within 30 MB; ALS with 2 copies of 1M entries is not
    training = settings(memory_budget_gb=0.03, models={"popularity": {}, "ease": {}})
    warnings: list[str] = []
    plans = plan_candidates(training, ["popularity", "ease"], (1000, 1000), 10_000, warnings.append)
    assert [p.kind for p in plans] == ["popularity", "ease"] and not warnings
    assert [p.l2 for p in plans[1].grid if isinstance(p, EaseParams)] == [250.0, 500.0, 1000.0]


def test_search_users_are_a_seeded_sample_or_everyone() -> None:
    training = settings(search={"sample_users": 100})
    sample = search_users(training, 1000)
    assert sample is not None and len(sample) == len(set(sample.tolist())) == 100
    assert (search_users(training, 1000) == sample).all()
    assert search_users(training, 80) is None
    assert search_users(settings(search={"sample_users": 0}), 10**6) is None


def test_threads_follow_the_data_size_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("movierec.training.plan.available_cores", lambda: 8)
    assert fit_options(settings(), 90_000).threads == 1
    assert fit_options(settings(), 8_000_000).threads == 8
    assert fit_options(settings(threads=3), 90_000).threads == 3
    assert fit_options(settings(block_memory_mb=2), 1).block_bytes == 2 << 20
