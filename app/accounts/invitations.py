"""Invitations: a tenant's membership of an account that existed before the tenant
added it (app/accounts/membership.py), waiting for the account's owner.

The owner is mailed (through the outbox, like the password-reset mail) a link to
/account/invitations, where, after proving who they are with their password, they
accept (the tenant then shows at their password sign-in) or decline (the membership
is deleted; the tenant's user stays, and no longer signs in as this account). The
mail carries no secret: the page asks for the password. Between the password and
the button, the page keeps a one-time ticket in Redis, bound to the browser's CSRF
cookie, like the sign-in's tenant chooser.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts import mail
from app.accounts.service import record_account_event
from app.accounts.tables import accounts, memberships
from app.oauth.secrets import new_secret
from app.oauth.tables import refresh_tokens
from tenants.catalog import tenants

if TYPE_CHECKING:
    from app.api.context import Services

logger = logging.getLogger("kehu.accounts")

SEND_INVITATION_MAIL = "send_membership_invitation_mail"
INVITATIONS_PATH = "/account/invitations"
TICKET_TTL_SECONDS = 600
MAX_TICKET_LENGTH = 128

SUBJECT = "{tenant} 邀请您加入 kehu / {tenant} invited you to kehu"
BODY = """\
您好，

「{tenant}」把 kehu 账户 {email} 添加为他们公司的用户。在您接受之前，登录时不会出现这家公司。

如果您认识这家公司并愿意加入，请打开下面的页面，用账户的邮箱和密码确认后选择"接受"；否则选择"拒绝"，或忽略这封邮件：

{link}

还没有设置密码？请先在 {reset_link} 通过邮件设置密码。

---

Hello,

"{tenant}" added the kehu account {email} as a user of their company. Until you accept, that company is not offered when you sign in.

If you know this company and want to join it, open this page, confirm with your account's email address and password, and choose Accept; otherwise choose Decline, or ignore this email:

{link}

No password yet? Set one first by email at {reset_link}.
"""


@dataclass(frozen=True)
class Invitation:
    tenant_id: uuid.UUID
    tenant_name: str
    invited_at: dt.datetime


def _pending(account_id: uuid.UUID, tenant_id: uuid.UUID | None = None) -> list:
    condition = [memberships.c.account_id == account_id, memberships.c.accepted_at.is_(None)]
    if tenant_id is not None:
        condition.append(memberships.c.tenant_id == tenant_id)
    return condition


async def pending_invitations(conn: AsyncConnection, account_id: uuid.UUID) -> list[Invitation]:
    """The account's pending memberships in active tenants, oldest first."""
    rows = await conn.execute(
        select(memberships.c.tenant_id, tenants.c.name, memberships.c.created_at)
        .join(tenants, tenants.c.id == memberships.c.tenant_id)
        .where(*_pending(account_id), tenants.c.status == "active")
        .order_by(memberships.c.created_at, tenants.c.name)
    )
    return [Invitation(*row) for row in rows]


async def _tenant_name(conn: AsyncConnection, tenant_id: uuid.UUID) -> str | None:
    return await conn.scalar(
        select(tenants.c.name).where(tenants.c.id == tenant_id, tenants.c.status == "active")
    )


async def accept(
    conn: AsyncConnection, *, account_id: uuid.UUID, tenant_id: uuid.UUID, ip: str
) -> bool:
    """The owner accepts the tenant's invitation; False if there is none (any more)."""
    name = await _tenant_name(conn, tenant_id)
    done = name is not None and await conn.scalar(
        update(memberships)
        .where(*_pending(account_id, tenant_id))
        .values(accepted_at=func.now())
        .returning(memberships.c.tenant_id)
    )
    if done:
        await record_account_event(
            conn, account_id=account_id, action="invitation.accepted",
            details={"ip": ip, "tenantId": str(tenant_id), "tenantName": name},
        )  # fmt: skip
    return bool(done)


async def decline(
    conn: AsyncConnection, *, account_id: uuid.UUID, tenant_id: uuid.UUID, ip: str
) -> bool:
    """The owner declines: the membership goes (the tenant's user stays, unable to
    sign in as this account), and so do the account's sessions in that tenant (made
    through the tenant's identity provider). False if there is no such invitation
    (any more)."""
    name = await _tenant_name(conn, tenant_id)
    done = name is not None and await conn.scalar(
        delete(memberships)
        .where(*_pending(account_id, tenant_id))
        .returning(memberships.c.tenant_id)
    )
    if done:
        await conn.execute(
            update(refresh_tokens)
            .where(
                refresh_tokens.c.account_id == account_id,
                refresh_tokens.c.tenant_id == tenant_id,
                refresh_tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=func.now())
        )
        await record_account_event(
            conn, account_id=account_id, action="invitation.declined",
            details={"ip": ip, "tenantId": str(tenant_id), "tenantName": name},
        )  # fmt: skip
    return bool(done)


# --- the mail -----------------------------------------------------------------------


async def mail_invitation(services: Services, account_id: uuid.UUID, tenant_id: uuid.UUID) -> bool:
    """The worker's half: mail the owner that the tenant invited them, if the
    invitation is still pending (False otherwise: accepted, declined or gone). Raises
    one of mail.DELIVERY_ERRORS if the mail server did not take it."""
    async with services.engine.connect() as conn:
        found = (
            await conn.execute(
                select(accounts.c.email, tenants.c.name)
                .select_from(memberships)
                .join(accounts, accounts.c.id == memberships.c.account_id)
                .join(tenants, tenants.c.id == memberships.c.tenant_id)
                .where(*_pending(account_id, tenant_id), tenants.c.status == "active")
            )
        ).first()
    if found is None:
        return False
    settings = services.settings
    issuer = settings.issuer.rstrip("/")
    body = BODY.format(
        tenant=found.name, email=found.email, link=f"{issuer}{INVITATIONS_PATH}",
        reset_link=f"{issuer}/account/password-reset",
    )  # fmt: skip
    message = mail.compose(
        settings, to=found.email, subject=SUBJECT.format(tenant=found.name), body=body
    )
    await mail.send(settings, message)
    return True


# --- the page's ticket ----------------------------------------------------------------


def _ticket_key(services: Services, ticket: str) -> str:
    return f"{services.settings.queue_name}:invitations:{ticket}"


async def issue_ticket(services: Services, account_id: uuid.UUID, csrf: str) -> str:
    """Remembers for a while that this browser (its CSRF value) proved it is the
    account's owner, so the Accept and Decline buttons need not ask again."""
    ticket = new_secret()
    redis = await services.queue.pool()
    value = json.dumps({"account_id": str(account_id), "csrf": csrf})
    await redis.set(_ticket_key(services, ticket), value, ex=TICKET_TTL_SECONDS)
    return ticket


async def redeem_ticket(services: Services, ticket: str, csrf: str) -> uuid.UUID | None:
    """The account a ticket was issued to, using it up; None if it is unknown,
    expired, used, or was issued to another browser."""
    if not ticket or len(ticket) > MAX_TICKET_LENGTH:
        return None
    redis = await services.queue.pool()
    raw = await redis.getdel(_ticket_key(services, ticket))
    if raw is None:
        return None
    value = json.loads(raw)
    if not hmac.compare_digest(str(value["csrf"]).encode(), csrf.encode()):
        return None
    return uuid.UUID(value["account_id"])
