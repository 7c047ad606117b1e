"""duplicateCustomers pairs customers by joining on equal stored keys: the plan of the
statement the API really ran uses the key indexes, and never compares every customer
with every other (a key equality as a nested loop's join filter would be O(n²))."""

from __future__ import annotations

import json

import pytest
from helpers import make_tenant
from merge_helpers import DUPLICATES, new_customer
from sqlalchemy import text

KEY_INDEXES = {
    "ix_customers_match_name", "ix_customers_match_phone", "ix_customers_match_email"
}  # fmt: skip
KEYS = ("match_name", "match_phone", "match_email")
JOIN_CONDITIONS = ("Index Cond", "Hash Cond", "Merge Cond")


@pytest.fixture(scope="module")
async def tenant(owner, services, api):
    tenant = await make_tenant(owner, services, "mexpl")
    admin = tenant.tokens["admin"]
    rep = str(tenant.user_ids["sales"])
    await new_customer(api, admin, "佛山华达电子有限公司", phone="13800138000", ownerId=rep)
    await new_customer(api, admin, "华达电子", phone="138 0013 8000", email="a@huada.cn")
    await new_customer(api, admin, "华达电器", email="A@huada.cn")
    # Enough rows that the planner's choice is the one a real tenant gets.
    async with owner.begin() as conn:
        await conn.execute(text(
            f'INSERT INTO "{tenant.schema}".customers (id, name, phone, email) '
            "SELECT gen_random_uuid(), '客户' || i || '号商行', '0757' || (10000000 + i), "
            "'c' || i || '@example.cn' FROM generate_series(1, 5000) AS i"
        ))  # fmt: skip
        await conn.execute(text(f'ANALYZE "{tenant.schema}".customers'))
    return tenant


def _nodes(plan: dict) -> list[dict]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


async def _plan(api, services, sql_counter, token: str, *, seqscan: bool) -> list[dict]:
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(DUPLICATES, {"first": 20}, token=token)
    (statement, parameters) = next(
        (s, p)
        for s, p in zip(sql_counter.statements, sql_counter.parameters, strict=True)
        if "evidence" in s and "LIMIT" in s
    )
    async with services.engine.begin() as conn:
        if not seqscan:
            await conn.execute(text("SET LOCAL enable_seqscan = off"))
        raw = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
        plan = raw.scalar()
        plan = plan if isinstance(plan, list) else json.loads(plan)
    return _nodes(plan[0]["Plan"])


def _joined_on_keys_without_filters(nodes: list[dict]) -> None:
    """Every key equality is how rows are found (index, hash or merge condition),
    never a filter tried on every combination of rows."""
    for node in nodes:
        for key in KEYS:
            assert key not in node.get("Join Filter", ""), node
    conditions = " ".join(node.get(c, "") for node in nodes for c in JOIN_CONDITIONS)
    for key in KEYS:
        assert key in conditions, conditions


@pytest.mark.parametrize("role", ["admin", "sales"])
async def test_pairs_come_from_the_key_indexes(api, services, tenant, sql_counter, role):
    nodes = await _plan(api, services, sql_counter, tenant.tokens[role], seqscan=False)
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], nodes
    assert KEY_INDEXES <= {n.get("Index Name") for n in nodes}
    _joined_on_keys_without_filters(nodes)


@pytest.mark.parametrize("role", ["admin", "sales"])
async def test_the_planners_own_choice_is_never_quadratic(api, services, tenant, sql_counter, role):
    nodes = await _plan(api, services, sql_counter, tenant.tokens[role], seqscan=True)
    _joined_on_keys_without_filters(nodes)
