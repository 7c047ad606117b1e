"""Activities (and tasks) on a lead or an opportunity: one on an opportunity takes its
customer; one on a lead that is not converted has no customer; converting the lead
moves them onto what it became, in the conversion's transaction. Invalid links are
userErrors naming the field, and nothing is written. `Lead.activities` and
`Opportunity.activities` list them, one statement for a whole page of parents."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from activity_helpers import ACTIVITY_FIELDS, UPDATE_ACTIVITY, count_rows
from helpers import make_tenant
from sqlalchemy import func, select, update

from app.activities.tables import activities, tasks
from app.audit.service import Actor
from app.audit.tables import audit_log
from app.auth.scope import EVERYTHING
from app.db import tenant_transaction
from app.leads.convert import convert_lead
from app.pipeline.tables import opportunities

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"
FIELDS = f"{ACTIVITY_FIELDS} leadId opportunityId"
LOG = f"""mutation($input: LogActivityInput!) {{
  logActivity(input: $input) {{ activity {{ {FIELDS} }} userErrors {{ field code message }} }} }}"""
UPDATE = UPDATE_ACTIVITY.replace(ACTIVITY_FIELDS, FIELDS)
TASK = """mutation($input: CreateTaskInput!) { createTask(input: $input) {
  task { id customerId contactId leadId opportunityId version }
  userErrors { field code message } } }"""
LIST = """query($filter: ActivityFilter) { activities(first: 50, filter: $filter) {
  totalCount edges { node { id subject customerId leadId opportunityId } } } }"""
TASKS = """query($filter: TaskFilter) { tasks(first: 50, filter: $filter) {
  totalCount edges { node { id leadId opportunityId } } } }"""
CONVERT = """mutation($input: ConvertLeadInput!) { convertLead(input: $input) {
  lead { convertedCustomerId convertedContactId convertedOpportunityId }
  userErrors { field code message } } }"""
LEAD_ACTIVITIES = """query($first: Int) { leads(first: $first, orderBy: [{field: NAME}],
    filter: {search: "链接线索"}) { edges { node { name
  activities(first: 2) { totalCount pageInfo { hasNextPage }
    edges { node { subject owner { email } customer { name } } } } } } } }"""


def _operation(name: str) -> str:
    return (OPERATIONS / f"{name}.graphql").read_text()


@pytest.fixture(scope="module")
async def world(api, gql, owner, services):
    tenant = await make_tenant(owner, services, "links")
    token = tenant.tokens["sales"]
    sales = tenant.user_ids["sales"]
    customer = await gql.customer(token, owner_id=sales, name="链接客户")
    other = await gql.customer(token, owner_id=sales, name="另一个客户")
    contact = await gql.contact(token, customer, "李经理")
    deal = await gql.opportunity(token, customer, name="链接机会")
    other_deal = await gql.opportunity(token, other)
    return {
        "tenant": tenant, "token": token, "customer": customer, "other": other,
        "contact": contact, "deal": deal, "other_deal": other_deal,
    }  # fmt: skip


async def _log(api, token, **fields) -> dict:
    fields = {"kind": "CALL", "subject": f"s {uuid.uuid4().hex[:6]}", **fields}
    return (await api.gql(LOG, {"input": fields}, token=token))["logActivity"]


async def test_on_an_opportunity_takes_its_customer(api, world):
    token = world["token"]
    logged = await _log(api, token, opportunityId=world["deal"], contactId=world["contact"])
    assert logged["userErrors"] == []
    activity = logged["activity"]
    assert activity["opportunityId"] == world["deal"]
    assert activity["customerId"] == world["customer"]
    assert activity["contactId"] == world["contact"]
    assert activity["leadId"] is None
    same = await _log(api, token, opportunityId=world["deal"], customerId=world["customer"])
    assert same["userErrors"] == [] and same["activity"]["customerId"] == world["customer"]
    # It is in the customer's timeline, and the opportunity's list.
    feed = await api.gql(
        "query($id: ID!) { customerTimeline(customerId: $id, first: 50) { edges { node {"
        " id ... on ActivityTimelineItem { activity { opportunityId } } } } } }",
        {"id": world["customer"]}, token=token,
    )  # fmt: skip
    assert activity["id"] in {e["node"]["id"] for e in feed["customerTimeline"]["edges"]}
    data = await api.gql(_operation("opportunityActivities"), {"id": world["deal"]}, token=token)
    listed = data["opportunity"]["activities"]
    assert {activity["id"], same["activity"]["id"]} <= {e["node"]["id"] for e in listed["edges"]}
    assert listed["totalCount"] == len(listed["edges"])


async def test_on_a_lead_before_conversion_has_no_customer(api, gql, world):
    token = world["token"]
    lead = await gql.lead(token, company="链接线索甲")
    logged = await _log(api, token, leadId=lead, kind="VISIT", outcome="interested")
    assert logged["userErrors"] == []
    assert logged["activity"]["customerId"] is None
    assert logged["activity"]["leadId"] == lead
    got = await api.gql(
        "query($id: ID!) { activity(id: $id) { id customer { id } leadId } }",
        {"id": logged["activity"]["id"]}, token=token,
    )  # fmt: skip
    assert got["activity"] == {"id": logged["activity"]["id"], "customer": None, "leadId": lead}
    data = await api.gql(_operation("leadActivities"), {"id": lead}, token=token)
    assert [e["node"]["id"] for e in data["lead"]["activities"]["edges"]] == [
        logged["activity"]["id"]
    ]
    assert data["lead"]["activities"]["edges"][0]["node"]["customerId"] is None


@pytest.mark.parametrize(
    ("links", "errors"),
    [
        ({"leadId": "{lead}", "customerId": "{customer}"}, {"customerId": "LEAD_NOT_CONVERTED"}),
        ({"leadId": "{lead}", "contactId": "{contact}"}, {"contactId": "LEAD_NOT_CONVERTED"}),
        ({"leadId": "{lead}", "opportunityId": "{deal}"}, {"opportunityId": "LEAD_NOT_CONVERTED"}),
        ({"leadId": "{missing}"}, {"leadId": "NOT_FOUND"}),
        ({"leadId": "not-an-id"}, {"leadId": "NOT_FOUND"}),
        ({"leadId": "{deleted_lead}"}, {"leadId": "NOT_FOUND"}),
        ({"opportunityId": "{missing}"}, {"opportunityId": "NOT_FOUND"}),
        ({"opportunityId": "{deleted_deal}"}, {"opportunityId": "NOT_FOUND"}),
        ({"opportunityId": "{deal}", "customerId": "{other}"}, {"customerId": "MISMATCH"}),
        ({"opportunityId": "{other_deal}", "contactId": "{contact}"}, {"contactId": "MISMATCH"}),
        ({}, {"customerId": "REQUIRED"}),
        ({"customerId": None, "leadId": None}, {"customerId": "REQUIRED"}),
    ],
)
async def test_invalid_links_name_the_field_and_write_nothing(
    api, gql, services, world, links, errors
):
    token, tenant = world["token"], world["tenant"]
    lead = await gql.lead(token)
    deleted_lead = await gql.lead(token)
    await api.gql(
        "mutation($i: DeleteLeadInput!) { deleteLead(input: $i) { userErrors { code } } }",
        {"i": {"id": deleted_lead, "version": 1}}, token=token,
    )  # fmt: skip
    deleted_deal = await gql.opportunity(token, world["other"])
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        await conn.execute(  # no mutation deletes opportunities (yet); a deleted one
            update(opportunities)
            .where(opportunities.c.id == uuid.UUID(deleted_deal))
            .values(deleted_at=func.now())
        )
    names = {**world, "lead": lead, "deleted_lead": deleted_lead, "deleted_deal": deleted_deal,
             "missing": str(uuid.uuid4())}  # fmt: skip
    fields = {
        k: (names[v[1:-1]] if isinstance(v, str) and v.startswith("{") else v)
        for k, v in links.items()
    }
    subject = f"invalid {uuid.uuid4().hex}"
    payload = await _log(api, token, subject=subject, **fields)
    assert payload["activity"] is None
    assert {e["field"]: e["code"] for e in payload["userErrors"]} == errors
    assert all(e["message"] for e in payload["userErrors"])
    assert await count_rows(services, tenant, activities, activities.c.subject == subject) == 0
    # Tasks follow the same rules (they need no customer or lead).
    if errors != {"customerId": "REQUIRED"}:
        title = f"invalid {uuid.uuid4().hex}"
        task = await api.gql(
            TASK, {"input": {"title": title, "dueAt": "2030-01-01T00:00:00Z", **fields}},
            token=token,
        )  # fmt: skip
        assert {e["field"]: e["code"] for e in task["createTask"]["userErrors"]} == errors
        assert await count_rows(services, tenant, tasks, tasks.c.title == title) == 0


async def test_update_moves_the_links(api, gql, world):
    token = world["token"]
    activity = (await _log(api, token, customerId=world["other"]))["activity"]
    on_deal = await api.gql(
        UPDATE, {"input": {"id": activity["id"], "version": 1, "opportunityId": world["deal"]}},
        token=token,
    )  # fmt: skip
    moved = on_deal["updateActivity"]
    assert moved["userErrors"] == []
    assert moved["activity"]["customerId"] == world["customer"]
    assert moved["activity"]["version"] == 2
    wrong = await api.gql(
        UPDATE, {"input": {"id": activity["id"], "version": 2, "customerId": world["other"]}},
        token=token,
    )  # fmt: skip
    assert [(e["field"], e["code"]) for e in wrong["updateActivity"]["userErrors"]] == [
        ("customerId", "MISMATCH")
    ]
    lead = await gql.lead(token)
    on_lead = await api.gql(
        UPDATE, {"input": {"id": activity["id"], "version": 2, "leadId": lead}}, token=token
    )
    after = on_lead["updateActivity"]["activity"]
    assert on_lead["updateActivity"]["userErrors"] == []
    assert (after["leadId"], after["customerId"], after["opportunityId"]) == (lead, None, None)
    unlinked = await api.gql(
        UPDATE, {"input": {"id": activity["id"], "version": 3, "leadId": None}}, token=token
    )
    assert [(e["field"], e["code"]) for e in unlinked["updateActivity"]["userErrors"]] == [
        ("customerId", "REQUIRED")
    ]


async def test_filters_by_lead_and_opportunity(api, gql, world):
    token = world["token"]
    lead = await gql.lead(token)
    on_lead = [(await _log(api, token, leadId=lead))["activity"]["id"] for _ in range(2)]
    deal = await gql.opportunity(token, world["customer"])
    on_deal = (await _log(api, token, opportunityId=deal))["activity"]["id"]
    by_lead = await api.gql(LIST, {"filter": {"leadId": {"eq": lead}}}, token=token)
    assert {e["node"]["id"] for e in by_lead["activities"]["edges"]} == set(on_lead)
    assert by_lead["activities"]["totalCount"] == 2
    by_deal = await api.gql(LIST, {"filter": {"opportunityId": {"in": [deal]}}}, token=token)
    assert [e["node"]["id"] for e in by_deal["activities"]["edges"]] == [on_deal]
    both = await api.gql(
        LIST, {"filter": {"leadId": {"eq": lead}, "customerId": {"isNull": True}}}, token=token
    )
    assert both["activities"]["totalCount"] == 2
    bad = await api.errors(LIST, {"filter": {"leadId": {"eq": "nope"}}}, token=token)
    assert bad[0]["extensions"]["code"] == "BAD_USER_INPUT" and "leadId" in bad[0]["message"]
    task = await api.gql(
        TASK, {"input": {"title": "跟进", "dueAt": "2030-01-01T00:00:00Z", "opportunityId": deal}},
        token=token,
    )  # fmt: skip
    assert task["createTask"]["task"]["customerId"] == world["customer"]
    listed = await api.gql(TASKS, {"filter": {"opportunityId": {"eq": deal}}}, token=token)
    assert [e["node"]["id"] for e in listed["tasks"]["edges"]] == [task["createTask"]["task"]["id"]]


@pytest.mark.parametrize("create_opportunity", [True, False])
async def test_conversion_moves_them_onto_what_the_lead_became(
    api, gql, services, world, create_opportunity
):
    token, tenant = world["token"], world["tenant"]
    lead = await gql.lead(token, name="赵总", company=f"转化公司{uuid.uuid4().hex[:6]}")
    logged = [(await _log(api, token, leadId=lead))["activity"] for _ in range(2)]
    deleted = (await _log(api, token, leadId=lead))["activity"]
    await api.gql(
        "mutation($i: DeleteActivityInput!) { deleteActivity(input: $i) { userErrors { code } } }",
        {"i": {"id": deleted["id"]}}, token=token,
    )  # fmt: skip
    task = await api.gql(
        TASK, {"input": {"title": "回访", "dueAt": "2030-01-01T00:00:00Z", "leadId": lead}},
        token=token,
    )  # fmt: skip
    task_id = task["createTask"]["task"]["id"]
    converted = await api.gql(
        CONVERT, {"input": {"id": lead, "version": 1, "createOpportunity": create_opportunity}},
        token=token,
    )  # fmt: skip
    assert converted["convertLead"]["userErrors"] == []
    became = converted["convertLead"]["lead"]
    customer, contact = became["convertedCustomerId"], became["convertedContactId"]
    deal = became["convertedOpportunityId"]
    assert (deal is not None) is create_opportunity
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        rows = {
            str(r.id): r
            for table in (activities, tasks)
            for r in await conn.execute(select(table).where(table.c.lead_id == uuid.UUID(lead)))
        }
        audit = (
            await conn.execute(
                select(audit_log.c.action, audit_log.c.changes).where(
                    audit_log.c.entity_id == uuid.UUID(lead)
                )
            )
        ).all()
    assert set(rows) == {a["id"] for a in logged} | {deleted["id"], task_id}
    for row in rows.values():
        assert str(row.customer_id) == customer and str(row.contact_id) == contact
        assert (str(row.opportunity_id) if row.opportunity_id else None) == deal
        assert row.version >= 2
    moved = next(c for a, c in audit if a == "lead.link_records")
    assert moved["moved"]["to"] == {"activities": 3, "tasks": 1}
    # The customer's timeline has them; the lead still lists them.
    feed = await api.gql(
        "query($id: ID!) { customer(id: $id) { timeline(first: 20) { edges { node { id kind } } }"
        " } }", {"id": customer}, token=token,
    )  # fmt: skip
    ids = {e["node"]["id"] for e in feed["customer"]["timeline"]["edges"]}
    assert {a["id"] for a in logged} | {task_id} <= ids and deleted["id"] not in ids
    data = await api.gql(_operation("leadActivities"), {"id": lead}, token=token)
    assert data["lead"]["activities"]["totalCount"] == 2
    assert {e["node"]["customerId"] for e in data["lead"]["activities"]["edges"]} == {customer}
    # An activity logged on the converted lead goes where the others went.
    later = (await _log(api, token, leadId=lead))["activity"]
    assert (later["customerId"], later["opportunityId"]) == (customer, deal)


async def test_failed_conversion_moves_nothing(api, gql, services, world):
    token, tenant = world["token"], world["tenant"]
    lead = await gql.lead(token)
    logged = (await _log(api, token, leadId=lead))["activity"]
    failed = await api.gql(
        CONVERT,
        {"input": {"id": lead, "version": 1, "opportunityName": "x" * 500,
                   "createOpportunity": True}},
        token=token,
    )  # fmt: skip
    assert failed["convertLead"]["userErrors"]
    assert await count_rows(
        services, tenant, activities,
        activities.c.id == uuid.UUID(logged["id"]), activities.c.customer_id.is_(None),
        activities.c.version == 1,
    ) == 1  # fmt: skip


async def test_lead_activities_in_a_list_cost_the_same_for_any_page(api, gql, owner, services,
                                                                    sql_counter):  # fmt: skip
    tenant = await make_tenant(owner, services, "leadacts")
    token = tenant.tokens["sales"]
    for i in range(9):
        lead = await gql.lead(token, name=f"链接线索{i}")
        for _ in range(3):
            assert (await _log(api, token, leadId=lead))["userErrors"] == []
    counts, statements = {}, {}
    for first in (2, 9):
        runs = []
        for _ in range(2):
            sql_counter.statements.clear()
            data = await api.gql(LEAD_ACTIVITIES, {"first": first}, token=token)
            runs.append(list(sql_counter.statements))
        nodes = [e["node"] for e in data["leads"]["edges"]]
        assert len(nodes) == first
        for node in nodes:
            assert node["activities"]["totalCount"] == 3
            assert node["activities"]["pageInfo"]["hasNextPage"] is True
            assert [e["node"]["customer"] for e in node["activities"]["edges"]] == [None, None]
            assert node["activities"]["edges"][0]["node"]["owner"]["email"].startswith("sales@")
        statements[first] = min(runs, key=len)
        counts[first] = len(statements[first])
    assert counts[2] == counts[9], statements
    assert sum("JOIN LATERAL" in s for s in statements[9]) == 1


async def test_logging_during_a_conversion_waits_for_it(api, gql, services, world):
    """A log on a lead being converted waits for the conversion (the lead's row lock)
    and then lands on the customer it became: never on a converted lead without one."""
    token, tenant = world["token"], world["tenant"]
    lead = await gql.lead(token)
    actor = Actor("user", tenant.user_ids["sales"])
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        conversion = await convert_lead(
            conn, actor=actor, who=EVERYTHING, lead_id=uuid.UUID(lead), version=None,
            customer_id=None, opportunity=None,
        )  # fmt: skip
        logging = asyncio.create_task(_log(api, token, leadId=lead))
        await asyncio.sleep(0.5)
        assert not logging.done()
    logged = await logging
    assert logged["userErrors"] == []
    assert logged["activity"]["customerId"] == str(conversion.customer.id)
