"""Data scope and tenant isolation of activity links: a rep attaches activities only to
leads and opportunities they can see (a lead's scope follows its owner, an
opportunity's its owner) and sees the activities of a lead that is not converted only
with the lead; another tenant can neither read, list, count nor infer anything through
the new fields and filters, nor link to this tenant's ids."""

from __future__ import annotations

import uuid

import pytest
from activity_helpers import count_rows
from helpers import make_tenant

from app.activities.tables import activities
from app.auth.tokens import issue_access_token

LOG = """mutation($input: LogActivityInput!) { logActivity(input: $input) {
  activity { id customerId leadId opportunityId } userErrors { field code message } } }"""
UPDATE = """mutation($input: UpdateActivityInput!) { updateActivity(input: $input) {
  activity { id leadId } userErrors { field code message } } }"""
TASK = """mutation($input: CreateTaskInput!) { createTask(input: $input) {
  task { id } userErrors { field code message } } }"""
LIST = """query($filter: ActivityFilter) { activities(first: 50, filter: $filter) {
  totalCount edges { node { id } } } }"""
TASKS = """query($filter: TaskFilter) { tasks(first: 50, filter: $filter) {
  totalCount edges { node { id } } } }"""
GET = "query($id: ID!) { activity(id: $id) { id } }"
LEAD = """query($id: ID!) { lead(id: $id) { id activities(first: 10) { totalCount } } }"""
DEAL = """query($id: ID!) { opportunity(id: $id) { id activities(first: 10) { totalCount } } }"""
CREATE_LEAD = """mutation($input: CreateLeadInput!) { createLead(input: $input) {
  lead { id ownerId } userErrors { field code } } }"""


async def _lead(api, token, owner_id=None) -> str:
    fields = {"name": "张先生", "company": f"范围公司{uuid.uuid4().hex[:6]}"}
    if owner_id is not None:
        fields["ownerId"] = str(owner_id)
    payload = (await api.gql(CREATE_LEAD, {"input": fields}, token=token))["createLead"]
    assert payload["userErrors"] == [], payload
    assert payload["lead"]["ownerId"] == (str(owner_id) if owner_id else None)
    return payload["lead"]["id"]


async def _log(api, token, **fields) -> dict:
    fields = {"kind": "NOTE", "subject": f"scope {uuid.uuid4().hex}", **fields}
    return (await api.gql(LOG, {"input": fields}, token=token))["logActivity"]


@pytest.fixture(scope="module")
async def org(api, gql, owner, services):
    """Two reps (own scope), each with a lead, a customer and an opportunity; a pool
    lead; an opportunity of rep A on rep B's customer; activities on the leads."""
    tenant = await make_tenant(owner, services, "linkscope")
    admin = tenant.tokens["admin"]
    user = await api.gql(
        "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
        {"i": {"email": f"rep2@{tenant.slug}.cn", "role": "sales"}}, token=admin,
    )  # fmt: skip
    rep_b = uuid.UUID(user["createUser"]["user"]["id"])
    tokens = {
        "admin": admin,
        "a": tenant.tokens["sales"],
        "b": await issue_access_token(
            keyring=services.keyring, settings=services.settings, tenant_id=tenant.id,
            user_id=rep_b, roles=["sales"],
        ),
    }  # fmt: skip
    ids = {"a": tenant.user_ids["sales"], "b": rep_b}
    world = {"tenant": tenant, "tokens": tokens}
    for rep in ("a", "b"):
        world[f"lead_{rep}"] = await _lead(api, admin, ids[rep])
        world[f"customer_{rep}"] = await gql.customer(admin, owner_id=ids[rep])
        world[f"deal_{rep}"] = await gql.opportunity(
            admin, world[f"customer_{rep}"], ownerId=str(ids[rep])
        )
        logged = await _log(api, tokens[rep], leadId=world[f"lead_{rep}"])
        assert logged["userErrors"] == []
        world[f"activity_{rep}"] = logged["activity"]["id"]
    world["pool_lead"] = await _lead(api, admin)
    # Rep A's opportunity on rep B's customer: A sees the deal, not the customer.
    world["deal_a_on_b"] = await gql.opportunity(admin, world["customer_b"], ownerId=str(ids["a"]))
    return world


