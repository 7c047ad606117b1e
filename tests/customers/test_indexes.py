"""Every filter and sort the customers list offers can be answered from an index:
with sequential scans disabled, the plan of the statement the API really ran has none."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

QUERY = """query($filter: CustomerFilter, $orderBy: [CustomerOrder!]) {
  customers(first: 20, filter: $filter, orderBy: $orderBy) { edges { node { id } } }
}"""

CASES = [
    ({}, None),
    ({}, [{"field": "NAME"}]),
    ({}, [{"field": "UPDATED_AT", "direction": "DESC"}]),
    ({"search": "电子"}, None),
    ({"search": "子"}, None),
    ({"search": "huada@example"}, None),
    ({"category": {"eq": "ACTIVE"}}, None),
    ({"tier": {"in": ["A", "B"]}}, None),
    ({"ownerId": {"isNull": True}}, None),
    ({"partnerId": {"eq": "5b0d3f4e-8a61-4c1e-9f3a-2d7c6b1e0a94"}}, None),
    ({"tags": {"all": ["VIP"]}}, None),
    ({"tags": {"any": ["VIP", "华南"]}}, None),
    ({"createdAt": {"gte": "2026-01-01T00:00:00Z"}}, None),
    ({"deleted": True}, None),
]


def _scans(plan: dict) -> list[str]:
    found = [f"{plan['Node Type']} on {plan.get('Relation Name', '?')}"]
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


@pytest.mark.parametrize(
    ("filter_", "order"), CASES, ids=lambda v: json.dumps(v, ensure_ascii=False)
)
async def test_customers_page_uses_indexes(api, services, tenant_a, sql_counter, filter_, order):
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(QUERY, {"filter": filter_, "orderBy": order}, token=tenant_a.tokens["viewer"])
    (statement, parameters) = next(
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if "FROM" in s and ".customers" in s
    )
    async with services.engine.begin() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        raw = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = raw.scalar()
        plan = plan if isinstance(plan, list) else json.loads(plan)
    scans = _scans(plan[0]["Plan"])
    assert not [s for s in scans if s.startswith("Seq Scan")], scans
