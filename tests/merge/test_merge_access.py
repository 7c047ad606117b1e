"""Who may merge and list duplicates: the customers:merge permission (managers yes,
reps no), the data scope (only customers you see), and tenants (another tenant's
customers do not exist: NOT_FOUND, never listed, never followed)."""

from __future__ import annotations

import pytest
from helpers import make_tenant
from merge_helpers import (
    MERGE,
    MERGED_INTO,
    customer_row,
    duplicates,
    linked_counts,
    merge,
    merge_input,
    new_customer,
    populate,
)


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "macc")


@pytest.fixture(scope="module")
async def other(owner, services):
    return await make_tenant(owner, services, "maccb")


async def test_sales_may_not_merge_but_a_manager_may(api, services, tenant):
    admin = tenant.tokens["admin"]
    manager = str(tenant.user_ids["manager"])
    a = await new_customer(api, admin, "权限甲", ownerId=manager)
    b = await new_customer(api, admin, "权限乙")
    for role in ("sales", "viewer"):
        errors = await api.errors(MERGE, {"input": merge_input(a, b)}, token=tenant.tokens[role])
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
        assert (await customer_row(services, tenant, b["id"])).deleted_at is None
    result = await merge(api, tenant.tokens["manager"], a, b)
    assert result["userErrors"] == [] and result["customer"]["id"] == a["id"]


async def test_customers_outside_the_scope_are_not_found(api, services, tenant):
    """A manager without a team sees their own customers and the pool, not a rep's."""
    admin, token = tenant.tokens["admin"], tenant.tokens["manager"]
    reps = await new_customer(api, admin, "范围甲", ownerId=str(tenant.user_ids["sales"]))
    pool = await new_customer(api, admin, "范围乙")
    for survivor, merged, field in ((reps, pool, "survivorId"), (pool, reps, "mergedId")):
        result = await merge(api, token, survivor, merged)
        assert [(e["field"], e["code"]) for e in result["userErrors"]] == [(field, "NOT_FOUND")]
    assert (await customer_row(services, tenant, pool["id"])).version == pool["version"]
    # Where a customer went is only said for customers you see.
    assert (await merge(api, admin, pool, reps))["userErrors"] == []
    followed = await api.gql(MERGED_INTO, {"id": reps["id"]}, token=token)
    assert followed["customerMergedInto"] is None
    followed = await api.gql(MERGED_INTO, {"id": reps["id"]}, token=admin)
    assert followed["customerMergedInto"]["id"] == pool["id"]


async def test_another_tenant_can_neither_list_nor_merge_nor_follow(api, services, tenant, other):
    admin = tenant.tokens["admin"]
    a = await new_customer(api, admin, "佛山隔离电子有限公司", phone="13912345678")
    b = await new_customer(api, admin, "隔离电子", phone="139-1234-5678")
    await populate(api, services, tenant, admin, b["id"], tag="隔")
    own = await duplicates(api, admin)
    pair = frozenset((a["id"], b["id"]))
    assert pair in {
        frozenset((e["node"]["customer"]["id"], e["node"]["duplicate"]["id"])) for e in own["edges"]
    }

    intruder = other.tokens["admin"]
    # The same names in the other tenant pair only with each other.
    mine = await new_customer(api, intruder, "隔离电子厂", phone="13912345678")
    listed = await duplicates(api, intruder)
    ids = {i for e in listed["edges"] for i in (e["node"]["customer"]["id"],
                                                 e["node"]["duplicate"]["id"])}  # fmt: skip
    assert not ids & {a["id"], b["id"]}
    assert listed["totalCount"] == 0

    before = await linked_counts(services, tenant, b["id"])
    result = await merge(api, intruder, a, b)
    assert {(e["field"], e["code"]) for e in result["userErrors"]} == {
        ("survivorId", "NOT_FOUND"), ("mergedId", "NOT_FOUND"),
    }  # fmt: skip
    for survivor, merged, field in ((mine, b, "mergedId"), (a, mine, "survivorId")):
        result = await merge(api, intruder, survivor, merged)
        assert [(e["field"], e["code"]) for e in result["userErrors"]] == [(field, "NOT_FOUND")]
    assert await linked_counts(services, tenant, b["id"]) == before
    assert (await customer_row(services, tenant, b["id"])).deleted_at is None

    assert (await merge(api, admin, a, b))["userErrors"] == []
    followed = await api.gql(MERGED_INTO, {"id": b["id"]}, token=intruder)
    assert followed["customerMergedInto"] is None
