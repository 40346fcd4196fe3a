"""IdMapping round trips (property-based) and the sparse interaction matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from movierec.data.mappings import IdMapping, MappingError, interaction_matrix

ids_lists = st.lists(st.integers(0, 2**40), max_size=50)


@settings(max_examples=60, deadline=None)
@given(ids=ids_lists, unknown=st.integers(-(2**40), -1))
def test_ids_round_trip_through_indices(ids: list[int], unknown: int) -> None:
    mapping = IdMapping.from_ids(ids)

    assert mapping.ids.tolist() == sorted(set(ids))
    assert mapping.to_ids(mapping.to_index(np.array(ids))).tolist() == ids
    assert mapping.to_index(np.array([unknown])).tolist() == [-1]
    assert unknown not in mapping
    assert all(i in mapping for i in ids)


@settings(max_examples=30, deadline=None)
@given(ids=st.lists(st.integers(0, 2**40), unique=True, max_size=50))
def test_save_and_load_round_trip(ids: list[int], tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("mapping") / "mapping.json"
    mapping = IdMapping(np.array(ids, dtype=np.int64))  # any order, kept as given

    mapping.save(path)
    loaded = IdMapping.load(path)

    assert loaded.ids.tolist() == ids
    assert loaded.to_index(np.array(ids)).tolist() == list(range(len(ids)))


def test_json_layout_is_id_to_index(tmp_path: Path) -> None:
    IdMapping.from_ids([30, 10, 20]).save(tmp_path / "m.json")

    assert (tmp_path / "m.json").read_text() == '{"10":0,"20":1,"30":2}\n'


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="unique"):
        IdMapping(np.array([1, 2, 1]))
    (tmp_path / "gap.json").write_text('{"5": 0, "6": 2}')
    with pytest.raises(MappingError, match=r"indices must be 0\.\.1"):
        IdMapping.load(tmp_path / "gap.json")
    (tmp_path / "text.json").write_text('{"five": 0}')
    with pytest.raises(MappingError, match="movierec process"):
        IdMapping.load(tmp_path / "text.json")
    with pytest.raises(IndexError, match=r"0\.\.2"):
        IdMapping.from_ids([1, 2, 3]).to_ids(np.array([3]))


def test_the_callers_array_stays_writable() -> None:
    ids = np.array([3, 1, 2], dtype=np.int64)

    IdMapping(ids)

    ids[0] = 4  # would raise if the mapping had frozen the caller's array


def test_interaction_matrix_drops_unknown_ids() -> None:
    users = IdMapping.from_ids([10, 20])
    items = IdMapping.from_ids([1, 2, 3])
    frame = pd.DataFrame(
        {
            "user_id": [10, 20, 20, 99],
            "movie_id": [3, 1, 7, 1],
            "confidence": [2.5, 1.0, 4.0, 3.0],
        }
    )

    matrix = interaction_matrix(frame, users, items)

    assert matrix.shape == (2, 3)
    assert matrix.dtype == np.float32
    assert matrix.toarray().tolist() == [[0, 0, 2.5], [1.0, 0, 0]]
