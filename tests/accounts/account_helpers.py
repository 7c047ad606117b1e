"""What the account tests share (importable as `account_helpers`: pytest puts this
folder on the path)."""

from __future__ import annotations

import dataclasses
import re
import uuid
from urllib.parse import urlsplit

import httpx
from helpers import TenantHandle
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.accounts import invitations
from app.accounts.passwords import hash_password
from app.accounts.service import store_password
from app.accounts.tables import account_events, accounts
from app.api.context import Services
from app.audit.service import SYSTEM
from app.audit.tables import audit_log
from app.auth.tokens import issue_access_token
from app.db import tenant_transaction
from app.users import service as users

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
LINK = re.compile(r"https?://\S+/account/password-reset/confirm\?token=[\w-]+")


def fake_ip() -> str:
    """An address of the IPv6 documentation range, unique to the caller."""
    suffix = uuid.uuid4().hex
    return f"2001:db8::{suffix[:4]}:{suffix[4:8]}:{suffix[8:12]}"


def csrf_of(page: httpx.Response) -> str:
    match = CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


@dataclasses.dataclass(frozen=True)
class Member:
    email: str
    account_id: uuid.UUID
    user_id: uuid.UUID
    token: str


async def add_member(
    services: Services,
    tenant: TenantHandle,
    email: str,
    *,
    role: str = "sales",
    accept: bool = True,
) -> Member:
    """A user of `tenant` with `email` (linked to the account with that email, made
    if missing), with a real access token. If the account existed, the membership is
    an invitation, which its owner accepts unless `accept` is False (so the mail
    queued for it finds nothing left to say)."""
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        user = await users.create_user(
            conn, actor=SYSTEM, tenant_id=tenant.id, email=email, role=role, name=email
        )
        account_id = await conn.scalar(
            select(accounts.c.id).where(func.lower(accounts.c.email) == email.lower())
        )
        if accept:
            await invitations.accept(conn, account_id=account_id, tenant_id=tenant.id, ip=fake_ip())
    token = await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=tenant.id,
        user_id=user.id, roles=[role],
    )  # fmt: skip
    return Member(email=email, account_id=account_id, user_id=user.id, token=token)


async def set_password(services: Services, account_id: uuid.UUID, password: str) -> None:
    async with services.engine.begin() as conn:
        await store_password(conn, account_id, await hash_password(password))


async def account_row(owner: AsyncEngine, account_id: uuid.UUID):
    async with owner.connect() as conn:
        return (await conn.execute(select(accounts).where(accounts.c.id == account_id))).one()


async def audit_rows(
    owner: AsyncEngine, tenant: TenantHandle, action: str, account_id: uuid.UUID
) -> list:
    """`action` records of the account in the tenant's audit log, oldest first."""
    async with tenant_transaction(owner, tenant.schema) as conn:
        return (
            await conn.execute(
                select(audit_log)
                .where(audit_log.c.action == action, audit_log.c.actor_id == account_id)
                .order_by(audit_log.c.id)
            )
        ).all()


async def account_history(owner: AsyncEngine, account_id: uuid.UUID, action: str) -> list:
    """`action` events in the account's own history, oldest first."""
    async with owner.connect() as conn:
        return (
            await conn.execute(
                select(account_events)
                .where(account_events.c.account_id == account_id, account_events.c.action == action)
                .order_by(account_events.c.id)
            )
        ).all()


def reset_path(mail_text: str) -> str:
    """The path and query of the reset link in a mail, to request from the test app."""
    match = LINK.search(mail_text)
    assert match, mail_text
    parts = urlsplit(match.group(0))
    return f"{parts.path}?{parts.query}"
