"""Every filter and sort of activities, tasks, appointments, the inbox and the timeline,
the overlap check and the reminder statements can be answered from an index: with
sequential scans disabled, the plan of the statement the API really ran has none."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from helpers import make_tenant
from sqlalchemy import text

from app.activities import reminders
from app.db import bind_tenant

DAY = "2026-01-01T00:00:00Z"
LATER = "2026-02-01T00:00:00Z"


def _scans(plan: dict) -> list[str]:
    found = [
        f"{plan['Node Type']} on {plan.get('Relation Name', '?')} {plan.get('Index Name', '')}"
    ]
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


async def _plan(services, statement: str, parameters) -> list[str]:
    async with services.engine.begin() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        raw = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = raw.scalar()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return _scans(plan[0]["Plan"])


async def _plan_of(services, sql_counter, marker) -> list[str]:
    found = [
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if marker(s)
    ]
    assert found, sql_counter.statements
    return await _plan(services, *found[0])


def _no_seq_scan(scans: list[str]) -> None:
    assert not [s for s in scans if s.startswith("Seq Scan")], scans


@pytest.fixture(scope="module")
async def ids(gql, tenant_a):
    token = tenant_a.tokens["admin"]
    customer = await gql.customer(token)
    contact = await gql.contact(token, customer)
    return {"customer": customer, "contact": contact, "user": str(tenant_a.user_ids["sales"])}


def _listing(field: str, filter_type: str, order_type: str | None) -> str:
    order = f", $orderBy: [{order_type}!]" if order_type else ""
    order_arg = ", orderBy: $orderBy" if order_type else ""
    return (
        f"query($filter: {filter_type}{order}) {{ {field}(first: 20, filter: $filter{order_arg})"
        " { edges { node { id } } } }"
    )


ACTIVITY_CASES = [
    ({}, None),
    ({}, [{"field": "CREATED_AT"}]),
    ({}, [{"field": "OCCURRED_AT", "direction": "ASC"}]),
    ({"customerId": {"eq": "{customer}"}}, None),
    ({"contactId": {"eq": "{contact}"}}, None),
    ({"kind": {"eq": "VISIT"}}, None),
    ({"ownerId": {"eq": "{user}"}}, None),
    ({"occurredAt": {"gte": DAY, "lte": LATER}}, None),
]
TASK_CASES = [
    ({}, None),
    ({}, [{"field": "PRIORITY", "direction": "DESC"}]),
    ({}, [{"field": "CREATED_AT", "direction": "DESC"}]),
    ({"assigneeId": {"eq": "{user}"}}, None),
    ({"status": {"eq": "OPEN"}}, None),
    ({"dueAt": {"gte": DAY, "lte": LATER}}, None),
    ({"customerId": {"eq": "{customer}"}}, None),
]
APPOINTMENT_CASES = [
    ({}, None),
    ({"from": DAY, "to": LATER}, None),
    ({"ownerId": {"eq": "{user}"}}, None),
    ({"customerId": {"eq": "{customer}"}}, None),
]


def _fill(value, ids):
    return json.loads(json.dumps(value).replace("{customer}", ids["customer"]).replace(
        "{contact}", ids["contact"]).replace("{user}", ids["user"]))  # fmt: skip


@pytest.mark.parametrize("role", ["viewer", "sales", "admin"])
@pytest.mark.parametrize(
    ("field", "filter_type", "order_type", "filter_", "order"),
    [
        ("activities", "ActivityFilter", "[ActivityOrder!]".strip("[]!"), f, o)
        for f, o in ACTIVITY_CASES
    ]
    + [("tasks", "TaskFilter", "TaskOrder", f, o) for f, o in TASK_CASES]
    + [("appointments", "AppointmentFilter", None, f, None) for f, _ in APPOINTMENT_CASES],
    ids=lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v),
)
async def test_lists_use_indexes(
    api, services, tenant_a, sql_counter, ids, role, field, filter_type, order_type, filter_, order
):
    variables = {"filter": _fill(filter_, ids)}
    if order_type:
        variables["orderBy"] = order
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(_listing(field, filter_type, order_type), variables, token=tenant_a.tokens[role])
    scans = await _plan_of(services, sql_counter, lambda s: f".{field} " in s and "ORDER BY" in s)
    _no_seq_scan(scans)


@pytest.mark.parametrize("unread_only", [False, True])
async def test_inbox_uses_indexes(api, services, tenant_a, sql_counter, unread_only):
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(
        "query($u: Boolean!) { notifications(first: 20, unreadOnly: $u) { edges { node { id } } }"
        " unreadCount }",
        {"u": unread_only}, token=tenant_a.tokens["sales"],
    )  # fmt: skip
    page = await _plan_of(
        services, sql_counter, lambda s: ".notifications" in s and "ORDER BY" in s
    )
    _no_seq_scan(page)
    count = await _plan_of(services, sql_counter, lambda s: ".notifications" in s and "count(" in s)
    _no_seq_scan(count)
    assert any("ix_notifications_unread" in s for s in count), count


@pytest.fixture(scope="module")
async def crowded(owner, services):
    """A tenant with enough history (and fresh statistics) that the planner's choice
    shows: 40 customers, 2,000 activities, 1,000 tasks, 1,000 appointments."""
    tenant = await make_tenant(owner, services, "crowded")
    admin = tenant.user_ids["admin"]
    async with owner.begin() as conn:
        await conn.execute(text(f'SET LOCAL search_path TO "{tenant.schema}"'))
        await conn.execute(text(
            "INSERT INTO customers (id, name, owner_id) SELECT gen_random_uuid(), 'C' || n,"
            " CASE WHEN n % 2 = 0 THEN CAST(:admin AS uuid) END FROM generate_series(1, 40) n"
        ), {"admin": admin})  # fmt: skip
        customers = "(SELECT array_agg(id ORDER BY name) FROM customers)"
        await conn.execute(text(
            "INSERT INTO activities (id, kind, subject, occurred_at, customer_id, owner_id)"
            f" SELECT gen_random_uuid(), 'call', 's' || n, now() - n * interval '1 hour',"
            f" ({customers})[1 + n % 40], :admin FROM generate_series(1, 2000) n"
        ), {"admin": admin})  # fmt: skip
        await conn.execute(text(
            "INSERT INTO tasks (id, title, due_at, assignee_id, customer_id, status, completed_at)"
            f" SELECT gen_random_uuid(), 't' || n, now() + n * interval '1 hour', :admin,"
            f" ({customers})[1 + n % 40], CASE WHEN n % 2 = 0 THEN 'done' ELSE 'open' END,"
            " CASE WHEN n % 2 = 0 THEN now() - n * interval '1 minute' END"
            " FROM generate_series(1, 1000) n"
        ), {"admin": admin})  # fmt: skip
        await conn.execute(text(
            "INSERT INTO appointments (id, title, owner_id, customer_id, starts_at, ends_at)"
            f" SELECT gen_random_uuid(), 'a' || n, :admin, ({customers})[1 + n % 40],"
            " now() + n * interval '3 hours', now() + n * interval '3 hours' + interval '1 hour'"
            " FROM generate_series(1, 1000) n"
        ), {"admin": admin})  # fmt: skip
        for table in ("customers", "activities", "tasks", "appointments", "audit_log", "users"):
            await conn.execute(text(f"ANALYZE {table}"))
        customer = await conn.scalar(
            text("SELECT id FROM customers WHERE owner_id IS NULL LIMIT 1")
        )
    return {"tenant": tenant, "customer": str(customer)}


@pytest.mark.parametrize("role", ["viewer", "admin"])
async def test_timeline_uses_indexes(api, services, crowded, sql_counter, role):
    tenant = crowded["tenant"]
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    data = await api.gql(
        "query($id: ID!) { customerTimeline(customerId: $id, first: 20) { totalCount"
        " edges { node { at } } } }",
        {"id": crowded["customer"]}, token=tenant.tokens[role],
    )  # fmt: skip
    # 50 activities; for the admin also 25 tasks and 25 appointments (and maybe the
    # tasks' completions); the viewer's team has none of the admin's tasks or visits.
    total_count = data["customerTimeline"]["totalCount"]
    assert total_count >= 100 if role == "admin" else total_count == 50
    page = await _plan_of(services, sql_counter, lambda s: "UNION ALL" in s and "LIMIT" in s)
    _no_seq_scan(page)
    indexes = ["ix_activities_customer_id", "ix_audit_log_entity"]
    if role == "admin":  # the viewer's scope narrows tasks and appointments by person first
        indexes += [
            "ix_tasks_customer_id", "ix_tasks_customer_completed", "ix_appointments_customer_id",
        ]  # fmt: skip
    for index in indexes:
        assert any(index in s for s in page), (index, "\n".join(page))
    total = await _plan_of(services, sql_counter, lambda s: "UNION ALL" in s and "count(" in s)
    _no_seq_scan(total)


async def test_overlap_check_is_an_index_range(gql, services, tenant_a, sql_counter):
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    start = dt.datetime(2032, 1, 5, 9, tzinfo=dt.UTC)
    payload = await gql.schedule(tenant_a.tokens["sales"], start, 60, title=f"x{uuid.uuid4().hex}")
    assert payload["userErrors"] == []
    scans = await _plan_of(
        services, sql_counter, lambda s: ".appointments" in s and "ends_at >" in s and "!=" in s
    )
    _no_seq_scan(scans)
    assert any("ix_appointments_owner_id" in s for s in scans), scans


@pytest.mark.parametrize(
    ("table", "index"),
    [("tasks", "ix_tasks_open_due"), ("appointments", "ix_appointments_starts_at")],
)
async def test_reminder_statements_use_indexes(services, crowded, sql_counter, table, index):
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    async with services.engine.connect() as raw:
        conn = await bind_tenant(raw, crowded["tenant"].schema)
        await reminders.produce_reminders(conn)
        await raw.rollback()
    scans = await _plan_of(
        services, sql_counter, lambda s: "INSERT INTO" in s and f".{table}." in s
    )
    _no_seq_scan(scans)
    assert any(index in s for s in scans), scans
