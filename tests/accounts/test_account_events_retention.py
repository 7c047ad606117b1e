"""The worker's daily cron deletes account events past their retention (a year by
default, KEHU_ACCOUNT_EVENTS_RETENTION_DAYS), in batches, and only those: the
application role itself can still neither delete events nor shorten their keep below
the 90 days the account page shows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from app.accounts import history
from app.accounts.tables import account_events
from app.services import close_services
from workers.settings import build_worker
from workers.tasks import prune_account_events


async def add_events(owner, account_id: uuid.UUID, *days_ago: float) -> None:
    now = dt.datetime.now(dt.UTC)
    async with owner.begin() as conn:
        await conn.execute(
            insert(account_events),
            [
                {"account_id": account_id, "action": "sign_in.failed",
                 "details": {"ip": "192.0.2.1", "reason": "wrong_password"},
                 "at": now - dt.timedelta(days=days)}
                for days in days_ago
            ],
        )  # fmt: skip


async def ages(owner, account_id: uuid.UUID) -> list[int]:
    async with owner.connect() as conn:
        rows = await conn.scalars(
            select(func.extract("day", func.now() - account_events.c.at))
            .where(account_events.c.account_id == account_id)
            .order_by(account_events.c.at)
        )
        return [int(days) for days in rows]


async def test_events_older_than_a_year_are_deleted_others_kept(services, owner, member):
    await add_events(owner, member.account_id, 400, 366, 364, 100, 1)
    assert services.settings.account_events_retention_days == 365
    await prune_account_events({"services": services})
    assert await ages(owner, member.account_id) == [364, 100, 1]
    # Again: nothing more to delete.
    await prune_account_events({"services": services})
    assert await ages(owner, member.account_id) == [364, 100, 1]


async def test_the_retention_is_a_setting(services, owner, member):
    await add_events(owner, member.account_id, 200, 120, 10)
    shorter = dataclasses.replace(services.settings, account_events_retention_days=150)
    await prune_account_events({"services": dataclasses.replace(services, settings=shorter)})
    assert await ages(owner, member.account_id) == [120, 10]


async def test_a_backlog_is_deleted_batch_by_batch(services, owner, member):
    backlog = 2 * history.PRUNE_BATCH + 7
    await add_events(owner, member.account_id, *([500] * backlog), 3)
    deleted = await prune_account_events({"services": services})
    assert deleted >= backlog
    assert await ages(owner, member.account_id) == [3]


async def test_the_app_role_cannot_delete_recent_events(services, owner, member):
    await add_events(owner, member.account_id, 30)
    with pytest.raises(DBAPIError, match="permission denied"):
        async with services.engine.begin() as conn:
            await conn.execute(
                delete(account_events).where(account_events.c.account_id == member.account_id)
            )
    with pytest.raises(DBAPIError, match="at least 90 days"):
        async with services.engine.begin() as conn:
            await conn.execute(text("SELECT catalog.prune_account_events(interval '1 day', 1000)"))
    too_short = dataclasses.replace(services.settings, account_events_retention_days=7)
    with pytest.raises(DBAPIError, match="at least 90 days"):
        await prune_account_events({"services": dataclasses.replace(services, settings=too_short)})
    assert await ages(owner, member.account_id) == [30]


async def test_the_worker_runs_it_daily(settings):
    worker = build_worker(settings, burst=True)
    try:
        [job] = [c for c in worker.cron_jobs if c.coroutine is prune_account_events]
    finally:
        await close_services(worker.ctx["services"])
    assert (len(job.hour), len(job.minute), len(job.second)) == (1, 1, 1)
