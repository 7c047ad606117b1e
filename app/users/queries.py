from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import Row, and_, exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.tables import accounts, external_identities, identity_providers, memberships
from app.users.tables import users


async def users_by_id(conn: AsyncConnection, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Row]:
    ids = [i for i in dict.fromkeys(user_ids) if i is not None]
    if not ids:
        return {}
    rows = await conn.execute(select(users).where(users.c.id.in_(ids)))
    return {row.id: row for row in rows}


ACTIVE, INVITED, NO_ACCOUNT = "ACTIVE", "INVITED", "NO_ACCOUNT"


async def sign_in_states(
    conn: AsyncConnection, tenant_id: uuid.UUID, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Whether each of the tenant's users can sign in to it yet, in one statement:
    ACTIVE if their account can, by password (a membership its owner accepted, and a
    password) or through this tenant's identity provider; INVITED while the person
    has still to act (accept the invitation, or set a first password); NO_ACCOUNT
    without a membership (the person declined it).

    It says no more than that: a new account's membership (accepted, no password
    yet) and an existing account's invitation (pending) both show as INVITED, so the
    tenant does not learn whether the address already had an account."""
    m = memberships.c
    by_provider = exists().where(
        external_identities.c.account_id == m.account_id,
        identity_providers.c.issuer == external_identities.c.issuer,
        identity_providers.c.tenant_id == m.tenant_id,
        identity_providers.c.enabled,
    )
    by_password = and_(m.accepted_at.is_not(None), accounts.c.password_hash.is_not(None))
    rows = await conn.execute(
        select(m.user_id, (by_password | by_provider).label("active"))
        .join(accounts, accounts.c.id == m.account_id)
        .where(m.tenant_id == tenant_id, m.user_id.in_(user_ids))
    )
    found = {row.user_id: ACTIVE if row.active else INVITED for row in rows}
    return {user_id: found.get(user_id, NO_ACCOUNT) for user_id in user_ids}
