"""The hourly job returns exactly the neglected customers to the pool (no follow-up
since the owner got them, for the tenant's reclaim period), records each return, and
a second run changes nothing more. Times are set in the past with the owner role."""

from __future__ import annotations

import uuid

import pytest
from helpers import make_tenant
from pool_helpers import (
    UPDATE_SETTINGS,
    audit_rows,
    claim,
    days_ago,
    history_rows,
    make_customers,
    owners,
    transfer,
)
from sqlalchemy import delete, insert, update

from app.activities.tables import activities
from app.customers.tables import customers
from app.db import tenant_transaction
from app.pool.tables import customer_ownership_changes
from workers.scheduled import run_in_tenant

DAYS = 30


async def _age(owner, tenant, customer_id: str, days: float, *, history: bool = True) -> None:
    """Make the customer (and, with `history`, its ownership changes) look `days` old."""
    cid = uuid.UUID(customer_id)
    async with tenant_transaction(owner, tenant.schema) as conn:
        await conn.execute(
            update(customers).where(customers.c.id == cid).values(updated_at=days_ago(days))
        )
        if history:
            h = customer_ownership_changes
            await conn.execute(
                update(h).where(h.c.customer_id == cid).values(changed_at=days_ago(days))
            )


async def _forget_history(owner, tenant, customer_id: str) -> None:
    """As for an owner set before ownership was recorded."""
    h = customer_ownership_changes
    async with tenant_transaction(owner, tenant.schema) as conn:
        await conn.execute(delete(h).where(h.c.customer_id == uuid.UUID(customer_id)))


async def _activity(owner, tenant, customer_id: str, user_id, days: float, *,
                    deleted: bool = False) -> None:  # fmt: skip
    async with tenant_transaction(owner, tenant.schema) as conn:
        await conn.execute(
            insert(activities).values(
                id=uuid.uuid4(), kind="call", subject="回访", customer_id=uuid.UUID(customer_id),
                owner_id=user_id, occurred_at=days_ago(days),
                deleted_at=days_ago(0) if deleted else None,
            )
        )  # fmt: skip


@pytest.fixture(scope="module")
async def scene(api, owner, services):
    tenant = await make_tenant(owner, services, "reclaim")
    set_days = await api.gql(
        UPDATE_SETTINGS, {"input": {"reclaimAfterDays": DAYS}}, token=tenant.tokens["admin"]
    )
    assert set_days["updatePoolSettings"]["userErrors"] == []
    sales, manager = tenant.user_ids["sales"], tenant.user_ids["manager"]
    c = {}

    async def owned(name: str, who=sales) -> str:
        (c[name],) = await make_customers(services, tenant, 1, owner=who, prefix=name)
        return c[name]

    await _age(owner, tenant, await owned("idle"), 40)
    await _age(owner, tenant, await owned("recent_call"), 40)
    await _activity(owner, tenant, c["recent_call"], sales, 5)
    await _age(owner, tenant, await owned("old_call"), 40)
    await _activity(owner, tenant, c["old_call"], sales, 40)
    await _activity(owner, tenant, c["old_call"], manager, 35)  # by anyone: still old
    await _age(owner, tenant, await owned("deleted_call"), 40)
    await _activity(owner, tenant, c["deleted_call"], sales, 2, deleted=True)
    # Long in the pool, claimed today: the owner got it today.
    (c["claimed_today"],) = await make_customers(services, tenant, 1, prefix="claimed")
    assert (await claim(api, tenant.tokens["sales"], [c["claimed_today"]]))["results"][0]["claimed"]
    await _age(owner, tenant, c["claimed_today"], 40, history=False)
    # The previous owner had it long ago; the current one since five days.
    await _age(owner, tenant, await owned("handed_over"), 40)
    assert (await transfer(api, tenant.tokens["admin"], [c["handed_over"]], manager))[
        "userErrors"
    ] == []
    async with tenant_transaction(owner, tenant.schema) as conn:
        h = customer_ownership_changes
        await conn.execute(
            update(h)
            .where(h.c.customer_id == uuid.UUID(c["handed_over"]), h.c.kind == "transfer")
            .values(changed_at=days_ago(5))
        )
    await _age(owner, tenant, c["handed_over"], 40, history=False)
    # Edited yesterday, but nobody followed up for long: edits are not follow-ups.
    await _age(owner, tenant, await owned("edited"), 40)
    await _age(owner, tenant, c["edited"], 1, history=False)
    # Owners set before history existed: customers.updated_at stands in.
    await _forget_history(owner, tenant, await owned("legacy_idle"))
    await _age(owner, tenant, c["legacy_idle"], 40, history=False)
    await _forget_history(owner, tenant, await owned("legacy_recent"))
    await _age(owner, tenant, c["legacy_recent"], 10, history=False)
    # Deleted, and in the pool: not the job's business.
    await _age(owner, tenant, await owned("deleted"), 40)
    async with tenant_transaction(owner, tenant.schema) as conn:
        await conn.execute(
            update(customers)
            .where(customers.c.id == uuid.UUID(c["deleted"]))
            .values(deleted_at=days_ago(1))
        )
    (c["pooled"],) = await make_customers(services, tenant, 1, prefix="pooled")
    await _age(owner, tenant, c["pooled"], 400)
    return {"tenant": tenant, "c": c, "sales": sales, "manager": manager}


