"""The usage examples in the model modules' docstrings run and print what they claim."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from movierec.models import als, base, ease, index, item_item, params, popularity, registry


@pytest.mark.parametrize(
    "module", [base, params, popularity, item_item, ease, als, index, registry]
)
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
