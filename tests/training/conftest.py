"""The one Spark session of the test run: local[2], UI off, two shuffle partitions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# `training.spark` of every test that trains on Spark: small and quick on a loaded machine.
SPARK_TEST_SETTINGS: dict[str, Any] = {
    "master": "local[2]",
    "driver_memory": "1g",
    "shuffle_partitions": 2,
    "blocks": 2,
    "conf": {"spark.ui.enabled": "false"},
}


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """Started once; the engine finds it active, reuses it and leaves it running."""
    from movierec.config import SparkSettings
    from movierec.training.engines.spark import spark_session

    session = spark_session(SparkSettings.model_validate(SPARK_TEST_SETTINGS))
    yield session
    session.stop()
