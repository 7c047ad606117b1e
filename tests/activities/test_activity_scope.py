"""Data scope of activities, tasks and appointments, for every kind of scope.

Activities go with their customer (exactly `visible_customers`: own customers and the
pool for own scope, the department subtree and the pool for team, assigned customers
for partners). Tasks and appointments go with their assignee / owner
(`people_visible`: the user, their department subtree, or everyone)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from activity_helpers import UPDATE_ACTIVITY, iso, now
from helpers import make_tenant

from app.activities import scheduling, service
from app.audit.service import SYSTEM
from app.auth.scope import EVERYTHING
from app.auth.tokens import issue_access_token
from app.customers import service as customers
from app.db import tenant_transaction

# person -> (role, team); teams: sales > east > shanghai, sales > west
PEOPLE = {
    "mgr_east": ("manager", "east"),
    "rep_east": ("sales", "east"),
    "rep_sh": ("sales", "shanghai"),
    "rep_west": ("sales", "west"),
    "viewer_west": ("viewer", "west"),
    "dist": ("distributor", None),
}
OWNERS = ("rep_east", "rep_sh", "rep_west", "admin", "pool")
CUSTOMERS_SEEN = {
    "admin": {"rep_east", "rep_sh", "rep_west", "admin", "pool"},
    "mgr_east": {"rep_east", "rep_sh", "pool"},
    "rep_east": {"rep_east", "pool"},
    "rep_sh": {"rep_sh", "pool"},
    "viewer_west": {"rep_west", "pool"},
    "dist": {"rep_west"},  # assigned to them
}
PEOPLE_SEEN = {
    "admin": {"admin", "mgr_east", "rep_east", "rep_sh", "rep_west", "viewer_west", "dist"},
    "mgr_east": {"mgr_east", "rep_east", "rep_sh"},
    "rep_east": {"rep_east"},
    "rep_sh": {"rep_sh"},
    "viewer_west": {"viewer_west", "rep_west"},
    "dist": {"dist"},
}


@pytest.fixture(scope="module")
async def org(api, owner, services):
    tenant = await make_tenant(owner, services, "actscope")
    admin = tenant.tokens["admin"]
    role = await api.gql(
        'mutation { createRole(input: {name: "distributor", dataScope: ASSIGNED,'
        ' permissions: ["customers:read", "activities:read"]}) { userErrors { message } } }',
        token=admin,
    )
    assert role["createRole"]["userErrors"] == []
    teams: dict[str, str] = {}
    for name, parent in (
        ("sales", None),
        ("east", "sales"),
        ("shanghai", "east"),
        ("west", "sales"),
    ):
        data = await api.gql(
            "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }",
            {"input": {"name": name, "parentId": teams.get(parent)}}, token=admin,
        )  # fmt: skip
        teams[name] = data["createTeam"]["team"]["id"]
    ids = {"admin": tenant.user_ids["admin"]}
    tokens = {"admin": admin}
    for person, (role_name, team) in PEOPLE.items():
        data = await api.gql(
            "mutation($input: CreateUserInput!) { createUser(input: $input) {"
            " user { id } userErrors { message } } }",
            {"input": {"email": f"{person}@{tenant.slug}.cn", "role": role_name,
                       "teamId": teams.get(team)}},
            token=admin,
        )  # fmt: skip
        assert data["createUser"]["userErrors"] == []
        ids[person] = uuid.UUID(data["createUser"]["user"]["id"])
        tokens[person] = await issue_access_token(
            keyring=services.keyring, settings=services.settings, tenant_id=tenant.id,
            user_id=ids[person], roles=[role_name],
        )  # fmt: skip
    records: dict[str, dict[str, str]] = {
        "customer": {},
        "activity": {},
        "task": {},
        "appointment": {},
    }
    actor = SYSTEM
    start = now() + dt.timedelta(days=3)
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        for who in OWNERS:
            row = await customers.create_customer(
                conn, actor=actor, who=EVERYTHING, customer_id=None,
                fields={"name": f"Scope {who}", "owner_id": ids.get(who)},
            )  # fmt: skip
            records["customer"][who] = str(row.id)
            activity = await service.log_activity(
                conn, actor=actor, who=EVERYTHING, activity_id=None,
                fields={"customer_id": row.id, "kind": "visit", "subject": f"visit {who}",
                        "owner_id": ids["admin"]},
            )  # fmt: skip
            records["activity"][who] = str(activity.id)
        await customers.update_customer(
            conn, actor=actor, who=EVERYTHING, customer_id=uuid.UUID(records["customer"]["rep_west"]),
            version=None, fields={"partner_id": ids["dist"]},
        )  # fmt: skip
        for i, person in enumerate(["admin", *PEOPLE]):
            task = await service.create_task(
                conn, actor=actor, who=EVERYTHING, task_id=None,
                fields={"title": f"task {person}", "due_at": start, "assignee_id": ids[person],
                        "customer_id": uuid.UUID(records["customer"]["pool"])},
            )  # fmt: skip
            records["task"][person] = str(task.id)
            scheduled = await scheduling.schedule_appointment(
                conn, actor=actor, who=EVERYTHING, appointment_id=None,
                fields={"title": f"visit {person}", "owner_id": ids[person],
                        "starts_at": start + dt.timedelta(hours=i),
                        "ends_at": start + dt.timedelta(hours=i, minutes=30),
                        "customer_id": uuid.UUID(records["customer"]["pool"])},
            )  # fmt: skip
            records["appointment"][person] = str(scheduled.row.id)
    return {"tenant": tenant, "tokens": tokens, "ids": ids, "records": records}


LISTS = """{ activities(first: 100) { totalCount edges { node { id customer { id } } } }
  tasks(first: 100) { totalCount edges { node { id } } }
  appointments(first: 100) { totalCount edges { node { id } } } }"""


@pytest.mark.parametrize("person", list(CUSTOMERS_SEEN))
async def test_lists_and_counts_follow_the_scope(api, org, person):
    data = await api.gql(LISTS, token=org["tokens"][person])
    records = org["records"]
    expected = {
        "activities": {records["activity"][c] for c in CUSTOMERS_SEEN[person]},
        "tasks": {records["task"][p] for p in PEOPLE_SEEN[person] if p in records["task"]},
        "appointments": {records["appointment"][p] for p in PEOPLE_SEEN[person]},
    }
    for field, ids in expected.items():
        got = {e["node"]["id"] for e in data[field]["edges"]}
        assert got == ids, (person, field)
        assert data[field]["totalCount"] == len(ids)
    # A nested customer is the one the activity belongs to, visible as well.
    assert all(e["node"]["customer"] for e in data["activities"]["edges"])


@pytest.mark.parametrize("person", ["rep_east", "mgr_east", "viewer_west", "dist"])
async def test_out_of_scope_by_id_looks_missing(api, org, person):
    records = org["records"]
    query = "query($id: ID!) { activity(id: $id) { id } task(id: $id) { id } appointment(id: $id) { id } }"
    for kind, by_key in records.items():
        if kind == "customer":
            continue
        for key, record_id in by_key.items():
            data = await api.gql(query, {"id": record_id}, token=org["tokens"][person])
            seen = key in (CUSTOMERS_SEEN if kind == "activity" else PEOPLE_SEEN)[person]
            assert (data[kind] is not None) == seen, (person, kind, key)


async def test_timeline_keeps_each_scope(api, org):
    records = org["records"]
    query = """query($id: ID!) { customerTimeline(customerId: $id, first: 100) {
      edges { node { kind id } } } }"""
    pool = records["customer"]["pool"]
    feed = await api.gql(query, {"id": pool}, token=org["tokens"]["rep_east"])
    items = {(n["node"]["kind"], n["node"]["id"]) for n in feed["customerTimeline"]["edges"]}
    assert items == {
        ("ACTIVITY", records["activity"]["pool"]),
        ("TASK_CREATED", records["task"]["rep_east"]),
        ("APPOINTMENT", records["appointment"]["rep_east"]),
    }
    for person, customer in (("rep_east", "rep_west"), ("dist", "pool"), ("viewer_west", "rep_sh")):
        data = await api.gql(
            query, {"id": records["customer"][customer]}, token=org["tokens"][person]
        )
        assert data == {"customerTimeline": None}, person
    assigned = await api.gql(
        query, {"id": records["customer"]["rep_west"]}, token=org["tokens"]["dist"]
    )
    assert [n["node"]["kind"] for n in assigned["customerTimeline"]["edges"]] == ["ACTIVITY"]


async def test_writes_obey_the_scope(api, gql, org):
    records, ids, tokens = org["records"], org["ids"], org["tokens"]
    rep = tokens["rep_east"]
    west = records["customer"]["rep_west"]
    logged = await gql.log(rep, west)
    assert logged["userErrors"] == [
        {"field": "customerId", "code": "NOT_FOUND", "message": "no such customer"}
    ]
    task = await gql.task(rep, customerId=west)
    assert task["userErrors"][0] == {
        "field": "customerId",
        "code": "NOT_FOUND",
        "message": "no such customer",
    }
    visit = await gql.schedule(rep, now() + dt.timedelta(days=9), customerId=west)
    assert visit["userErrors"][0]["field"] == "customerId"
    other = await gql.update_task(rep, id=records["task"]["rep_sh"], version=1, title="mine")
    assert other["userErrors"][0]["code"] == "NOT_FOUND"
    changed = await api.gql(
        UPDATE_ACTIVITY, {"input": {"id": records["activity"]["rep_sh"], "version": 1, "subject": "x"}},
        token=rep,
    )  # fmt: skip
    assert changed["updateActivity"]["userErrors"][0]["code"] == "NOT_FOUND"

    manager = tokens["mgr_east"]
    for person, allowed in (("rep_sh", True), ("rep_east", True), ("rep_west", False)):
        made = await gql.task(
            manager, assigneeId=str(ids[person]), dueAt=iso(now() + dt.timedelta(days=1))
        )
        assert (made["userErrors"] == []) == allowed, person
    moved = await gql.update_task(manager, id=records["task"]["rep_sh"], version=1, priority="HIGH")
    assert moved["task"]["priority"] == "HIGH"
    handed = await gql.update_task(
        manager, id=records["task"]["rep_sh"], version=2, assigneeId=str(ids["rep_west"])
    )
    assert handed["userErrors"][0]["field"] == "assigneeId"
    for_rep = await gql.schedule(
        manager, now() + dt.timedelta(days=20), ownerId=str(ids["rep_sh"]), title="joint visit"
    )
    assert for_rep["appointment"]["ownerId"] == str(ids["rep_sh"])
    errors = await api.errors(
        'mutation { createTask(input: {title: "x", dueAt: "2030-01-01T00:00:00Z"}) { task { id } } }',
        token=tokens["dist"],
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
