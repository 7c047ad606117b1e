"""The new filter columns (activities' and tasks' leadId and opportunityId) and the
nested lists (Lead.activities, Opportunity.activities, Customer.opportunities,
Customer.timeline) are answered from indexes: with sequential scans disabled, the plan
of the statement the API really ran has none, and uses the link's index."""

from __future__ import annotations

import json

import pytest
from helpers import make_tenant
from sqlalchemy import text


def _scans(plan: dict) -> list[str]:
    found = [
        f"{plan['Node Type']} on {plan.get('Relation Name', '?')} {plan.get('Index Name', '')}"
    ]
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


async def _plans(services, sql_counter, marker) -> list[tuple[str, list[str]]]:
    """The statements the request ran that `marker` picks, with their plans."""
    found = [
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if marker(s)
    ]
    assert found, sql_counter.statements
    plans = []
    async with services.engine.begin() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        for statement, parameters in found:
            raw = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
            plan = raw.scalar()
            plan = plan if isinstance(plan, list) else json.loads(plan)
            plans.append((statement, _scans(plan[0]["Plan"])))
    return plans


@pytest.fixture(scope="module")
async def crowded(owner, services):
    """40 customers, 20 leads, 80 opportunities; 2,000 activities and 1,000 tasks, a
    quarter of them on leads (not converted: no customer), a quarter on opportunities;
    fresh statistics."""
    tenant = await make_tenant(owner, services, "linkix")
    admin, viewer = tenant.user_ids["admin"], tenant.user_ids["viewer"]
    async with owner.begin() as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}"'))

        async def run(sql: str) -> None:
            await conn.execute(text(sql), {"admin": admin, "viewer": viewer})

        await run(
            "INSERT INTO customers (id, name, owner_id) SELECT gen_random_uuid(), 'C' || n,"
            " CASE WHEN n % 2 = 0 THEN CAST(:admin AS uuid) END FROM generate_series(1, 40) n"
        )
        await run(
            "INSERT INTO leads (id, name, owner_id) SELECT gen_random_uuid(), 'L' || n,"
            " CASE WHEN n % 2 = 0 THEN CAST(:admin AS uuid) END FROM generate_series(1, 20) n"
        )
        await run(
            "INSERT INTO opportunities (id, customer_id, name, owner_id, pipeline_id, stage_id)"
            " SELECT gen_random_uuid(), (SELECT array_agg(id ORDER BY name) FROM customers)"
            "[1 + n % 40], 'O' || n, CASE WHEN n % 2 = 0 THEN CAST(:admin AS uuid)"
            " ELSE CAST(:viewer AS uuid) END, p.id, s.id FROM generate_series(1, 80) n,"
            " pipelines p JOIN pipeline_stages s ON s.pipeline_id = p.id AND s.position = 0"
            " WHERE p.is_default"
        )
        arrays = (
            "(SELECT array_agg(id ORDER BY name) FROM customers) c(a),"
            " (SELECT array_agg(id ORDER BY name) FROM leads) l(a),"
            " (SELECT array_agg(id ORDER BY id) FROM opportunities) o(a)"
        )
        # n % 4: 0 on a lead, 1 on an opportunity (its customer), else on a customer.
        await run(
            "INSERT INTO activities (id, kind, subject, occurred_at, customer_id, lead_id,"
            " opportunity_id, owner_id) SELECT gen_random_uuid(), 'call', 's' || n,"
            " now() - n * interval '1 hour',"
            " CASE WHEN n % 4 = 1 THEN (SELECT customer_id FROM opportunities"
            "   WHERE id = o.a[1 + n % 80]) WHEN n % 4 <> 0 THEN c.a[1 + n % 40] END,"
            " CASE WHEN n % 4 = 0 THEN l.a[1 + n % 20] END,"
            " CASE WHEN n % 4 = 1 THEN o.a[1 + n % 80] END, :admin"
            f" FROM generate_series(1, 2000) n, {arrays}"
        )
        await run(
            "INSERT INTO tasks (id, title, due_at, assignee_id, customer_id, lead_id,"
            " opportunity_id) SELECT gen_random_uuid(), 't' || n, now() + n * interval '1 hour',"
            " :admin, CASE WHEN n % 4 = 2 THEN c.a[1 + n % 40] END,"
            " CASE WHEN n % 4 = 0 THEN l.a[1 + n % 20] END,"
            " CASE WHEN n % 4 = 1 THEN o.a[1 + n % 80] END"
            f" FROM generate_series(1, 1000) n, {arrays}"
        )
        for table in ("customers", "leads", "opportunities", "activities", "tasks", "users"):
            await conn.execute(text(f"ANALYZE {table}"))
        # A pool lead and an opportunity with both activities and tasks.
        lead = await conn.scalar(
            text(
                "SELECT a.lead_id FROM activities a JOIN tasks t USING (lead_id)"
                " JOIN leads l ON l.id = a.lead_id WHERE l.owner_id IS NULL LIMIT 1"
            )
        )
        deal = await conn.scalar(
            text(
                "SELECT a.opportunity_id FROM activities a JOIN tasks t USING (opportunity_id)"
                " LIMIT 1"
            )
        )
    return {"tenant": tenant, "lead": str(lead), "deal": str(deal)}


