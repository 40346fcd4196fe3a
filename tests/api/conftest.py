"""Fixtures for the API tests: real bundles on disk and TestClients running the lifespan."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from movierec.api.main import create_app
from movierec.artifacts import Scorer
from movierec.config import ServingSettings
from tests.synthetic import SyntheticMovieLens

ClientFactory = Callable[..., AbstractContextManager[TestClient]]


@pytest.fixture
def serving_settings(tmp_path: Path, bundles: dict[str, Path]) -> ServingSettings:
    return ServingSettings(model_dir=bundles["embeddings"], log_db=tmp_path / "logs/requests.db")


@pytest.fixture
def make_client(serving_settings: ServingSettings) -> ClientFactory:
    """`with make_client(model_dir=..., admin_token=...) as client:` runs the full lifespan."""

    @contextmanager
    def factory(**overrides: Any) -> Iterator[TestClient]:
        settings = serving_settings.model_copy(update=overrides)
        with TestClient(create_app(settings)) as client:
            yield client

    return factory


@pytest.fixture(params=["embeddings", "item_weights"])
def scorer(request: pytest.FixtureRequest) -> Scorer:
    value: Scorer = request.param
    return value


@pytest.fixture
def client(
    make_client: ClientFactory, bundles: dict[str, Path], scorer: Scorer
) -> Iterator[TestClient]:
    """A client over the bundle of each scorer in turn."""
    with make_client(model_dir=bundles[scorer]) as test_client:
        yield test_client


def seen_movies(data: SyntheticMovieLens, user_id: int) -> set[int]:
    return set(data.ratings.loc[data.ratings["user_id"] == user_id, "movie_id"].tolist())


def popularity_ranking(data: SyntheticMovieLens) -> list[int]:
    """Movie ids by interaction count, most first, ties by movie id (hand-computed reference)."""
    counts = data.ratings.drop_duplicates(["user_id", "movie_id"])["movie_id"].value_counts()
    counts = counts.reindex(data.items["movie_id"], fill_value=0)
    order = np.lexsort((counts.index.to_numpy(), -counts.to_numpy()))
    return counts.index.to_numpy()[order].tolist()


def log_rows(db: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM request_logs ORDER BY timestamp").fetchall()


@pytest.fixture(scope="module")
def make_module_client(
    tmp_path_factory: pytest.TempPathFactory, bundles: dict[str, Path]
) -> Iterator[Callable[..., TestClient]]:
    """`make_module_client(**overrides)`: TestClients over the embeddings bundle that live for
    the whole module (one lifespan per module, closed at its end)."""
    root = tmp_path_factory.mktemp("module-client")
    opened: list[TestClient] = []

    def factory(**overrides: Any) -> TestClient:
        settings = ServingSettings(
            model_dir=bundles["embeddings"], log_db=root / f"logs{len(opened)}/requests.db"
        ).model_copy(update=overrides)
        client = TestClient(create_app(settings))
        client.__enter__()
        opened.append(client)
        return client

    yield factory
    for client in opened:
        client.__exit__(None, None, None)
