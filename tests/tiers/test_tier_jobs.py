"""The daily job runs each active tenant's rules as the system; the real worker has
it as a cron task; evaluateTiers costs the same number of statements for 10 customers
as for 200."""

from __future__ import annotations

import uuid

from helpers import make_tenant
from sqlalchemy import insert
from tier_helpers import EVALUATE, add_customer, add_deals, audits, history, set_rules, tiers

from app.customers.tables import customers
from app.db import tenant_transaction
from workers.scheduled import run_in_tenant

EVERY_KIND = [
    {"tier": "A", "priority": 1, "conditions": {"wonAmountGte": "5000", "periodDays": 30}},
    {"tier": "A", "priority": 2, "conditions": {"wonAmountGte": "900", "wonAmountCurrency": "USD"}},
    {"tier": "B", "priority": 3, "conditions": {"wonCountGte": 2, "periodDays": 60}},
    {"tier": "B", "priority": 4, "conditions": {"openPipelineGte": "100",
                                                 "categoryIn": ["ACTIVE", "PARTNER"]}},
    {"tier": "C", "priority": 5, "conditions": {}},
]  # fmt: skip


async def test_the_daily_job_evaluates_a_tenant_as_the_system(api, owner, services):
    tenant = await make_tenant(owner, services, "tiercron")
    customer = await add_customer(services, tenant, "日常客户", category="active")
    await add_deals(services, tenant, [{"customer": customer, "owner": tenant.user_ids["sales"],
                                        "amount": "8000", "days_ago": 2}])  # fmt: skip
    assert (await set_rules(api, tenant.tokens["admin"], EVERY_KIND))["userErrors"] == []
    assert await run_in_tenant(services.engine, "tiers", tenant.schema) == 1
    assert (await tiers(services, tenant, [customer]))[customer] == "A"
    (change,) = await history(services, tenant, [customer])
    assert (change.from_tier, change.to_tier, change.changed_by) == (None, "A", None)
    (audited,) = await audits(services, tenant, "customer.tier_change")
    assert (audited.actor_kind, audited.actor_id, audited.entity_id) == ("system", None, customer)
    # Idempotent: nothing more the second time.
    assert await run_in_tenant(services.engine, "tiers", tenant.schema) == 0
    assert len(await history(services, tenant, [customer])) == 1


async def test_the_real_worker_runs_the_cron_task(api, owner, services, run_worker):
    tenant = await make_tenant(owner, services, "tierworker")
    customer = await add_customer(services, tenant, "后台客户", category="prospect")
    assert (await set_rules(api, tenant.tokens["admin"], EVERY_KIND))["userErrors"] == []
    await services.queue.enqueue("cron:evaluate_tiers", {}, key=f"test-{uuid.uuid4().hex}")
    await run_worker(poll_delay=0.05)
    assert (await tiers(services, tenant, [customer]))[customer] == "C"


async def _crowd(api, owner, services, size: int):
    """A tenant with `size` customers, each with deals every rule looks at."""
    tenant = await make_tenant(owner, services, f"tiercount{size}")
    ids = [uuid.uuid4() for _ in range(size)]
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        await conn.execute(
            insert(customers),
            [{"id": i, "name": f"客户{n}", "category": ("active", "prospect")[n % 2]}
             for n, i in enumerate(ids)],
        )  # fmt: skip
    owner_id = tenant.user_ids["sales"]
    deals = []
    for n, customer in enumerate(ids):
        deals.append({"customer": customer, "owner": owner_id, "amount": str(1000 * (n % 7)),
                      "days_ago": n % 50})  # fmt: skip
        deals.append({"customer": customer, "owner": owner_id, "amount": "300",
                      "currency": "USD", "status": ("won", "open")[n % 2], "days_ago": 5})  # fmt: skip
    await add_deals(services, tenant, deals)
    assert (await set_rules(api, tenant.tokens["admin"], EVERY_KIND))["userErrors"] == []
    return tenant, ids


async def test_statements_do_not_grow_with_the_customers(api, owner, services, sql_counter):
    counts = {}
    for size in (10, 200):
        tenant, ids = await _crowd(api, owner, services, size)
        token = tenant.tokens["admin"]
        await api.gql("{ me { user { id } } }", token=token)  # principal cached (1 s in tests)
        sql_counter.statements.clear()
        payload = (await api.gql(EVALUATE, token=token))["evaluateTiers"]
        counts[size] = sql_counter.count
        assert payload["evaluated"] == size
        assert payload["changed"] == size  # everyone had no tier; the last rule catches all
        assert None not in (await tiers(services, tenant, ids)).values()
    # the rules (locked), the evaluation, the run's audit record
    assert counts[10] == counts[200] == 3, counts
