"""Discount authority (折扣权限): line discounts above the company's
`discountLimitPercent` (default 10 %) need prices:override, on quotes and orders alike;
the limit is a company setting, validated, changed by company:manage, per tenant."""

from __future__ import annotations

import pytest
from helpers import make_tenant, operation
from order_helpers import CREATE_ORDER, CREATE_QUOTE, dec, goods, payload, user_token
from sqlalchemy import func, select

from app.db import tenant_transaction
from app.orders.tables import quotes, sales_orders

READ = operation("companySettings")
UPDATE = operation("updateCompanySettings")


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "discount")


@pytest.fixture(scope="module")
async def stocked(api, tenant):
    return await goods(api, tenant, products=1, stock="100")


async def _documents(services, tenant) -> tuple[int, int]:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return (
            await conn.scalar(select(func.count()).select_from(sales_orders)),
            await conn.scalar(select(func.count()).select_from(quotes)),
        )


async def _both(api, stocked, token: str, discount: str) -> list[dict]:
    """createSalesOrder and createQuote with one line at `discount` %."""
    line = [{"productId": stocked.products[0], "quantity": "1", "discountPercent": discount}]
    order = await payload(api, CREATE_ORDER, "createSalesOrder", {
        "customerId": stocked.customer, "warehouseId": stocked.warehouse, "lines": line,
    }, token)  # fmt: skip
    quote = await payload(api, CREATE_QUOTE, "createQuote",
                          {"customerId": stocked.customer, "lines": line}, token)  # fmt: skip
    return [order, quote]


def _errors(result: dict) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in result["userErrors"]]


async def _set_limit(api, tenant, value: str) -> dict:
    data = await api.gql(UPDATE, {"input": {"discountLimitPercent": value}},
                         token=tenant.tokens["admin"])  # fmt: skip
    return data["updateCompanySettings"]


async def test_a_rep_discounts_up_to_the_limit_and_no_further(api, services, tenant, stocked):
    _, sales = await user_token(api, services, tenant, "sales")
    _, manager = await user_token(api, services, tenant, "manager")
    settings = (await api.gql(READ, token=sales))["companySettings"]
    assert dec(settings["discountLimitPercent"]) == dec("10")
    for made in await _both(api, stocked, sales, "10"):
        assert made["userErrors"] == [], made
    before = await _documents(services, tenant)
    for refused in await _both(api, stocked, sales, "10.01"):
        assert _errors(refused) == [("lines[0].discountPercent", "FORBIDDEN")]
        assert "10" in refused["userErrors"][0]["message"]
        assert "prices:override" in refused["userErrors"][0]["message"]
    assert await _documents(services, tenant) == before
    # A manager holds prices:override: the limit does not bind them.
    for made in await _both(api, stocked, manager, "35"):
        assert made["userErrors"] == [], made


async def test_the_limit_is_a_validated_company_setting(api, services, tenant, stocked, owner):
    for bad in ("-1", "100.01", "12.345"):
        refused = await _set_limit(api, tenant, bad)
        assert _errors(refused) == [("discountLimitPercent", "INVALID")], (bad, refused)
    _, sales = await user_token(api, services, tenant, "sales")
    errors = await api.errors(UPDATE, {"input": {"discountLimitPercent": "50"}}, token=sales)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    changed = await _set_limit(api, tenant, "25")
    assert dec(changed["companySettings"]["discountLimitPercent"]) == dec("25")
    try:
        for made in await _both(api, stocked, sales, "25"):
            assert made["userErrors"] == [], made
        for refused in await _both(api, stocked, sales, "25.5"):
            assert _errors(refused) == [("lines[0].discountPercent", "FORBIDDEN")]
        # Another tenant keeps its own limit.
        other = await make_tenant(owner, services, "discount-other")
        theirs = (await api.gql(READ, token=other.tokens["sales"]))["companySettings"]
        assert dec(theirs["discountLimitPercent"]) == dec("10")
        # 0: every discount needs prices:override.
        await _set_limit(api, tenant, "0")
        for refused in await _both(api, stocked, sales, "0.01"):
            assert _errors(refused) == [("lines[0].discountPercent", "FORBIDDEN")]
        for made in await _both(api, stocked, sales, "0"):
            assert made["userErrors"] == [], made
    finally:
        await _set_limit(api, tenant, "10")
