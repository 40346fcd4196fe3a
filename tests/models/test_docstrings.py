"""The usage examples in the model modules' docstrings run and print what they claim."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from movierec.models import als, base, ease, index, item_item, popularity


@pytest.mark.parametrize("module", [base, popularity, item_item, ease, als, index])
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
