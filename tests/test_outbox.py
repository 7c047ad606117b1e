"""The outbox keeps dispatched rows a week, then the worker's daily cron deletes them."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, insert, select, text

from tenants.catalog import outbox
from workers.tasks import prune_outbox


async def test_dispatched_rows_are_pruned_after_a_week(owner, services):
    ids = {}
    async with owner.begin() as conn:
        for label, days in (("old", 8), ("recent", 1), ("pending", None)):
            dispatched = func.now() - text(f"interval '{days} days'") if days else None
            ids[label] = await conn.scalar(
                insert(outbox)
                .values(tenant_id=uuid.uuid4(), task="noop", payload={}, dispatched_at=dispatched)
                .returning(outbox.c.id)
            )
    await prune_outbox({"services": services})
    async with owner.connect() as conn:
        left = set(await conn.scalars(select(outbox.c.id).where(outbox.c.id.in_(ids.values()))))
    assert left == {ids["recent"], ids["pending"]}
    # The pending row names no real task: a later test's relay must not send it.
    async with owner.begin() as conn:
        await conn.execute(delete(outbox).where(outbox.c.id.in_(ids.values())))
