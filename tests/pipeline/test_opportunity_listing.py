"""Listing opportunities: keyset pagination both ways in every order, each filter
against the same question asked in SQL, and a statement count that does not grow
with the page."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from helpers import make_tenant
from sqlalchemy import select, text

from app.audit.service import SYSTEM
from app.auth.scope import EVERYTHING
from app.customers import service as customers
from app.db import tenant_transaction
from app.pipeline import service
from app.pipeline.tables import pipeline_stages, pipelines

COUNT = 120
PAGE = """
query($first: Int, $after: String, $last: Int, $before: String, $filter: OpportunityFilter,
      $orderBy: [OpportunityOrder!]) {
  opportunities(first: $first, after: $after, last: $last, before: $before, filter: $filter,
                orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id } }
  }
}"""


@pytest.fixture(scope="module")
async def listing(owner, services):
    tenant = await make_tenant(owner, services, "oplist")
    rng = random.Random(11)
    people = [tenant.user_ids["sales"], tenant.user_ids["manager"]]
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        pipeline = (await conn.execute(select(pipelines.c.id))).scalar_one()
        stages = (
            await conn.execute(
                select(pipeline_stages.c.id).where(pipeline_stages.c.kind == "open")
                .order_by(pipeline_stages.c.position)
            )
        ).scalars().all()  # fmt: skip
        buyers = []
        for i in range(6):
            row = await customers.create_customer(
                conn, actor=SYSTEM, who=EVERYTHING, customer_id=None,
                fields={"name": f"买家{i}", "owner_id": people[i % 2]},
            )  # fmt: skip
            buyers.append(row.id)
        for i in range(COUNT):
            row = await service.create_opportunity(
                conn, actor=SYSTEM, who=EVERYTHING, opportunity_id=None,
                customer_id=buyers[i % 6], pipeline_id=pipeline, stage_id=None,
                fields={
                    "name": f"{rng.choice(['华南', '华北', '西部'])}{i:03d}{rng.choice(['扩容', '续约'])}",
                    # Ties on purpose (the id breaks them), and amounts past 2^31 cents.
                    "amount": Decimal(rng.choice(["0", "500", "12345.67", "99999999.99", "1234567890.12"])),
                    "currency": ["CNY", "USD", "EUR"][i % 3],
                    "expected_close_date": None if i % 7 == 0
                    else dt.date(2027, 1, 1) + dt.timedelta(days=rng.randrange(0, 200)),
                    "owner_id": people[i % 2],
                },
            )  # fmt: skip
            if i % 4:
                await service.move_opportunity(
                    conn, actor=SYSTEM, who=EVERYTHING, opportunity_id=row.id, version=1,
                    stage_id=stages[i % 4],
                )  # fmt: skip
            if i % 10 == 0:
                await service.close_opportunity(
                    conn, actor=SYSTEM, who=EVERYTHING, opportunity_id=row.id, version=None,
                    outcome="lost", reason="预算取消",
                )  # fmt: skip
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}"'))
        await conn.execute(text(
            "UPDATE opportunities SET created_at = timestamptz '2027-01-01 00:00+08' "
            "+ (n.row_number * interval '1 hour') FROM (SELECT id, row_number() OVER "
            "(ORDER BY id) FROM opportunities) n WHERE n.id = opportunities.id"
        ))  # fmt: skip
    return {
        "tenant": tenant,
        "buyers": [str(b) for b in buyers],
        "stages": [str(s) for s in stages],
    }


async def _oracle(services, tenant, sql: str) -> list[str]:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}"'))
        return [str(r[0]) for r in await conn.execute(text(sql))]


async def _walk(api, token, *, backwards=False, size=17, **variables) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        args = {"last": size, "before": cursor} if backwards else {"first": size, "after": cursor}
        page = (await api.gql(PAGE, {**variables, **args}, token=token))["opportunities"]
        nodes = [e["node"]["id"] for e in page["edges"]]
        ids = nodes + ids if backwards else ids + nodes
        if not page["pageInfo"]["hasPreviousPage" if backwards else "hasNextPage"]:
            return ids
        cursor = page["pageInfo"]["startCursor" if backwards else "endCursor"]


CLOSE_KEY = "coalesce(expected_close_date, '9999-01-01')"


@pytest.mark.parametrize(
    ("order", "sql"),
    [
        (None, "created_at, id"),
        ([{"field": "NAME"}], "name, id"),
        ([{"field": "AMOUNT", "direction": "DESC"}], "amount DESC, id DESC"),
        ([{"field": "AMOUNT"}], "amount, id"),
        ([{"field": "EXPECTED_CLOSE_DATE"}], f"{CLOSE_KEY}, id"),
        ([{"field": "EXPECTED_CLOSE_DATE", "direction": "DESC"}], f"{CLOSE_KEY} DESC, id DESC"),
        ([{"field": "AMOUNT", "direction": "DESC"}, {"field": "NAME"}], "amount DESC, name, id"),
    ],
)
async def test_walks_forwards_and_backwards_in_order(api, services, listing, order, sql):
    tenant = listing["tenant"]
    expected = await _oracle(services, tenant, f"SELECT id FROM opportunities ORDER BY {sql}")
    token = tenant.tokens["admin"]
    assert await _walk(api, token, orderBy=order) == expected
    assert await _walk(api, token, orderBy=order, backwards=True) == expected
    assert len(expected) == COUNT


def _filters(listing) -> list[tuple[dict, str]]:
    buyer, stage = listing["buyers"][1], listing["stages"][2]
    sales = listing["tenant"].user_ids["sales"]
    return [
        ({"customerId": {"eq": buyer}}, f"customer_id = '{buyer}'"),
        ({"ownerId": {"in": [str(sales)]}}, f"owner_id = '{sales}'"),
        ({"stageId": {"eq": stage}}, f"stage_id = '{stage}'"),
        ({"pipelineId": {"isNull": False}}, "true"),
        ({"status": {"eq": "LOST"}}, "status = 'lost'"),
        ({"status": {"in": ["OPEN", "WON"]}}, "status IN ('open', 'won')"),
        ({"currency": "usd"}, "currency = 'USD'"),
        ({"expectedCloseDate": {"gte": "2027-03-01", "lte": "2027-04-30"}},
         "expected_close_date BETWEEN '2027-03-01' AND '2027-04-30'"),
        ({"amount": {"gte": "500", "lte": "99999999.99"}}, "amount BETWEEN 500 AND 99999999.99"),
        ({"amount": {"gte": "12345.671"}}, "amount > 12345.67"),
        ({"amount": {"lte": "0.009"}}, "amount = 0"),
        ({"search": "华南"}, "name LIKE '%华南%'"),
        ({"search": "01"}, "name LIKE '%01%'"),
        ({"or": [{"currency": "EUR"}, {"and": [{"status": {"eq": "LOST"}}, {"search": "续约"}]}]},
         "currency = 'EUR' OR (status = 'lost' AND name LIKE '%续约%')"),
    ]  # fmt: skip


@pytest.mark.parametrize("case", range(14))
async def test_filters_match_sql(api, services, listing, case):
    filter_, where = _filters(listing)[case]
    tenant = listing["tenant"]
    expected = await _oracle(
        services, tenant, f"SELECT id FROM opportunities WHERE {where} ORDER BY created_at, id"
    )
    assert await _walk(api, tenant.tokens["admin"], filter=filter_, size=50) == expected
    total = await api.gql(PAGE, {"first": 1, "filter": filter_}, token=tenant.tokens["admin"])
    assert total["opportunities"]["totalCount"] == len(expected)


async def test_bad_filter_id_is_bad_user_input(api, listing):
    errors = await api.errors(
        PAGE, {"filter": {"stageId": {"eq": "nope"}}}, token=listing["tenant"].tokens["admin"]
    )
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "stageId" in errors[0]["message"]


NESTED = """
query($first: Int) {
  opportunities(first: $first, orderBy: [{field: AMOUNT, direction: DESC}]) {
    totalCount
    edges { node {
      id name amount currency
      customer { id name owner { name } }
      owner { id name }
      stage { id name probability }
      pipeline { name stages { name } }
      stageHistory { changedAt fromStage { name } toStage { name } changedBy { name } }
    } }
  }
}"""


async def test_statements_do_not_grow_with_the_page(api, listing, sql_counter):
    counts = {}
    token = listing["tenant"].tokens["admin"]
    for first in (10, 50):
        await api.gql("{ me { user { id } } }", token=token)  # principal cached (1 s in tests)
        sql_counter.statements.clear()
        data = await api.gql(NESTED, {"first": first}, token=token)
        edges = data["opportunities"]["edges"]
        assert len(edges) == first
        assert all(e["node"]["customer"]["owner"]["name"] for e in edges)
        assert sum(len(e["node"]["stageHistory"]) for e in edges) > first
        counts[first] = sql_counter.count
    # page, count, history, stages, users, pipelines + their stages, customers + owners
    assert counts[10] == counts[50] == 9, counts
