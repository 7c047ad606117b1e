"""Scheduled rules fan out one job per active tenant through the real arq worker
(burst mode, real Redis): each tenant's job does that tenant's work, a (rule, tenant,
slot) runs once however often the slot is enqueued, a tenant whose job fails or
waits on a lock holds back no other, and suspended tenants are skipped."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid

from helpers import make_tenant
from sqlalchemy import func, select, text

from app.activities.tables import notifications
from app.db import tenant_transaction
from tenants.migrations import quote_ident
from tenants.provisioning import set_tenant_status
from workers.scheduled import fan_out, job_key

CREATE_TASK = """mutation($input: CreateTaskInput!) {
  createTask(input: $input) { task { id } userErrors { code } } }"""


async def _due_task(api, tenant, title: str = "回电话") -> None:
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat()
    payload = (
        await api.gql(
            CREATE_TASK, {"input": {"title": title, "dueAt": due}}, token=tenant.tokens["sales"]
        )
    )["createTask"]
    assert payload["userErrors"] == []


async def _reminders(services, tenant) -> int:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return await conn.scalar(select(func.count()).select_from(notifications))


async def _unread(api, tenant) -> int:
    return (await api.gql("{ unreadCount }", token=tenant.tokens["sales"]))["unreadCount"]


async def _tick(services, slot: str) -> None:
    """The reminders cron tick as the worker's scheduler enqueues it, for `slot`."""
    await services.queue.enqueue(
        "cron:send_reminders", {"slot": slot}, key=f"test-tick-{uuid.uuid4().hex}"
    )


def _slot() -> str:
    return f"test-{uuid.uuid4().hex}"


async def test_each_active_tenant_gets_its_own_job(api, owner, services, run_worker):
    a, b = await make_tenant(owner, services, "fan-a"), await make_tenant(owner, services, "fan-b")
    resting = await make_tenant(owner, services, "fan-off")
    await _due_task(api, a)
    await _due_task(api, a, "发报价")
    await _due_task(api, b)
    await _due_task(api, resting)
    await set_tenant_status(owner, resting.slug, "suspended")

    slot = _slot()
    await _tick(services, slot)
    await run_worker(poll_delay=0.05)

    assert (await _unread(api, a), await _unread(api, b)) == (2, 1)
    assert await services.queue.result(job_key("reminders", a.id, slot)) == 2
    assert await services.queue.result(job_key("reminders", b.id, slot)) == 1
    # The suspended tenant got no job at all.
    assert await services.queue.result(job_key("reminders", resting.id, slot)) is None
    assert await _reminders(services, resting) == 0


async def test_a_tenant_suspended_after_the_fan_out_is_skipped(api, owner, services, run_worker):
    tenant = await make_tenant(owner, services, "fan-late")
    await _due_task(api, tenant)
    slot = _slot()
    assert await fan_out({"services": services}, "reminders", slot) >= 1
    await set_tenant_status(owner, tenant.slug, "suspended")
    await run_worker(poll_delay=0.05)
    assert await services.queue.result(job_key("reminders", tenant.id, slot)) == (
        "tenant unavailable"
    )
    assert await _reminders(services, tenant) == 0


async def test_a_slot_runs_once_per_tenant(api, owner, services, run_worker):
    tenant = await make_tenant(owner, services, "fan-once")
    await _due_task(api, tenant)
    ctx, slot = {"services": services}, _slot()
    assert await fan_out(ctx, "reminders", slot) >= 1
    assert await fan_out(ctx, "reminders", slot) == 0, "queued: the repeat is ignored"
    await _tick(services, slot)
    await _tick(services, slot)
    await run_worker(poll_delay=0.05)
    # Had the tenant's job run again, it would have found nothing to do and kept 0.
    assert await services.queue.result(job_key("reminders", tenant.id, slot)) == 1
    assert await _unread(api, tenant) == 1

    # Done: the kept result still holds the slot, so new work waits for the next one.
    await _due_task(api, tenant, "second")
    assert await fan_out(ctx, "reminders", slot) == 0
    await _tick(services, slot)
    await run_worker(poll_delay=0.05)
    assert await _unread(api, tenant) == 1
    await _tick(services, _slot())
    await run_worker(poll_delay=0.05)
    assert await _unread(api, tenant) == 2


async def test_a_broken_tenant_holds_back_no_other(api, owner, services, run_worker, caplog):
    first = await make_tenant(owner, services, "fan-first")
    broken = await make_tenant(owner, services, "fan-broken")
    last = await make_tenant(owner, services, "fan-last")
    for tenant in (first, broken, last):
        await _due_task(api, tenant)
    tasks = f"{quote_ident(broken.schema)}.tasks"
    async with owner.begin() as conn:
        await conn.execute(text(f"ALTER TABLE {tasks} RENAME TO tasks_away"))
    try:
        slot = _slot()
        with caplog.at_level(logging.INFO, logger="kehu.scheduled"):
            await _tick(services, slot)
            await run_worker(poll_delay=0.05)
    finally:
        async with owner.begin() as conn:
            await conn.execute(
                text(f"ALTER TABLE {quote_ident(broken.schema)}.tasks_away RENAME TO tasks")
            )
    assert (await _unread(api, first), await _unread(api, last)) == (1, 1)
    assert await services.queue.result(job_key("reminders", broken.id, slot)) == "failed"
    # Only this test's slot, though the test worker schedules no ticks of its own.
    failures = [
        r for r in caplog.records
        if r.levelno == logging.ERROR and broken.slug in r.getMessage() and slot in r.getMessage()
    ]  # fmt: skip
    assert len(failures) == 1, "a broken schema is not worth retrying"
    assert "rule reminders failed for tenant" in failures[0].getMessage()
    assert "tasks" in str(failures[0].exc_info[1])
    # Repaired, the next slot catches up from the database state.
    await _tick(services, _slot())
    await run_worker(poll_delay=0.05)
    assert await _unread(api, broken) == 1


async def test_a_locked_tenant_is_retried_while_others_go_on(
    api, owner, services, run_worker, caplog
):
    locked = await make_tenant(owner, services, "fan-locked")
    free = await make_tenant(owner, services, "fan-free")
    for tenant in (locked, free):
        await _due_task(api, tenant)
    slot = _slot()
    async with owner.connect() as holder:
        transaction = await holder.begin()
        await holder.execute(
            text(f"LOCK TABLE {quote_ident(locked.schema)}.tasks IN ACCESS EXCLUSIVE MODE")
        )
        with caplog.at_level(logging.INFO, logger="kehu.scheduled"):
            await _tick(services, slot)
            worker = asyncio.create_task(run_worker(poll_delay=0.05))
            while not _retries(caplog, locked):
                assert not worker.done(), "the worker stopped before the locked tenant retried"
                await asyncio.sleep(0.1)
            # The free tenant was done while the other one waited on its lock.
            assert await _unread(api, free) == 1
            assert await _reminders(services, locked) == 0
            await transaction.rollback()
            await worker
    assert await services.queue.result(job_key("reminders", locked.id, slot)) == 1
    assert await _unread(api, locked) == 1
    # Once at least; again if the checks above outlasted the retry's 5 s delay.
    assert _retries(caplog, locked)
    assert not [
        r for r in caplog.records if free.slug in r.getMessage() and "retrying" in r.getMessage()
    ]


def _retries(caplog, tenant) -> list[logging.LogRecord]:
    """This tenant's retry warnings from the scheduled rules (arq logs retries too)."""
    return [
        r for r in caplog.records
        if r.name == "kehu.scheduled" and "retrying" in r.getMessage()
        and tenant.slug in r.getMessage()
    ]  # fmt: skip
