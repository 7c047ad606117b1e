"""Listing leads: keyset pagination both ways in every order, each filter against the
same question asked in Python, the tenant's calendar days, and a statement count that
does not grow with the page (nested owners and what converted leads became)."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal

import pytest
from helpers import make_tenant
from sqlalchemy import select

from app.audit.service import SYSTEM
from app.auth.scope import EVERYTHING
from app.db import tenant_transaction
from app.leads import convert, service
from app.leads.tables import SOURCES, leads

COUNT = 80
PAGE = """
query($first: Int, $after: String, $last: Int, $before: String, $filter: LeadFilter,
      $orderBy: [LeadOrder!]) {
  leads(first: $first, after: $after, last: $last, before: $before, filter: $filter,
        orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id } }
  }
}"""
REGIONS = ["广州", "深圳", "上海", None]


@pytest.fixture(scope="module")
async def listing(owner, services):
    tenant = await make_tenant(owner, services, "leadlist")
    rng = random.Random(7)
    people = [tenant.user_ids["sales"], tenant.user_ids["manager"], None]
    to_convert = []
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        for i in range(COUNT):
            row = await service.create_lead(
                conn, actor=SYSTEM, who=EVERYTHING, lead_id=None,
                fields={
                    "name": f"{rng.choice(['张', '李', '王'])}{i:03d}",
                    "company": f"{rng.choice(['华南', '华北'])}{rng.choice(['电子', '机械'])}{i % 7}",
                    "email": f"lead{i}@example.com" if i % 3 else None,
                    "phone": f"1380000{i:04d}" if i % 4 else None,
                    "region": REGIONS[i % 4], "source": SOURCES[i % len(SOURCES)],
                    "score": rng.choice([0, 10, 50, 50, 90, 100]),  # ties: the id breaks them
                    "owner_id": people[i % 3] if i % 5 else people[0],
                },
            )  # fmt: skip
            if i % 6 == 0:
                to_convert.append((i, row.id))
    # Converted later, so newest-updated first lists the 14 converted leads first.
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        for i, lead_id in to_convert:
            await convert.convert_lead(
                conn, actor=SYSTEM, who=EVERYTHING, lead_id=lead_id, version=1,
                customer_id=None,
                opportunity=None if i % 12 else {"name": None, "amount": Decimal("10")},
            )  # fmt: skip
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        rows = (await conn.execute(select(leads))).all()
    return tenant, rows


def _ids(data) -> list[str]:
    return [e["node"]["id"] for e in data["leads"]["edges"]]


ORDERS = [
    (None, lambda r: (r.created_at, r.id)),
    ([{"field": "SCORE", "direction": "DESC"}], lambda r: (-r.score, _neg(r.id))),
    ([{"field": "SCORE"}, {"field": "NAME", "direction": "DESC"}], None),
    ([{"field": "UPDATED_AT", "direction": "DESC"}], None),
    ([{"field": "NAME"}], None),
]


def _neg(value: uuid.UUID) -> int:
    return -value.int


@pytest.mark.parametrize("case", range(len(ORDERS)))
async def test_pages_both_ways_cover_everything_once(api, listing, case):
    tenant, rows = listing
    order, expected = ORDERS[case]
    token = tenant.tokens["admin"]
    forward, after = [], None
    while True:
        data = await api.gql(PAGE, {"first": 13, "after": after, "orderBy": order}, token=token)
        forward += _ids(data)
        info = data["leads"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert sorted(forward) == sorted(str(r.id) for r in rows)
    backward, before = [], None
    while True:
        data = await api.gql(PAGE, {"last": 11, "before": before, "orderBy": order}, token=token)
        backward = _ids(data) + backward
        info = data["leads"]["pageInfo"]
        if not info["hasPreviousPage"]:
            break
        before = info["startCursor"]
    assert backward == forward
    if expected is not None:
        assert forward == [str(r.id) for r in sorted(rows, key=expected)]


def _created_on(row, day: dt.date) -> bool:
    local = row.created_at.astimezone(dt.timezone(dt.timedelta(hours=8)))
    return local.date() == day


FILTERS = [
    ({"status": {"eq": "QUALIFIED"}}, lambda r: r.status == "qualified"),
    ({"status": {"in": ["NEW", "WORKING"]}}, lambda r: r.status in ("new", "working")),
    ({"source": {"eq": "TRADE_SHOW"}}, lambda r: r.source == "trade_show"),
    ({"region": {"eq": "深圳"}}, lambda r: r.region == "深圳"),
    ({"region": {"in": ["广州", "上海"]}}, lambda r: r.region in ("广州", "上海")),
    ({"region": {"isNull": True}}, lambda r: r.region is None),
    ({"score": {"gte": 50, "lte": 90}}, lambda r: 50 <= r.score <= 90),
    ({"score": {"gte": 100}}, lambda r: r.score >= 100),
    ({"ownerId": {"isNull": True}}, lambda r: r.owner_id is None),
    ({"search": "华南电子"}, lambda r: "华南电子" in (r.company or "")),
    ({"search": "lead1@EXAMPLE"}, lambda r: "lead1@example" in (r.email or "")),
    ({"search": "0000001"}, lambda r: "0000001" in (r.phone or "")),
    ({"or": [{"score": {"lte": 0}}, {"source": {"eq": "IMPORT"}}]},
     lambda r: r.score <= 0 or r.source == "import"),
]  # fmt: skip


@pytest.mark.parametrize(("filter_", "predicate"), FILTERS, ids=lambda v: str(v))
async def test_each_filter_matches(api, listing, filter_, predicate):
    tenant, rows = listing
    data = await api.gql(PAGE, {"first": 100, "filter": filter_}, token=tenant.tokens["admin"])
    expected = {str(r.id) for r in rows if predicate(r)}
    assert expected, "the fixture should exercise this filter"
    assert set(_ids(data)) == expected
    assert data["leads"]["totalCount"] == len(expected)


async def test_owner_filter_and_created_on(api, listing):
    tenant, rows = listing
    token = tenant.tokens["admin"]
    sales = tenant.user_ids["sales"]
    data = await api.gql(
        PAGE, {"first": 100, "filter": {"ownerId": {"eq": str(sales)}}}, token=token
    )
    assert set(_ids(data)) == {str(r.id) for r in rows if r.owner_id == sales}
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    data = await api.gql(
        PAGE, {"first": 100, "filter": {"createdOn": {"gte": str(today), "lte": str(today)}}},
        token=token,
    )  # fmt: skip
    assert set(_ids(data)) == {str(r.id) for r in rows if _created_on(r, today)}


NESTED = """query($first: Int) {
  leads(first: $first, orderBy: {field: UPDATED_AT, direction: DESC}) {
    totalCount
    edges { node {
      id name owner { id name }
      convertedCustomer { id name owner { name } contacts { name } }
      convertedContact { id name customer { id name } }
      convertedOpportunity { id name owner { name } stage { name } customer { name } }
    } }
  }
}"""
WARM = "{ me { user { id } } }"


async def test_statements_do_not_grow_with_the_page(api, listing, sql_counter):
    tenant, _ = listing
    counts = {}
    for first in (10, 50):
        await api.gql(WARM, token=tenant.tokens["admin"])  # principal cached, not counted
        sql_counter.statements.clear()
        data = await api.gql(NESTED, {"first": first}, token=tenant.tokens["admin"])
        edges = data["leads"]["edges"]
        assert len(edges) == first
        # The 14 converted leads come first (7 with an opportunity): both pages have some.
        assert any(e["node"]["convertedCustomer"] for e in edges)
        assert any(e["node"]["convertedOpportunity"] for e in edges)
        assert any(e["node"]["convertedCustomer"] is None for e in edges) == (first == 50)
        assert all(
            e["node"]["convertedContact"]["customer"]["id"] == e["node"]["convertedCustomer"]["id"]
            for e in edges
            if e["node"]["convertedContact"]
        )
        counts[first] = sql_counter.count
    # page, count, owners; customers + their owners + contacts; contacts + their
    # customers; opportunities + stages + owners + customers. Principal lookups cached.
    assert counts[10] == counts[50] <= 12, counts
