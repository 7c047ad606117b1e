"""Limits on guessing and on mail: counters per client IP (and per address) in Redis,
the per-account lockout in PostgreSQL. Every number is here.

Redis counters are fixed windows: the first event starts a window of `seconds`, and
the subject is refused once `limit` events fell in it, until it ends. Keys live under
the queue's name, the one Redis namespace of a deployment (and of a test run).

The lockout lives with the account, so it holds across API processes and a Redis
restart: after LOCKOUT_AFTER consecutive failures the account is locked for
LOCKOUT_SECONDS, and every further failure before a success locks it again at once,
so a guesser gets one try per lockout period while the owner can still reset the
password by mail (which clears the lockout).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import case, func, or_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.tables import accounts

if TYPE_CHECKING:
    from app.api.context import Services


@dataclass(frozen=True)
class Window:
    name: str
    limit: int
    seconds: int


# Failed sign-ins from one IP, whichever accounts they tried.
SIGN_IN_FAILURES_PER_IP = Window("sign-in-failures:ip", limit=20, seconds=15 * 60)
# Password-reset requests: per IP against mail-bombing many addresses, per address
# against mail-bombing one (counted whether or not an account has that address).
RESET_REQUESTS_PER_IP = Window("reset-requests:ip", limit=10, seconds=60 * 60)
RESET_REQUESTS_PER_ADDRESS = Window("reset-requests:address", limit=3, seconds=60 * 60)

LOCKOUT_AFTER = 5
LOCKOUT_SECONDS = 15 * 60


def address_key(email: str) -> str:
    """Addresses are counted by hash: Redis need not hold who asked for a reset."""
    return hashlib.sha256(email.strip().casefold().encode()).hexdigest()


def _key(services: Services, window: Window, subject: str) -> str:
    return f"{services.settings.queue_name}:throttle:{window.name}:{subject}"


async def exhausted(services: Services, window: Window, subject: str) -> bool:
    """Whether `subject` used up its window (without counting anything)."""
    redis = await services.queue.pool()
    count = await redis.get(_key(services, window, subject))
    return count is not None and int(count) >= window.limit


async def count(services: Services, window: Window, subject: str) -> bool:
    """Count one event of `subject`; whether it was within the limit."""
    redis = await services.queue.pool()
    key = _key(services, window, subject)
    # One MULTI: the window's expiry is set exactly when the key is created, so a
    # crash between the two can never leave a counter that never expires.
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, 0, ex=window.seconds, nx=True)
        pipe.incr(key)
        _, value = await pipe.execute()
    return value <= window.limit


async def note_failed_sign_in(conn: AsyncConnection, account_id: uuid.UUID) -> dt.datetime | None:
    """Count a failed sign-in of the account in one statement (concurrent failures
    cannot lose a count); the time it is locked until, if this failure locked it."""
    failures = accounts.c.failed_sign_ins + 1
    locks = failures >= LOCKOUT_AFTER
    row = (
        await conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id)
            .values(
                failed_sign_ins=failures,
                locked_until=case(
                    (locks, func.now() + dt.timedelta(seconds=LOCKOUT_SECONDS)),
                    else_=accounts.c.locked_until,
                ),
            )
            .returning(accounts.c.failed_sign_ins, accounts.c.locked_until)
        )
    ).one()
    return row.locked_until if row.failed_sign_ins >= LOCKOUT_AFTER else None


async def clear_failed_sign_ins(conn: AsyncConnection, account_id: uuid.UUID) -> None:
    """A success (or a new password) ends the run of failures and any lockout. Most
    sign-ins follow no failure: those write nothing."""
    await conn.execute(
        update(accounts)
        .where(
            accounts.c.id == account_id,
            or_(accounts.c.failed_sign_ins != 0, accounts.c.locked_until.is_not(None)),
        )
        .values(failed_sign_ins=0, locked_until=None)
    )


def is_locked():
    """A column expression: the account is locked now (by the database's clock)."""
    return func.coalesce(accounts.c.locked_until > func.now(), False).label("locked")
