"""Every dataset name end to end through download and load, on small generated releases.

benchmarks.generate writes each release as GroupLens ships it (the zip's folder, file names,
separators, encodings, quoting, headers and rating spellings); the real download path must
verify and extract it and the loader must read back exactly what was generated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from benchmarks.generate import SHAPES, generate, write

from movierec.data.download import download_dataset
from movierec.data.loaders import DATASET_NAMES, data_files, load_dataset
from tests.data.conftest import data_settings_for

CSV_RELEASES = {"ml-20m", "ml-25m", "ml-32m", "ml-latest", "ml-latest-small"}


def test_the_generator_knows_every_dataset_name() -> None:
    assert set(SHAPES) == set(DATASET_NAMES)


@pytest.mark.parametrize("dataset", DATASET_NAMES)
def test_a_generated_release_downloads_verifies_and_loads(tmp_path: Path, dataset: str) -> None:
    shape = SHAPES[dataset].scaled(3000 / SHAPES[dataset].ratings)
    data = generate(shape, seed=3)
    checksums = write(dataset, data.ratings, data.items, tmp_path / "mirror")
    settings = data_settings_for(tmp_path, tmp_path / "mirror", checksums, dataset=dataset)

    folder = download_dataset(settings)
    raw = load_dataset(dataset, folder)

    assert folder == settings.raw_dir / dataset
    assert set(data_files(dataset)) <= {p.name for p in folder.iterdir()}
    assert raw.malformed_rows == 0
    loaded = raw.ratings.sort_values(["user_id", "movie_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(loaded, data.ratings, check_dtype=True)
    half_stars = (data.ratings["rating"] % 1 != 0).any()
    assert half_stars == (shape.half_stars and data.ratings["timestamp"].max() >= 1_045_526_400)
    items = raw.items.set_index("movie_id").loc[data.items["movie_id"]]
    assert items["title"].tolist() == data.items["title"].tolist()  # commas and quotes too
    assert items["year"].tolist() == data.items["year"].tolist()
    spelled = [
        [g.replace("Children's", "Children") if dataset in CSV_RELEASES else g for g in genres]
        for genres in data.items["genres"]
    ]
    assert items["genres"].tolist() == spelled
    has_url = items["url"].notna().to_numpy()
    if dataset in CSV_RELEASES:
        assert has_url.all() and items["url"].str.startswith("https://www.imdb.com/title/").all()
    elif dataset == "ml-100k":  # u.item links odd movie ids only
        assert (has_url == (data.items["movie_id"].to_numpy() % 2 == 1)).all()
    else:
        assert not has_url.any()
    assert np.isin(raw.ratings["movie_id"], raw.items["movie_id"]).all()
