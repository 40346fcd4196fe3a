"""The bundle the frontend tests serve: synthetic, with offline metrics as training writes them."""

from __future__ import annotations

from pathlib import Path

from movierec.artifacts import MODEL_METADATA, read_json, write_json, write_manifest
from tests.bundles import build_synthetic_bundle

OFFLINE_METRICS = {
    "validation": {"ndcg@10": 0.334, "precision@10": 0.21, "ndcg@5": 0.3},
    "test": {"ndcg@10": 0.312, "precision@10": 0.19, "ndcg@5": 0.29, "recall@10": 0.144},
    "test_intervals": {"ndcg@10": [0.25, 0.37], "recall@10": [0.11, 0.18]},
    "validation_users": 100,
    "test_users": 98,
    "baseline": {
        "model_kind": "popularity",
        "test": {"ndcg@10": 0.151, "recall@10": 0.061},
        "test_intervals": {"ndcg@10": [0.1, 0.2], "recall@10": [0.04, 0.08]},
    },
}


def frontend_bundle(directory: Path) -> Path:
    """A synthetic production bundle whose metadata carries `OFFLINE_METRICS`."""
    build_synthetic_bundle(directory)
    metadata = read_json(directory / MODEL_METADATA)
    write_json(directory / MODEL_METADATA, {**metadata, "metrics": OFFLINE_METRICS})
    write_manifest(directory)
    return directory
