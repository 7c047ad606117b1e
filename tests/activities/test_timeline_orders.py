"""Sales orders in the customer timeline: one item per order, at its creation, with its
status now; in the right place among the other items (ties included); keyset pages
that stay exact while orders and activities arrive; only for readers holding
orders:read; never another tenant's; a bounded statement count; an index range."""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from pathlib import Path

import pytest
from helpers import make_tenant
from sqlalchemy import select, text

from app.activities import service
from app.audit.service import Actor
from app.auth.scope import EVERYTHING
from app.db import tenant_transaction
from app.orders.tables import sales_orders

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "orders"))

from order_helpers import (  # noqa: E402
    Goods,
    create_order,
    goods,
    new_customer,
    order_action,
    role_token,
)

FEED = """query($id: ID!, $first: Int, $after: String) {
  customerTimeline(customerId: $id, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      __typename at kind id
      ... on ActivityTimelineItem { activity { subject } }
      ... on OrderTimelineItem {
        number status orderDate grossTotal currency
        order { id number status confirmedAt cancelledAt lines { quantity product { code } }
                customer { name } }
      }
    } }
  }
}"""
NESTED = """query($id: ID!, $first: Int, $after: String) {
  customer(id: $id) { timeline(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      __typename at kind id
      ... on ActivityTimelineItem { activity { subject } }
      ... on OrderTimelineItem {
        number status orderDate grossTotal currency
        order { id number status confirmedAt cancelledAt lines { quantity product { code } }
                customer { name } }
      }
    } }
  } }
}"""
SHALLOW = """query($id: ID!, $first: Int, $after: String) {
  customerTimeline(customerId: $id, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { at kind id ... on OrderTimelineItem { number status } } } } }"""
LIST = """query($tag: String!, $first: Int) {
  customers(first: $first, filter: {tags: {any: [$tag]}}, orderBy: [{field: NAME}]) {
    edges { node { id
      timeline(first: 3) {
        totalCount pageInfo { hasNextPage }
        edges { node { kind at
          ... on ActivityTimelineItem { activity { subject } }
          ... on OrderTimelineItem { number status grossTotal
                                     order { lines { product { code } } customer { name } } }
        } } }
    } } } }"""
T0 = dt.datetime(2021, 6, 1, 8, 0, tzinfo=dt.UTC)  # before anything written today


# -- making history -----------------------------------------------------------------------


async def _activities(services, tenant, customer: str, times: list[dt.datetime]) -> list[str]:
    """Activities on the customer at these instants, logged as the service does."""
    admin = tenant.user_ids["admin"]
    ids = []
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        for i, at in enumerate(times):
            row = await service.log_activity(
                conn, actor=Actor("user", admin), who=EVERYTHING, activity_id=None,
                fields={"kind": "call", "subject": f"call {i}", "owner_id": admin,
                        "occurred_at": at, "customer_id": uuid.UUID(customer)},
            )  # fmt: skip
            ids.append(str(row.id))
    return ids


async def _created_at(services, tenant, order_ids: list[str]) -> dict[str, dt.datetime]:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        rows = await conn.execute(
            select(sales_orders.c.id, sales_orders.c.created_at).where(
                sales_orders.c.id.in_([uuid.UUID(i) for i in order_ids])
            )
        )
        return {str(r.id): r.created_at for r in rows}


async def _walk(api, token, customer, size, query=SHALLOW, after=None) -> list[dict]:
    nodes = []
    while True:
        variables = {"id": customer, "first": size, "after": after}
        page = (await api.gql(query, variables, token=token))["customerTimeline"]
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def _sort_key(node: dict) -> tuple:
    return (dt.datetime.fromisoformat(node["at"]), node["kind"].lower(), node["id"])


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat()


