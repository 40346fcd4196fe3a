"""The whole offline pipeline on the real ml-100k from the mirror, with the default configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from movierec.artifacts import ITEM_FEATURES, ITEM_MAPPING, METRICS, SIMILAR_ITEMS, read_json
from movierec.training.pipeline import run_pipeline
from tests.conftest import real_mirror, requires_ml100k, settings_in

pytestmark = [pytest.mark.slow, pytest.mark.e2e, requires_ml100k]

STAR_WARS, EMPIRE_STRIKES_BACK, RETURN_OF_THE_JEDI = 50, 172, 181  # ml-100k movie ids


def test_ml100k_pipeline_beats_popularity_and_lists_the_star_wars_sequels(tmp_path: Path) -> None:
    mirror = real_mirror()
    assert mirror is not None
    settings = settings_in(tmp_path, mirror)  # checksums from configs/data.yaml
    report = run_pipeline(settings)
    assert report.training is not None and report.training.gate.promote

    exported = settings.training.export_dir
    evaluation = read_json(exported / METRICS)
    assert evaluation["split_strategy"] == "global_time"
    candidates = evaluation["candidates"]
    winner = candidates[evaluation["winner"]]["test"]
    popularity = candidates["popularity"]["test"]
    assert winner["users_evaluated"] > 0
    assert winner["metrics"]["ndcg@10"]["mean"] > popularity["metrics"]["ndcg@10"]["mean"]

    mapping = read_json(exported / ITEM_MAPPING)
    titles = {f["movie_id"]: f["title"] for f in read_json(exported / ITEM_FEATURES)}
    assert titles[STAR_WARS].startswith("Star Wars")
    assert titles[RETURN_OF_THE_JEDI].startswith("Return of the Jedi")
    with np.load(exported / SIMILAR_ITEMS) as table:
        neighbours = table["columns"][mapping[str(STAR_WARS)], :5]
    columns = {column: int(movie) for movie, column in mapping.items()}
    top_5 = [columns[int(c)] for c in neighbours if c >= 0]
    assert {EMPIRE_STRIKES_BACK, RETURN_OF_THE_JEDI} <= set(top_5), [titles[m] for m in top_5]


def test_ml100k_stratified_random_reaches_the_public_benchmark(tmp_path: Path) -> None:
    """The MS Recommenders protocol (per-user random 75/25, seed 42, every rating relevant):
    its best row, BiVAE, has NDCG@10 0.475; we ask >= 0.47 of our best and >= 0.40 of ALS."""
    mirror = real_mirror()
    assert mirror is not None
    settings = settings_in(
        tmp_path, mirror, data={"split": {"strategy": "stratified_random", "seed": 42}}
    )
    run_pipeline(settings)
    evaluation = read_json(settings.training.export_dir / METRICS)
    test_ndcg = {
        name: result["test"]["metrics"]["ndcg@10"]["mean"]
        for name, result in evaluation["candidates"].items()
    }
    assert evaluation["candidates"]["als"]["test"]["users_evaluated"] == 943
    assert max(test_ndcg.values()) >= 0.47
    assert test_ndcg["als"] >= 0.40
    assert test_ndcg[evaluation["winner"]] > test_ndcg["popularity"]
