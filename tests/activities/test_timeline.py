"""The customer timeline: one feed, newest first, of activities, tasks (created and
completed), appointments and owner changes; keyset pages that stay exact while new
items arrive; a statement count that does not grow with the page; scope."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from helpers import make_tenant

from app.activities import scheduling, service
from app.audit.service import SYSTEM, Actor
from app.auth.scope import EVERYTHING
from app.customers import service as customers
from app.db import tenant_transaction

FEED = """query($id: ID!, $first: Int, $after: String) {
  customerTimeline(customerId: $id, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node {
      __typename at kind id
      ... on ActivityTimelineItem { activity { subject owner { email } } }
      ... on TaskTimelineItem { task { title status assignee { email } } }
      ... on AppointmentTimelineItem { appointment { title owner { email } } }
      ... on OwnerChangeTimelineItem {
        fromOwnerId toOwnerId changes toOwner { email } actor { email } }
    } }
  }
}"""
SHALLOW = """query($id: ID!, $first: Int, $after: String) {
  customerTimeline(customerId: $id, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { at kind id } } } }"""
T0 = dt.datetime(2021, 6, 1, 8, 0, tzinfo=dt.UTC)  # before anything written today


async def _add(services, tenant, customer_id, *, activities=0, at=None, tasks=0, done=0,
               appointments=0, owners=()) -> None:  # fmt: skip
    """Items on the customer's timeline, written as the services would."""
    admin = tenant.user_ids["admin"]
    actor = Actor("user", admin)
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        for i in range(activities):
            fields = {"kind": "call", "subject": f"call {i}", "owner_id": admin}
            if at is not None:
                fields["occurred_at"] = at(i)
            await service.log_activity(
                conn, actor=actor, who=EVERYTHING, activity_id=None,
                fields={**fields, "customer_id": customer_id},
            )  # fmt: skip
        for i in range(tasks):
            row = await service.create_task(
                conn, actor=actor, who=EVERYTHING, task_id=None,
                fields={"title": f"task {i}", "due_at": T0, "assignee_id": admin,
                        "customer_id": customer_id},
            )  # fmt: skip
            if i < done:
                await service.complete_task(
                    conn, actor=actor, who=EVERYTHING, task_id=row.id, version=None
                )
        for i in range(appointments):
            start = (at or (lambda n: T0 + dt.timedelta(hours=n)))(i)
            await scheduling.schedule_appointment(
                conn, actor=actor, who=EVERYTHING, appointment_id=None,
                fields={"title": f"visit {i}", "starts_at": start,
                        "ends_at": start + dt.timedelta(hours=1), "owner_id": admin,
                        "customer_id": customer_id},
            )  # fmt: skip
        for owner in owners:
            await customers.update_customer(
                conn, actor=SYSTEM, who=EVERYTHING, customer_id=customer_id, version=None,
                fields={"owner_id": owner},
            )  # fmt: skip


async def _customer(services, tenant, owner_id=None) -> uuid.UUID:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        row = await customers.create_customer(
            conn, actor=SYSTEM, who=EVERYTHING, customer_id=None,
            fields={"name": f"Timeline {uuid.uuid4().hex[:6]}", "owner_id": owner_id},
        )  # fmt: skip
    return row.id


async def _walk(api, token, customer_id, size, query=SHALLOW, after=None) -> list[dict]:
    nodes = []
    while True:
        page = (
            await api.gql(
                query, {"id": str(customer_id), "first": size, "after": after}, token=token
            )
        )["customerTimeline"]
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def _sort_key(node: dict) -> tuple:
    key = node["id"].rjust(20, "0") if node["kind"] == "OWNER_CHANGED" else node["id"]
    return (dt.datetime.fromisoformat(node["at"]), node["kind"].lower(), key)


@pytest.fixture(scope="module")
async def feed(owner, services):
    tenant = await make_tenant(owner, services, "timeline")
    sales = tenant.user_ids["sales"]
    customer = await _customer(services, tenant)
    # Many items at the same instant, so page boundaries fall inside ties.
    await _add(services, tenant, customer, activities=5, appointments=3, at=lambda i: T0)
    await _add(services, tenant, customer, activities=4, at=lambda i: T0 - dt.timedelta(days=i + 1))
    await _add(services, tenant, customer, tasks=3, done=2, owners=[sales, None, sales])
    return {"tenant": tenant, "customer": customer}


