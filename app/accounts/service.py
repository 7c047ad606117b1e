"""Signing in with a password, changing it, and the account events every member tenant
sees in its audit log.

Account events are recorded in the audit log of each active tenant the account
belongs to (the password is one for all of them), with actor kind "account" and the
account's id as actor id (the sign-in page acts before anyone is signed in to a
tenant), and entity ("account", that tenant's user id) so an admin finds them by
the user. An unknown email has no tenant to record into: nothing is recorded.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts import throttle
from app.accounts.passwords import (
    check_new_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from app.accounts.tables import accounts, memberships
from app.audit.service import Actor, diff
from app.audit.tables import audit_log
from app.db import TENANT
from app.errors import UserError, UserErrors, fail
from app.oauth.tables import refresh_tokens
from tenants.catalog import tenants

if TYPE_CHECKING:
    from app.api.context import Services

REFUSALS = {
    "INVALID_CREDENTIALS": "The email address or password is incorrect.",
    "LOCKED": "Too many failed sign-ins: this account is locked for a while. "
    "Try again later, or reset the password by email.",
    "THROTTLED": "Too many failed sign-ins from your network. Try again later.",
}


class SignInRefused(Exception):
    """`code` is one of REFUSALS; `message` says it to a person. An unknown email and
    a wrong password are the same refusal."""

    def __init__(self, code: str) -> None:
        super().__init__(REFUSALS[code])
        self.code = code
        self.message = REFUSALS[code]


@dataclass(frozen=True)
class SignedInAccount:
    id: uuid.UUID
    email: str


def account_actor(account_id: uuid.UUID) -> Actor:
    return Actor("account", account_id)


async def record_account_event(
    conn: AsyncConnection,
    *,
    account_id: uuid.UUID,
    action: str,
    changes: dict[str, Any] | None = None,
) -> None:
    """Record `action` in the audit log of every active tenant the account belongs
    to, in `conn`'s transaction. Each insert names its tenant schema itself, so a
    connection bound to one tenant stays bound to it."""
    rows = await conn.execute(
        select(tenants.c.schema_name, memberships.c.user_id)
        .join(tenants, tenants.c.id == memberships.c.tenant_id)
        .where(memberships.c.account_id == account_id, tenants.c.status == "active")
        .order_by(tenants.c.schema_name)
    )
    actor = account_actor(account_id)
    for schema, user_id in rows.all():
        await conn.execute(
            insert(audit_log).values(
                actor_id=actor.id, actor_kind=actor.kind, action=action,
                entity_type="account", entity_id=user_id, changes=changes or {},
            ),
            execution_options={"schema_translate_map": {TENANT: schema}},
        )  # fmt: skip


async def store_password(
    conn: AsyncConnection,
    account_id: uuid.UUID,
    password_hash: str,
    *,
    replacing: str | None = None,
) -> bool:
    """Set a new password: clears any lockout and revokes every refresh token of the
    account, which ends its sessions everywhere. With `replacing`, only if the stored
    hash is still that one (False otherwise, and nothing changed)."""
    condition = [accounts.c.id == account_id]
    if replacing is not None:
        condition.append(accounts.c.password_hash == replacing)
    stored = await conn.scalar(
        update(accounts)
        .where(*condition)
        .values(
            password_hash=password_hash,
            password_changed_at=func.now(),
            failed_sign_ins=0,
            locked_until=None,
        )
        .returning(accounts.c.id)
    )
    if stored is None:
        return False
    await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.account_id == account_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return True


async def _account_by_email(conn: AsyncConnection, email: str):
    return (
        await conn.execute(
            select(
                accounts.c.id, accounts.c.email, accounts.c.password_hash, throttle.is_locked()
            ).where(func.lower(accounts.c.email) == email.strip().lower())
        )
    ).first()


async def _refuse(services: Services, account, *, ip: str, reason: str) -> None:
    """Count a failed sign-in against the IP and, for a known account, the account;
    record it in the account's tenants."""
    await throttle.count(services, throttle.SIGN_IN_FAILURES_PER_IP, ip)
    if account is None:
        return
    async with services.engine.begin() as conn:
        details: dict[str, Any] = {"ip": ip, "reason": reason}
        if reason != "locked":
            locked_until = await throttle.note_failed_sign_in(conn, account.id)
            if locked_until is not None:
                details["lockedUntil"] = locked_until
        await record_account_event(
            conn, account_id=account.id, action="sign_in.failed", changes=diff(None, details)
        )


