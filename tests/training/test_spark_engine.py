"""The Spark engine on small synthetic data: reading the parts, ALS on MLlib, the same bundle."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from pyspark.sql import SparkSession

from movierec.artifacts import read_bundle
from movierec.config import Settings, SparkSettings
from movierec.data.preprocess import PART_FILES, run_preprocess
from movierec.features.build import run_build_features
from movierec.models import MODEL_CLASSES, create_model
from movierec.models.als import AlsRecommender
from movierec.models.compute import FitOptions
from movierec.models.registry import model_class
from movierec.training import TrainingError
from movierec.training.data import TrainingData, load_training_data
from movierec.training.engines import open_engine
from movierec.training.engines.spark import (
    JAVA_OPTIONS,
    SparkEngine,
    read_part,
    reg_param,
    session_conf,
)
from movierec.training.evaluate import evaluate_model
from movierec.training.export import export_production
from movierec.training.train import train
from tests.conftest import settings_in
from tests.training.conftest import SPARK_TEST_SETTINGS

SMALL_ALS = {"factors": 8, "iterations": 5, "search": {"factors": [], "regularization": []}}


def spark_settings(root: Path, mirror: tuple[Path, dict[str, str]], **training: object) -> Settings:
    """Popularity and a one-point ALS grid, trained by the Spark engine under `root`."""
    models = dict.fromkeys(MODEL_CLASSES) | {"popularity": {}, "als": SMALL_ALS}
    return settings_in(
        root,
        mirror[0],
        mirror[1],
        training={"engine": "spark", "spark": SPARK_TEST_SETTINGS, "models": models, **training},
    )


@pytest.fixture(scope="module")
def processed(
    tmp_path_factory: pytest.TempPathFactory, synthetic_mirror: tuple[Path, dict[str, str]]
) -> tuple[Settings, TrainingData]:
    settings = spark_settings(tmp_path_factory.mktemp("spark"), synthetic_mirror)
    run_preprocess(settings.data)
    run_build_features(settings.data)
    return settings, load_training_data(settings)


def test_the_session_runs_with_the_java_17_options(spark: SparkSession) -> None:
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.master") == "local[2]"
    for key in ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"):
        options = conf.get(key) or ""
        assert "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED" in options, options
    assert spark.range(10).count() == 10  # the JVM works under them


def test_configured_java_options_follow_the_required_ones() -> None:
    conf = session_conf(SparkSettings(conf={"spark.driver.extraJavaOptions": "-Dmine=1"}))
    assert conf["spark.driver.extraJavaOptions"] == f"{JAVA_OPTIONS} -Dmine=1"
    assert conf["spark.executor.extraJavaOptions"] == JAVA_OPTIONS


def test_without_java_spark_fails_with_one_line_saying_what_to_install(tmp_path: Path) -> None:
    start = (
        "from movierec.config import SparkSettings\n"
        "from movierec.training.engines.spark import spark_session\n"
        "spark_session(SparkSettings(master='local[1]'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", start],
        env={**os.environ, "JAVA_HOME": str(tmp_path / "no-java")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("movierec.training.TrainingError: Spark could not start"), last
    assert "needs Java 17 or later" in last and "openjdk-17-jre-headless" in last


def test_read_part_reads_the_processed_parquet(
    spark: SparkSession, processed: tuple[Settings, TrainingData], tmp_path: Path
) -> None:
    settings, _ = processed
    expected = pd.read_parquet(settings.data.processed_dir / PART_FILES["train"])
    found = read_part(spark, settings.data.processed_dir, "train").toPandas()
    assert list(found.columns) == ["user_id", "movie_id", "confidence"]
    assert len(found) == len(expected)
    assert found["confidence"].sum() == pytest.approx(expected["confidence"].sum())

    directory = tmp_path / "processed"
    directory.mkdir()
    # Narrower id types than the processed files' come back as 64-bit ids.
    narrowed = expected.head(7).astype({"user_id": "int32", "movie_id": "int32"})
    narrowed.to_parquet(directory / PART_FILES["train"])
    from_parquet = read_part(spark, directory, "train").toPandas()
    assert from_parquet["user_id"].tolist() == narrowed["user_id"].tolist()
    assert str(from_parquet["movie_id"].dtype) == "int64"


def test_missing_part_names_the_stage_to_run(spark: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match=re.escape("run `movierec process` first")):
        read_part(spark, tmp_path, "val")


def test_reg_param_divides_by_ratings_per_user() -> None:
    assert reg_param(20.0, n_ratings=1000, n_users=10) == pytest.approx(0.2)


def test_spark_als_learns_taste_in_the_vocabulary_order(
    spark: SparkSession, processed: tuple[Settings, TrainingData]
) -> None:
    settings, data = processed
    engine = SparkEngine(spark, settings, data)
    params = settings.training.models.params("als")
    model = engine.fit(create_model("als", **params.model_dump()), "train", FitOptions())

    assert isinstance(model, AlsRecommender) and model.user_factors is not None
    assert model.user_vectors(data.train).shape == (len(data.users), 8)
    assert model.item_vectors().shape == (len(data.items), 8)
    without_train = np.flatnonzero(np.diff(data.train.indptr) == 0)
    assert not model.user_factors[without_train].any()
    with_train = np.flatnonzero(np.diff(data.train.indptr) > 0)
    assert (np.abs(model.user_factors[with_train]).sum(axis=1) > 0).all()

    popularity = model_class("popularity")().fit(data.train)
    scores = {
        name: evaluate_model(fitted, data.train, data.val, [10], bootstrap_samples=0).mean(
            "ndcg@10"
        )
        for name, fitted in (("als", model), ("popularity", popularity))
    }
    assert scores["als"] > scores["popularity"], scores
    # Other kinds fit locally, on the same part.
    ease = engine.fit(create_model("ease", embedding_dim=4), "train_val", FitOptions())
    assert ease.n_items == len(data.items)
    engine.release()


def test_bm25_is_refused_before_spark_does_any_work(
    processed: tuple[Settings, TrainingData],
) -> None:
    settings, data = processed
    bm25 = settings.model_copy(deep=True)
    bm25.training.models = type(settings.training.models).model_validate(
        {"popularity": {}, "als": {**SMALL_ALS, "search": {"weighting": ["confidence", "bm25"]}}}
    )
    with (
        pytest.raises(TrainingError, match=re.escape("not 'bm25'")),
        open_engine(bm25, data),
    ):
        pass


def test_training_on_spark_writes_the_bundle_serving_loads(
    spark: SparkSession, processed: tuple[Settings, TrainingData], tmp_path: Path
) -> None:
    source, _ = processed
    settings = source.model_copy(deep=True)
    shutil.copytree(source.data.processed_dir, tmp_path / "processed")
    settings.data.processed_dir = tmp_path / "processed"
    report = train(settings)

    assert report.winner == "als" and report.gate.promote, report.gate.reason
    bundle = read_bundle(export_production(settings))
    assert bundle.metadata.model_kind == "als" and bundle.metadata.embedding_dim == 8
    assert bundle.metadata.hyperparameters == report.candidates["als"].params
    client = MlflowClient(
        tracking_uri=settings.training.mlflow.tracking_uri,
        registry_uri=settings.training.mlflow.tracking_uri,
    )
    assert client.get_run(report.run_id).data.tags["training_engine"] == "spark"
    assert not spark.sparkContext._jsc.sc().isStopped()  # the active session is left running
