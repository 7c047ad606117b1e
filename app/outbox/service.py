"""The transactional outbox: work to enqueue is written in the same transaction as
the change that causes it; a relay moves committed rows to the queue.

A rolled-back transaction never starts a job, a committed one never loses it (the
relay runs after each commit and from the worker's cron), and a row enqueued twice
is deduplicated by its key and absorbed by idempotent jobs.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Protocol

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db import mark_outbox_pending
from tenants.catalog import outbox

RELAY_BATCH = 100
logger = logging.getLogger("kehu.outbox")


class Queue(Protocol):
    async def enqueue(self, task: str, payload: dict[str, Any], *, key: str) -> None: ...


async def add(
    conn: AsyncConnection, *, tenant_id: uuid.UUID, task: str, payload: dict[str, Any]
) -> None:
    await conn.execute(insert(outbox).values(tenant_id=tenant_id, task=task, payload=payload))
    mark_outbox_pending(conn)


async def relay(engine: AsyncEngine, queue: Queue, *, limit: int = RELAY_BATCH) -> int:
    """Enqueue pending rows; concurrent relays skip each other's rows."""
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                select(
                    outbox.c.id, outbox.c.key, outbox.c.tenant_id, outbox.c.task, outbox.c.payload
                )
                .where(outbox.c.dispatched_at.is_(None))
                .order_by(outbox.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in rows:
            await queue.enqueue(
                row.task,
                {"tenant_id": str(row.tenant_id), **row.payload},
                key=f"outbox:{row.key}",
            )
        if rows:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([r.id for r in rows]))
                .values(dispatched_at=func.now())
            )
    return len(rows)


async def relay_soon(engine: AsyncEngine, queue: Queue) -> None:
    """Relay right after a commit, for latency. A failure is only logged: the rows are
    committed, and the worker's relay cron moves them later."""
    try:
        await relay(engine, queue)
    except Exception:
        logger.warning("outbox relay after commit failed; the worker will retry", exc_info=True)


async def prune(engine: AsyncEngine, *, keep_days: int = 7) -> int:
    async with engine.begin() as conn:
        result = await conn.execute(
            delete(outbox).where(
                outbox.c.dispatched_at < func.now() - text(f"interval '{int(keep_days)} days'")
            )
        )
    return result.rowcount
