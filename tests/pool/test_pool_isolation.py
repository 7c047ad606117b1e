"""Tenants are isolated in the pool too: another tenant's customers cannot be claimed,
released, transferred or traced (not even told apart from ids that do not exist),
its people cannot receive customers, and its settings govern only itself."""

from __future__ import annotations

import uuid

import pytest
from helpers import make_tenant
from pool_helpers import (
    HISTORY,
    SETTINGS,
    UPDATE_SETTINGS,
    claim,
    days_ago,
    footprint,
    make_customers,
    owners,
    release,
    results,
    transfer,
)
from sqlalchemy import update

from app.customers.tables import customers
from app.db import tenant_transaction
from app.pool.tables import customer_ownership_changes
from workers.scheduled import run_in_tenant


@pytest.fixture(scope="module")
async def pair(owner, services):
    a = await make_tenant(owner, services, "pool-a")
    b = await make_tenant(owner, services, "pool-b")
    return a, b


async def test_another_tenants_customers_do_not_exist(api, services, pair):
    a, b = pair
    pooled = await make_customers(services, a, 1)
    owned = await make_customers(services, a, 1, owner=a.user_ids["sales"])
    ids = pooled + owned
    before = await footprint(services, a, ids)
    unknown = str(uuid.uuid4())
    for role in ("sales", "admin"):
        claimed = await claim(api, b.tokens[role], [*ids, unknown])
        # Exactly what an id naming nothing gets: no ALREADY_OWNED to infer from.
        assert results(claimed) == {i: (False, "NOT_FOUND") for i in [*ids, unknown]}
        assert all(r["customer"] is None for r in claimed["results"])
    released = await release(api, b.tokens["admin"], ids)
    assert released["userErrors"] == [
        {"field": "ids", "code": "NOT_FOUND", "message": f"no such customer: {', '.join(ids)}"}
    ]
    moved = await transfer(api, b.tokens["admin"], ids, b.user_ids["sales"])
    assert [(e["field"], e["code"]) for e in moved["userErrors"]] == [("ids", "NOT_FOUND")]
    for customer_id in ids:
        history = await api.gql(HISTORY, {"customerId": customer_id}, token=b.tokens["admin"])
        assert history["customerOwnershipHistory"]["totalCount"] == 0
        assert history["customerOwnershipHistory"]["edges"] == []
    assert await footprint(services, a, ids) == before
    # And the other way round: tenant a's people cannot receive tenant b's customers.
    (bs,) = await make_customers(services, b, 1)
    to_a = await transfer(api, b.tokens["admin"], [bs], a.user_ids["sales"])
    assert [(e["field"], e["code"]) for e in to_a["userErrors"]] == [("toUserId", "NOT_FOUND")]
    assert await owners(services, b, [bs]) == {bs: None}


async def test_settings_govern_only_their_tenant(api, services, owner, pair):
    a, b = pair
    changed = await api.gql(
        UPDATE_SETTINGS, {"input": {"claimLimit": 0, "reclaimAfterDays": 1}},
        token=b.tokens["admin"],
    )  # fmt: skip
    assert changed["updatePoolSettings"]["userErrors"] == []
    a_settings = (await api.gql(SETTINGS, token=a.tokens["admin"]))["poolSettings"]
    assert (a_settings["claimLimit"], a_settings["reclaimAfterDays"], a_settings["version"]) == (
        200, None, 1
    )  # fmt: skip
    # b's limit of 0 stops b's reps, not a's.
    (b_pool,) = await make_customers(services, b, 1)
    assert (await claim(api, b.tokens["sales"], [b_pool]))["userErrors"][0]["code"] == "LIMIT"
    (a_pool,) = await make_customers(services, a, 1)
    assert results(await claim(api, a.tokens["sales"], [a_pool])) == {a_pool: (True, None)}
    # b's reclaim period returns b's idle customers, never a's.
    a_idle = await make_customers(services, a, 1, owner=a.user_ids["sales"])
    b_idle = await make_customers(services, b, 1, owner=b.user_ids["sales"])
    for tenant, ids in ((a, a_idle), (b, b_idle)):
        async with tenant_transaction(owner, tenant.schema) as conn:
            cid = uuid.UUID(ids[0])
            await conn.execute(
                update(customers).where(customers.c.id == cid).values(updated_at=days_ago(3))
            )
            h = customer_ownership_changes
            await conn.execute(
                update(h).where(h.c.customer_id == cid).values(changed_at=days_ago(3))
            )
    for tenant in (a, b):
        await run_in_tenant(services.engine, "reclaim", tenant.schema)
    assert await owners(services, b, b_idle) == {b_idle[0]: None}
    assert await owners(services, a, a_idle) == {a_idle[0]: str(a.user_ids["sales"])}
