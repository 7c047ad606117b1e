"""Fixtures of the stock tests."""

from __future__ import annotations

import pytest
from stock_helpers import Stock


@pytest.fixture(scope="session")
def stock(api) -> Stock:
    return Stock(api)