RECLAIMED = {"idle", "old_call", "deleted_call", "legacy_idle", "edited"}


async def test_reclaims_exactly_the_neglected_and_only_once(services, owner, scene):
    tenant, c = scene["tenant"], scene["c"]
    # A tenant without a reclaim period (the default) keeps its idle customers.
    other = await make_tenant(owner, services, "keep")
    (kept,) = await make_customers(services, other, 1, owner=other.user_ids["sales"])
    await _age(owner, other, kept, 400)

    assert await run_in_tenant(services.engine, "reclaim", tenant.schema) == len(RECLAIMED)
    assert await run_in_tenant(services.engine, "reclaim", other.schema) == 0
    now = await owners(services, tenant, list(c.values()))
    back = {name for name, customer_id in c.items() if now[customer_id] is None} - {"pooled"}
    assert back == RECLAIMED
    assert now[c["handed_over"]] == str(scene["manager"])
    assert now[c["deleted"]] == str(scene["sales"])
    assert await owners(services, other, [kept]) == {kept: str(other.user_ids["sales"])}

    ids = [c[name] for name in RECLAIMED]
    changes = [h for h in await history_rows(services, tenant, ids) if h.kind == "reclaim"]
    assert sorted(str(h.customer_id) for h in changes) == sorted(ids)
    assert {(h.from_owner_id, h.to_owner_id, h.changed_by, h.reason) for h in changes} == {
        (scene["sales"], None, None, f"no follow-up for {DAYS} days")
    }
    audited = await audit_rows(services, tenant, ids, "customer.reclaim")
    assert sorted(str(a.entity_id) for a in audited) == sorted(ids)
    assert {(a.actor_kind, a.actor_id) for a in audited} == {("system", None)}

    everything = list(c.values())
    before = (await history_rows(services, tenant, everything), len(await audit_rows(
        services, tenant, everything)))  # fmt: skip
    assert await run_in_tenant(services.engine, "reclaim", tenant.schema) == 0
    after = (await history_rows(services, tenant, everything), len(await audit_rows(
        services, tenant, everything)))  # fmt: skip
    assert after == before
    assert await owners(services, tenant, everything) == now


async def test_the_real_worker_runs_the_cron_task(api, services, owner, run_worker):
    tenant = await make_tenant(owner, services, "reclaim-cron")
    await api.gql(UPDATE_SETTINGS, {"input": {"reclaimAfterDays": 7}}, token=tenant.tokens["admin"])
    idle, busy = await make_customers(services, tenant, 2, owner=tenant.user_ids["sales"])
    await _age(owner, tenant, idle, 8)
    await _age(owner, tenant, busy, 6)
    await services.queue.enqueue("cron:reclaim_idle_customers", {}, key=f"test-{uuid.uuid4().hex}")
    await run_worker(poll_delay=0.05)
    assert await owners(services, tenant, [idle, busy]) == {
        idle: None,
        busy: str(tenant.user_ids["sales"]),
    }
