"""Fixtures of the activity tests."""

from __future__ import annotations

import pytest
from activity_helpers import Gql


@pytest.fixture(scope="session")
def gql(api) -> Gql:
    return Gql(api)
