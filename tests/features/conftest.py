"""The data-layer fixtures (settings over the synthetic mirror) serve the feature tests too."""

from tests.data.conftest import data_settings

__all__ = ["data_settings"]