async def test_one_feed_newest_first(api, feed):
    tenant, customer = feed["tenant"], feed["customer"]
    data = await api.gql(FEED, {"id": str(customer), "first": 100}, token=tenant.tokens["admin"])
    timeline = data["customerTimeline"]
    nodes = [e["node"] for e in timeline["edges"]]
    kinds = [n["kind"] for n in nodes]
    assert len(nodes) == timeline["totalCount"] == 5 + 3 + 4 + 3 + 2 + 3
    assert sorted(nodes, key=_sort_key, reverse=True) == nodes
    assert kinds.count("TASK_CREATED") == 3 and kinds.count("TASK_COMPLETED") == 2
    assert kinds.count("OWNER_CHANGED") == 3
    changes = [n for n in nodes if n["kind"] == "OWNER_CHANGED"]
    sales = str(tenant.user_ids["sales"])
    assert [(c["fromOwnerId"], c["toOwnerId"]) for c in changes] == [
        (None, sales),
        (sales, None),
        (None, sales),
    ]  # fmt: skip  (the newest first: the last change was to sales again)
    assert changes[0]["toOwner"]["email"].startswith("sales@")
    assert changes[0]["actor"] is None  # the system changed it
    assert changes[0]["changes"]["owner_id"] == {"from": None, "to": sales}
    activity = next(n for n in nodes if n["kind"] == "ACTIVITY")
    assert activity["__typename"] == "ActivityTimelineItem"
    assert activity["activity"]["owner"]["email"].startswith("admin@")
    task = next(n for n in nodes if n["kind"] == "TASK_COMPLETED")
    assert task["task"]["status"] == "DONE"
    assert task["task"]["assignee"]["email"].startswith("admin@")
    visit = next(n for n in nodes if n["kind"] == "APPOINTMENT")
    assert visit["appointment"]["title"].startswith("visit")
    # Items at one instant: by kind, then id, both descending.
    tied = [n for n in nodes if dt.datetime.fromisoformat(n["at"]) == T0]
    assert [n["kind"] for n in tied] == ["APPOINTMENT"] * 3 + ["ACTIVITY"] * 5


@pytest.mark.parametrize("size", [1, 2, 3, 7])
async def test_pages_walk_the_same_feed(api, feed, size):
    token = feed["tenant"].tokens["admin"]
    everything = await _walk(api, token, feed["customer"], 100)
    assert await _walk(api, token, feed["customer"], size) == everything


async def test_pages_stay_exact_while_items_arrive(api, services, owner):
    """Fetch page 1, add items (new ones, one at page 1's last instant, one back-dated
    before everything), fetch on with the cursor: nothing repeated, nothing skipped."""
    tenant = await make_tenant(owner, services, "arrivals")
    token = tenant.tokens["admin"]
    customer = await _customer(services, tenant)
    await _add(services, tenant, customer, activities=12, at=lambda i: T0 - dt.timedelta(hours=i))
    await _add(
        services, tenant, customer, appointments=4, at=lambda i: T0 - dt.timedelta(hours=2 * i)
    )
    before = await _walk(api, token, customer, 100)
    page1 = (await api.gql(SHALLOW, {"id": str(customer), "first": 6}, token=token))[
        "customerTimeline"
    ]
    assert [e["node"] for e in page1["edges"]] == before[:6]

    await _add(services, tenant, customer, tasks=2, done=1, owners=[tenant.user_ids["sales"]])
    await _add(services, tenant, customer, activities=3, at=lambda i: dt.datetime.now(dt.UTC))
    oldest = T0 - dt.timedelta(days=30)
    await _add(services, tenant, customer, activities=1, at=lambda i: oldest)

    rest = await _walk(api, token, customer, 4, after=page1["pageInfo"]["endCursor"])
    assert [n for n in rest if n["at"] != oldest.isoformat()] == before[6:]
    assert rest[-1]["at"] == oldest.isoformat() and rest[-1]["kind"] == "ACTIVITY"
    seen = [n["id"] + n["kind"] for n in before[:6] + rest]
    assert len(seen) == len(set(seen))
    # The new items are at the top of a fresh first page.
    fresh = await _walk(api, token, customer, 100)
    assert len(fresh) == len(before) + 2 + 1 + 1 + 3 + 1


