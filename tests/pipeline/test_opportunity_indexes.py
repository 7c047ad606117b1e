"""Every filter and sort the opportunities list offers, and the statements behind the
pipeline summary and the forecast, can be answered from indexes: with sequential
scans disabled, the plan of each statement the API really ran has none."""

from __future__ import annotations

import json
import uuid

import pytest
from helpers import make_tenant
from sqlalchemy import select, text

from app.audit.service import SYSTEM
from app.auth.scope import EVERYTHING
from app.customers import service as customers
from app.db import tenant_transaction
from app.pipeline.tables import pipeline_stages

QUERY = """query($filter: OpportunityFilter, $orderBy: [OpportunityOrder!]) {
  opportunities(first: 20, filter: $filter, orderBy: $orderBy) { edges { node { id } } }
}"""
SOME_ID = str(uuid.uuid4())

CASES = [
    ({}, None),
    ({}, [{"field": "NAME"}]),
    ({}, [{"field": "AMOUNT", "direction": "DESC"}]),
    ({}, [{"field": "EXPECTED_CLOSE_DATE"}]),
    ({}, [{"field": "CREATED_AT", "direction": "DESC"}]),
    ({"customerId": {"eq": SOME_ID}}, None),
    ({"ownerId": {"in": [SOME_ID]}}, None),
    ({"pipelineId": {"eq": SOME_ID}}, None),
    ({"stageId": {"eq": SOME_ID}}, None),
    ({"status": {"eq": "WON"}}, None),
    ({"currency": "USD"}, None),
    ({"expectedCloseDate": {"gte": "2027-01-01", "lte": "2027-02-01"}}, None),
    ({"amount": {"gte": "1000", "lte": "5000"}}, None),
    ({"search": "扩容"}, None),
    ({"search": "容"}, None),
]


def _scans(plan: dict) -> list[str]:
    found = [f"{plan['Node Type']} on {plan.get('Relation Name', '?')}"]
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


async def _explain(services, statement: str, parameters) -> list[str]:
    async with services.engine.begin() as conn:
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        raw = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = raw.scalar()
        plan = plan if isinstance(plan, list) else json.loads(plan)
    return _scans(plan[0]["Plan"])


@pytest.mark.parametrize(
    ("filter_", "order"), CASES, ids=lambda v: json.dumps(v, ensure_ascii=False)
)
async def test_opportunities_page_uses_indexes(
    api, services, tenant_a, sql_counter, filter_, order
):
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(QUERY, {"filter": filter_, "orderBy": order}, token=tenant_a.tokens["viewer"])
    (statement, parameters) = next(
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if "FROM" in s and ".opportunities" in s
    )
    scans = await _explain(services, statement, parameters)
    assert not [s for s in scans if s.startswith("Seq Scan")], scans


REPORTS = """{
  pipelineSummary(filter: {from: "2027-01-01", to: "2027-12-31"}) { won stages { count } }
  forecast(from: "2027-01-01", to: "2027-12-31") { byMonth { weighted } }
}"""


@pytest.mark.parametrize("role", ["manager", "admin"])
async def test_summary_and_forecast_use_indexes(api, services, tenant_a, sql_counter, role):
    await api.gql("{ me { user { id } } }", token=tenant_a.tokens[role])
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(REPORTS, token=tenant_a.tokens[role])
    statements = [
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if ".opportunit" in s
    ]
    assert len(statements) == 4  # funnel, movements (conversion, days in stage), win rate, forecast
    for statement, parameters in statements:
        scans = await _explain(services, statement, parameters)
        assert not [s for s in scans if s.startswith("Seq Scan")], (statement, scans)


# Each filter's own index. On a small table the planner rather reads a sort index in
# order and filters (which passes the test above); with enough rows and statistics,
# counting the matches of a selective filter must go through that filter's index.
OWN_INDEX = [
    ({"customerId": {"eq": SOME_ID}}, "ix_opportunities_customer_id"),
    ({"ownerId": {"in": [SOME_ID]}}, "ix_opportunities_owner_id"),
    ({"pipelineId": {"eq": SOME_ID}}, "ix_opportunities_pipeline_id"),
    ({"stageId": {"eq": SOME_ID}}, "ix_opportunities_stage_id"),
    ({"status": {"eq": "WON"}}, "ix_opportunities_status"),
    ({"currency": "USD"}, "ix_opportunities_currency"),
    ({"expectedCloseDate": {"gte": "2027-01-01", "lte": "2027-01-31"}},
     "ix_opportunities_expected_close_date"),
    ({"amount": {"gte": "1000", "lte": "1010"}}, "ix_opportunities_amount"),
    ({"search": "扩容"}, "ix_opportunities_search_tokens"),
    ({"search": "容"}, "ix_opportunities_search_tokens"),
]  # fmt: skip
FILL = """
INSERT INTO opportunities (id, customer_id, name, amount, currency, expected_close_date,
                           owner_id, pipeline_id, stage_id)
SELECT gen_random_uuid(), :customer, '机会' || i || CASE WHEN i % 100 = 0 THEN '扩容' ELSE '' END,
       (i % 5000) * 3.17, CASE WHEN i % 200 = 0 THEN 'USD' ELSE 'CNY' END,
       DATE '2020-01-01' + (i % 3650), :owner, :pipeline, :stage
FROM generate_series(1, 5000) AS i
"""


def _index_names(plan: dict) -> set[str]:
    found = {plan["Index Name"]} if "Index Name" in plan else set()
    for child in plan.get("Plans", []):
        found |= _index_names(child)
    return found


@pytest.fixture(scope="module")
async def crowded(owner, services):
    tenant = await make_tenant(owner, services, "opcrowd")
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        customer = await customers.create_customer(
            conn, actor=SYSTEM, who=EVERYTHING, customer_id=None, fields={"name": "大户"}
        )
        stage = (
            await conn.execute(select(pipeline_stages).order_by(pipeline_stages.c.position))
        ).first()
    async with tenant_transaction(owner, tenant.schema) as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}"'))
        await conn.execute(
            text(FILL),
            {"customer": customer.id, "owner": tenant.user_ids["sales"],
             "pipeline": stage.pipeline_id, "stage": stage.id},
        )  # fmt: skip
    async with owner.connect() as conn:
        # VACUUM also moves the GIN index's pending entries into the index proper.
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql(f'VACUUM ANALYZE "{tenant.schema}".opportunities')
    return tenant


@pytest.mark.parametrize(
    ("filter_", "index"), OWN_INDEX, ids=lambda v: json.dumps(v, ensure_ascii=False)
)
async def test_each_filter_counts_through_its_own_index(
    api, services, crowded, sql_counter, filter_, index
):
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(
        "query($filter: OpportunityFilter) { opportunities(first: 1, filter: $filter)"
        " { totalCount } }",
        {"filter": filter_},
        token=crowded.tokens["admin"],
    )
    (statement, parameters) = next(
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if "count(" in s and ".opportunities" in s
    )
    async with services.engine.begin() as conn:
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        raw = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = raw.scalar()
    assert index in _index_names(plan[0]["Plan"]), plan
