"""Train every candidate model, select on validation, report on test, register and export.

For each model of `training.models` the small grid of its `search` section is fitted on
train and scored on validation (each point a nested MLflow run); the best point per model is
evaluated in full, refitted on train+val and evaluated on test. The overall winner by the
selection metric on validation becomes the production bundle, registered in MLflow; the
quality gate decides whether the `production` alias moves, and the aliased version is
exported to `training.export_dir`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import scipy.sparse as sp
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from movierec.artifacts import METRICS, ArtifactBundle, ItemRecord, ModelMetadata, write_json
from movierec.config import Settings, TrainingSettings
from movierec.data.mappings import IdMapping, interaction_matrix
from movierec.data.preprocess import PART_FILES, load_processed
from movierec.features.build import FEATURES_FILE
from movierec.genres import split_genres
from movierec.models import Recommender
from movierec.models.index import build_index, index_to_bytes
from movierec.models.registry import BASELINE, MODEL_CLASSES, model_class
from movierec.models.similarity import shrunk_cosine, similar_items_table
from movierec.training import mlflow_utils as tracking
from movierec.training.evaluate import EvaluationResult, evaluate_model
from movierec.training.export import export_production
from movierec.training.gate import GateDecision, GateInput, decide


class TrainingError(RuntimeError):
    """Training cannot go on; the message says what to change."""


@dataclass
class TrainingData:
    """The processed splits as matrices over one user and one item vocabulary."""

    users: IdMapping
    items: IdMapping
    train: sp.csr_matrix
    val: sp.csr_matrix
    test: sp.csr_matrix
    train_val: sp.csr_matrix
    dataset: str
    split_strategy: str
    fingerprint: str


@dataclass
class CandidateResult:
    """One model kind: its searched grid, chosen parameters, validation and test results."""

    kind: str
    params: dict[str, Any]
    search: list[dict[str, Any]]
    validation: EvaluationResult
    test: EvaluationResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "search": self.search,
            "validation": self.validation.to_dict(),
            "test": self.test.to_dict(),
        }


@dataclass
class TrainingReport:
    """What a training run produced and decided."""

    run_id: str
    winner: str
    selection_metric: str
    candidates: dict[str, CandidateResult]
    model_version: str
    gate: GateDecision
    production_version: str | None
    export_dir: Path | None
    evaluation: dict[str, Any] = field(default_factory=dict)


def _relevance(frame: pd.DataFrame, users: IdMapping, items: IdMapping) -> sp.csr_matrix:
    """Held-out interactions as a 0/1 matrix: every rating counts as relevant."""
    return interaction_matrix(frame.assign(relevant=1.0), users, items, value="relevant")


def load_training_data(settings: Settings) -> TrainingData:
    """Read the processed splits and build the train, val, test and train+val matrices."""
    processed = load_processed(settings.data.processed_dir)
    users = IdMapping.from_ids(processed.interactions["user_id"].to_numpy())
    items = IdMapping.from_ids(processed.interactions["movie_id"].to_numpy())
    train = interaction_matrix(processed.train, users, items)
    val = interaction_matrix(processed.val, users, items)
    paths = [settings.data.processed_dir / PART_FILES[p] for p in ("train", "val", "test")]
    return TrainingData(
        users=users,
        items=items,
        train=train,
        val=_relevance(processed.val, users, items),
        test=_relevance(processed.test, users, items),
        train_val=(train + val).tocsr(),
        dataset=str(processed.report.get("dataset", settings.data.dataset)),
        split_strategy=str(processed.report.get("split_strategy", settings.data.split.strategy)),
        fingerprint=tracking.data_fingerprint(paths),
    )


def _evaluation_ks(training: TrainingSettings) -> list[int]:
    """The configured K values plus the K of the selection metric."""
    selection_k = int(training.selection_metric.partition("@")[2])
    return sorted({*training.k_values, selection_k})


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        yield progress


class _Trainer:
    """One training run: the data, the settings and the fitted popularity baselines."""

    def __init__(
        self, settings: Settings, data: TrainingData, experiment_id: str, progress: Progress
    ) -> None:
        self.settings = settings
        self.experiment_id = experiment_id
        self.training = settings.training
        self.data = data
        self.progress = progress
        self.ks = _evaluation_ks(self.training)
        baseline, params = model_class(BASELINE), self.training.models.params(BASELINE)
        self.popularity_train = baseline(params).fit(data.train)
        self.popularity_final = baseline(params).fit(data.train_val)

    def evaluate(self, model: Recommender, final: bool, samples: int) -> EvaluationResult:
        """Validation (fit on train) or test (fit on train+val) metrics of a fitted model."""
        matrix, heldout = (
            (self.data.train_val, self.data.test) if final else (self.data.train, self.data.val)
        )
        return evaluate_model(
            model,
            matrix,
            heldout,
            self.ks,
            fallback=self.popularity_final if final else self.popularity_train,
            bootstrap_samples=samples,
            seed=self.training.seed,
        )

    def candidate(self, kind: str) -> tuple[CandidateResult, Recommender]:
        """Search the grid of `kind` on validation, then refit the best on train+val."""
        metric = self.training.selection_metric
        cls = model_class(kind)
        grid = self.training.models.grid(kind)
        task = self.progress.add_task(f"{kind}: search", total=len(grid) + 1)
        best: tuple[float, Recommender] | None = None
        search: list[dict[str, Any]] = []
        for params in grid:
            model = cls(params)
            with mlflow.start_run(experiment_id=self.experiment_id, run_name=kind, nested=True):
                mlflow.set_tag("model_kind", kind)
                tracking.log_params(model.get_params())
                model.fit(self.data.train)
                result = self.evaluate(model, final=False, samples=0)
                tracking.log_flat_metrics(
                    {k: v.mean for k, v in result.metrics.items()}, prefix="val_"
                )
            score = result.mean(metric)
            search.append({"params": model.get_params(), metric: score})
            if best is None or score > best[0]:
                best = (score, model)
            self.progress.advance(task)
        assert best is not None  # the grid always holds at least the configured point
        model = best[1]
        validation = self.evaluate(model, final=False, samples=self.training.bootstrap_samples)
        self.progress.update(task, description=f"{kind}: refit on train+val")
        final_model = cls(model.params).fit(self.data.train_val)
        test = self.evaluate(final_model, final=True, samples=self.training.bootstrap_samples)
        self.progress.advance(task)
        self.progress.update(task, description=f"{kind}: done")
        return CandidateResult(kind, model.get_params(), search, validation, test), final_model


def _items(settings: Settings, items: IdMapping) -> list[ItemRecord]:
    """Catalogue records in column order, from the features file."""
    path = settings.data.features_dir / FEATURES_FILE
    if not path.is_file():
        raise TrainingError(f"{path} not found: run `movierec features` first")
    features = pd.read_csv(
        path,
        usecols=["movie_id", "title", "year", "genres"],
        dtype={"movie_id": "int64", "title": "str", "year": "Int64", "genres": "str"},
        keep_default_na=False,
        na_values={"year": [""]},
    ).set_index("movie_id")
    missing = np.setdiff1d(items.ids, features.index.to_numpy())
    if len(missing):
        raise TrainingError(
            f"{path} lacks {len(missing)} trained movies (e.g. {missing[:3].tolist()}): it is "
            "older than the processed data; run `movierec features` again"
        )
    rows = features.loc[items.ids]
    return [
        ItemRecord(
            movie_id=int(movie_id),
            title=str(title),
            year=None if pd.isna(year) else int(year),
            genres=split_genres(genres),
        )
        for movie_id, title, year, genres in zip(
            rows.index, rows["title"], rows["year"], rows["genres"], strict=True
        )
    ]


def build_bundle(
    settings: Settings,
    data: TrainingData,
    model: Recommender,
    popularity: Recommender,
    metadata: ModelMetadata,
) -> tuple[ArtifactBundle, bytes]:
    """The production bundle of a model fitted on train+val, and its FAISS index bytes."""
    matrix = data.train_val
    active = np.flatnonzero(np.diff(matrix.indptr) > 0)
    item_vectors = np.asarray(model.item_vectors(), dtype=np.float32)
    user_vectors = np.asarray(model.user_vectors(matrix), dtype=np.float32)[active]
    index = settings.training.index
    faiss_index = build_index(item_vectors, index.kind, index.hnsw_m, index.hnsw_ef_search)
    similar = settings.training.similar
    bundle = ArtifactBundle(
        metadata=metadata.model_copy(
            update={
                "n_users": len(active),
                "n_items": len(data.items),
                "embedding_dim": item_vectors.shape[1],
                "similarity": {"source": "shrunk_cosine", **similar.model_dump()},
            }
        ),
        user_embeddings=user_vectors,
        item_embeddings=item_vectors,
        user_ids=data.users.to_ids(active),
        item_ids=data.items.ids,
        items=_items(settings, data.items),
        user_items=matrix[active],
        popularity=np.asarray(popularity.score(np.array([0]), matrix[:1])[0], dtype=np.float64),
        similar_items=similar_items_table(
            matrix, shrunk_cosine(similar.shrinkage), similar.popularity_penalty, similar.neighbours
        ),
        item_weights=model.item_weight_matrix() if model.scorer == "item_weights" else None,
    )
    return bundle, index_to_bytes(faiss_index)


def _summary(result: CandidateResult) -> dict[str, Any]:
    """Metric means of one candidate, for MLflow and `model_metadata.json`."""
    return {
        "validation": {k: v.mean for k, v in result.validation.metrics.items()},
        "test": {k: v.mean for k, v in result.test.metrics.items()},
        "validation_users": result.validation.n_users,
        "test_users": result.test.n_users,
    }


def _select(
    candidates: dict[str, CandidateResult], models: dict[str, Recommender], metric: str
) -> str:
    """The exportable candidate with the best validation score (ties: registry order)."""
    exportable = [kind for kind, model in models.items() if model.scorer != "popularity"]
    if not exportable:
        others = [kind for kind, cls in MODEL_CLASSES.items() if cls.scorer != "popularity"]
        raise TrainingError(
            f"only the {BASELINE} baseline is configured; add {', '.join(others)} or another "
            "kind to training.models in configs/training.yaml"
        )
    return max(exportable, key=lambda kind: candidates[kind].validation.mean(metric))


def train(settings: Settings, console: Console | None = None) -> TrainingReport:
    """Train, evaluate, log, register, gate and export; see the module docstring."""
    console = console or Console(stderr=True)
    training = settings.training
    metric = training.selection_metric
    data = load_training_data(settings)
    client = tracking.tracking_client(training.mlflow)
    experiment_id = tracking.ensure_experiment(client, training.mlflow)
    configured = training.models.kinds()
    kinds = list(dict.fromkeys([BASELINE, *configured]))
    candidates: dict[str, CandidateResult] = {}
    final_models: dict[str, Recommender] = {}
    with (
        mlflow.start_run(experiment_id=experiment_id, run_name="train") as run,
        _progress(console) as progress,
    ):
        mlflow.set_tags(
            {
                "dataset": data.dataset,
                "split_strategy": data.split_strategy,
                tracking.TAG_FINGERPRINT: data.fingerprint,
                "git_commit": tracking.git_commit(),
            }
        )
        tracking.log_params(
            {"models": ",".join(configured), "selection_metric": metric, "seed": training.seed}
        )
        trainer = _Trainer(settings, data, experiment_id, progress)
        for kind in kinds:
            candidates[kind], final_models[kind] = trainer.candidate(kind)
            tracking.log_flat_metrics(
                {k: v.mean for k, v in candidates[kind].validation.metrics.items()},
                prefix=f"{kind}.val.",
            )
            tracking.log_flat_metrics(
                {k: v.mean for k, v in candidates[kind].test.metrics.items()},
                prefix=f"{kind}.test.",
            )
        winner = _select(candidates, {k: final_models[k] for k in configured}, metric)
        mlflow.set_tag("winner", winner)
        tracking.log_params(candidates[winner].params, prefix=f"{winner}.")
        evaluation = {
            "dataset": data.dataset,
            "split_strategy": data.split_strategy,
            "selection_metric": metric,
            "k_values": trainer.ks,
            "bootstrap_samples": training.bootstrap_samples,
            "winner": winner,
            "candidates": {kind: result.to_dict() for kind, result in candidates.items()},
        }
        metadata = ModelMetadata(
            version="",
            model_name=training.mlflow.registered_model_name,
            model_kind=winner,
            scorer=(
                "item_weights" if final_models[winner].scorer == "item_weights" else "embeddings"
            ),
            trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
            dataset=data.dataset,
            split_strategy=data.split_strategy,
            hyperparameters=candidates[winner].params,
            metrics=_summary(candidates[winner]),
            n_users=0,
            n_items=0,
            embedding_dim=0,
            run_id=run.info.run_id,
            data_fingerprint=data.fingerprint,
            git_commit=tracking.git_commit(),
        )
        bundle, index_bytes = build_bundle(
            settings, data, final_models[winner], final_models[BASELINE], metadata
        )
        with tempfile.TemporaryDirectory(prefix="movierec-bundle-") as staging:
            directory = Path(staging)
            bundle.write(directory, index_bytes)
            write_json(directory / METRICS, evaluation)
            mlflow.log_artifacts(str(directory), artifact_path=tracking.BUNDLE_ARTIFACT_PATH)
        score_tag = f"validation_{metric.replace('@', '_at_')}"
        version = tracking.register_bundle(
            client,
            training.mlflow.registered_model_name,
            run.info.run_id,
            {
                tracking.TAG_DATASET: data.dataset,
                tracking.TAG_SPLIT: data.split_strategy,
                tracking.TAG_MODEL_KIND: winner,
                tracking.TAG_FINGERPRINT: data.fingerprint,
                score_tag: repr(candidates[winner].validation.mean(metric)),
            },
        )
        gate = _apply_gate(settings, client, version, candidates, winner, data, score_tag)
        mlflow.set_tags({tracking.TAG_GATE: _verdict(gate), tracking.TAG_GATE_REASON: gate.reason})
    production = tracking.aliased_version(
        client, training.mlflow.registered_model_name, training.mlflow.production_alias
    )
    export_dir = export_production(settings) if production is not None else None
    return TrainingReport(
        run_id=run.info.run_id,
        winner=winner,
        selection_metric=metric,
        candidates=candidates,
        model_version=str(version.version),
        gate=gate,
        production_version=str(production.version) if production is not None else None,
        export_dir=export_dir,
        evaluation=evaluation,
    )


def _verdict(gate: GateDecision) -> str:
    return "promoted" if gate.promote else "refused"


def _apply_gate(
    settings: Settings,
    client: tracking.MlflowClient,
    version: tracking.ModelVersion,
    candidates: dict[str, CandidateResult],
    winner: str,
    data: TrainingData,
    score_tag: str,
) -> GateDecision:
    """Move the production alias to `version` if it passes the gate; tag the decision."""
    names = settings.training.mlflow
    metric = settings.training.selection_metric
    current_version = tracking.aliased_version(
        client, names.registered_model_name, names.production_alias
    )
    current = (
        tracking.gate_input(current_version, score_tag) if current_version is not None else None
    )
    candidate = GateInput(
        score=candidates[winner].validation.mean(metric),
        dataset=data.dataset,
        split_strategy=data.split_strategy,
        version=str(version.version),
    )
    gate = decide(metric, candidate, candidates[BASELINE].validation.mean(metric), current)
    if gate.promote:
        tracking.set_alias(
            client, names.registered_model_name, names.production_alias, str(version.version)
        )
    tracking.tag_version(
        client, version, {tracking.TAG_GATE: _verdict(gate), tracking.TAG_GATE_REASON: gate.reason}
    )
    return gate


def print_report(report: TrainingReport, console: Console) -> None:
    """Per-model selection metric with intervals and users evaluated, then the decision."""
    metric = report.selection_metric
    table = Table(title=f"{metric}: mean [95% interval], users evaluated")
    for column in ("model", "validation", "test", "cold users val/test"):
        table.add_column(column)
    for kind, result in report.candidates.items():
        cells = []
        for part in (result.validation, result.test):
            value = part.metrics[metric]
            cells.append(
                f"{value.mean:.4f} [{value.ci_low:.4f}, {value.ci_high:.4f}] {part.n_users}"
            )
        name = f"{kind} (winner)" if kind == report.winner else kind
        cold = f"{result.validation.n_cold_users}/{result.test.n_cold_users}"
        table.add_row(name, *cells, cold)
    console.print(table)
    verdict = "promoted to production" if report.gate.promote else "NOT promoted"
    console.print(f"registered version {report.model_version}: {verdict} ({report.gate.reason})")
    if report.export_dir is not None:
        console.print(f"production version {report.production_version} in {report.export_dir}")
