"""At a few thousand records of each kind (with statistics), a filter on a custom field
of contacts, leads and opportunities, and a sort of any of the four lists by one,
read the custom field values index on (field_id, value, entity_id): the plan of the
statement the API really ran has the index and no sequential scan of the values."""

from __future__ import annotations

import json

import pytest
from cf_entity_helpers import ALL_KINDS, NEW_KINDS, Kind, Records
from helpers import make_tenant
from sqlalchemy import select, text

from app.db import tenant_transaction
from app.pipeline.tables import pipeline_stages

ROWS = 4000
FILL = {
    "customer": "INSERT INTO customers (id, name) "
    "SELECT gen_random_uuid(), '客户' || i FROM generate_series(1, :rows) i",
    "contact": "INSERT INTO contacts (id, customer_id, name) "
    "SELECT gen_random_uuid(), c.id, '联系人' || c.name FROM customers c",
    "lead": "INSERT INTO leads (id, name) "
    "SELECT gen_random_uuid(), '线索' || i FROM generate_series(1, :rows) i",
    "opportunity": "INSERT INTO opportunities (id, customer_id, name, owner_id, pipeline_id, "
    "stage_id) SELECT gen_random_uuid(), c.id, '机会' || c.name, :owner, :pipeline, :stage "
    "FROM customers c",
}
TABLES = {"customer": "customers", "contact": "contacts", "lead": "leads",
          "opportunity": "opportunities"}  # fmt: skip
# n: a number on 9 records of 10 (ties); t: a text on 8 of 10; day: a date on most.
VALUES = {
    "n": ("number_value", "i % 500", "i % 10 <> 0"),
    "t": ("text_value", "'值' || (i % 300)", "i % 5 <> 0"),
    "day": ("date_value", "date '2020-01-01' + (i::int % 900)", "i % 7 <> 0"),
}


@pytest.fixture(scope="module")
async def crowded(owner, services, api):
    tenant = await make_tenant(owner, services, "cfidx")
    admin = tenant.tokens["admin"]
    ids: dict[tuple[str, str], str] = {}
    for kind in ALL_KINDS:
        records = Records(api, kind)
        for key, kind_name in (("n", "NUMBER"), ("t", "TEXT"), ("day", "DATE")):
            ids[kind.name, key] = (await records.ok(admin, key=key, type=kind_name))["id"]
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        stage = (
            await conn.execute(select(pipeline_stages).order_by(pipeline_stages.c.position))
        ).first()
    async with tenant_transaction(owner, tenant.schema) as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}"'))
        for kind in ALL_KINDS:
            await conn.execute(
                text(FILL[kind.name]),
                {"rows": ROWS, "owner": tenant.user_ids["sales"], "pipeline": stage.pipeline_id,
                 "stage": stage.id},
            )  # fmt: skip
            for key, (column, expression, having) in VALUES.items():
                await conn.execute(
                    text(
                        f"INSERT INTO custom_field_values (field_id, entity_id, {column}) "
                        f"SELECT CAST(:field AS uuid), id, {expression} FROM "
                        f"(SELECT id, row_number() OVER () AS i FROM {TABLES[kind.name]}) r "
                        f"WHERE {having}"
                    ),
                    {"field": ids[kind.name, key]},
                )
    async with owner.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("custom_field_values", *TABLES.values()):
            await conn.exec_driver_sql(f'VACUUM ANALYZE "{tenant.schema}".{table}')
    return tenant


def _nodes(plan: dict) -> list[str]:
    found = [f"{plan['Node Type']} on {plan.get('Relation Name', '?')} "
             f"{plan.get('Index Name', '')}".strip()]  # fmt: skip
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


async def _plans(api, services, sql_counter, kind: Kind, token: str, variables: dict):
    """The plans of the statements of the list's page that read custom field values."""
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    data = await api.gql(Records(api, kind).list_query(), variables, token=token)
    statements = [
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if "custom_field_values" in s and f".{TABLES[kind.name]}" in s and "count(" not in s
    ]
    assert statements, sql_counter.statements
    plans = []
    async with services.engine.begin() as conn:
        for statement, parameters in statements:
            raw = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
            plan = raw.scalar()
            plan = plan if isinstance(plan, list) else json.loads(plan)
            plans.append(_nodes(plan[0]["Plan"]))
    return data[kind.plural], plans


def _order(kind: Kind, key: str, direction: str):
    entry = {"customField": key, "direction": direction}
    return [entry] if kind.order_is_list else entry


SORTS = [("n", "ASC", "number"), ("n", "DESC", "number"), ("t", "ASC", "text"),
         ("day", "DESC", "date")]  # fmt: skip


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.name)
@pytest.mark.parametrize(("key", "direction", "index"), SORTS, ids=str)
async def test_sort_reads_the_value_index(api, services, crowded, sql_counter, kind, key,
                                          direction, index):  # fmt: skip
    token = crowded.tokens["admin"]
    variables = {"first": 20, "orderBy": _order(kind, key, direction)}
    page, plans = await _plans(api, services, sql_counter, kind, token, variables)
    # the first page, and the one after it: each one statement, through the index
    for _ in range(2):
        assert len(plans) == 1, plans
        (nodes,) = plans
        assert any(f"ix_custom_field_values_{index}" in n for n in nodes), nodes
        assert not [n for n in nodes if n.startswith("Seq Scan")], nodes
        assert not [n for n in nodes if n.startswith("Sort")], nodes  # the index's order
        variables["after"] = page["pageInfo"]["endCursor"]
        page, plans = await _plans(api, services, sql_counter, kind, token, variables)


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.name)
async def test_records_without_a_value_come_through_the_values_key(api, services, crowded,
                                                                   sql_counter, kind):  # fmt: skip
    """The end of the list (`last`, no cursor) is the records without a value: an
    anti-join on the values' primary key, never a scan of every value."""
    variables = {"last": 20, "orderBy": _order(kind, "n", "ASC")}
    page, plans = await _plans(api, services, sql_counter, kind, crowded.tokens["admin"],
                               variables)  # fmt: skip
    assert len(page["edges"]) == 20
    (nodes,) = plans
    assert not [n for n in nodes if n.startswith("Seq Scan")], nodes
    assert any("pk_custom_field_values" in n for n in nodes), nodes


FILTERS = [
    ({"key": "n", "gte": 100, "lte": 102}, "ix_custom_field_values_number"),
    ({"key": "n", "eq": 7}, "ix_custom_field_values_number"),
    ({"key": "t", "eq": "值77"}, "ix_custom_field_values_text"),
    ({"key": "day", "gte": "2021-01-01", "lte": "2021-01-03"}, "ix_custom_field_values_date"),
]


@pytest.mark.parametrize("kind", NEW_KINDS, ids=lambda k: k.name)
@pytest.mark.parametrize(("condition", "index"), FILTERS, ids=str)
async def test_filter_reads_the_value_index(api, services, crowded, sql_counter, kind,
                                            condition, index):  # fmt: skip
    variables = {"first": 20, "filter": {"customFields": [condition]}}
    page, plans = await _plans(api, services, sql_counter, kind, crowded.tokens["admin"],
                               variables)  # fmt: skip
    assert page["edges"]
    (nodes,) = plans
    assert not [n for n in nodes if n.startswith("Seq Scan on custom_field_values")], nodes
    assert any("custom_field_values" in n and index in n for n in nodes), nodes
