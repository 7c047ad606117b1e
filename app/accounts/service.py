"""Signing in with a password, changing it, and where account events are recorded.

One account can belong to several tenants, and any tenant's admin can make an
existing account a member of their tenant (createUser with its email). So what
happens to the account itself, outside any tenant, must not show in a tenant's audit
log: a failed sign-in (with the IP it came from and the lock it set) or a password
reset would otherwise tell every member tenant where and when the person signs in,
though they work in another one. Hence:

- Account-level events (`sign_in.failed`, `account.password_reset`, and every
  password change) go to the account's own history, `catalog.account_events`, which
  only the account's owner is ever meant to see. An unknown email has no account:
  nothing is recorded.
- A tenant's audit log gets only what happened in that tenant's context, without an
  IP: `sign_in.succeeded` once the sign-in chose that tenant (app/oauth/endpoints.py),
  and `account.password_changed` when a user signed in to that tenant changed the
  password there (actor kind "account" with the account's id, entity ("account",
  that tenant's user id), so an admin finds it by the user).
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
from app.accounts.tables import account_events, accounts
from app.audit.service import Actor, record
from app.errors import UserError, UserErrors, fail
from app.oauth.tables import refresh_tokens

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
    details: dict[str, Any] | None = None,
) -> None:
    """Add `action` to the account's own history, in `conn`'s transaction; `details`
    are JSON values."""
    await conn.execute(
        insert(account_events).values(account_id=account_id, action=action, details=details or {})
    )


async def record_in_tenant(
    conn: AsyncConnection, *, account_id: uuid.UUID, user_id: uuid.UUID, action: str
) -> None:
    """Record `action` in the audit log of the tenant `conn` is bound to (the one the
    account acted in, as that tenant's user `user_id`)."""
    await record(
        conn, actor=account_actor(account_id), action=action, entity_type="account",
        entity_id=user_id,
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
            select(accounts.c.id, accounts.c.email, accounts.c.password_hash).where(
                func.lower(accounts.c.email) == email.strip().lower()
            )
        )
    ).first()


async def _signed_in(services: Services, account, password: str, ip: str) -> SignedInAccount:
    # The attempt was counted as a failure up front: a success gives it back.
    await throttle.uncount(services, throttle.SIGN_IN_FAILURES_PER_IP, ip)
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
    """The account these credentials sign in as, or SignInRefused. In order: the
    attempt takes a place in the IP's window (THROTTLED if none is left), then in the
    account's run of failures (LOCKED if the account is locked: even the right
    password is refused), and only then is the password verified; a success gives
    both places back. Recording `sign_in.succeeded` is the caller's, once a tenant is
    chosen."""
    if not await throttle.count(services, throttle.SIGN_IN_FAILURES_PER_IP, ip):
        raise SignInRefused("THROTTLED")
    attempt = None
    # Committed before the hash is verified: the row lock is held for one statement,
    # not for the ~100 ms of the hash.
    async with services.engine.begin() as conn:
        account = await _account_by_email(conn, email)
        if account is not None:
            attempt = await throttle.reserve_sign_in(conn, account.id)
            if attempt is None:
                await record_account_event(
                    conn, account_id=account.id, action="sign_in.failed",
                    details={"ip": ip, "reason": "locked"},
                )  # fmt: skip
    if account is not None and attempt is None:
        raise SignInRefused("LOCKED")
    # Unknown emails and accounts without a password are checked against the dummy
    # hash: they take as long as a wrong password.
    if await verify_password(account.password_hash if account else None, password):
        return await _signed_in(services, account, password, ip)
    if account is not None:
        details: dict[str, Any] = {
            "ip": ip,
            "reason": "no_password" if account.password_hash is None else "wrong_password",
        }
        if attempt.locks_until is not None:
            details["lockedUntil"] = attempt.locks_until.isoformat()
        async with services.engine.begin() as conn:
            await record_account_event(
                conn, account_id=account.id, action="sign_in.failed", details=details
            )
    raise SignInRefused("INVALID_CREDENTIALS")


async def change_password(
    conn: AsyncConnection,
    *,
    account_id: uuid.UUID,
    user_id: uuid.UUID,
    current_password: str,
    new_password: str,
) -> None:
    """Change a signed-in account's password in `conn`'s transaction (bound to the
    tenant the user `user_id` is signed in to, whose audit log records it), ending its
    other sessions; UserErrors name `currentPassword` or `newPassword`.

    Checking the current password is a sign-in attempt (a stolen access token must
    not become a way to guess the password): counted before it is verified, like
    one, and on a connection of its own, as the caller rolls `conn` back on
    UserErrors."""
    account = (
        await conn.execute(
            select(accounts.c.email, accounts.c.password_hash).where(accounts.c.id == account_id)
        )
    ).one()
    if account.password_hash is None:
        raise fail(
            "currentPassword", "NO_PASSWORD",
            "this account has no password yet: set one with a password-reset email",
        )  # fmt: skip
    async with conn.engine.begin() as counting:
        attempt = await throttle.reserve_sign_in(counting, account_id)
    if attempt is None:
        raise fail("currentPassword", "LOCKED", REFUSALS["LOCKED"])
    errors: list[UserError] = []
    if await verify_password(account.password_hash, current_password):
        async with conn.engine.begin() as counting:
            await throttle.clear_failed_sign_ins(counting, account_id)
    else:
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
    await record_in_tenant(
        conn, account_id=account_id, user_id=user_id, action="account.password_changed"
    )
