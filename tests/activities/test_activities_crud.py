"""Logging, changing and deleting activities over GraphQL: validation (nothing written
on error), client ids, versions, links, audit, permissions."""

from __future__ import annotations

import datetime as dt
import uuid

from activity_helpers import DELETE_ACTIVITY, UPDATE_ACTIVITY, count_rows, iso, now
from sqlalchemy import select

from app.activities.tables import activities
from app.audit.tables import audit_log
from app.db import tenant_transaction

GET = """query($id: ID!) { activity(id: $id) {
  id subject version owner { email } customer { id name } contact { id name } } }"""


async def test_log_then_read_with_links(api, gql, tenant_a):
    token = tenant_a.tokens["sales"]
    customer = await gql.customer(token, owner_id=tenant_a.user_ids["sales"], name="佛山跟进电子")
    contact = await gql.contact(token, customer, "王经理")
    at = now() - dt.timedelta(hours=3)
    payload = await gql.log(
        token, customer, contactId=contact, kind="VISIT", subject=" 拜访 ", body="谈了报价",
        occurredAt=iso(at), durationMinutes=45, outcome="interested", nextStep="send quote",
    )  # fmt: skip
    assert payload["userErrors"] == []
    activity = payload["activity"]
    assert activity["subject"] == "拜访"
    assert activity["kind"] == "VISIT"
    assert activity["ownerId"] == str(tenant_a.user_ids["sales"])
    assert dt.datetime.fromisoformat(activity["occurredAt"]) == at
    got = (await api.gql(GET, {"id": activity["id"]}, token=token))["activity"]
    assert got["owner"]["email"].startswith("sales@")
    assert got["customer"] == {"id": customer, "name": "佛山跟进电子"}
    assert got["contact"] == {"id": contact, "name": "王经理"}


async def test_occurred_at_defaults_to_now(gql, tenant_a):
    token = tenant_a.tokens["sales"]
    customer = await gql.customer(token)
    before = dt.datetime.now(dt.UTC)
    activity = (await gql.log(token, customer, kind="NOTE", subject="note"))["activity"]
    occurred = dt.datetime.fromisoformat(activity["occurredAt"])
    assert before - dt.timedelta(seconds=5) <= occurred <= dt.datetime.now(dt.UTC)


async def test_validation_names_fields_and_writes_nothing(api, gql, services, tenant_a):
    token = tenant_a.tokens["sales"]
    customer = await gql.customer(token)
    other = await gql.customer(token)
    foreign_contact = await gql.contact(token, other)
    payload = await gql.log(
        token, customer, subject="  ", durationMinutes=-5, contactId=foreign_contact,
        ownerId=str(uuid.uuid4()), occurredAt="2026-01-01T10:00:00",
    )  # fmt: skip
    fields = {e["field"]: e["code"] for e in payload["userErrors"]}
    assert fields == {
        "subject": "REQUIRED",
        "durationMinutes": "INVALID",
        "contactId": "MISMATCH",
        "ownerId": "NOT_FOUND",
        "occurredAt": "INVALID",
    }
    assert payload["activity"] is None
    missing = await gql.log(token, str(uuid.uuid4()))
    assert missing["userErrors"] == [
        {"field": "customerId", "code": "NOT_FOUND", "message": "no such customer"}
    ]
    bad_id = await gql.log(token, "not-a-uuid")
    assert bad_id["userErrors"][0]["field"] == "customerId"
    written = await count_rows(
        services, tenant_a, activities, activities.c.customer_id == uuid.UUID(customer)
    )
    assert written == 0


async def test_client_id_makes_create_idempotent(gql, services, tenant_a):
    token = tenant_a.tokens["sales"]
    customer = await gql.customer(token)
    activity_id = str(uuid.uuid4())
    at = iso(now())
    first = await gql.log(token, customer, id=activity_id, subject="offline", occurredAt=at)
    again = await gql.log(token, customer, id=activity_id, subject="offline", occurredAt=at)
    assert first["activity"]["id"] == again["activity"]["id"] == activity_id
    assert again["activity"]["version"] == 1
    different = await gql.log(token, customer, id=activity_id, subject="something else")
    assert different["userErrors"][0]["code"] == "CONFLICT"
    assert await count_rows(services, tenant_a, activities, activities.c.id == activity_id) == 1


