"""`Customer.opportunities` and `Customer.timeline`: the same lists as the top-level
`opportunities` (with customerId) and `customerTimeline`, with their pagination,
ordering, permissions and data scope; in a list of customers, one statement per
nested field for the whole page, whatever its length."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import make_tenant

from app.activities import service
from app.audit.service import Actor
from app.auth.scope import EVERYTHING
from app.auth.tokens import issue_access_token
from app.db import tenant_transaction
from app.pipeline import service as pipeline

OPPORTUNITY_FIELDS = "id name amount status ownerId"
NESTED_OPPORTUNITIES = f"""query($id: ID!, $first: Int, $after: String,
    $filter: OpportunityFilter, $orderBy: [OpportunityOrder!]) {{
  customer(id: $id) {{ id
    opportunities(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {{
      totalCount pageInfo {{ hasNextPage hasPreviousPage endCursor }}
      edges {{ cursor node {{ {OPPORTUNITY_FIELDS} }} }} }} }} }}"""
TOP_OPPORTUNITIES = f"""query($first: Int, $filter: OpportunityFilter,
    $orderBy: [OpportunityOrder!]) {{
  opportunities(first: $first, filter: $filter, orderBy: $orderBy) {{
    totalCount edges {{ cursor node {{ {OPPORTUNITY_FIELDS} }} }} }} }}"""
NESTED_TIMELINE = """query($id: ID!, $first: Int, $after: String) {
  customer(id: $id) { timeline(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { at kind id } } } } }"""
TOP_TIMELINE = """query($id: ID!, $first: Int, $after: String) {
  customerTimeline(customerId: $id, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { at kind id } } } }"""
PAGE = """query($tag: String!, $first: Int) {
  customers(first: $first, filter: {tags: {any: [$tag]}}, orderBy: [{field: NAME}]) {
    edges { node { id name
      opportunities(first: 2, orderBy: [{field: AMOUNT, direction: DESC}]) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { node { name amount owner { email } stage { name } } } }
      timeline(first: 3) {
        totalCount pageInfo { hasNextPage }
        edges { node { kind at ... on ActivityTimelineItem { activity { subject owner { email } } }
          ... on TaskTimelineItem { task { title } } } } }
    } } } }"""
T0 = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"


async def _customers(api, token, tag, count, owner_id=None) -> list[str]:
    ids = []
    for i in range(count):
        fields = {"name": f"{tag} {i:02d}", "tags": [tag]}
        if owner_id is not None:
            fields["ownerId"] = str(owner_id)
        data = await api.gql(
            """mutation($input: CreateCustomerInput!) {
              createCustomer(input: $input) { customer { id } userErrors { field } } }""",
            {"input": fields}, token=token,
        )  # fmt: skip
        ids.append(data["createCustomer"]["customer"]["id"])
    return ids


async def _history(services, tenant, customer_id, *, opportunities=0, activities=0, tasks=0,
                   owner=None, at=None) -> None:  # fmt: skip
    """Opportunities (amounts 100, 200, ...), activities and tasks of one customer,
    written through the services as the API would."""
    owner = owner or tenant.user_ids["admin"]
    actor = Actor("user", owner)
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        for i in range(opportunities):
            await pipeline.create_opportunity(
                conn, actor=actor, who=EVERYTHING, opportunity_id=None,
                customer_id=uuid.UUID(str(customer_id)), pipeline_id=None, stage_id=None,
                fields={"name": f"deal {i}", "amount": Decimal(100 * (i + 1)), "owner_id": owner},
            )  # fmt: skip
        for i in range(activities):
            fields = {"kind": "call", "subject": f"call {i}", "owner_id": owner,
                      "customer_id": uuid.UUID(str(customer_id))}  # fmt: skip
            if at is not None:
                fields["occurred_at"] = at(i)
            await service.log_activity(
                conn, actor=actor, who=EVERYTHING, activity_id=None, fields=fields
            )
        for i in range(tasks):
            await service.create_task(
                conn, actor=actor, who=EVERYTHING, task_id=None,
                fields={"title": f"task {i}", "due_at": T0, "assignee_id": owner,
                        "customer_id": uuid.UUID(str(customer_id))},
            )  # fmt: skip


@pytest.fixture(scope="module")
async def shop(api, owner, services):
    tenant = await make_tenant(owner, services, "nested")
    admin = tenant.tokens["admin"]
    tag = f"n{uuid.uuid4().hex[:6]}"
    customers = await _customers(api, admin, tag, 4)
    for i, customer in enumerate(customers[:3]):
        await _history(services, tenant, customer, opportunities=i + 2, activities=i + 1, tasks=1)
    # customers[3] has nothing: its nested lists are empty, not missing.
    return {"tenant": tenant, "tag": tag, "customers": customers}


@pytest.mark.parametrize(
    ("filter_", "order"),
    [
        ({}, None),
        ({"status": {"eq": "OPEN"}}, [{"field": "AMOUNT", "direction": "DESC"}]),
        ({"amount": {"gte": "150"}}, [{"field": "NAME"}]),
        ({"search": "deal 1"}, [{"field": "CREATED_AT", "direction": "DESC"}]),
    ],
)
async def test_same_list_as_the_top_level_query(api, shop, filter_, order):
    token = shop["tenant"].tokens["admin"]
    customer = shop["customers"][2]
    nested = (
        await api.gql(
            NESTED_OPPORTUNITIES,
            {"id": customer, "first": 50, "filter": filter_, "orderBy": order},
            token=token,
        )
    )["customer"]["opportunities"]
    top = (
        await api.gql(
            TOP_OPPORTUNITIES,
            {"first": 50, "filter": {**filter_, "customerId": {"eq": customer}}, "orderBy": order},
            token=token,
        )
    )["opportunities"]
    assert nested["edges"] == top["edges"]
    assert nested["totalCount"] == top["totalCount"] == len(top["edges"]) > 0
    assert nested["pageInfo"]["hasNextPage"] is False


async def test_pages_walk_the_whole_list(api, shop):
    token = shop["tenant"].tokens["admin"]
    customer = shop["customers"][2]
    order = [{"field": "AMOUNT", "direction": "DESC"}]
    everything = (
        await api.gql(
            NESTED_OPPORTUNITIES, {"id": customer, "first": 50, "orderBy": order}, token=token
        )  # fmt: skip
    )["customer"]["opportunities"]["edges"]
    assert [e["node"]["amount"] for e in everything] == ["400.00", "300.00", "200.00", "100.00"]
    walked, after, pages = [], None, 0
    while True:
        page = (
            await api.gql(
                NESTED_OPPORTUNITIES,
                {"id": customer, "first": 3, "after": after, "orderBy": order},
                token=token,
            )
        )["customer"]["opportunities"]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        assert page["totalCount"] == 4
        walked += page["edges"]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 2 and walked == everything


async def test_timeline_is_the_customer_timeline(api, shop):
    token = shop["tenant"].tokens["admin"]
    customer = shop["customers"][2]
    after = None
    for first in (50, 2, 2):
        variables = {"id": customer, "first": first, "after": after}
        nested = (await api.gql(NESTED_TIMELINE, variables, token=token))["customer"]["timeline"]
        top = (await api.gql(TOP_TIMELINE, variables, token=token))["customerTimeline"]
        assert nested == top
        assert nested["pageInfo"]["hasPreviousPage"] is (after is not None)
        after = nested["pageInfo"]["endCursor"] if first == 2 else None
    assert nested["totalCount"] == 4 and len(nested["edges"]) == 2


async def test_cursors_stay_exact_while_items_arrive(api, services, owner):
    """Page 1, then new opportunities and activities (newer, and one back-dated), then
    the next pages from page 1's cursor: nothing repeated, nothing skipped."""
    tenant = await make_tenant(owner, services, "nestarrive")
    token = tenant.tokens["admin"]
    (customer,) = await _customers(api, token, "arrive", 1)
    await _history(services, tenant, customer, opportunities=5, activities=6,
                   at=lambda i: T0 - dt.timedelta(hours=i))  # fmt: skip
    newest_first = [{"field": "CREATED_AT", "direction": "DESC"}]

    async def walk(query, field, after, **variables):
        nodes = []
        while True:
            data = await api.gql(
                query, {"id": customer, "first": 2, "after": after, **variables}, token=token
            )
            page = data["customer"][field]
            nodes += [e["node"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return nodes
            after = page["pageInfo"]["endCursor"]

    deals_before = await walk(NESTED_OPPORTUNITIES, "opportunities", None, orderBy=newest_first)
    feed_before = await walk(NESTED_TIMELINE, "timeline", None)
    deals_page1 = (await api.gql(NESTED_OPPORTUNITIES, {"id": customer, "first": 2,
                                                        "orderBy": newest_first}, token=token)
                   )["customer"]["opportunities"]  # fmt: skip
    feed_page1 = (await api.gql(NESTED_TIMELINE, {"id": customer, "first": 2}, token=token))[
        "customer"
    ]["timeline"]

    await _history(services, tenant, customer, opportunities=2, activities=2,
                   at=lambda i: dt.datetime.now(dt.UTC))  # fmt: skip
    oldest = T0 - dt.timedelta(days=40)
    await _history(services, tenant, customer, activities=1, at=lambda i: oldest)

    deals_rest = await walk(NESTED_OPPORTUNITIES, "opportunities",
                            deals_page1["pageInfo"]["endCursor"], orderBy=newest_first)  # fmt: skip
    assert [e["node"] for e in deals_page1["edges"]] + deals_rest == deals_before
    feed_rest = await walk(NESTED_TIMELINE, "timeline", feed_page1["pageInfo"]["endCursor"])
    assert [e["node"] for e in feed_page1["edges"]] == feed_before[:2]
    assert feed_rest[:-1] == feed_before[2:]
    assert feed_rest[-1]["at"] == oldest.isoformat() and feed_rest[-1]["kind"] == "ACTIVITY"


async def test_each_customer_of_a_list_gets_its_own_page(api, shop):
    token = shop["tenant"].tokens["admin"]
    data = await api.gql(PAGE, {"tag": shop["tag"], "first": 10}, token=token)
    nodes = [e["node"] for e in data["customers"]["edges"]]
    assert [n["id"] for n in nodes] == shop["customers"]
    for i, node in enumerate(nodes[:3]):
        deals = node["opportunities"]
        assert deals["totalCount"] == i + 2
        assert [e["node"]["amount"] for e in deals["edges"]] == [
            f"{100 * (i + 2)}.00", f"{100 * (i + 1)}.00",
        ]  # fmt: skip
        assert deals["pageInfo"]["hasNextPage"] is (i > 0)
        assert deals["edges"][0]["node"]["owner"]["email"].startswith("admin@")
        assert deals["edges"][0]["node"]["stage"]["name"]
        feed = node["timeline"]
        assert feed["totalCount"] == (i + 1) + 1  # activities, and the task's creation
        assert len(feed["edges"]) == min(3, feed["totalCount"])
        activity = next(e["node"] for e in feed["edges"] if e["node"]["kind"] == "ACTIVITY")
        assert activity["activity"]["owner"]["email"].startswith("admin@")
    empty = nodes[3]
    assert empty["opportunities"] == {
        "totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None}, "edges": [],
    }  # fmt: skip
    assert empty["timeline"] == {"totalCount": 0, "pageInfo": {"hasNextPage": False}, "edges": []}


async def test_statements_do_not_grow_with_the_number_of_customers(api, services, owner,
                                                                   sql_counter):  # fmt: skip
    tenant = await make_tenant(owner, services, "nestcount")
    token = tenant.tokens["manager"]  # team scope: the scope predicates are in the SQL
    manager = tenant.user_ids["manager"]
    small, large = f"s{uuid.uuid4().hex[:6]}", f"l{uuid.uuid4().hex[:6]}"
    for tag, count in ((small, 2), (large, 12)):
        for customer in await _customers(api, token, tag, count, owner_id=manager):
            await _history(services, tenant, customer, opportunities=3, activities=2, tasks=1,
                           owner=manager)  # fmt: skip
    counts, statements = {}, {}
    for tag, count in ((small, 2), (large, 12)):
        runs = []
        for _ in range(2):  # the second run: caches (principal, definitions) are warm
            sql_counter.statements.clear()
            data = await api.gql(PAGE, {"tag": tag, "first": 50}, token=token)
            runs.append(list(sql_counter.statements))
        assert len(data["customers"]["edges"]) == count
        assert all(
            len(e["node"]["opportunities"]["edges"]) == 2 for e in data["customers"]["edges"]
        )
        statements[tag] = min(runs, key=len)
        counts[tag] = len(statements[tag])
    assert counts[small] == counts[large], statements
    laterals = [s for s in statements[large] if "JOIN LATERAL" in s]
    assert len(laterals) == 3, laterals  # opportunities, timeline, and the timeline's totals
    assert counts[large] <= 10, statements[large]


async def test_aliases_with_other_arguments_are_other_lists(api, shop, sql_counter):
    token = shop["tenant"].tokens["admin"]
    sql_counter.statements.clear()
    data = await api.gql(
        """query($tag: String!) { customers(first: 10, filter: {tags: {any: [$tag]}},
             orderBy: [{field: NAME}]) { edges { node {
          big: opportunities(first: 1, orderBy: [{field: AMOUNT, direction: DESC}]) {
            edges { node { amount } } }
          small: opportunities(first: 1, orderBy: [{field: AMOUNT}]) { edges { node { amount } } }
        } } } }""",
        {"tag": shop["tag"]}, token=token,
    )  # fmt: skip
    node = data["customers"]["edges"][2]["node"]
    assert node["big"]["edges"][0]["node"]["amount"] == "400.00"
    assert node["small"]["edges"][0]["node"]["amount"] == "100.00"
    assert sum("JOIN LATERAL" in s for s in sql_counter.statements) == 2


async def test_each_field_needs_its_permission(api, services, shop):
    """Without opportunities:read or activities:read, that field alone is refused
    (FORBIDDEN, null); the customers and the other fields are still answered."""
    tenant = shop["tenant"]
    admin = tenant.tokens["admin"]
    tokens = {}
    for name, permissions in (
        ("cust-only", ["customers:read"]),
        ("cust-deals", ["customers:read", "opportunities:read"]),
    ):
        created = await api.gql(
            "mutation($i: CreateRoleInput!) { createRole(input: $i) { userErrors { message } } }",
            {"i": {"name": name, "permissions": permissions, "dataScope": "ALL"}}, token=admin,
        )  # fmt: skip
        assert created["createRole"]["userErrors"] == []
        user = await api.gql(
            "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
            {"i": {"email": f"{name}@{tenant.slug}.cn", "role": name}}, token=admin,
        )  # fmt: skip
        tokens[name] = await issue_access_token(
            keyring=services.keyring, settings=services.settings, tenant_id=tenant.id,
            user_id=uuid.UUID(user["createUser"]["user"]["id"]), roles=[name],
        )  # fmt: skip
    query = """query($tag: String!) { customers(first: 10, filter: {tags: {any: [$tag]}},
      orderBy: [{field: NAME}]) { edges { node { name
        opportunities(first: 1) { totalCount } timeline(first: 1) { totalCount } } } } }"""
    response = await api.post(query, {"tag": shop["tag"]}, token=tokens["cust-only"])
    body = response.json()
    nodes = [e["node"] for e in body["data"]["customers"]["edges"]]
    assert [n["name"] for n in nodes] == [f"{shop['tag']} {i:02d}" for i in range(4)]
    assert all(n["opportunities"] is None and n["timeline"] is None for n in nodes)
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert {e["path"][-1] for e in body["errors"]} == {"opportunities", "timeline"}
    assert len(body["errors"]) == 8

    body = (await api.post(query, {"tag": shop["tag"]}, token=tokens["cust-deals"])).json()
    nodes = [e["node"] for e in body["data"]["customers"]["edges"]]
    assert [n["opportunities"]["totalCount"] for n in nodes] == [2, 3, 4, 0]
    assert all(n["timeline"] is None for n in nodes)
    assert {e["path"][-1] for e in body["errors"]} == {"timeline"}


async def test_data_scope_is_the_top_level_one(api, services, owner):
    """A rep sees a pool customer, but of its opportunities only their own (an
    opportunity's scope follows its owner), and in its timeline only their tasks."""
    tenant = await make_tenant(owner, services, "nestscope")
    admin, sales = tenant.user_ids["admin"], tenant.user_ids["sales"]
    (customer,) = await _customers(api, tenant.tokens["admin"], "pool", 1)
    await _history(services, tenant, customer, opportunities=2, tasks=1, owner=admin)
    await _history(services, tenant, customer, opportunities=1, tasks=1, owner=sales)
    seen = {}
    for role in ("admin", "sales"):
        token = tenant.tokens[role]
        nested = (await api.gql(NESTED_OPPORTUNITIES, {"id": customer, "first": 10},
                                token=token))["customer"]["opportunities"]  # fmt: skip
        top = (await api.gql(TOP_OPPORTUNITIES, {"first": 10, "filter": {
            "customerId": {"eq": customer}}}, token=token))["opportunities"]  # fmt: skip
        assert nested["edges"] == top["edges"]
        seen[role] = {e["node"]["ownerId"] for e in nested["edges"]}, nested["totalCount"]
        feed = await api.gql(NESTED_TIMELINE, {"id": customer, "first": 10}, token=token)
        assert feed["customer"]["timeline"]["totalCount"] == (2 if role == "admin" else 1)
    assert seen["admin"] == ({str(admin), str(sales)}, 3)
    assert seen["sales"] == ({str(sales)}, 1)


async def test_bad_arguments_are_bad_input(api, shop):
    token = shop["tenant"].tokens["admin"]
    customer = shop["customers"][0]
    for query, variables in (
        (NESTED_OPPORTUNITIES, {"id": customer, "after": "bogus"}),
        (NESTED_OPPORTUNITIES, {"id": customer, "first": 101}),
        (NESTED_TIMELINE, {"id": customer, "after": "bogus"}),
        (NESTED_OPPORTUNITIES, {"id": customer, "filter": {"ownerId": {"eq": "x"}}}),
    ):
        errors = await api.errors(query, variables, token=token)
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", errors


async def test_example_operation_runs(api, shop):
    text = (OPERATIONS / "customerOverview.graphql").read_text()
    for role in ("admin", "sales"):  # the shop's customers are in the pool
        data = await api.gql(
            text, {"filter": {"tags": {"any": [shop["tag"]]}}}, token=shop["tenant"].tokens[role]
        )
        nodes = [e["node"] for e in data["customers"]["edges"]]
        assert len(nodes) == 4
        deals = [n["opportunities"]["totalCount"] for n in nodes]
        assert deals == ([2, 3, 4, 0] if role == "admin" else [0, 0, 0, 0])
