"""Parity on the real ml-100k: Spark MLlib ALS scores as the local implicit ALS does.

Both engines fit the same `AlsParams` (the defaults) on train+val and are scored on test;
the Spark engine maps alpha and regularisation onto MLlib's (movierec.training.engines.spark).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from movierec.data.preprocess import run_preprocess
from movierec.models import create_model
from movierec.models.compute import FitOptions
from movierec.models.registry import model_class
from movierec.training.data import load_training_data
from movierec.training.engines.local import LocalEngine
from movierec.training.engines.spark import SparkEngine
from movierec.training.evaluate import evaluate_model
from tests.conftest import real_mirror, requires_ml100k, settings_in
from tests.training.conftest import SPARK_TEST_SETTINGS

pytestmark = [pytest.mark.slow, requires_ml100k]


def test_spark_als_ndcg_is_within_003_of_local_als(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mirror = real_mirror()
    assert mirror is not None
    settings = settings_in(tmp_path, mirror, training={"spark": SPARK_TEST_SETTINGS})
    run_preprocess(settings.data)
    data = load_training_data(settings)
    fallback = model_class("popularity")().fit(data.train_val)
    engines = {"local": LocalEngine(data), "spark": SparkEngine(spark, settings, data)}
    ndcg = {
        name: evaluate_model(
            engine.fit(create_model("als"), "train_val", FitOptions()),
            data.train_val,
            data.test,
            [10],
            fallback=fallback,
            bootstrap_samples=0,
        ).mean("ndcg@10")
        for name, engine in engines.items()
    }
    with capsys.disabled():
        print(f"\nml-100k test NDCG@10: {ndcg}")
    assert ndcg["local"] > 0.15, ndcg  # a real model, not two equally broken ones
    assert abs(ndcg["spark"] - ndcg["local"]) <= 0.03, ndcg
