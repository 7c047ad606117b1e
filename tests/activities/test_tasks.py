"""Tasks over GraphQL: create (with defaults and links), update, status transitions,
completeTask, filters and orderings."""

from __future__ import annotations

import datetime as dt
import uuid

from activity_helpers import count_rows, iso, now
from helpers import make_tenant
from sqlalchemy import select

from app.activities.tables import tasks
from app.audit.tables import audit_log
from app.db import tenant_transaction


async def test_create_with_defaults_and_links(gql, tenant_a):
    token = tenant_a.tokens["sales"]
    customer = await gql.customer(token, owner_id=tenant_a.user_ids["sales"])
    contact = await gql.contact(token, customer)
    due = now() + dt.timedelta(days=2)
    payload = await gql.task(token, title=" 报价 ", dueAt=iso(due), contactId=contact)
    assert payload["userErrors"] == []
    task = payload["task"]
    assert task["title"] == "报价"
    assert task["priority"] == "NORMAL"
    assert task["status"] == "OPEN"
    assert task["completedAt"] is None
    assert task["assigneeId"] == str(tenant_a.user_ids["sales"])
    assert task["customerId"] == customer, "a contact links its customer too"
    assert dt.datetime.fromisoformat(task["dueAt"]) == due


async def test_validation_writes_nothing(gql, services, tenant_a):
    token = tenant_a.tokens["sales"]
    marker = f"bad-{uuid.uuid4().hex[:6]}"
    payload = await gql.task(
        token, title=marker, dueAt="2026-05-01T09:00:00", customerId=str(uuid.uuid4()),
        assigneeId=str(tenant_a.user_ids["manager"]), description="x" * 5001,
    )  # fmt: skip
    fields = {e["field"]: e["code"] for e in payload["userErrors"]}
    assert fields == {
        "dueAt": "INVALID",
        "customerId": "NOT_FOUND",
        "assigneeId": "NOT_FOUND",  # a rep (own scope) assigns only themself
        "description": "TOO_LONG",
    }
    assert await count_rows(services, tenant_a, tasks, tasks.c.title == marker) == 0
    blank = await gql.task(token, title=" ")
    assert blank["userErrors"] == [
        {"field": "title", "code": "REQUIRED", "message": "title is required"}
    ]


async def test_manager_assigns_within_the_team(api, gql, tenant_a):
    """The test tenant's users have no team: a manager's team is then only
    themself, so assigning to the rep is refused; the admin (all) may."""
    rep = str(tenant_a.user_ids["sales"])
    refused = await gql.task(tenant_a.tokens["manager"], assigneeId=rep)
    assert refused["userErrors"][0] == {
        "field": "assigneeId", "code": "NOT_FOUND", "message": "no active user with this id",
    }  # fmt: skip
    assigned = await gql.task(tenant_a.tokens["admin"], assigneeId=rep)
    assert assigned["task"]["assigneeId"] == rep
    seen = await api.gql(
        "query($id: ID!) { task(id: $id) { id assignee { email } } }",
        {"id": assigned["task"]["id"]}, token=tenant_a.tokens["sales"],
    )  # fmt: skip
    assert seen["task"]["assignee"]["email"].startswith("sales@")


async def test_status_transitions_and_complete(gql, services, tenant_a):
    token = tenant_a.tokens["sales"]
    task = (await gql.task(token))["task"]
    done = await gql.complete(token, task["id"])
    assert done["task"]["status"] == "DONE"
    assert done["task"]["completedAt"] is not None
    assert done["task"]["version"] == 2
    again = await gql.complete(token, task["id"])
    assert again["task"]["version"] == 2, "completing twice changes nothing"
    cancel = await gql.update_task(token, id=task["id"], version=2, status="CANCELLED")
    assert cancel["userErrors"] == [
        {
            "field": "status",
            "code": "INVALID_TRANSITION",
            "message": "a done task cannot become cancelled",
        }
    ]
    reopened = await gql.update_task(token, id=task["id"], version=2, status="OPEN")
    assert reopened["task"]["status"] == "OPEN"
    assert reopened["task"]["completedAt"] is None
    cancelled = await gql.update_task(token, id=task["id"], version=3, status="CANCELLED")
    assert cancelled["task"]["status"] == "CANCELLED"
    not_done = await gql.complete(token, task["id"])
    assert not_done["userErrors"][0]["code"] == "INVALID_TRANSITION"
    stale = await gql.update_task(token, id=task["id"], version=1, title="lost")
    assert stale["userErrors"][0]["code"] == "CONFLICT"
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        actions = (
            await conn.scalars(
                select(audit_log.c.action)
                .where(audit_log.c.entity_id == uuid.UUID(task["id"]))
                .order_by(audit_log.c.id)
            )
        ).all()
    assert actions == ["task.create", "task.complete", "task.update", "task.update"]


