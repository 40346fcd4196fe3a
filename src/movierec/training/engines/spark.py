"""ALS on Apache Spark MLlib: the `spark` training engine.

`spark_engine` opens a Spark session on `training.spark.master` (`local[*]` on one machine;
`spark://host:7077`, `yarn` or `k8s://...` for a cluster), reads the processed train and
validation parts (Parquet) with Spark (`read_part`) and fits
the ALS candidates with MLlib's implicit-preference ALS. The factors come back to the driver
in the order of the run's user and item vocabularies, as an `AlsRecommender`, so the rest of
training sees the same model as from the local engine. Other model kinds fit locally.

The same `AlsParams` drive both engines; `mllib_ratings` and `reg_param` map implicit's loss
onto MLlib's:

- Confidence. implicit weighs an observed cell of value v (the processed confidence) by
  alpha * v; MLlib weighs a rating r by 1 + alpha * r. Training MLlib on r = v - 1/alpha
  gives it the same confidence alpha * v. r is floored at a tiny positive value so that a
  cell with alpha * v <= 1 stays a positive preference (weighted 1 instead of alpha * v).
- Regularisation. MLlib multiplies regParam by the number of ratings of the user (or item)
  it solves for (ALS-WR); implicit applies `regularization` as it is. regParam is
  `regularization` divided by the mean number of ratings per user of the part, so that a
  user of average activity gets the same penalty from both.
- `weighting: bm25` has no MLlib counterpart here and is refused; `none` trains on v = 1.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pyspark.errors import PySparkRuntimeError
from pyspark.ml.recommendation import ALS
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as sf
from pyspark.sql.types import DoubleType, LongType

from movierec.config import Settings, SparkSettings
from movierec.data.mappings import IdMapping
from movierec.data.preprocess import PART_FILES
from movierec.models import Recommender
from movierec.models.als import AlsParams, AlsRecommender
from movierec.models.compute import FitOptions
from movierec.training import TrainingError
from movierec.training.data import TrainingData
from movierec.training.engines.local import LocalEngine

if TYPE_CHECKING:
    from movierec.training.engines import Part

# What Spark's own launcher passes on Java 17 (its JavaModuleOptions): the JDK internals that
# Spark's memory management, serialisers and Netty reach into.
_OPENED_PACKAGES = (
    "java.lang",
    "java.lang.invoke",
    "java.lang.reflect",
    "java.io",
    "java.net",
    "java.nio",
    "java.util",
    "java.util.concurrent",
    "java.util.concurrent.atomic",
    "jdk.internal.ref",
    "sun.nio.ch",
    "sun.nio.cs",
    "sun.security.action",
    "sun.util.calendar",
)
JAVA_OPTIONS = " ".join(
    [
        "-XX:+IgnoreUnrecognizedVMOptions",
        *(f"--add-opens=java.base/{package}=ALL-UNNAMED" for package in _OPENED_PACKAGES),
        "-Djdk.reflect.useDirectMethodHandle=false",
        "-Dio.netty.tryReflectionSetAccessible=true",
    ]
)
_JAVA_OPTION_KEYS = ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions")
# The smallest MLlib rating: a positive preference whose confidence is 1 (see the docstring).
RATING_FLOOR = 1e-6


@contextmanager
def _pandas_notice_silenced() -> Iterator[None]:
    """pyspark warns that it does not yet support pandas 3; its conversions here work."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
        yield


def session_conf(spark: SparkSettings) -> dict[str, str]:
    """The Spark configuration of `spark`, with the Java 17 options in front of any given."""
    conf = {
        "spark.app.name": spark.app_name,
        "spark.driver.memory": spark.driver_memory,
        "spark.sql.shuffle.partitions": str(spark.shuffle_partitions),
        "spark.ui.showConsoleProgress": "false",
        "spark.log.level": "ERROR",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        **spark.conf,
    }
    for key in _JAVA_OPTION_KEYS:
        conf[key] = f"{JAVA_OPTIONS} {spark.conf.get(key, '')}".strip()
    return conf


def spark_session(spark: SparkSettings) -> SparkSession:
    """A session on `spark.master` (or the active one: static settings then stay as they are)."""
    builder = SparkSession.builder.master(spark.master)
    for key, value in session_conf(spark).items():
        builder = builder.config(key, value)
    try:
        with _pandas_notice_silenced():
            session = builder.getOrCreate()
    except PySparkRuntimeError as exc:
        raise TrainingError(
            f"Spark could not start on {spark.master!r} ({exc.getErrorClass()}): the spark "
            "engine needs Java 17 or later on PATH or in JAVA_HOME (Debian: apt-get install "
            "openjdk-17-jre-headless); or set training.engine: local"
        ) from exc
    return session


def read_part(spark: SparkSession, processed_dir: Path, part: str, uri: str = "") -> DataFrame:
    """One processed part (`train`, `val`, ...) as user_id, movie_id, confidence.

    Reads the part's Parquet file (`PART_FILES`) from `processed_dir`, or from `uri` (a copy
    of `processed_dir` that every Spark worker can reach) when given.
    """
    local = processed_dir / PART_FILES[part]
    if not local.exists():
        raise TrainingError(f"{local} not found: run `movierec process` first")
    location = f"{uri.rstrip('/')}/{local.name}" if uri else str(local.resolve())
    return spark.read.parquet(location).select(
        sf.col("user_id").cast(LongType()),
        sf.col("movie_id").cast(LongType()),
        sf.col("confidence").cast(DoubleType()),
    )