def _no_seq_scan(scans: list[str]) -> None:
    assert not [s for s in scans if s.startswith("Seq Scan")], scans


@pytest.mark.parametrize("role", ["viewer", "sales", "admin"])
@pytest.mark.parametrize(
    ("field", "filter_type", "column", "key"),
    [
        ("activities", "ActivityFilter", "leadId", "lead"),
        ("activities", "ActivityFilter", "opportunityId", "deal"),
        ("tasks", "TaskFilter", "leadId", "lead"),
        ("tasks", "TaskFilter", "opportunityId", "deal"),
    ],
)
async def test_link_filters_use_their_index(
    api, services, crowded, sql_counter, role, field, filter_type, column, key
):
    tenant = crowded["tenant"]
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    data = await api.gql(
        f"query($f: {filter_type}) {{ {field}(first: 20, filter: $f) {{ totalCount"
        " edges { node { id } } } }",
        {"f": {column: {"eq": crowded[key]}}}, token=tenant.tokens[role],
    )  # fmt: skip
    if role == "admin":
        assert data[field]["totalCount"] > 0
    ((_, page),) = await _plans(
        services, sql_counter, lambda s: f".{field} " in s and "ORDER BY" in s
    )
    _no_seq_scan(page)
    ((_, count),) = await _plans(
        services, sql_counter, lambda s: f".{field} " in s and "count(" in s
    )
    _no_seq_scan(count)
    if role == "admin":  # the others' scope may narrow by assignee or customer first
        index = f"ix_{field}_{'lead_id' if column == 'leadId' else 'opportunity_id'}"
        assert any(index in s for s in page), page


NESTED = [
    (
        "{ leads(first: 20) { edges { node { activities(first: 3) { totalCount"
        " edges { node { id } } } } } } }",
        "ix_activities_lead_id",
    ),
    (
        "{ opportunities(first: 20) { edges { node { activities(first: 3) { totalCount"
        " edges { node { id } } } } } } }",
        "ix_activities_opportunity_id",
    ),
    (
        "{ customers(first: 20) { edges { node { opportunities(first: 3) { totalCount"
        " edges { node { id } } } } } } }",
        "ix_opportunities_customer_id",
    ),
    (
        "{ customers(first: 20) { edges { node { timeline(first: 3) { totalCount"
        " edges { node { id } } } } } } }",
        "ix_activities_customer_id",
    ),
]


@pytest.mark.parametrize("role", ["viewer", "admin"])
@pytest.mark.parametrize(("query", "index"), NESTED)
async def test_nested_lists_use_indexes(api, services, crowded, sql_counter, role, query, index):
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(query, token=crowded["tenant"].tokens[role])
    plans = await _plans(services, sql_counter, lambda s: "JOIN LATERAL" in s or "GROUP BY" in s)
    assert len(plans) == 2 if "timeline" not in query else len(plans) >= 2, plans  # page, totals
    for _, scans in plans:
        _no_seq_scan(scans)
    if role == "admin":
        page = next(scans for statement, scans in plans if "ORDER BY" in statement)
        assert any(index in s for s in page), page
