"""Listing customers: keyset pagination both ways, ordering, filters, totalCount, and
a statement count that does not grow with the page."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest
from helpers import make_tenant
from sqlalchemy import text

from app.audit.service import SYSTEM
from app.auth.scope import EVERYTHING
from app.customers import service
from app.db import tenant_transaction

COUNT = 260
PAGE = """
query($first: Int, $after: String, $last: Int, $before: String, $filter: CustomerFilter,
      $orderBy: [CustomerOrder!]) {
  customers(first: $first, after: $after, last: $last, before: $before, filter: $filter,
            orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name } }
  }
}"""


@pytest.fixture(scope="module")
async def listing(owner, services):
    tenant = await make_tenant(owner, services, "listing")
    rng = random.Random(7)
    owner = tenant.user_ids["sales"]
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        for i in range(COUNT):
            row = await service.create_customer(
                conn, actor=SYSTEM, who=EVERYTHING, customer_id=None,
                fields={
                    "name": f"{rng.choice(['佛山', '广州', '深圳'])}{i:03d}号"
                            f"{rng.choice(['电子', '科技', '贸易'])}公司",
                    "category": ["prospect", "active", "partner"][i % 3],
                    "tier": ["A", "B", "C", None][i % 4],
                    "tags": [["华南"], ["华南", "VIP"], []][i % 3],
                    "owner_id": owner if i % 2 else None,
                    "email": f"buyer{i}@corp{i % 10}.cn",
                    "phone": f"1380000{i:04d}",
                },
            )  # fmt: skip
            for n in range(i % 4):
                await service.create_contact(
                    conn, actor=SYSTEM, who=EVERYTHING, contact_id=None, customer_id=row.id,
                    fields={"name": f"联系人{i}-{n}", "is_primary": n == 0},
                )  # fmt: skip
        # Spread creation times over days, to filter by the tenant's calendar.
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}"'))
        await conn.execute(text(
            "UPDATE customers SET created_at = timestamptz '2026-01-01 00:00+08' "
            "+ (row_number * interval '1 hour') FROM (SELECT id, row_number() OVER "
            "(ORDER BY id) FROM customers) n WHERE n.id = customers.id"
        ))  # fmt: skip
    return tenant


async def _oracle(services, tenant, sql: str) -> list[str]:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}"'))
        return [str(r[0]) for r in await conn.execute(text(sql))]


async def _walk(api, token, *, backwards=False, size=37, **variables) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        args = {"last": size, "before": cursor} if backwards else {"first": size, "after": cursor}
        page = (await api.gql(PAGE, {**variables, **args}, token=token))["customers"]
        nodes = [e["node"]["id"] for e in page["edges"]]
        ids = nodes + ids if backwards else ids + nodes
        more = page["pageInfo"]["hasPreviousPage" if backwards else "hasNextPage"]
        if not more:
            return ids
        cursor = page["pageInfo"]["startCursor" if backwards else "endCursor"]


@pytest.mark.parametrize(
    ("order", "sql"),
    [
        (None, "created_at, id"),
        ([{"field": "NAME"}], "name, id"),
        ([{"field": "NAME", "direction": "DESC"}], "name DESC, id DESC"),
        ([{"field": "UPDATED_AT", "direction": "DESC"}], "updated_at DESC, id DESC"),
    ],
)
async def test_walks_forwards_and_backwards_in_order(api, services, listing, order, sql):
    expected = await _oracle(
        services, listing, f"SELECT id FROM customers WHERE deleted_at IS NULL ORDER BY {sql}"
    )
    token = listing.tokens["admin"]
    forwards = await _walk(api, token, orderBy=order)
    backwards = await _walk(api, token, orderBy=order, backwards=True)
    assert forwards == expected
    assert backwards == expected
    assert len(expected) == COUNT


async def test_page_info_and_total(api, listing):
    token = listing.tokens["admin"]
    first = (await api.gql(PAGE, {"first": 10}, token=token))["customers"]
    assert first["totalCount"] == COUNT
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    second = (
        await api.gql(PAGE, {"first": 10, "after": first["pageInfo"]["endCursor"]}, token=token)
    )["customers"]
    assert second["pageInfo"]["hasPreviousPage"]
    back = (
        await api.gql(PAGE, {"last": 10, "before": second["pageInfo"]["startCursor"]}, token=token)
    )["customers"]
    assert [e["node"]["id"] for e in back["edges"]] == [e["node"]["id"] for e in first["edges"]]


@pytest.mark.parametrize(
    "variables",
    [{"first": 101}, {"first": -1}, {"first": 1, "last": 1}, {"after": "%%%"},
     {"after": "WyJ4Il0"}, {"last": 2, "after": "WyJ4Il0"}],
)  # fmt: skip
async def test_bad_paging_arguments(api, listing, variables):
    errors = await api.errors(PAGE, variables, token=listing.tokens["admin"])
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


FILTERS = [
    ({"category": {"eq": "ACTIVE"}}, "category = 'active'"),
    ({"category": {"in": ["ACTIVE", "PARTNER"]}}, "category IN ('active', 'partner')"),
    ({"tier": {"isNull": True}}, "tier IS NULL"),
    ({"ownerId": {"isNull": True}}, "owner_id IS NULL"),
    ({"tags": {"all": ["华南", "VIP"]}}, "tags @> ARRAY['华南', 'VIP']"),
    ({"tags": {"any": ["VIP"]}}, "'VIP' = ANY(tags)"),
    ({"search": "电子"}, "name LIKE '%电子%'"),
    ({"search": "子"}, "name LIKE '%子%'"),
    ({"search": "CORP3.CN"}, "email ILIKE '%corp3.cn%'"),
    ({"search": "00012"}, "phone LIKE '%00012%' OR name LIKE '%00012%'"),
    ({"search": "100%"}, "false"),
    (
        {"createdAt": {"gte": "2026-01-02T00:00:00+08:00", "lte": "2026-01-03T00:00:00+08:00"}},
        "created_at BETWEEN '2026-01-02 00:00+08' AND '2026-01-03 00:00+08'",
    ),
    (
        {"createdOn": {"gte": "2026-01-02", "lte": "2026-01-02"}},
        "created_at >= '2026-01-02 00:00+08' AND created_at < '2026-01-03 00:00+08'",
    ),
    (
        {"or": [{"tier": {"eq": "A"}}, {"and": [{"tier": {"eq": "B"}}, {"search": "深圳"}]}]},
        "tier = 'A' OR (tier = 'B' AND name LIKE '%深圳%')",
    ),
]


@pytest.mark.parametrize(("filter_", "where"), FILTERS)
async def test_filters_match_sql(api, services, listing, filter_, where):
    expected = await _oracle(
        services,
        listing,
        f"SELECT id FROM customers WHERE deleted_at IS NULL AND ({where}) ORDER BY created_at, id",
    )
    ids = await _walk(api, listing.tokens["admin"], filter=filter_, size=100)
    assert ids == expected
    total = await api.gql(PAGE, {"first": 1, "filter": filter_}, token=listing.tokens["admin"])
    assert total["customers"]["totalCount"] == len(expected)


async def test_bad_filter_id_is_bad_user_input(api, listing):
    errors = await api.errors(
        PAGE, {"filter": {"ownerId": {"eq": "nope"}}}, token=listing.tokens["admin"]
    )
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "ownerId" in errors[0]["message"]


NESTED = """
query($first: Int) {
  customers(first: $first) {
    totalCount
    edges { node { id name owner { email } partner { email } contacts { id name isPrimary } } }
  }
}"""


# Resolves (and caches for principal_cache_seconds) who is asking, so the statement
# counts below measure the query alone.
WARM = "{ me { user { id } } }"


async def test_statements_do_not_grow_with_the_page(api, listing, sql_counter):
    counts = {}
    for first in (10, 100):
        await api.gql(WARM, token=listing.tokens["admin"])  # principal cached, not counted
        sql_counter.statements.clear()
        data = await api.gql(NESTED, {"first": first}, token=listing.tokens["admin"])
        edges = data["customers"]["edges"]
        assert len(edges) == first
        assert sum(len(e["node"]["contacts"]) for e in edges) > 0
        counts[first] = sql_counter.count
    # page + count + contacts + owners and partners; principal lookups are cached
    assert counts[10] == counts[100] <= 4, counts


async def test_contacts_connection_with_customer(api, listing, sql_counter):
    query = """{ contacts(first: 50) { totalCount edges { node { name customer { name
                 contacts { id } } } } } }"""
    await api.gql(WARM, token=listing.tokens["admin"])
    sql_counter.statements.clear()
    data = await api.gql(query, token=listing.tokens["admin"])
    edges = data["contacts"]["edges"]
    assert len(edges) == 50
    assert all(e["node"]["customer"]["name"] for e in edges)
    assert all(e["node"]["customer"]["contacts"] for e in edges)
    assert sql_counter.count <= 4, sql_counter.statements


async def test_created_on_uses_the_tenant_time_zone(api, services, listing):
    """2026-01-01 16:30 UTC is already Jan 2 in Asia/Shanghai."""
    marker = uuid.uuid4().hex[:6]
    async with tenant_transaction(services.engine, listing.schema) as conn:
        row = await service.create_customer(
            conn, actor=SYSTEM, who=EVERYTHING, customer_id=None, fields={"name": f"TZ {marker}"}
        )
        await conn.execute(
            text(f'UPDATE "{listing.schema}".customers SET created_at = :at WHERE id = :id'),
            {"at": dt.datetime(2026, 1, 1, 16, 30, tzinfo=dt.UTC), "id": row.id},
        )
    found = await api.gql(
        PAGE,
        {"filter": {"search": f"TZ {marker}", "createdOn": {"gte": "2026-01-02", "lte": "2026-01-02"}}},
        token=listing.tokens["admin"],
    )  # fmt: skip
    assert found["customers"]["totalCount"] == 1