@pytest.fixture(scope="module")
async def shop(api, owner, services):
    """A customer with three orders (a draft, a confirmed one, a cancelled one) and
    activities before, between, after and at the very instant of the first order."""
    tenant = await make_tenant(owner, services, "tlorders")
    admin = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1)
    made = [await create_order(api, admin, g) for _ in range(3)]
    draft, confirmed, cancelled = (o["id"] for o in made)
    assert (await order_action(api, admin, "confirm", confirmed))["userErrors"] == []
    assert (await order_action(api, admin, "cancel", cancelled, reason="不要了"))[
        "userErrors"
    ] == []
    at = await _created_at(services, tenant, [draft, confirmed, cancelled])
    assert at[draft] < at[confirmed] < at[cancelled]
    old, tie, between, newest = await _activities(services, tenant, g.customer, [
        T0, at[draft], at[draft] + (at[confirmed] - at[draft]) / 2,
        at[cancelled] + dt.timedelta(minutes=5),
    ])  # fmt: skip
    expected = [
        ("ACTIVITY", newest), ("ORDER_CREATED", cancelled), ("ORDER_CREATED", confirmed),
        ("ACTIVITY", between),
        # The same instant: by kind descending (order_created > activity), then id.
        ("ORDER_CREATED", draft), ("ACTIVITY", tie),
        ("ACTIVITY", old),
    ]  # fmt: skip
    return {"tenant": tenant, "goods": g, "customer": g.customer, "orders": made,
            "at": at, "expected": expected}  # fmt: skip


# -- the feed -----------------------------------------------------------------------------


async def test_orders_take_their_place_in_the_feed(api, shop):
    token = shop["tenant"].tokens["admin"]
    variables = {"id": shop["customer"], "first": 50}
    timeline = (await api.gql(FEED, variables, token=token))["customerTimeline"]
    nodes = [e["node"] for e in timeline["edges"]]
    assert [(n["kind"], n["id"]) for n in nodes] == shop["expected"]
    assert timeline["totalCount"] == len(shop["expected"])
    assert sorted(nodes, key=_sort_key, reverse=True) == nodes
    orders = {n["id"]: n for n in nodes if n["kind"] == "ORDER_CREATED"}
    draft, confirmed, cancelled = shop["orders"]
    for made, status in ((draft, "DRAFT"), (confirmed, "CONFIRMED"), (cancelled, "CANCELLED")):
        item = orders[made["id"]]
        assert item["__typename"] == "OrderTimelineItem"
        assert item["at"] == _iso(shop["at"][made["id"]])
        assert (item["number"], item["status"], item["grossTotal"], item["currency"]) == (
            made["number"], status, made["grossTotal"], made["currency"],
        )  # fmt: skip
        assert item["orderDate"] == made["orderDate"]
        assert item["order"]["id"] == made["id"] and item["order"]["status"] == status
        assert item["order"]["lines"][0]["product"]["code"].startswith("OP-")
        assert item["order"]["customer"]["name"]
    assert orders[confirmed["id"]]["order"]["confirmedAt"] is not None
    assert orders[cancelled["id"]]["order"]["cancelledAt"] is not None
    assert orders[draft["id"]]["order"]["confirmedAt"] is None
    # Customer.timeline is the same feed.
    nested = (await api.gql(NESTED, variables, token=token))["customer"]["timeline"]
    assert nested == timeline


@pytest.mark.parametrize("size", [1, 2, 3, 4])
async def test_pages_walk_across_orders(api, shop, size):
    token = shop["tenant"].tokens["admin"]
    everything = await _walk(api, token, shop["customer"], 50, FEED)
    assert await _walk(api, token, shop["customer"], size, FEED) == everything
    assert [(n["kind"], n["id"]) for n in everything] == shop["expected"]