def check_weighting(params: AlsParams) -> None:
    """Refuse `weighting: bm25`, which this engine does not compute (see the docstring)."""
    if params.weighting == "bm25":
        raise TrainingError(
            "the spark engine trains ALS with weighting 'confidence' or 'none', not 'bm25': "
            "change training.models.als (and its search), or set training.engine: local"
        )


def mllib_ratings(interactions: DataFrame, params: AlsParams) -> DataFrame:
    """The (user_id, movie_id, rating) frame MLlib trains on for implicit's `params`."""
    check_weighting(params)
    value = sf.col("confidence") if params.weighting == "confidence" else sf.lit(1.0)
    rating = sf.greatest(value - sf.lit(1.0 / params.alpha), sf.lit(RATING_FLOOR))
    return interactions.select("user_id", "movie_id", rating.alias("rating"))


def reg_param(regularization: float, n_ratings: int, n_users: int) -> float:
    """MLlib's regParam for implicit's `regularization`: divided by ratings per user."""
    return regularization * n_users / max(n_ratings, 1)


def factor_matrix(factors: DataFrame, vocabulary: IdMapping, rank: int) -> np.ndarray:
    """MLlib's (id, features) factors as rows of `vocabulary`; ids it never saw get zeros,
    as implicit's solution for a user or item without interactions is zero."""
    with _pandas_notice_silenced():
        table = factors.toPandas()
    matrix = np.zeros((len(vocabulary), rank), dtype=np.float32)
    if len(table):
        rows = vocabulary.to_index(table["id"].to_numpy())
        matrix[rows] = np.stack(list(table["features"])).astype(np.float32)
    return matrix


class SparkEngine:
    """Fits ALS with Spark MLlib on the processed parts; other kinds locally."""

    def __init__(self, spark: SparkSession, settings: Settings, data: TrainingData) -> None:
        largest = max(int(data.users.ids.max(initial=0)), int(data.items.ids.max(initial=0)))
        if largest >= 2**31:
            raise TrainingError(
                f"id {largest} does not fit MLlib ALS's 32-bit ids; use training.engine: local"
            )
        self.spark = spark
        self.data = data
        self.blocks = settings.training.spark.blocks
        self.local = LocalEngine(data)
        directory, uri = settings.data.processed_dir, settings.training.spark.processed_uri
        train = read_part(spark, directory, "train", uri)
        val = read_part(spark, directory, "val", uri)
        # Summed per pair, as the local train+val matrix is.
        train_val = (
            train.unionByName(val)
            .groupBy("user_id", "movie_id")
            .agg(sf.sum("confidence").alias("confidence"))
        )
        self.parts: Mapping[Part, DataFrame] = {
            "train": train.cache(),
            "train_val": train_val.cache(),
        }
        self._counts: dict[Part, tuple[int, int]] = {}

    def counts(self, part: Part) -> tuple[int, int]:
        """Ratings and distinct users of `part`, counted once."""
        if part not in self._counts:
            row = self.parts[part].agg(sf.count("*"), sf.countDistinct("user_id")).first()
            assert row is not None  # an aggregate without grouping always has one row
            self._counts[part] = (int(row[0]), int(row[1]))
        return self._counts[part]

    def fit(self, model: Recommender, part: Part, options: FitOptions) -> Recommender:
        if not isinstance(model, AlsRecommender):
            return self.local.fit(model, part, options)
        params = model.params
        n_ratings, n_users = self.counts(part)
        als = ALS(
            rank=params.factors,
            maxIter=params.iterations,
            regParam=reg_param(params.regularization, n_ratings, n_users),
            alpha=params.alpha,
            implicitPrefs=True,
            userCol="user_id",
            itemCol="movie_id",
            ratingCol="rating",
            numUserBlocks=self.blocks,
            numItemBlocks=self.blocks,
            seed=params.seed,
        )
        fitted = als.fit(mllib_ratings(self.parts[part], params))
        return AlsRecommender.from_factors(
            params,
            factor_matrix(fitted.userFactors, self.data.users, params.factors),
            factor_matrix(fitted.itemFactors, self.data.items, params.factors),
        )

    def release(self) -> None:
        """Drop the cached parts from the executors."""
        for frame in self.parts.values():
            frame.unpersist()


@contextmanager
def spark_engine(settings: Settings, data: TrainingData) -> Iterator[SparkEngine]:
    """A `SparkEngine` for one training run; stops the session unless it was already active."""
    models = settings.training.models
    for params in models.grid("als") if "als" in models.kinds() else []:
        assert isinstance(params, AlsParams)
        check_weighting(params)  # before Spark starts
    active = SparkSession.getActiveSession()
    session = spark_session(settings.training.spark)
    try:
        engine = SparkEngine(session, settings, data)
        try:
            yield engine
        finally:
            engine.release()
    finally:
        if active is None:
            session.stop()