async def test_statements_do_not_grow_with_the_page(api, services, owner, sql_counter):
    tenant = await make_tenant(owner, services, "tlcount")
    customer = await _customer(services, tenant)
    # Old history, then recent items of every kind, so pages of 10 and of 50 both hold
    # every kind (a page loads each kind's records once).
    await _add(services, tenant, customer, activities=20, appointments=8,
               at=lambda i: T0 + dt.timedelta(hours=i))  # fmt: skip
    await _add(services, tenant, customer, tasks=13, done=9)
    await _add(services, tenant, customer, tasks=2, done=1, activities=2,
               owners=[tenant.user_ids["sales"], None] * 2)  # fmt: skip
    upcoming = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    await _add(services, tenant, customer, appointments=2,
               at=lambda i: upcoming + dt.timedelta(minutes=i))  # fmt: skip
    token = tenant.tokens["manager"]  # team scope: tasks/appointments scoped inside the feed
    admin = tenant.tokens["admin"]
    counts, statements = {}, {}
    for first in (10, 50):
        runs = []
        for _ in range(2):
            sql_counter.statements.clear()
            data = await api.gql(FEED, {"id": str(customer), "first": first}, token=admin)
            runs.append(list(sql_counter.statements))
        nodes = [e["node"] for e in data["customerTimeline"]["edges"]]
        assert len(nodes) == first
        assert {n["kind"] for n in nodes} == {
            "ACTIVITY", "TASK_CREATED", "TASK_COMPLETED", "APPOINTMENT", "OWNER_CHANGED",
        }  # fmt: skip
        statements[first] = min(runs, key=len)
        counts[first] = len(statements[first])
    assert counts[10] == counts[50], statements
    assert sum(" UNION ALL " in s for s in statements[50]) == 2  # the page and totalCount
    visible = await api.gql(SHALLOW, {"id": str(customer), "first": 100}, token=token)
    assert {e["node"]["kind"] for e in visible["customerTimeline"]["edges"]} == {
        "ACTIVITY", "OWNER_CHANGED",
    }, "the manager's team (only themself here) has none of the admin's tasks or visits"  # fmt: skip


async def test_invisible_customers_have_no_timeline(api, services, feed):
    tenant = feed["tenant"]
    owned_by_admin = await _customer(services, tenant, tenant.user_ids["admin"])
    await _add(services, tenant, owned_by_admin, activities=2)
    for customer_id in (str(owned_by_admin), str(uuid.uuid4()), "not-an-id"):
        data = await api.gql(SHALLOW, {"id": customer_id}, token=tenant.tokens["sales"])
        assert data == {"customerTimeline": None}
    errors = await api.errors(SHALLOW, {"id": str(feed["customer"]), "after": "bogus"},
                              token=tenant.tokens["admin"])  # fmt: skip
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_owner_changes_hide_protected_fields(api, services, owner):
    """An owner change made together with a credit limit shows the limit's history
    only to those who may see credit limits."""
    tenant = await make_tenant(owner, services, "tlcredit")
    customer = await _customer(services, tenant)
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        await customers.update_customer(
            conn, actor=SYSTEM, who=EVERYTHING, customer_id=customer, version=None,
            fields={"owner_id": tenant.user_ids["sales"], "credit_limit": Decimal("50000.00")},
        )  # fmt: skip
    seen = {}
    for role in ("sales", "admin"):
        data = await api.gql(FEED, {"id": str(customer)}, token=tenant.tokens[role])
        (item,) = [e["node"] for e in data["customerTimeline"]["edges"]]
        seen[role] = item["changes"]
    assert set(seen["sales"]) == {"owner_id"}
    assert seen["admin"]["credit_limit"] == {"from": None, "to": "50000.00"}
