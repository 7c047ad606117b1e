"""The claim limit: how many live customers one user may hold after taking some from
the pool, whichever way they take them (claimCustomers, or updateCustomer setting
themselves as the owner of a pool customer)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.customers.tables import customers
from app.errors import fail
from app.pool.config import get_settings
from app.users.tables import users


async def serialise_claims(conn: AsyncConnection, user_id: uuid.UUID) -> None:
    """Take before counting: claims by one user queue behind each other (FOR NO KEY
    UPDATE on the user row), so two at once cannot both fit under the limit. Rows
    pointing at the user (FOR KEY SHARE) are not blocked."""
    await conn.execute(
        select(users.c.id)
        .where(users.c.id == user_id)
        .with_for_update(key_share=True)  # NO KEY UPDATE
    )


async def enforce_claim_limit(
    conn: AsyncConnection, user_id: uuid.UUID, *, gained: int, field: str
) -> None:
    """Raise a LIMIT user error on `field` when the user now owns more live customers
    than the tenant allows; the caller's transaction rolls back, so nothing is taken."""
    limit = (await get_settings(conn)).claim_limit
    if limit is None:
        return
    c = customers.c
    owned = await conn.scalar(
        select(func.count())
        .select_from(customers)
        .where(c.owner_id == user_id, c.deleted_at.is_(None))
    )
    if owned > limit:
        raise fail(
            field,
            "LIMIT",
            f"you may own at most {limit} customers; with these {gained} you would own "
            f"{owned}. Nothing was claimed",
        )