async def test_pages_stay_exact_while_orders_arrive(api, services, owner):
    """Page 1 (ending on an order), then a new order, a new activity, an activity at
    the instant of page 1's last order and one back-dated before everything; the
    next pages from page 1's cursor: nothing repeated, nothing skipped."""
    tenant = await make_tenant(owner, services, "tlordarrive")
    token = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1)
    made = [(await create_order(api, token, g))["id"] for _ in range(4)]
    at = await _created_at(services, tenant, made)
    # Interleaved: an activity just after each order.
    await _activities(services, tenant, g.customer,
                      [at[o] + dt.timedelta(microseconds=1) for o in made])  # fmt: skip
    before = await _walk(api, token, g.customer, 50)
    assert [n["kind"] for n in before] == ["ACTIVITY", "ORDER_CREATED"] * 4
    page1 = (await api.gql(SHALLOW, {"id": g.customer, "first": 4}, token=token))[
        "customerTimeline"
    ]
    assert [e["node"] for e in page1["edges"]] == before[:4]
    last = before[3]
    assert last["kind"] == "ORDER_CREATED"

    new_order = (await create_order(api, token, g))["id"]
    oldest = T0 - dt.timedelta(days=30)
    tie, _, _ = await _activities(services, tenant, g.customer, [
        dt.datetime.fromisoformat(last["at"]), dt.datetime.now(dt.UTC), oldest,
    ])  # fmt: skip

    rest = await _walk(api, token, g.customer, 3, after=page1["pageInfo"]["endCursor"])
    # The activity at the cursor's instant sorts after the order (kind descending), so
    # it is in the rest; the back-dated one at the end; the new ones before the cursor.
    assert [n for n in rest if n["id"] != tie and n["at"] != _iso(oldest)] == before[4:]
    assert rest[0]["id"] == tie and rest[-1]["at"] == _iso(oldest)
    seen = [n["id"] for n in before[:4] + rest]
    assert len(seen) == len(set(seen)) and new_order not in seen
    fresh = await _walk(api, token, g.customer, 50)
    assert fresh[1]["id"] == new_order  # after the newest activity (now), the new order
    assert len(fresh) == len(before) + 4


# -- who sees orders ----------------------------------------------------------------------


async def test_without_orders_read_the_rest_of_the_feed(api, services, shop):
    tenant = shop["tenant"]
    token = await role_token(api, services, tenant, "feedonly",
                             ["customers:read", "activities:read"])  # fmt: skip
    admin = tenant.tokens["admin"]
    everything = await _walk(api, admin, shop["customer"], 50)
    activities = [n for n in everything if n["kind"] == "ACTIVITY"]
    body = await api.gql(SHALLOW, {"id": shop["customer"], "first": 50}, token=token)
    timeline = body["customerTimeline"]  # no error: the orders are just not there
    assert [e["node"] for e in timeline["edges"]] == activities
    assert timeline["totalCount"] == len(activities)  # orders not even counted
    # Pages of one, and a cursor made by the admin on an order item, work without them.
    assert await _walk(api, token, shop["customer"], 1) == activities
    admin_page = (await api.gql(SHALLOW, {"id": shop["customer"], "first": 2}, token=admin))[
        "customerTimeline"
    ]
    assert [e["node"]["kind"] for e in admin_page["edges"]] == ["ACTIVITY", "ORDER_CREATED"]
    after = await _walk(api, token, shop["customer"], 10, after=admin_page["pageInfo"]["endCursor"])
    assert after == activities[1:]
    # Customer.timeline likewise; the order fragment is valid, it just never matches.
    nested = await api.gql(NESTED, {"id": shop["customer"], "first": 50}, token=token)
    kinds = {e["node"]["kind"] for e in nested["customer"]["timeline"]["edges"]}
    assert kinds == {"ACTIVITY"}