async def _signed_in(services: Services, account, password: str) -> SignedInAccount:
    async with services.engine.begin() as conn:
        await throttle.clear_failed_sign_ins(conn, account.id)
    if needs_rehash(account.password_hash):
        # Parameters changed since the hash was made; the password is at hand only now.
        rehashed = await hash_password(password)
        async with services.engine.begin() as conn:
            await conn.execute(
                update(accounts)
                .where(
                    accounts.c.id == account.id, accounts.c.password_hash == account.password_hash
                )
                .values(password_hash=rehashed)
            )
    return SignedInAccount(id=account.id, email=account.email)


async def sign_in_with_password(
    services: Services, *, email: str, password: str, ip: str
) -> SignedInAccount:
    """The account these credentials sign in as, or SignInRefused. Checks, in order:
    the IP's failures, the account's lockout (even the right password is refused while
    locked), the password. Recording `sign_in.succeeded` is the caller's, once a
    tenant is chosen."""
    if await throttle.exhausted(services, throttle.SIGN_IN_FAILURES_PER_IP, ip):
        raise SignInRefused("THROTTLED")
    async with services.engine.connect() as conn:
        account = await _account_by_email(conn, email)
    if account is not None and account.locked:
        await _refuse(services, account, ip=ip, reason="locked")
        raise SignInRefused("LOCKED")
    # Unknown emails and accounts without a password are checked against the dummy
    # hash: they take as long as a wrong password.
    if not await verify_password(account.password_hash if account else None, password):
        reason = "no_password" if account and account.password_hash is None else "wrong_password"
        await _refuse(services, account, ip=ip, reason=reason)
        raise SignInRefused("INVALID_CREDENTIALS")
    return await _signed_in(services, account, password)


async def change_password(
    conn: AsyncConnection, *, account_id: uuid.UUID, current_password: str, new_password: str
) -> None:
    """Change a signed-in account's password in `conn`'s transaction, ending its other
    sessions; UserErrors name `currentPassword` or `newPassword`.

    A wrong current password counts as a failed sign-in (a stolen access token must
    not become a way to guess the password); the count is written on a connection of
    its own, as the caller rolls `conn` back on UserErrors."""
    account = (
        await conn.execute(
            select(accounts.c.email, accounts.c.password_hash, throttle.is_locked()).where(
                accounts.c.id == account_id
            )
        )
    ).one()
    if account.password_hash is None:
        raise fail(
            "currentPassword", "NO_PASSWORD",
            "this account has no password yet: set one with a password-reset email",
        )  # fmt: skip
    if account.locked:
        raise fail("currentPassword", "LOCKED", REFUSALS["LOCKED"])
    errors: list[UserError] = []
    if not await verify_password(account.password_hash, current_password):
        async with conn.engine.begin() as counting:
            await throttle.note_failed_sign_in(counting, account_id)
        errors.append(UserError("currentPassword", "INVALID", "the current password is wrong"))
    if policy := check_new_password("newPassword", new_password, account.email):
        errors.append(policy)
    if errors:
        raise UserErrors(errors)
    changed = await store_password(
        conn, account_id, await hash_password(new_password), replacing=account.password_hash
    )
    if not changed:
        raise fail("currentPassword", "CONFLICT", "the password was changed meanwhile; try again")
    await record_account_event(conn, account_id=account_id, action="account.password_changed")
