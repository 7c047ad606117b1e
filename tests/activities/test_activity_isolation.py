"""Tenant isolation: a token of tenant B can never read, list, count, change or infer
tenant A's activities, tasks, appointments, notifications or timelines."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from activity_helpers import CANCEL_APPOINTMENT, DELETE_ACTIVITY, UPDATE_ACTIVITY, iso, now

from workers.scheduled import run_in_tenant


@pytest.fixture(scope="module")
async def a_records(api, gql, services, tenant_a):
    token = tenant_a.tokens["sales"]
    marker = f"Secret{uuid.uuid4().hex[:6]}"
    customer = await gql.customer(token, owner_id=tenant_a.user_ids["sales"], name=marker)
    contact = await gql.contact(token, customer)
    activity = (await gql.log(token, customer, contactId=contact, subject=marker))["activity"]
    task = (
        await gql.task(
            token, title=marker, customerId=customer, dueAt=iso(now() + dt.timedelta(minutes=5))
        )  # fmt: skip
    )["task"]
    appointment = (
        await gql.schedule(
            token, now() + dt.timedelta(minutes=10), title=marker, customerId=customer
        )
    )["appointment"]
    await run_in_tenant(services.engine, "reminders", tenant_a.schema)
    inbox = await api.gql(
        "{ notifications(first: 100) { edges { node { id subjectId } } } }", token=token
    )
    ours = {task["id"], appointment["id"]}
    notification_ids = [
        e["node"]["id"] for e in inbox["notifications"]["edges"] if e["node"]["subjectId"] in ours
    ]
    assert len(notification_ids) == 2
    return {
        "marker": marker, "customer": customer, "contact": contact, "activity": activity["id"],
        "task": task["id"], "appointment": appointment["id"], "notifications": notification_ids,
        "when": appointment["startsAt"],
    }  # fmt: skip


async def test_b_cannot_read_by_id(api, tenant_b, a_records):
    data = await api.gql(
        "query($a: ID!, $t: ID!, $p: ID!, $c: ID!) { activity(id: $a) { id } task(id: $t) { id }"
        " appointment(id: $p) { id } customerTimeline(customerId: $c) { edges { cursor } } }",
        {"a": a_records["activity"], "t": a_records["task"], "p": a_records["appointment"],
         "c": a_records["customer"]},
        token=tenant_b.tokens["admin"],
    )  # fmt: skip
    assert data == {"activity": None, "task": None, "appointment": None, "customerTimeline": None}


@pytest.mark.parametrize(
    ("field", "filter_"),
    [
        ("activities", '{customerId: {eq: "%(customer)s"}}'),
        ("activities", '{contactId: {eq: "%(contact)s"}}'),
        ("activities", "{kind: {eq: CALL}}"),
        ("activities", '{ownerId: {eq: "%(owner)s"}}'),
        ("tasks", '{customerId: {eq: "%(customer)s"}}'),
        ("tasks", '{assigneeId: {eq: "%(owner)s"}}'),
        ("tasks", "{status: {eq: OPEN}}"),
        ("appointments", '{ownerId: {eq: "%(owner)s"}}'),
        ("appointments", '{from: "%(when)s"}'),
    ],
)
async def test_b_cannot_list_or_count(api, tenant_a, tenant_b, a_records, field, filter_):
    rendered = filter_ % {**a_records, "owner": tenant_a.user_ids["sales"]}
    query = (
        f"{{ {field}(first: 100, filter: {rendered}) {{ totalCount edges {{ node {{ id }} }} }} }}"
    )
    theirs = await api.gql(query, token=tenant_b.tokens["admin"])
    assert a_records["marker"] not in str(theirs)
    ids = {e["node"]["id"] for e in theirs[field]["edges"]}
    assert not ids & {a_records["activity"], a_records["task"], a_records["appointment"]}
    if "%(" in filter_:
        assert theirs[field] == {"totalCount": 0, "edges": []}
    mine = await api.gql(query, token=tenant_a.tokens["admin"])
    assert mine[field]["totalCount"] >= 1, "the filter itself finds A's record in A"


async def test_b_inbox_is_its_own(api, tenant_b, a_records):
    for role in ("admin", "sales"):
        data = await api.gql(
            "{ notifications(first: 100) { totalCount edges { node { id title } } } unreadCount }",
            token=tenant_b.tokens[role],
        )
        assert a_records["marker"] not in str(data)
        assert not {e["node"]["id"] for e in data["notifications"]["edges"]} & set(
            a_records["notifications"]
        )
    marked = await api.gql(
        "mutation($ids: [ID!]!) { markNotificationsRead(ids: $ids) { userErrors { code } } }",
        {"ids": a_records["notifications"]},
        token=tenant_b.tokens["sales"],
    )
    assert marked["markNotificationsRead"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_b_cannot_change_a(api, gql, tenant_a, tenant_b, a_records):
    token = tenant_b.tokens["admin"]
    for operation, name, variables in (
        (
            UPDATE_ACTIVITY,
            "updateActivity",
            {"id": a_records["activity"], "version": 1, "subject": "x"},
        ),
        (DELETE_ACTIVITY, "deleteActivity", {"id": a_records["activity"]}),
        (CANCEL_APPOINTMENT, "cancelAppointment", {"id": a_records["appointment"]}),
    ):
        data = await api.gql(operation, {"input": variables}, token=token)
        assert data[name]["userErrors"][0]["code"] == "NOT_FOUND", name
    for payload in (
        await gql.update_task(token, id=a_records["task"], version=1, title="x"),
        await gql.complete(token, a_records["task"]),
        await gql.update_appointment(token, id=a_records["appointment"], version=1, title="x"),
    ):
        assert payload["userErrors"][0]["code"] == "NOT_FOUND"
    # Linking A's customer or contact from B: not found, nothing written.
    logged = await gql.log(token, a_records["customer"])
    assert logged["userErrors"][0] == {
        "field": "customerId",
        "code": "NOT_FOUND",
        "message": "no such customer",
    }
    task = await gql.task(token, contactId=a_records["contact"])
    assert task["userErrors"][0]["field"] == "contactId"
    # B's appointment at the same time warns about nothing of A's.
    clash = await gql.schedule(token, dt.datetime.fromisoformat(a_records["when"]), 60)
    assert clash["warnings"] == []
    # A's records are untouched.
    still = await api.gql(
        "query($a: ID!, $t: ID!, $p: ID!) { activity(id: $a) { subject version }"
        " task(id: $t) { status version } appointment(id: $p) { cancelledAt version } }",
        {"a": a_records["activity"], "t": a_records["task"], "p": a_records["appointment"]},
        token=tenant_a.tokens["sales"],
    )
    assert still == {
        "activity": {"subject": a_records["marker"], "version": 1},
        "task": {"status": "OPEN", "version": 1},
        "appointment": {"cancelledAt": None, "version": 1},
    }


async def test_b_reusing_a_ids_reveals_nothing(gql, tenant_b, a_records):
    """An id taken in tenant A is free in tenant B: no CONFLICT that would leak it."""
    token = tenant_b.tokens["sales"]
    customer = await gql.customer(token)
    logged = await gql.log(token, customer, id=a_records["activity"], subject="B's own")
    assert logged["userErrors"] == [] and logged["activity"]["id"] == a_records["activity"]
    task = await gql.task(token, id=a_records["task"], title="B's own")
    assert task["userErrors"] == []
