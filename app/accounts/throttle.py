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

Sign-in attempts are counted before the password is verified, not after: checking a
limit and counting the failure ~100 ms later (the hash) would let a burst of
simultaneous guesses all pass the check. An attempt first takes its place in the
IP's window and in the account's run of failures, atomically, and is refused if
there is none left; a success gives both back.
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


# Only decrements a window that still exists: after it expired, a DECR would make a
# counter of -1 without expiry, a head start for the next window that never ends.
_UNCOUNT = """
if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end
return 0
"""


async def uncount(services: Services, window: Window, subject: str) -> None:
    """Give back an event counted by `count` (one that turned out not to be one)."""
    redis = await services.queue.pool()
    await redis.eval(_UNCOUNT, 1, _key(services, window, subject))


@dataclass(frozen=True)
class Attempt:
    """A sign-in attempt, counted as a failure until the password proves otherwise;
    `locks_until` is the lock that counting set, if it reached the limit."""

    locks_until: dt.datetime | None


async def reserve_sign_in(conn: AsyncConnection, account_id: uuid.UUID) -> Attempt | None:
    """Count an attempt as a failure before the password is checked, in one statement
    that only succeeds while the account is not locked (None if it is locked, or gone).
    Row locking serialises concurrent attempts: no more of a burst get through than
    one after another would, and the one that reaches the limit locks out the rest."""
    failures = accounts.c.failed_sign_ins + 1
    locks = failures >= LOCKOUT_AFTER
    row = (
        await conn.execute(
            update(accounts)
            .where(
                accounts.c.id == account_id,
                or_(accounts.c.locked_until.is_(None), accounts.c.locked_until <= func.now()),
            )
            .values(
                failed_sign_ins=failures,
                locked_until=case(
                    (locks, func.now() + dt.timedelta(seconds=LOCKOUT_SECONDS)),
                    else_=accounts.c.locked_until,
                ),
            )
            .returning(accounts.c.failed_sign_ins, accounts.c.locked_until)
        )
    ).first()
    if row is None:
        return None
    return Attempt(row.locked_until if row.failed_sign_ins >= LOCKOUT_AFTER else None)


async def clear_failed_sign_ins(conn: AsyncConnection, account_id: uuid.UUID) -> None:
    """A success (or a new password) ends the run of failures and any lockout."""
    await conn.execute(
        update(accounts)
        .where(
            accounts.c.id == account_id,
            or_(accounts.c.failed_sign_ins != 0, accounts.c.locked_until.is_not(None)),
        )
        .values(failed_sign_ins=0, locked_until=None)
    )