async def test_update_with_versions_and_audit(api, gql, services, tenant_a):
    token = tenant_a.tokens["sales"]
    customer = await gql.customer(token)
    activity = (await gql.log(token, customer, subject="first"))["activity"]
    ok = await api.gql(
        UPDATE_ACTIVITY,
        {"input": {"id": activity["id"], "version": 1, "outcome": "won", "kind": "MEETING"}},
        token=token,
    )
    assert ok["updateActivity"]["userErrors"] == []
    assert ok["updateActivity"]["activity"]["version"] == 2
    stale = await api.gql(
        UPDATE_ACTIVITY, {"input": {"id": activity["id"], "version": 1, "subject": "lost"}},
        token=token,
    )  # fmt: skip
    assert stale["updateActivity"]["userErrors"][0]["code"] == "CONFLICT"
    same = await api.gql(
        UPDATE_ACTIVITY, {"input": {"id": activity["id"], "version": 2, "outcome": "won"}},
        token=token,
    )  # fmt: skip
    assert same["updateActivity"]["activity"]["version"] == 2
    cleared = await api.gql(
        UPDATE_ACTIVITY, {"input": {"id": activity["id"], "version": 2, "kind": None}},
        token=token,
    )  # fmt: skip
    assert cleared["updateActivity"]["userErrors"][0]["field"] == "kind"
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        rows = (
            await conn.execute(
                select(audit_log)
                .where(audit_log.c.entity_id == uuid.UUID(activity["id"]))
                .order_by(audit_log.c.id)
            )
        ).all()
    assert [r.action for r in rows] == ["activity.create", "activity.update"]
    assert rows[1].actor_id == tenant_a.user_ids["sales"]
    assert rows[1].changes == {
        "outcome": {"from": None, "to": "won"},
        "kind": {"from": "call", "to": "meeting"},
    }


async def test_delete_hides_it(api, gql, tenant_a):
    token = tenant_a.tokens["sales"]
    customer = await gql.customer(token)
    activity = (await gql.log(token, customer))["activity"]
    deleted = await api.gql(DELETE_ACTIVITY, {"input": {"id": activity["id"]}}, token=token)
    assert deleted["deleteActivity"]["activity"]["version"] == 2
    assert (await api.gql(GET, {"id": activity["id"]}, token=token))["activity"] is None
    again = await api.gql(DELETE_ACTIVITY, {"input": {"id": activity["id"]}}, token=token)
    assert again["deleteActivity"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_a_colleagues_log_on_a_pool_customer_is_read_only(api, gql, tenant_a):
    """Both reps see a pool customer and its activities; only the author (or someone
    whose scope includes them) may rewrite one."""
    admin = tenant_a.tokens["admin"]
    pool_customer = await gql.customer(admin)
    by_admin = (await gql.log(admin, pool_customer, subject="admin's call"))["activity"]
    sales = tenant_a.tokens["sales"]
    seen = await api.gql(GET, {"id": by_admin["id"]}, token=sales)
    assert seen["activity"]["subject"] == "admin's call"
    denied = await api.gql(
        UPDATE_ACTIVITY, {"input": {"id": by_admin["id"], "version": 1, "subject": "mine now"}},
        token=sales,
    )  # fmt: skip
    assert denied["updateActivity"]["userErrors"][0]["code"] == "FORBIDDEN"
    deleted = await api.gql(DELETE_ACTIVITY, {"input": {"id": by_admin["id"]}}, token=sales)
    assert deleted["deleteActivity"]["userErrors"][0]["code"] == "FORBIDDEN"


async def test_viewer_cannot_write(api, gql, tenant_a):
    customer = await gql.customer(tenant_a.tokens["admin"])
    errors = await api.errors(
        """mutation($input: LogActivityInput!) { logActivity(input: $input) { activity { id } } }""",
        {"input": {"customerId": customer, "kind": "NOTE", "subject": "x"}},
        token=tenant_a.tokens["viewer"],
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_filters(api, gql, tenant_a):
    token = tenant_a.tokens["admin"]
    customer = await gql.customer(token)
    contact = await gql.contact(token, customer)
    base = now() - dt.timedelta(days=10)
    made = []
    for i, kind in enumerate(["CALL", "VISIT", "EMAIL", "NOTE", "MEETING", "CALL"]):
        extra = {"contactId": contact} if i % 2 else {}
        activity = await gql.log(
            token, customer, kind=kind, subject=f"a{i}",
            occurredAt=iso(base + dt.timedelta(days=i)), **extra,
        )  # fmt: skip
        made.append(activity["activity"]["id"])
    query = """query($filter: ActivityFilter, $orderBy: [ActivityOrder!]) {
      activities(first: 50, filter: $filter, orderBy: $orderBy) {
        totalCount edges { node { id subject } } } }"""

    async def subjects(filter_, order=None):
        data = await api.gql(query, {"filter": filter_, "orderBy": order}, token=token)
        return [e["node"]["subject"] for e in data["activities"]["edges"]]

    mine = {"customerId": {"eq": customer}}
    assert await subjects(mine) == ["a5", "a4", "a3", "a2", "a1", "a0"]
    assert await subjects(mine, [{"field": "OCCURRED_AT", "direction": "ASC"}]) == [
        "a0", "a1", "a2", "a3", "a4", "a5",
    ]  # fmt: skip
    assert await subjects({**mine, "kind": {"eq": "CALL"}}) == ["a5", "a0"]
    assert await subjects({"contactId": {"eq": contact}}) == ["a5", "a3", "a1"]
    window = {"gte": iso(base + dt.timedelta(days=1)), "lte": iso(base + dt.timedelta(days=2))}
    assert await subjects({**mine, "occurredAt": window}) == ["a2", "a1"]
    admin_id = str(tenant_a.user_ids["admin"])
    assert len(await subjects({**mine, "ownerId": {"eq": admin_id}})) == 6
    assert await subjects({**mine, "ownerId": {"eq": str(tenant_a.user_ids["sales"])}}) == []
