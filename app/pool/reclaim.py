"""Returning neglected customers to the pool (客户自动回收到公海).

A tenant with `reclaim_after_days` set gets back, every hour (workers/scheduled.py), each
live customer whose owner has let it sit that long: its last follow-up is the newest
of

- its newest live activity (`activities.occurred_at`, whoever logged it), and
- when its current owner got it: the newest ownership change to that owner, or, for
  customers whose owner was set before ownership was recorded, `customers.updated_at`
  (the owner had it at least since then; an edit postpones the reclaim, never
  hastens it),

and that is older than the period. Per tenant: one UPDATE ... RETURNING picking the
stale rows (skipping rows someone holds locked right now: the next run sees them),
then the history rows and audit records for exactly those, in one transaction. It
works from the database state, so a run after the worker was down catches up, and a
second run finds nothing more to do.
"""

from __future__ import annotations

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activities.tables import activities
from app.audit.service import SYSTEM
from app.customers.tables import customers
from app.pool.config import get_settings
from app.pool.history import OwnerChange, record_changes
from app.pool.tables import customer_ownership_changes


def stale_customers(days: int):
    """Owned live customers without follow-up for `days` days, locked (skipping the
    locked ones): a select of (id, owner_id)."""
    c, a, h = customers.c, activities.c, customer_ownership_changes.c
    last_activity = (
        select(func.max(a.occurred_at))
        .where(a.customer_id == c.id, a.deleted_at.is_(None))
        .scalar_subquery()
    )
    owner_since = func.coalesce(
        select(func.max(h.changed_at))
        .where(h.customer_id == c.id, h.to_owner_id == c.owner_id)
        .scalar_subquery(),
        c.updated_at,
    )
    # greatest() ignores NULLs: no activity at all means "since the owner got it".
    last_follow_up = func.greatest(last_activity, owner_since)
    cutoff = func.now() - func.make_interval(0, 0, 0, days)
    return (
        select(c.id, c.owner_id)
        .where(c.owner_id.is_not(None), c.deleted_at.is_(None), last_follow_up < cutoff)
        .with_for_update(skip_locked=True)
    )


async def reclaim_stale(conn: AsyncConnection) -> list[Row]:
    """One tenant: return its neglected customers to the pool; what was returned,
    as (customer_id, from_owner_id)."""
    days = (await get_settings(conn)).reclaim_after_days
    if days is None:
        return []
    stale = stale_customers(days).cte("stale")
    c = customers.c
    returned = (
        await conn.execute(
            update(customers)
            # The owner is still the one found stale (not changed since by anyone).
            .where(c.id == stale.c.id, c.owner_id == stale.c.owner_id)
            .values(owner_id=None, version=c.version + 1, updated_at=func.now())
            .returning(c.id.label("customer_id"), stale.c.owner_id.label("from_owner_id"))
        )
    ).all()
    await record_changes(
        conn, actor=SYSTEM, kind="reclaim", reason=f"no follow-up for {days} days",
        changes=[OwnerChange(r.customer_id, r.from_owner_id, None) for r in returned],
    )  # fmt: skip
    return returned


async def reclaim_tenant(conn: AsyncConnection) -> int:
    """The scheduled rule for one tenant (workers/scheduled.py): how many went back."""
    return len(await reclaim_stale(conn))
