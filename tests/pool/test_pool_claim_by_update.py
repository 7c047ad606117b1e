"""Setting yourself as the owner of a pool customer through updateCustomer is a claim:
the tenant's claim limit applies, all or nothing, as it does to claimCustomers."""

from __future__ import annotations

from pathlib import Path

from helpers import make_tenant
from pool_helpers import footprint, make_customers, owned_count, owners, set_settings, versions

UPDATE = (
    Path(__file__).resolve().parents[2] / "graphql" / "operations" / "updateCustomer.graphql"
).read_text()


async def take(api, tenant, customer: str, version: int) -> dict:
    data = await api.gql(
        UPDATE,
        {"input": {"id": customer, "version": version, "ownerId": str(tenant.user_ids["sales"])}},
        token=tenant.tokens["sales"],
    )
    return data["updateCustomer"]


async def test_taking_a_pool_customer_by_update_respects_the_claim_limit(api, services, owner):
    tenant = await make_tenant(owner, services, "limitupd")
    await set_settings(services, tenant, claim_limit=2)
    sales = tenant.user_ids["sales"]
    await make_customers(services, tenant, 1, owner=sales)
    first, second = await make_customers(services, tenant, 2)

    taken = await take(api, tenant, first, (await versions(services, tenant, [first]))[first])
    assert taken["userErrors"] == [] and taken["customer"]["id"] == first
    assert await owned_count(services, tenant, sales) == 2

    before = await footprint(services, tenant, [second])
    refused = await take(api, tenant, second, (await versions(services, tenant, [second]))[second])
    assert refused["customer"] is None
    (error,) = refused["userErrors"]
    assert (error["field"], error["code"]) == ("ownerId", "LIMIT")
    assert "at most 2" in error["message"]
    assert await footprint(services, tenant, [second]) == before, "nothing written"
    assert await owners(services, tenant, [second]) == {second: None}


async def test_keeping_your_own_customer_while_over_the_limit_is_not_a_claim(api, services, owner):
    tenant = await make_tenant(owner, services, "limitupd")
    sales = tenant.user_ids["sales"]
    mine = await make_customers(services, tenant, 3, owner=sales)
    await set_settings(services, tenant, claim_limit=1)  # lowered after the fact
    again = await take(api, tenant, mine[0], (await versions(services, tenant, mine[:1]))[mine[0]])
    assert again["userErrors"] == [], "re-saving an owned customer takes nothing from the pool"