@pytest.mark.parametrize(
    ("link", "field", "code"),
    [
        ("lead_b", "leadId", "NOT_FOUND"),
        ("deal_b", "opportunityId", "NOT_FOUND"),
        ("deal_a_on_b", "opportunityId", "FORBIDDEN"),
    ],
)
async def test_a_rep_links_only_what_they_can_see(api, services, org, link, field, code):
    token = org["tokens"]["a"]
    subject = f"denied {uuid.uuid4().hex}"
    payload = await _log(api, token, subject=subject, **{field: org[link]})
    assert payload["activity"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, code)]
    task = await api.gql(
        TASK, {"input": {"title": subject, "dueAt": "2030-01-01T00:00:00Z", field: org[link]}},
        token=token,
    )  # fmt: skip
    assert [(e["field"], e["code"]) for e in task["createTask"]["userErrors"]] == [(field, code)]
    mine = await _log(api, token, customerId=org["customer_a"])
    moved = await api.gql(
        UPDATE, {"input": {"id": mine["activity"]["id"], "version": 1, field: org[link]}},
        token=token,
    )  # fmt: skip
    assert [(e["field"], e["code"]) for e in moved["updateActivity"]["userErrors"]] == [
        (field, code)
    ]
    assert (
        await count_rows(services, org["tenant"], activities, activities.c.subject == subject) == 0
    )
    # The admin may.
    assert (await _log(api, org["tokens"]["admin"], **{field: org[link]}))["userErrors"] == []


async def test_the_pool_lead_is_everyones(api, org):
    for rep in ("a", "b"):
        logged = await _log(api, org["tokens"][rep], leadId=org["pool_lead"])
        assert logged["userErrors"] == [] and logged["activity"]["customerId"] is None
    for rep in ("a", "b"):
        listed = await api.gql(
            LIST, {"filter": {"leadId": {"eq": org["pool_lead"]}}}, token=org["tokens"][rep]
        )
        assert listed["activities"]["totalCount"] == 2


async def test_activities_of_an_unconverted_lead_go_with_the_lead(api, org):
    a, b = org["tokens"]["a"], org["tokens"]["b"]
    theirs = {"leadId": {"eq": org["lead_b"]}}
    for token, visible in ((a, False), (b, True), (org["tokens"]["admin"], True)):
        listed = await api.gql(LIST, {"filter": theirs}, token=token)
        ids = {e["node"]["id"] for e in listed["activities"]["edges"]}
        assert (org["activity_b"] in ids) is visible
        assert (listed["activities"]["totalCount"] > 0) is visible
        got = await api.gql(GET, {"id": org["activity_b"]}, token=token)
        assert (got["activity"] is not None) is visible
        lead = await api.gql(LEAD, {"id": org["lead_b"]}, token=token)
        assert (lead["lead"] is not None) is visible
        if visible:
            assert lead["lead"]["activities"]["totalCount"] >= 1
    everything = await api.gql(LIST, {"filter": {"customerId": {"isNull": True}}}, token=a)
    ids = {e["node"]["id"] for e in everything["activities"]["edges"]}
    assert org["activity_a"] in ids and org["activity_b"] not in ids
    # Nor can rep A rewrite it.
    denied = await api.gql(
        UPDATE, {"input": {"id": org["activity_b"], "version": 1, "leadId": org["lead_a"]}},
        token=a,
    )  # fmt: skip
    assert [e["code"] for e in denied["updateActivity"]["userErrors"]] == ["NOT_FOUND"]


async def test_opportunity_activities_follow_the_scope(api, org):
    a = org["tokens"]["a"]
    await _log(api, org["tokens"]["b"], opportunityId=org["deal_b"])
    assert (await api.gql(DEAL, {"id": org["deal_b"]}, token=a))["opportunity"] is None
    listed = await api.gql(LIST, {"filter": {"opportunityId": {"eq": org["deal_b"]}}}, token=a)
    assert listed["activities"] == {"totalCount": 0, "edges": []}
    # Rep A's deal on rep B's customer: its activities go with the customer, which rep
    # A cannot see, so the deal shows none of them.
    await _log(api, org["tokens"]["admin"], opportunityId=org["deal_a_on_b"])
    deal = await api.gql(DEAL, {"id": org["deal_a_on_b"]}, token=a)
    assert deal["opportunity"]["activities"]["totalCount"] == 0
    admin = await api.gql(DEAL, {"id": org["deal_a_on_b"]}, token=org["tokens"]["admin"])
    assert admin["opportunity"]["activities"]["totalCount"] >= 1


