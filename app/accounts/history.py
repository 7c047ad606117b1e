"""An account's own security history (catalog.account_events): what its owner is
shown on /account/security, and its retention.

Only ever read for the account that proved it is itself (app/accounts/pages.py): no
tenant, admin or other account reads it, which is why it is not in any audit log.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.accounts.tables import account_events

SHOWN_DAYS = 90
SHOWN_AT_MOST = 50
# Rows per delete: one short transaction each, so a large backlog never holds one
# long transaction; should the cron's timeout stop a run, the next day goes on.
PRUNE_BATCH = 1000


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    action: str
    details: dict[str, Any]


async def recent_events(conn: AsyncConnection, account_id: uuid.UUID) -> list[Event]:
    """The account's events of the last SHOWN_DAYS days, newest first, at most
    SHOWN_AT_MOST."""
    rows = await conn.execute(
        select(account_events.c.at, account_events.c.action, account_events.c.details)
        .where(
            account_events.c.account_id == account_id,
            account_events.c.at >= func.now() - dt.timedelta(days=SHOWN_DAYS),
        )
        .order_by(account_events.c.at.desc(), account_events.c.id.desc())
        .limit(SHOWN_AT_MOST)
    )
    return [Event(row.at, row.action, row.details) for row in rows]


def when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_FAILURES = {
    "wrong_password": "登录失败：密码错误 / Failed sign-in: wrong password",
    "no_password": "登录失败：账户没有密码 / Failed sign-in: the account has no password",
    "locked": "登录被拒绝：账户已锁定 / Sign-in refused: the account was locked",
}
_ACTIONS = {
    "account.password_reset": "通过邮件链接重设了密码 / Password reset through an emailed link",
    "account.password_changed": "修改了密码 / Password changed",
    "invitation.accepted": "接受了公司的邀请 / Accepted a company's invitation",
    "invitation.declined": "拒绝了公司的邀请 / Declined a company's invitation",
}


def describe(event: Event) -> dict[str, str]:
    """What the account page shows of an event. Details are whatever was recorded
    (the IP may be a proxy's X-Forwarded-For): the template escapes them all."""
    details = event.details if isinstance(event.details, dict) else {}
    if event.action == "sign_in.failed":
        what = _FAILURES.get(str(details.get("reason")), "登录失败 / Failed sign-in")
        if locked := details.get("lockedUntil"):
            try:
                until = when(dt.datetime.fromisoformat(str(locked)))
            except ValueError:
                until = str(locked)
            what += f"; 账户锁定至 / account locked until {until}"
    else:
        what = _ACTIONS.get(event.action, event.action)
        if tenant := details.get("tenantName"):
            what += f": {tenant}"
    return {"at": when(event.at), "ip": str(details.get("ip") or "—"), "what": what}


async def prune(engine: AsyncEngine, *, keep_days: int) -> int:
    """Delete the events older than `keep_days` days, a batch per transaction, until
    none is left; how many were deleted. Safe to run again or concurrently: each
    batch deletes only what is still there."""
    deleted = 0
    while True:
        async with engine.begin() as conn:
            batch = await conn.scalar(
                text("SELECT catalog.prune_account_events(make_interval(days => :days), :batch)"),
                {"days": keep_days, "batch": PRUNE_BATCH},
            )
        deleted += batch
        if batch < PRUNE_BATCH:
            return deleted
