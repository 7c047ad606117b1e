"""Resetting a forgotten password by email.

A request only records that a mail is due (an outbox row naming the account): the
worker makes the token and mails it. So the token itself is nowhere but in the mail
(not in the outbox table, not in the queue) and only its hash is kept, in
`password_resets`; a new mail invalidates the links mailed before it.

Whether an address has an account never shows: the page answers the same, and
only the per-IP limit (which does not depend on the address) is ever refused.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.accounts import mail, throttle
from app.accounts.passwords import check_new_password, hash_password
from app.accounts.service import record_account_event, store_password
from app.accounts.tables import accounts, password_resets
from app.db import take_outbox_pending
from app.errors import UserErrors, fail
from app.oauth.secrets import hash_secret, new_secret
from app.outbox import service as outbox

if TYPE_CHECKING:
    from app.api.context import Services

logger = logging.getLogger("kehu.accounts")

TOKEN_LIFETIME = dt.timedelta(minutes=30)
LIFETIME_MINUTES = int(TOKEN_LIFETIME.total_seconds() // 60)
SEND_RESET_MAIL = "send_password_reset_mail"
# Outbox rows name a tenant; an account's mail belongs to none.
NO_TENANT = uuid.UUID(int=0)
CONFIRM_PATH = "/account/password-reset/confirm"
# Tokens are 43 characters (32 random bytes); anything much longer is not one.
MAX_TOKEN_LENGTH = 128

SUBJECT = "重设 kehu 密码 / Reset your kehu password"
BODY = """\
您好，

我们收到了重设 kehu 账户（{email}）密码的请求。请在 {minutes} 分钟内打开下面的链接设置新密码（链接只能使用一次）：

{link}

如果这不是您本人的操作，请忽略这封邮件，您的密码不会改变。

---

Hello,

We received a request to reset the password of the kehu account {email}. Open this link within {minutes} minutes to choose a new password (it works once):

{link}

If you did not ask for this, ignore this email: your password stays as it is.
"""


class ResetThrottled(Exception):
    """Too many reset requests from one IP."""


def _invalid_link() -> UserErrors:
    return fail("token", "INVALID", "this link is invalid, expired or already used")


async def request_password_reset(
    engine: AsyncEngine, services: Services, email: str, ip: str
) -> None:
    """Have a reset link mailed to `email` if an account has that address; the same
    outcome either way. Raises ResetThrottled past the per-IP limit; past the
    per-address limit the request is dropped silently (answering differently would
    only tell the asker that limit's state, and nothing is mailed either way)."""
    if not await throttle.count(services, throttle.RESET_REQUESTS_PER_IP, ip):
        raise ResetThrottled()
    if not await throttle.count(
        services, throttle.RESET_REQUESTS_PER_ADDRESS, throttle.address_key(email)
    ):
        logger.info("password reset requests for one address over the limit; dropped")
        return
    async with engine.begin() as conn:
        account_id = await conn.scalar(
            select(accounts.c.id).where(func.lower(accounts.c.email) == email.strip().lower())
        )
        if account_id is not None:
            await outbox.add(
                conn, tenant_id=NO_TENANT, task=SEND_RESET_MAIL,
                payload={"account_id": str(account_id)},
            )  # fmt: skip
        wrote_outbox = take_outbox_pending(conn)
    if wrote_outbox:
        await outbox.relay_soon(engine, services.queue)


def reset_link(issuer: str, token: str) -> str:
    return f"{issuer.rstrip('/')}{CONFIRM_PATH}?{urlencode({'token': token})}"


async def _new_token(conn: AsyncConnection, account_id: uuid.UUID) -> str:
    """A fresh single-use token for the account; the unused ones before it die."""
    await conn.execute(
        delete(password_resets).where(
            password_resets.c.account_id == account_id, password_resets.c.used_at.is_(None)
        )
    )
    token = new_secret()
    await conn.execute(
        insert(password_resets).values(
            token_hash=hash_secret(token),
            account_id=account_id,
            expires_at=func.now() + TOKEN_LIFETIME,
        )
    )
    return token


async def mail_reset_link(services: Services, account_id: uuid.UUID) -> bool:
    """The worker's half: make the token and mail the link. False if the account is
    gone. Raises one of mail.DELIVERY_ERRORS if the mail server did not take it (the
    token made is then never used: a retry makes another)."""
    async with services.engine.begin() as conn:
        email = await conn.scalar(select(accounts.c.email).where(accounts.c.id == account_id))
        if email is None:
            return False
        token = await _new_token(conn, account_id)
    settings = services.settings
    body = BODY.format(
        email=email,
        minutes=LIFETIME_MINUTES,
        link=reset_link(settings.issuer, token),
    )
    await mail.send(settings, mail.compose(settings, to=email, subject=SUBJECT, body=body))
    return True


def _usable(token: str):
    return (
        password_resets.c.token_hash == hash_secret(token),
        password_resets.c.used_at.is_(None),
        password_resets.c.expires_at > func.now(),
    )


async def email_for_token(engine: AsyncEngine, token: str) -> str | None:
    """The address whose password `token` may reset (None if it may not), without
    using the token up."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    async with engine.connect() as conn:
        return await conn.scalar(
            select(accounts.c.email)
            .join(password_resets, password_resets.c.account_id == accounts.c.id)
            .where(*_usable(token))
        )


async def complete_password_reset(engine: AsyncEngine, token: str, new_password: str) -> uuid.UUID:
    """Set the password the token allows; the account's id. UserErrors name `token`
    (invalid, expired or used) or `newPassword` (the policy). The policy is checked
    before the token is used up, so a refused password leaves the link working; using
    the token and setting the password are one transaction."""
    email = await email_for_token(engine, token)
    if email is None:
        raise _invalid_link()
    if error := check_new_password("newPassword", new_password, email):
        raise UserErrors([error])
    password_hash = await hash_password(new_password)
    async with engine.begin() as conn:
        account_id = await conn.scalar(
            update(password_resets)
            .where(*_usable(token))
            .values(used_at=func.now())
            .returning(password_resets.c.account_id)
        )
        if account_id is None:  # used by a concurrent request since it was looked up
            raise _invalid_link()
        await store_password(conn, account_id, password_hash)
        await conn.execute(
            delete(password_resets).where(
                password_resets.c.account_id == account_id, password_resets.c.used_at.is_(None)
            )
        )
        await record_account_event(conn, account_id=account_id, action="account.password_reset")
    return account_id