async def test_another_tenants_orders_never_show(api, services, owner, shop):
    """Tenant B makes a customer with the very id of A's customer and orders for it:
    A's feed (items and count) is unchanged, B sees only its own."""
    a = shop["tenant"]
    b = await make_tenant(owner, services, "tlordother")
    b_goods = await goods(api, b, products=1)
    twin = await new_customer(api, b.tokens["admin"], id=shop["customer"])
    assert twin == shop["customer"]
    b_orders = [
        (await create_order(api, b.tokens["admin"], Goods(b_goods.warehouse, b_goods.products,
                                                           twin)))["id"]
        for _ in range(2)
    ]  # fmt: skip
    a_feed = (await api.gql(SHALLOW, {"id": shop["customer"], "first": 50},
                            token=a.tokens["admin"]))["customerTimeline"]  # fmt: skip
    assert [(e["node"]["kind"], e["node"]["id"]) for e in a_feed["edges"]] == shop["expected"]
    assert a_feed["totalCount"] == len(shop["expected"])
    b_feed = (await api.gql(SHALLOW, {"id": twin, "first": 50}, token=b.tokens["admin"]))[
        "customerTimeline"
    ]
    assert {e["node"]["id"] for e in b_feed["edges"]} == set(b_orders)
    assert b_feed["totalCount"] == 2
    # A's other customer is nothing to B.
    data = await api.gql(SHALLOW, {"id": b_goods.customer}, token=a.tokens["admin"])
    assert data == {"customerTimeline": None}


# -- cost ---------------------------------------------------------------------------------


async def test_statements_do_not_grow_with_the_page(api, services, owner, sql_counter):
    tenant = await make_tenant(owner, services, "tlordcount")
    token = tenant.tokens["admin"]
    g = await goods(api, tenant, products=2)
    made = [(await create_order(api, token, g))["id"] for _ in range(30)]
    at = await _created_at(services, tenant, made)
    await _activities(services, tenant, g.customer, list(at.values()))
    counts, statements = {}, {}
    for first in (10, 50):
        runs = []
        for _ in range(2):  # the second run: caches are warm
            sql_counter.statements.clear()
            data = await api.gql(FEED, {"id": g.customer, "first": first}, token=token)
            runs.append(list(sql_counter.statements))
        nodes = [e["node"] for e in data["customerTimeline"]["edges"]]
        assert len(nodes) == first
        assert {n["kind"] for n in nodes} == {"ACTIVITY", "ORDER_CREATED"}
        assert all(n["order"]["lines"] for n in nodes if n["kind"] == "ORDER_CREATED")
        statements[first] = min(runs, key=len)
        counts[first] = len(statements[first])
    assert counts[10] == counts[50], statements
    assert sum(" UNION ALL " in s for s in statements[50]) == 2  # the page and totalCount
    orders_loaded = [s for s in statements[50] if ".sales_orders.number" in s]
    assert len(orders_loaded) == 1, orders_loaded  # the page's orders, by id


async def test_a_list_of_customers_with_orders_stays_bounded(api, services, owner, sql_counter):
    """customers(first: 50) { timeline { ... order items with their orders } }: the
    same statements for 2 customers as for 8."""
    tenant = await make_tenant(owner, services, "tlordlist")
    token = tenant.tokens["admin"]
    g = await goods(api, tenant, products=1)
    small, large = f"s{uuid.uuid4().hex[:6]}", f"l{uuid.uuid4().hex[:6]}"
    for tag, count in ((small, 2), (large, 8)):
        for i in range(count):
            customer = await new_customer(api, token, f"{tag} {i:02d}", tags=[tag])
            await _activities(services, tenant, customer, [T0])
            for _ in range(2):
                await create_order(api, token, Goods(g.warehouse, g.products, customer))
    counts, statements = {}, {}
    for tag, count in ((small, 2), (large, 8)):
        runs = []
        for _ in range(2):
            sql_counter.statements.clear()
            data = await api.gql(LIST, {"tag": tag, "first": 50}, token=token)
            runs.append(list(sql_counter.statements))
        feeds = [e["node"]["timeline"] for e in data["customers"]["edges"]]
        assert len(feeds) == count
        for feed in feeds:
            assert feed["totalCount"] == 3
            kinds = [e["node"]["kind"] for e in feed["edges"]]
            assert kinds == ["ORDER_CREATED", "ORDER_CREATED", "ACTIVITY"]
            assert feed["edges"][0]["node"]["order"]["lines"][0]["product"]["code"]
        statements[tag] = min(runs, key=len)
        counts[tag] = len(statements[tag])
    assert counts[small] == counts[large], statements
    laterals = [s for s in statements[large] if "JOIN LATERAL" in s]
    assert len(laterals) == 2, laterals  # the timelines, and their totals


