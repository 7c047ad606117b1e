"""The company's base currency: CNY by default, readable by every user of the tenant,
changed by company:manage only, an ISO 4217 code, fixed once amounts are recorded in
it; list prices resolve only in it."""

from __future__ import annotations

import pytest
from catalog_helpers import RESOLVE, new_customer, new_product
from helpers import make_tenant
from sqlalchemy import select

from app.audit.tables import audit_log
from app.db import tenant_transaction

READ = "{ companySettings { baseCurrency version updatedAt } }"
UPDATE = """mutation($input: UpdateCompanySettingsInput!) {
  updateCompanySettings(input: $input) {
    companySettings { baseCurrency version } userErrors { field code message } } }"""


@pytest.fixture
async def fresh(owner, services):
    return await make_tenant(owner, services, "company")


async def test_default_and_readable_by_everyone(api, fresh):
    for role in ("admin", "manager", "sales", "viewer"):
        data = await api.gql(READ, token=fresh.tokens[role])
        assert data["companySettings"]["baseCurrency"] == "CNY"
        assert data["companySettings"]["version"] == 1


async def test_change_validate_conflict_and_audit(api, services, fresh):
    admin = fresh.tokens["admin"]
    for bad in ("XYZ", "RMB", "", "US"):
        data = await api.gql(UPDATE, {"input": {"baseCurrency": bad}}, token=admin)
        assert data["updateCompanySettings"]["userErrors"][0]["field"] == "baseCurrency"
        assert data["updateCompanySettings"]["userErrors"][0]["code"] == "INVALID"
    changed = await api.gql(UPDATE, {"input": {"baseCurrency": " usd ", "version": 1}}, token=admin)
    assert changed["updateCompanySettings"] == {
        "companySettings": {"baseCurrency": "USD", "version": 2}, "userErrors": []
    }  # fmt: skip
    stale = await api.gql(UPDATE, {"input": {"baseCurrency": "EUR", "version": 1}}, token=admin)
    assert stale["updateCompanySettings"]["userErrors"][0]["code"] == "CONFLICT"
    same = await api.gql(UPDATE, {"input": {"baseCurrency": "USD"}}, token=admin)
    assert same["updateCompanySettings"]["companySettings"]["version"] == 2
    async with tenant_transaction(services.engine, fresh.schema) as conn:
        changes = (
            await conn.scalars(
                select(audit_log.c.changes).where(audit_log.c.action == "company_settings.update")
            )
        ).all()
    assert changes == [{"base_currency": {"from": "CNY", "to": "USD"}}]
    for role in ("manager", "sales"):
        errors = await api.errors(
            UPDATE, {"input": {"baseCurrency": "EUR"}}, token=fresh.tokens[role]
        )
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert (await api.gql(READ, token=admin))["companySettings"]["baseCurrency"] == "USD"


async def test_list_prices_are_in_the_base_currency(api, fresh):
    admin = fresh.tokens["admin"]
    await api.gql(UPDATE, {"input": {"baseCurrency": "HKD"}}, token=admin)
    product = await new_product(api, admin, listPrice="88")
    line = {"productId": product["id"], "quantity": "1"}
    hkd = await api.gql(RESOLVE, {"input": {"lines": [line]}}, token=admin)
    assert hkd["resolvePrices"]["currency"] == "HKD"
    assert hkd["resolvePrices"]["lines"][0]["unitPrice"] == "88.0000"
    cny = await api.gql(RESOLVE, {"input": {"currency": "CNY", "lines": [line]}}, token=admin)
    assert cny["resolvePrices"]["lines"][0]["error"]["code"] == "NO_PRICE"
    # Now that a product's prices are in HKD, the base currency stays.
    refused = await api.gql(UPDATE, {"input": {"baseCurrency": "CNY"}}, token=admin)
    assert refused["updateCompanySettings"]["userErrors"][0]["code"] == "IN_USE"
    assert (await api.gql(READ, token=admin))["companySettings"]["baseCurrency"] == "HKD"


async def test_credit_limits_also_fix_it(api, fresh):
    admin = fresh.tokens["admin"]
    await new_customer(api, admin, creditLimit="1000")
    refused = await api.gql(UPDATE, {"input": {"baseCurrency": "EUR"}}, token=admin)
    assert refused["updateCompanySettings"]["userErrors"] == [
        {"field": "baseCurrency", "code": "IN_USE",
         "message": "the base currency stays CNY: products' prices and customers' credit "
                    "limits are already recorded in it"}
    ]  # fmt: skip
