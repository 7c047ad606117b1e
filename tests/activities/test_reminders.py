"""Reminders: the cron task produces each reminder once (repeated and concurrent runs,
and through the real worker), only for the right people, into their own inbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from activity_helpers import CANCEL_APPOINTMENT, count_rows, iso, now
from helpers import make_tenant
from sqlalchemy import select

from app.activities.tables import notifications
from app.audit.tables import audit_log
from app.db import tenant_transaction
from workers.scheduled import run_in_tenant

INBOX = """query($first: Int, $after: String, $unreadOnly: Boolean) {
  notifications(first: $first, after: $after, unreadOnly: $unreadOnly) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id kind title body subjectType subjectId dueAt readAt } }
  }
  unreadCount
}"""
MARK = """mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) {
  notifications { id readAt } unreadCount userErrors { field code message } } }"""


@pytest.fixture(scope="module")
async def due(owner, services, api, gql):
    """A tenant whose work is due now and then, set up through the API."""
    tenant = await make_tenant(owner, services, "remind")
    sales, manager, admin = (tenant.tokens[r] for r in ("sales", "manager", "admin"))
    t = now()
    made = {}

    async def task(name, token, minutes, **extra):
        payload = await gql.task(
            token, title=name, dueAt=iso(t + dt.timedelta(minutes=minutes)), **extra
        )
        assert payload["userErrors"] == [], payload
        made[name] = payload["task"]
        return payload["task"]

    async def appointment(name, token, minutes, **extra):
        payload = await gql.schedule(
            token, t + dt.timedelta(minutes=minutes), 30, title=name, **extra
        )
        assert payload["userErrors"] == [], payload
        made[name] = payload["appointment"]
        return payload["appointment"]

    await task("soon", sales, 10, description="call back 王总")
    await task("later", sales, 120)
    await task("overdue", manager, -60)
    await task("stale", sales, -8 * 24 * 60)
    done = await task("done", sales, 5)
    await gql.complete(sales, done["id"])
    cancelled = await task("cancelled", sales, 5)
    await gql.update_task(sales, id=cancelled["id"], version=1, status="CANCELLED")
    await appointment("meeting", admin, 10, location="会议室 3")
    await appointment("afternoon", admin, 90)
    await appointment("started", admin, -5)
    dropped = await appointment("dropped", sales, 5)
    await api.gql(CANCEL_APPOINTMENT, {"input": {"id": dropped["id"]}}, token=sales)
    return {"tenant": tenant, "made": made, "gql": gql}


async def _remind(services, tenant) -> int:
    return await run_in_tenant(services.engine, "reminders", tenant.schema)


async def _inbox(api, token, **variables) -> dict:
    return await api.gql(INBOX, {"first": 50, **variables}, token=token)


async def test_each_reminder_once_for_the_right_person(api, services, due):
    tenant, made = due["tenant"], due["made"]
    await _remind(services, tenant)
    assert await _remind(services, tenant) == 0
    await asyncio.gather(*(_remind(services, tenant) for _ in range(3)))
    assert await count_rows(services, tenant, notifications) == 3

    sales = await _inbox(api, tenant.tokens["sales"])
    (item,) = [e["node"] for e in sales["notifications"]["edges"]]
    assert item["kind"] == "TASK_DUE"
    assert item["title"] == "Task due: soon"
    assert item["body"] == "call back 王总"
    assert (item["subjectType"], item["subjectId"]) == ("task", made["soon"]["id"])
    assert item["dueAt"] == made["soon"]["dueAt"]
    assert sales["unreadCount"] == 1

    manager = await _inbox(api, tenant.tokens["manager"])
    assert [e["node"]["subjectId"] for e in manager["notifications"]["edges"]] == [
        made["overdue"]["id"]
    ]
    admin = await _inbox(api, tenant.tokens["admin"])
    (meeting,) = [e["node"] for e in admin["notifications"]["edges"]]
    assert (meeting["kind"], meeting["title"], meeting["body"]) == (
        "APPOINTMENT_SOON", "Appointment soon: meeting", "会议室 3",
    )  # fmt: skip
    assert meeting["subjectId"] == made["meeting"]["id"]
    viewer = await _inbox(api, tenant.tokens["viewer"])
    assert viewer["notifications"]["totalCount"] == 0 and viewer["unreadCount"] == 0


async def test_rescheduling_makes_a_new_reminder(api, services, due):
    tenant, made, gql = due["tenant"], due["made"], due["gql"]
    await _remind(services, tenant)
    task = made["soon"]
    new_due = dt.datetime.fromisoformat(task["dueAt"]) + dt.timedelta(minutes=2)
    current = (await api.gql("query($id: ID!) { task(id: $id) { version } }", {"id": task["id"]},
                             token=tenant.tokens["sales"]))["task"]  # fmt: skip
    moved = await gql.update_task(
        tenant.tokens["sales"], id=task["id"], version=current["version"], dueAt=iso(new_due)
    )
    assert moved["userErrors"] == []
    await _remind(services, tenant)
    await _remind(services, tenant)
    inbox = await _inbox(api, tenant.tokens["sales"])
    assert sorted(e["node"]["dueAt"] for e in inbox["notifications"]["edges"]) == sorted(
        [task["dueAt"], iso(new_due)]
    )


async def test_the_real_worker_runs_the_cron_task(services, run_worker, owner, gql):
    tenant = await make_tenant(owner, services, "cron")
    await gql.task(tenant.tokens["sales"], dueAt=iso(now() + dt.timedelta(minutes=3)))
    await services.queue.enqueue("cron:send_reminders", {}, key=f"test-{uuid.uuid4().hex}")
    await run_worker(poll_delay=0.05)
    assert await count_rows(services, tenant, notifications) == 1


async def test_mark_read_only_your_own(api, services, due):
    tenant = due["tenant"]
    await _remind(services, tenant)
    sales_inbox = await _inbox(api, tenant.tokens["sales"], unreadOnly=True)
    ids = [e["node"]["id"] for e in sales_inbox["notifications"]["edges"]]
    manager_inbox = await _inbox(api, tenant.tokens["manager"])
    manager_id = manager_inbox["notifications"]["edges"][0]["node"]["id"]

    refused = await api.gql(MARK, {"ids": [ids[0], manager_id]}, token=tenant.tokens["sales"])
    assert refused["markNotificationsRead"]["userErrors"] == [
        {"field": "ids", "code": "NOT_FOUND", "message": "no such notification"}
    ]
    still = await _inbox(api, tenant.tokens["sales"], unreadOnly=True)
    assert still["unreadCount"] == len(ids), "nothing was marked"
    assert (await _inbox(api, tenant.tokens["manager"]))["unreadCount"] == 1

    marked = await api.gql(MARK, {"ids": [ids[0]]}, token=tenant.tokens["sales"])
    payload = marked["markNotificationsRead"]
    assert payload["userErrors"] == []
    assert payload["notifications"][0]["readAt"] is not None
    assert payload["unreadCount"] == len(ids) - 1
    again = await api.gql(MARK, {"ids": [ids[0]]}, token=tenant.tokens["sales"])
    assert again["markNotificationsRead"]["notifications"] == payload["notifications"]
    unread = await _inbox(api, tenant.tokens["sales"], unreadOnly=True)
    assert ids[0] not in [e["node"]["id"] for e in unread["notifications"]["edges"]]
    everything = await _inbox(api, tenant.tokens["sales"])
    assert ids[0] in [e["node"]["id"] for e in everything["notifications"]["edges"]]
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        audited = (
            await conn.execute(select(audit_log).where(audit_log.c.action == "notification.read"))
        ).all()
    assert [r.changes for r in audited] == [{"read": [ids[0]]}]
    assert audited[0].actor_id == tenant.user_ids["sales"]


async def test_inbox_pages_newest_first(api, services, owner, gql):
    tenant = await make_tenant(owner, services, "inbox")
    token = tenant.tokens["sales"]
    for i in range(5):
        await gql.task(token, title=f"n{i}", dueAt=iso(now() + dt.timedelta(minutes=i)))
        await _remind(services, tenant)
    seen, after = [], None
    while True:
        page = (await _inbox(api, token, first=2, after=after))["notifications"]
        seen += [e["node"]["title"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"Task due: n{i}" for i in reversed(range(5))]
