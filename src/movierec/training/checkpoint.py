"""Finished candidates kept in MLflow: each recorded as soon as it is evaluated, found again
by `movierec train --resume`.

A candidate's run (nested under the training run) is tagged with the data fingerprint and
its `candidate_key`; its artifacts are `candidate.json` (search, validation and test) and
`model/` (the model refitted on train+val). A later run on the same data with the same
candidate settings takes a FINISHED one over instead of training it again.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import numpy as np
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from movierec.artifacts import read_json, write_json
from movierec.models import Recommender, load_model
from movierec.training.candidate import CandidateResult
from movierec.training.registry import TAG_FINGERPRINT

CANDIDATE_JSON = "candidate.json"
MODEL_DIR = "model"
PER_USER_NPY = "validation_per_user.npy"
TAG_CANDIDATE_KEY = "candidate_key"


def record_candidate(result: CandidateResult, model: Recommender) -> None:
    """Log the candidate's result and final model as artifacts of the active run."""
    with tempfile.TemporaryDirectory(prefix="movierec-candidate-") as staging:
        directory = Path(staging)
        write_json(directory / CANDIDATE_JSON, result.to_dict())
        if result.validation.per_user is not None:  # the paired gate's per-user scores
            np.save(directory / PER_USER_NPY, result.validation.per_user)
        model.save(directory / MODEL_DIR)
        mlflow.log_artifacts(str(directory))


def finished_candidate(
    client: MlflowClient, experiment_id: str, fingerprint: str, key: str
) -> Run | None:
    """The latest finished candidate run with this key on data with this fingerprint."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=(
            f"tags.{TAG_CANDIDATE_KEY} = '{key}' and tags.{TAG_FINGERPRINT} = '{fingerprint}' "
            "and attributes.status = 'FINISHED'"
        ),
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def load_candidate(run: Run, kind: str) -> tuple[CandidateResult, Recommender]:
    """The result and final model recorded in a candidate run."""
    with tempfile.TemporaryDirectory(prefix="movierec-resume-") as staging:
        local = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=staging))
        result = CandidateResult.from_dict(kind, read_json(local / CANDIDATE_JSON))
        if (local / PER_USER_NPY).is_file():
            result.validation.per_user = np.load(local / PER_USER_NPY, allow_pickle=False)
        return result, load_model(local / MODEL_DIR)
