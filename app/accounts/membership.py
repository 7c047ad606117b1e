"""Linking a tenant's user to the catalog account that signs in as them.

Runs on the tenant transaction that creates the user (tenant connections reach the
catalog schema too), so a user never exists without the account and membership that
let them sign in, nor the other way round."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.tables import accounts, memberships
from tenants.catalog import tenants


@dataclass(frozen=True)
class Membership:
    tenant_id: uuid.UUID
    tenant_slug: str
    tenant_name: str
    user_id: uuid.UUID


async def account_for_email(conn: AsyncConnection, email: str) -> uuid.UUID:
    """The account with this email, created without a password if there is none (its
    owner sets one by the password-reset mail, or signs in through their tenant's
    identity provider)."""
    new_id = uuid.uuid4()
    await conn.execute(
        insert(accounts)
        .values(id=new_id, email=email.strip())
        .on_conflict_do_nothing(index_elements=[func.lower(accounts.c.email)])
    )
    return await conn.scalar(
        select(accounts.c.id).where(func.lower(accounts.c.email) == email.strip().lower())
    )


async def link_member(
    conn: AsyncConnection, *, tenant_id: uuid.UUID, user_id: uuid.UUID, email: str
) -> uuid.UUID:
    account_id = await account_for_email(conn, email)
    await conn.execute(
        insert(memberships)
        .values(account_id=account_id, tenant_id=tenant_id, user_id=user_id)
        .on_conflict_do_nothing()
    )
    return account_id


async def memberships_of(conn: AsyncConnection, account_id: uuid.UUID) -> list[Membership]:
    """The active tenants this account belongs to, by name. Whether the tenant's user
    is still active is checked when the tenant is chosen (it lives in that schema)."""
    rows = await conn.execute(
        select(memberships.c.tenant_id, tenants.c.slug, tenants.c.name, memberships.c.user_id)
        .join(tenants, tenants.c.id == memberships.c.tenant_id)
        .where(memberships.c.account_id == account_id, tenants.c.status == "active")
        .order_by(tenants.c.name, tenants.c.slug)
    )
    return [Membership(*row) for row in rows]


async def account_of_user(
    conn: AsyncConnection, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> uuid.UUID | None:
    return await conn.scalar(
        select(memberships.c.account_id).where(
            memberships.c.tenant_id == tenant_id, memberships.c.user_id == user_id
        )
    )
