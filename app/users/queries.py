from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.users.tables import users


async def users_by_id(conn: AsyncConnection, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Row]:
    ids = [i for i in dict.fromkeys(user_ids) if i is not None]
    if not ids:
        return {}
    rows = await conn.execute(select(users).where(users.c.id.in_(ids)))
    return {row.id: row for row in rows}
