"""The compiled sparse x sparse rows against a hand-computed product and scipy's."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from movierec.models.compute import FitOptions, map_blocks
from movierec.models.sparse_product import add_product_rows, product_rows


def test_rows_match_a_product_computed_by_hand() -> None:
    left = sp.csr_matrix(np.array([[1, 0, 2], [0, 0, 0], [3, 1, 0]], dtype=np.float32))
    right = sp.csr_matrix(np.array([[1, 2], [0, 5], [4, 0]], dtype=np.float32))
    # Row 0: 1*[1, 2] + 2*[4, 0]; row 1 is empty; row 2: 3*[1, 2] + 1*[0, 5].
    assert product_rows(left, right, 0, 3).tolist() == [[9, 2], [0, 0], [3, 11]]
    assert product_rows(left, right, 2, 3).tolist() == [[3, 11]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blocks_on_threads_equal_scipys_product(dtype: type[np.floating]) -> None:
    matrix = sp.random(300, 120, density=0.05, format="csr", dtype=np.float32, random_state=3)
    item_users = matrix.T.tocsr()
    expected = (item_users @ matrix).toarray()
    out = np.zeros((120, 120), dtype=dtype)
    blocks = map_blocks(
        lambda start, stop: add_product_rows(item_users, matrix, start, out[start:stop]),
        120,
        7,
        FitOptions(threads=2),
    )
    assert [stop - start for start, stop, _ in blocks][-1] == 120 % 7
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def test_adds_to_what_out_holds() -> None:
    eye = sp.identity(2, dtype=np.float32, format="csr")
    out = np.ones((2, 2), dtype=np.float32)
    assert add_product_rows(eye, eye, 0, out).tolist() == [[2, 1], [1, 2]]


def test_mismatched_shapes_are_refused() -> None:
    left = sp.csr_matrix((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="cannot multiply"):
        product_rows(left, sp.csr_matrix((2, 2), dtype=np.float32), 0, 2)
    with pytest.raises(ValueError, match="does not fit"):
        add_product_rows(left, sp.csr_matrix((3, 2), dtype=np.float32), 1, np.zeros((2, 2)))
