"""Fixtures for custom field tests: fresh tenants of their own (defining a required
field would otherwise change what creating a customer needs in shared tenants)."""

from __future__ import annotations

import uuid

import pytest
from custom_field_helpers import Fields
from helpers import make_tenant


@pytest.fixture(scope="module")
async def cf(owner, services):
    return await make_tenant(owner, services, "cf")


@pytest.fixture
def k() -> str:
    """A key prefix unique to one test."""
    return f"t{uuid.uuid4().hex[:6]}_"


@pytest.fixture
def fields(api) -> Fields:
    return Fields(api)
