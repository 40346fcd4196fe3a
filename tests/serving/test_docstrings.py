"""The usage examples in the serving modules' docstrings run and print what they claim."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from movierec.serving import errors, ranking, routing


@pytest.mark.parametrize("module", [errors, ranking, routing])
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
