"""Fixtures of the purchasing tests."""

from __future__ import annotations

import pytest
from purchasing_helpers import Buying


@pytest.fixture(scope="session")
def buy(api) -> Buying:
    return Buying(api)


@pytest.fixture
async def setup(buy, tenant_a) -> dict:
    """A supplier, a warehouse and two products (one batch-tracked) of tenant A."""
    admin = tenant_a.tokens["admin"]
    return {
        "admin": admin,
        "supplier": (await buy.supplier(admin))["id"],
        "warehouse": await buy.warehouse(admin),
        "product": await buy.product(admin),
        "lot": await buy.product(admin, batch_tracked=True),
    }
