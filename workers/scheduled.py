"""Scheduled rules (reminders, pool reclaim, tier marking, low-stock alerts), one job
per tenant.

A rule's cron tick only fans out: it lists the active tenants (one catalog statement)
and enqueues `scheduled:<rule>` for each, keyed by (rule, tenant, slot). The slot is
the period of the rule's schedule the tick falls in, so a tick enqueued by two
workers, a fan-out re-run after a shutdown, or any other repeat within the slot finds
the key taken: the job's result is kept for a whole period, and arq refuses a job id
whose job is queued or whose result is kept. Each tenant then runs in a job of its
own, with its own timeout and retries, so a slow or broken tenant holds back no other.
The rules work from the database state (each is idempotent and catches up), so a
tenant whose job failed or was dropped is simply done again in the next slot.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from arq import Retry
from arq.worker import Function, func
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.activities.reminders import remind_tenant
from app.auth.principal import load_tenant
from app.db import tenant_transaction
from app.pool.reclaim import reclaim_tenant
from app.stock.jobs import alert_tenant
from app.tiers.evaluate import evaluate_tenant
from tenants import catalog

logger = logging.getLogger("kehu.scheduled")

# Below the worker's longest timeout (run_job's 60 s), which decides how soon a job
# whose worker died is picked up again.
TENANT_TIMEOUT_SECONDS = 50
MAX_TRIES = 3
# A tenant whose tables someone holds locked (a migration, a long evaluateTiers) gives
# way and retries rather than sitting out its whole timeout.
LOCK_TIMEOUT = "5s"
ENQUEUE_BATCH = 50
# Lost connections, serialization failures and deadlocks, a server short of resources
# or shutting down, a lock wait that timed out: worth another try soon. Anything else
# (a broken schema, a bug) would fail again the same way; the next slot retries it.
TRANSIENT_SQLSTATES = ("08", "40", "53", "57P0", "55P03")


@dataclass(frozen=True)
class Rule:
    name: str
    # One run per tenant per period; the cron schedule (workers/settings.py) ticks
    # at most once per period, away from its boundaries.
    period: dt.timedelta
    run: Callable[[AsyncConnection], Awaitable[int]]


RULES = {
    rule.name: rule
    for rule in (
        Rule("reminders", dt.timedelta(minutes=1), remind_tenant),
        Rule("reclaim", dt.timedelta(hours=1), reclaim_tenant),
        Rule("tiers", dt.timedelta(days=1), evaluate_tenant),
        Rule("low_stock", dt.timedelta(minutes=10), alert_tenant),
    )
}


def task_name(rule: str) -> str:
    return f"scheduled:{rule}"


def job_key(rule: str, tenant_id: uuid.UUID | str, slot: str) -> str:
    return f"scheduled:{rule}:{tenant_id}:{slot}"


def slot_of(rule: str, moment: dt.datetime) -> str:
    """The start of the rule's period that `moment` falls in (UTC), as text."""
    period = int(RULES[rule].period.total_seconds())
    epoch = int(moment.timestamp())
    start = dt.datetime.fromtimestamp(epoch - epoch % period, dt.UTC)
    return start.strftime("%Y-%m-%dT%H:%MZ")


def tick_slot(ctx: dict[str, Any], rule: str) -> str:
    # The job's score is when the tick was due; arq keeps it when a cancelled job
    # (worker shutdown) runs again, so the re-run lands in the same slot.
    due = dt.datetime.fromtimestamp(ctx["score"] / 1000, dt.UTC)
    return slot_of(rule, due)


async def active_tenants(engine: AsyncEngine) -> list[uuid.UUID]:
    t = catalog.tenants.c
    async with engine.connect() as conn:
        rows = await conn.execute(select(t.id).where(t.status == "active").order_by(t.created_at))
        return list(rows.scalars())


async def fan_out(ctx: dict[str, Any], rule: str, slot: str | None = None) -> int:
    """Enqueue the rule's job for every active tenant in `slot` (default: the tick's
    slot). Tenants whose job for the slot already exists are left alone. How many
    jobs were enqueued."""
    services = ctx["services"]
    slot = slot or tick_slot(ctx, rule)
    tenants = await active_tenants(services.engine)
    expires = RULES[rule].period.total_seconds()
    enqueued = 0
    for start in range(0, len(tenants), ENQUEUE_BATCH):
        batch = tenants[start : start + ENQUEUE_BATCH]
        added = await asyncio.gather(*(
            services.queue.enqueue(task_name(rule), {"rule": rule, "tenant_id": str(tenant_id)},
                                   key=job_key(rule, tenant_id, slot), expires=expires)
            for tenant_id in batch
        ))  # fmt: skip
        enqueued += sum(added)
    logger.info("rule %s, slot %s: %d of %d tenants enqueued", rule, slot, enqueued, len(tenants))
    return enqueued


async def run_in_tenant(engine: AsyncEngine, rule: str, schema: str) -> int:
    """One tenant's run of the rule, in one transaction (what the job does, and what
    tests and operators call to run it right now)."""
    async with tenant_transaction(engine, schema) as conn:
        await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        return await RULES[rule].run(conn)


async def run_scheduled(ctx: dict[str, Any], *, rule: str, tenant_id: str) -> int | str:
    """The job: the rule for one tenant, if it is still active. Transient errors are
    retried with backoff; any failure is logged with the rule and the tenant."""
    engine = ctx["services"].engine
    who = tenant_id
    try:
        tenant = await load_tenant(engine, uuid.UUID(tenant_id))
        if tenant is None or tenant.status != "active":
            return "tenant unavailable"
        who = f"{tenant.slug} ({tenant_id})"
        done = await run_in_tenant(engine, rule, tenant.schema_name)
    except Exception as error:
        return _failed(ctx, rule, who, error)
    if done:
        logger.info("rule %s, tenant %s: %d", rule, who, done)
    return done


def _failed(ctx: dict[str, Any], rule: str, who: str, error: Exception) -> str:
    tries, job = ctx["job_try"], ctx.get("job_id")  # the job id names the slot
    if transient(error) and tries < MAX_TRIES:
        logger.warning("rule %s failed for tenant %s (try %d, job %s); retrying", rule, who,
                       tries, job, exc_info=True)  # fmt: skip
        raise Retry(defer=min(RULES[rule].period.total_seconds() / 4, 5 * 2 ** (tries - 1)))
    logger.error("rule %s failed for tenant %s (try %d, job %s)", rule, who, tries, job,
                 exc_info=error)  # fmt: skip
    return "failed"


def transient(error: BaseException) -> bool:
    if isinstance(error, OSError):  # ConnectionError, TimeoutError
        return True
    if isinstance(error, DBAPIError):
        code = getattr(error.orig, "sqlstate", None) or ""
        return error.connection_invalidated or code.startswith(TRANSIENT_SQLSTATES)
    return False


def functions() -> list[Function]:
    """The per-tenant jobs, one arq function per rule: results are kept for a period
    (the slot's dedupe), and a job not started within a period is dropped (the next
    slot's job does the work)."""
    return [
        func(
            run_scheduled,
            name=task_name(rule.name),
            timeout=TENANT_TIMEOUT_SECONDS,
            max_tries=MAX_TRIES,
            keep_result=rule.period,
        )
        for rule in RULES.values()
    ]