# -- plans --------------------------------------------------------------------------------


def _scans(plan: dict) -> list[str]:
    found = [
        f"{plan['Node Type']} on {plan.get('Relation Name', '?')} {plan.get('Index Name', '')}"
    ]
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


async def _plan_of(services, sql_counter, marker) -> list[str]:
    found = [
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if marker(s)
    ]
    assert found, sql_counter.statements
    statement, parameters = found[0]
    async with services.engine.begin() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        raw = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = raw.scalar()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return _scans(plan[0]["Plan"])


@pytest.fixture(scope="module")
async def crowded(api, owner, services):
    """4,000 orders over 40 customers (and fresh statistics), so the planner's choice
    shows; one customer's 100 orders are the feed read."""
    tenant = await make_tenant(owner, services, "tlordplan")
    g = await goods(api, tenant, products=1)
    async with owner.begin() as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}"'))
        await conn.execute(text(
            "INSERT INTO customers (id, name) SELECT gen_random_uuid(), 'C' || n"
            " FROM generate_series(1, 39) n"
        ))  # fmt: skip
        customers = "(SELECT array_agg(id ORDER BY name) FROM customers)"
        await conn.execute(text(
            "INSERT INTO sales_orders (id, number, customer_id, currency, warehouse_id,"
            " order_date, status, created_at)"
            f" SELECT gen_random_uuid(), 'SO-PLAN-' || n, ({customers})[1 + n % 40], 'CNY',"
            " CAST(:warehouse AS uuid), current_date - n / 24, 'confirmed',"
            " now() - n * interval '1 hour' FROM generate_series(1, 4000) n"
        ), {"warehouse": g.warehouse})  # fmt: skip
        await conn.execute(text(
            "INSERT INTO activities (id, kind, subject, occurred_at, customer_id, owner_id)"
            f" SELECT gen_random_uuid(), 'call', 's' || n, now() - n * interval '1 hour',"
            f" ({customers})[1 + n % 40], :admin FROM generate_series(1, 2000) n"
        ), {"admin": tenant.user_ids["admin"]})  # fmt: skip
        for table in ("customers", "sales_orders", "activities", "audit_log"):
            await conn.execute(text(f"ANALYZE {table}"))
        customer = await conn.scalar(text(
            "SELECT customer_id FROM sales_orders GROUP BY customer_id"
            " ORDER BY count(*) DESC, customer_id LIMIT 1"
        ))  # fmt: skip
    return {"tenant": tenant, "customer": str(customer)}


@pytest.mark.parametrize("deep", [False, True])
async def test_order_source_is_an_index_range(api, services, crowded, sql_counter, deep):
    tenant = crowded["tenant"]
    token = tenant.tokens["admin"]
    after = None
    if deep:  # a page well into the feed: the cursor's range, not a sort of everything
        walked = (await api.gql(SHALLOW, {"id": crowded["customer"], "first": 100},
                                token=token))["customerTimeline"]  # fmt: skip
        after = walked["pageInfo"]["endCursor"]
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    data = await api.gql(
        SHALLOW, {"id": crowded["customer"], "first": 20, "after": after}, token=token
    )
    timeline = data["customerTimeline"]
    assert timeline["totalCount"] >= 100 + 50
    kinds = {e["node"]["kind"] for e in timeline["edges"]}
    assert "ORDER_CREATED" in kinds, kinds
    page = await _plan_of(services, sql_counter, lambda s: "UNION ALL" in s and "LIMIT" in s)
    assert not [s for s in page if s.startswith("Seq Scan")], page
    orders = [s for s in page if " on sales_orders " in s]
    assert orders and all("ix_sales_orders_customer_created" in s for s in orders), page
    total = await _plan_of(services, sql_counter, lambda s: "UNION ALL" in s and "count(" in s)
    assert not [s for s in total if s.startswith("Seq Scan")], total
    assert any("ix_sales_orders_customer_created" in s for s in total), total
