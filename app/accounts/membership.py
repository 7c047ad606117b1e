"""Linking a tenant's user to the catalog account that signs in as them.

Runs on the tenant transaction that creates the user (tenant connections reach the
catalog schema too), so a user never exists without the account and membership that
let them sign in, nor the other way round.

A tenant admin names the email; only the address's owner may agree that the tenant
shows at their sign-in. So a membership of an account made for it is accepted at
once (its owner proves the address with the password-reset mail or their identity
provider), but one of an account that already existed is an invitation: pending
until the owner accepts it on /account/invitations (app/accounts/invitations.py).
Password sign-in offers accepted memberships only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.invitations import SEND_INVITATION_MAIL
from app.accounts.tables import accounts, memberships
from app.outbox import service as outbox
from tenants.catalog import tenants


@dataclass(frozen=True)
class Membership:
    tenant_id: uuid.UUID
    tenant_slug: str
    tenant_name: str
    user_id: uuid.UUID


def _by_email(email: str):
    return func.lower(accounts.c.email) == email.strip().lower()


async def find_account(conn: AsyncConnection, email: str) -> uuid.UUID | None:
    return await conn.scalar(select(accounts.c.id).where(_by_email(email)))


async def ensure_account(conn: AsyncConnection, email: str) -> tuple[uuid.UUID, bool]:
    """The account with this email and whether this call created it (without a
    password: its owner sets one by the password-reset mail, or signs in through
    their tenant's identity provider). Of two concurrent calls for a new address,
    one creates it; the other waits for that one's transaction and finds it."""
    created = await conn.scalar(
        insert(accounts)
        .values(id=uuid.uuid4(), email=email.strip())
        .on_conflict_do_nothing(index_elements=[func.lower(accounts.c.email)])
        .returning(accounts.c.id)
    )
    if created is not None:
        return created, True
    return await find_account(conn, email), False


async def account_for_email(conn: AsyncConnection, email: str) -> uuid.UUID:
    """The account with this email, created without a password if there is none."""
    return (await ensure_account(conn, email))[0]


async def link_member(
    conn: AsyncConnection, *, tenant_id: uuid.UUID, user_id: uuid.UUID, email: str
) -> uuid.UUID:
    """Make the account with `email` (created if missing) the tenant's user
    `user_id`: accepted if the account is new, else an invitation mailed to its
    owner. Either way the caller sees the same: nothing here tells a tenant whether
    the address already had an account."""
    account_id, created = await ensure_account(conn, email)
    linked = await conn.scalar(
        insert(memberships)
        .values(
            account_id=account_id, tenant_id=tenant_id, user_id=user_id,
            accepted_at=func.now() if created else None,
        )
        .on_conflict_do_nothing()
        .returning(memberships.c.account_id)
    )  # fmt: skip
    if linked is not None and not created:
        # The worker mails it after commit, naming the tenant (the outbox row's).
        await outbox.add(
            conn, tenant_id=tenant_id, task=SEND_INVITATION_MAIL,
            payload={"account_id": str(account_id)},
        )  # fmt: skip
    return account_id


async def memberships_of(
    conn: AsyncConnection, account_id: uuid.UUID, *, pending_in: uuid.UUID | None = None
) -> list[Membership]:
    """The active tenants this account belongs to, by name: those whose membership
    its owner accepted, and with `pending_in` also that tenant's if it is still an
    invitation (a sign-in through that tenant's own identity provider, for that
    tenant only). Whether the tenant's user is still active is checked when the
    tenant is chosen (it lives in that schema)."""
    agreed = memberships.c.accepted_at.is_not(None)
    if pending_in is not None:
        agreed = or_(agreed, memberships.c.tenant_id == pending_in)
    rows = await conn.execute(
        select(memberships.c.tenant_id, tenants.c.slug, tenants.c.name, memberships.c.user_id)
        .join(tenants, tenants.c.id == memberships.c.tenant_id)
        .where(memberships.c.account_id == account_id, tenants.c.status == "active", agreed)
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