@pytest.fixture(scope="module")
async def foreign(api, gql, tenant_a):
    """Tenant A's lead (with an activity and a task), customer and opportunity."""
    token = tenant_a.tokens["admin"]
    customer = await gql.customer(token)
    deal = await gql.opportunity(token, customer)
    lead = await gql.lead(token)
    logged = await _log(api, token, leadId=lead)
    on_deal = await _log(api, token, opportunityId=deal)
    await api.gql(
        TASK, {"input": {"title": "外部", "dueAt": "2030-01-01T00:00:00Z", "leadId": lead}},
        token=token,
    )  # fmt: skip
    return {"customer": customer, "deal": deal, "lead": lead,
            "activities": [logged["activity"]["id"], on_deal["activity"]["id"]]}  # fmt: skip


async def test_another_tenant_cannot_link_to_these_ids(api, services, tenant_a, tenant_b,
                                                       foreign):  # fmt: skip
    token = tenant_b.tokens["admin"]
    for field, key in (("leadId", "lead"), ("opportunityId", "deal")):
        subject = f"cross {uuid.uuid4().hex}"
        payload = await _log(api, token, subject=subject, **{field: foreign[key]})
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, "NOT_FOUND")]
        assert payload["userErrors"][0]["message"] in ("no such lead", "no such opportunity")
        task = await api.gql(
            TASK, {"input": {"title": subject, "dueAt": "2030-01-01T00:00:00Z",
                             field: foreign[key]}}, token=token,
        )  # fmt: skip
        assert [e["field"] for e in task["createTask"]["userErrors"]] == [field]
        for tenant in (tenant_a, tenant_b):
            assert (
                await count_rows(services, tenant, activities, activities.c.subject == subject) == 0
            )


async def test_another_tenant_cannot_read_count_or_infer(api, tenant_b, foreign):
    token = tenant_b.tokens["admin"]
    for filter_ in (
        {"leadId": {"eq": foreign["lead"]}},
        {"opportunityId": {"eq": foreign["deal"]}},
        {"leadId": {"in": [foreign["lead"]]}, "customerId": {"isNull": True}},
        {"opportunityId": {"isNull": False}, "customerId": {"eq": foreign["customer"]}},
    ):
        listed = await api.gql(LIST, {"filter": filter_}, token=token)
        assert listed["activities"] == {"totalCount": 0, "edges": []}, filter_
    tasks = await api.gql(TASKS, {"filter": {"leadId": {"eq": foreign["lead"]}}}, token=token)
    assert tasks["tasks"] == {"totalCount": 0, "edges": []}
    for activity in foreign["activities"]:
        assert (await api.gql(GET, {"id": activity}, token=token))["activity"] is None
    assert (await api.gql(LEAD, {"id": foreign["lead"]}, token=token))["lead"] is None
    assert (await api.gql(DEAL, {"id": foreign["deal"]}, token=token))["opportunity"] is None
    nested = await api.gql(
        "query($id: ID!) { customer(id: $id) { id opportunities { totalCount } } }",
        {"id": foreign["customer"]}, token=token,
    )  # fmt: skip
    assert nested["customer"] is None
    # Tenant B's own customers: the nested lists hold only B's rows, whatever the filter.
    own = await api.gql(
        """query($other: ID!) { customers(first: 100) { edges { node {
          opportunities(filter: {customerId: {eq: $other}}) { totalCount }
          timeline { edges { node { id } } } } } } }""",
        {"other": foreign["customer"]}, token=token,
    )  # fmt: skip
    for edge in own["customers"]["edges"]:
        assert edge["node"]["opportunities"]["totalCount"] == 0
        ids = {e["node"]["id"] for e in edge["node"]["timeline"]["edges"]}
        assert not ids & set(foreign["activities"])