async def test_update_fields_and_links(gql, tenant_a):
    token = tenant_a.tokens["sales"]
    customer = await gql.customer(token)
    other = await gql.customer(token)
    contact = await gql.contact(token, customer)
    task = (await gql.task(token, customerId=customer, contactId=contact))["task"]
    moved = await gql.update_task(token, id=task["id"], version=1, customerId=other)
    assert moved["userErrors"] == [
        {
            "field": "contactId",
            "code": "MISMATCH",
            "message": "the contact belongs to another customer",
        }
    ]
    moved = await gql.update_task(
        token, id=task["id"], version=1, customerId=other, contactId=None, priority="URGENT"
    )
    assert moved["userErrors"] == []
    assert moved["task"]["customerId"] == other
    assert moved["task"]["contactId"] is None
    assert moved["task"]["priority"] == "URGENT"
    no_due = await gql.update_task(token, id=task["id"], version=2, dueAt=None)
    assert no_due["userErrors"][0] == {
        "field": "dueAt",
        "code": "REQUIRED",
        "message": "dueAt is required",
    }


LIST = """query($filter: TaskFilter, $orderBy: [TaskOrder!], $first: Int, $after: String) {
  tasks(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { title } } } }"""


async def test_filters_and_orderings(api, gql, owner, services):
    tenant = await make_tenant(owner, services, "tasks")
    token = tenant.tokens["admin"]
    customer = await gql.customer(token)
    base = now() + dt.timedelta(days=1)
    specs = [
        ("t0", "LOW", 3, None), ("t1", "URGENT", 1, customer), ("t2", "HIGH", 0, None),
        ("t3", "NORMAL", 2, customer), ("t4", "URGENT", 4, None),
    ]  # fmt: skip
    ids = {}
    for title, priority, days, linked in specs:
        extra = {"customerId": linked} if linked else {}
        made = await gql.task(
            token, title=title, priority=priority, dueAt=iso(base + dt.timedelta(days=days)),
            assigneeId=str(tenant.user_ids["sales"] if title == "t4" else tenant.user_ids["admin"]),
            **extra,
        )  # fmt: skip
        ids[title] = made["task"]["id"]
    await gql.complete(token, ids["t3"])

    async def titles(filter_=None, order=None, first=50):
        data = await api.gql(
            LIST, {"filter": filter_, "orderBy": order, "first": first}, token=token
        )
        return [e["node"]["title"] for e in data["tasks"]["edges"]]

    assert await titles() == ["t2", "t1", "t3", "t0", "t4"]
    assert await titles(order=[{"field": "PRIORITY", "direction": "DESC"}, {"field": "DUE_AT"}]) == [
        "t1", "t4", "t2", "t3", "t0",
    ]  # fmt: skip
    by_priority = await titles(order=[{"field": "PRIORITY", "direction": "DESC"}])
    assert by_priority[:2] == sorted(["t1", "t4"], key=lambda t: ids[t], reverse=True)
    assert by_priority[2:] == ["t2", "t3", "t0"]
    assert await titles(order=[{"field": "CREATED_AT", "direction": "DESC"}]) == [
        "t4", "t3", "t2", "t1", "t0",
    ]  # fmt: skip
    assert await titles({"status": {"eq": "OPEN"}}) == ["t2", "t1", "t0", "t4"]
    assert await titles({"status": {"in": ["DONE", "CANCELLED"]}}) == ["t3"]
    assert await titles({"customerId": {"eq": customer}}) == ["t1", "t3"]
    assert await titles({"customerId": {"isNull": True}}) == ["t2", "t0", "t4"]
    assert await titles({"assigneeId": {"eq": str(tenant.user_ids["sales"])}}) == ["t4"]
    window = {"gte": iso(base + dt.timedelta(days=1)), "lte": iso(base + dt.timedelta(days=3))}
    assert await titles({"dueAt": window}) == ["t1", "t3", "t0"]
    # Keyset pages by priority walk the same order.
    order = [{"field": "PRIORITY", "direction": "DESC"}]
    walked, after = [], None
    while True:
        data = await api.gql(LIST, {"orderBy": order, "first": 2, "after": after}, token=token)
        walked += [e["node"]["title"] for e in data["tasks"]["edges"]]
        if not data["tasks"]["pageInfo"]["hasNextPage"]:
            break
        after = data["tasks"]["pageInfo"]["endCursor"]
    assert walked == by_priority
    # The rep sees only their own task.
    mine = await api.gql(LIST, {"first": 50}, token=tenant.tokens["sales"])
    assert [e["node"]["title"] for e in mine["tasks"]["edges"]] == ["t4"]
