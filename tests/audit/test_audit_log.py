"""The audit log over the API: admins read what real mutations recorded, by entity,
actor, action and time, newest first and page by page; nobody else reads it, no
tenant reads another's, actors load once per page, and every filter has an index."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from pathlib import Path

import pytest
from helpers import make_tenant
from sqlalchemy import text

from app.audit.service import SYSTEM, Actor, record
from app.db import tenant_transaction

OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"
AUDIT_LOG = (OPERATIONS / "auditLog.graphql").read_text()

PAGE = """query($first: Int, $after: String, $filter: AuditLogFilter) {
  auditLog(first: $first, after: $after, filter: $filter) {
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id at action entityType entityId actorId } }
  }
}"""
CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id version } userErrors { field code } }
}"""
UPDATE_CUSTOMER = """
mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { id version } userErrors { field code } }
}"""


@pytest.fixture(scope="module")
async def audited(owner, services):
    """A tenant of this module's own, so whole-log listings are deterministic."""
    return await make_tenant(owner, services, "audit")


async def _customer_history(api, tenant, updates: int = 1) -> dict:
    """A customer created by sales and updated by the manager, through the API."""
    name = f"审计 {uuid.uuid4().hex[:8]}"
    created = await api.gql(
        CREATE_CUSTOMER, {"input": {"name": name, "tier": "A"}}, token=tenant.tokens["sales"]
    )
    assert created["createCustomer"]["userErrors"] == []
    customer_id = created["createCustomer"]["customer"]["id"]
    for version in range(1, updates + 1):  # tier A -> B -> C -> B ...
        updated = await api.gql(
            UPDATE_CUSTOMER,
            {"input": {"id": customer_id, "version": version, "tier": "BC"[(version - 1) % 2]}},
            token=tenant.tokens["manager"],
        )
        assert updated["updateCustomer"]["userErrors"] == []
    return {"id": customer_id, "name": name}


def _at(node: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(node["at"])


def _of(customer_id: str) -> dict:
    return {"entityType": "customer", "entityId": {"eq": customer_id}}


async def _log(api, tenant, filter_: dict | None, *, role: str = "admin", first: int = 100):
    data = await api.gql(AUDIT_LOG, {"filter": filter_, "first": first}, token=tenant.tokens[role])
    return data["auditLog"]


@pytest.fixture(scope="module")
async def history(api, audited):
    return await _customer_history(api, audited)


async def test_admin_reads_what_mutations_recorded(api, audited, history):
    log = await _log(api, audited, _of(history["id"]))
    assert log["totalCount"] == 2
    update, create = (e["node"] for e in log["edges"])  # newest first
    assert create["action"] == "customer.create"
    assert create["entityType"] == "customer" and create["entityId"] == history["id"]
    assert create["changes"]["name"] == {"from": None, "to": history["name"]}
    assert create["changes"]["tier"] == {"from": None, "to": "A"}
    assert create["actorKind"] == "user"
    assert create["actorId"] == str(audited.user_ids["sales"])
    assert create["actor"]["email"] == f"sales@{audited.slug}.example.com"
    assert update["action"] == "customer.update"
    assert update["changes"] == {"tier": {"from": "A", "to": "B"}}
    assert update["actorId"] == str(audited.user_ids["manager"])
    assert update["actor"]["email"] == f"manager@{audited.slug}.example.com"
    assert _at(update) > _at(create)
    assert int(update["id"]) > int(create["id"])


async def test_filter_by_actor(api, audited, history):
    manager = str(audited.user_ids["manager"])
    sales = str(audited.user_ids["sales"])
    mine = await _log(api, audited, {"actorId": {"eq": manager}, **_of(history["id"])})
    assert [e["node"]["action"] for e in mine["edges"]] == ["customer.update"]
    both = await _log(api, audited, {"actorId": {"in": [manager, sales]}, **_of(history["id"])})
    assert [e["node"]["action"] for e in both["edges"]] == ["customer.update", "customer.create"]
    # Alone, too: only the manager's records, this update among them.
    by_manager = await _log(api, audited, {"actorId": {"eq": manager}})
    assert by_manager["edges"] and all(e["node"]["actorId"] == manager for e in by_manager["edges"])
    assert history["id"] in {e["node"]["entityId"] for e in by_manager["edges"]}
    # Users created by provisioning have no actor: system, with a null actor.
    unattributed = await _log(api, audited, {"actorId": {"isNull": True}, "entityType": "user"})
    nodes = [e["node"] for e in unattributed["edges"]]
    assert len(nodes) == 4
    assert {(n["actorKind"], n["actor"], n["action"]) for n in nodes} == {
        ("system", None, "user.create")
    }


async def test_filter_by_action(api, audited, history):
    of = _of(history["id"])
    exact = await _log(api, audited, {"action": "customer.update", **of})
    assert [e["node"]["action"] for e in exact["edges"]] == ["customer.update"]
    prefix = await _log(api, audited, {"actionPrefix": "customer.", **of})
    assert [e["node"]["action"] for e in prefix["edges"]] == ["customer.update", "customer.create"]
    # Across the tenant: every customer action, and nothing else.
    everything = await _log(api, audited, {"actionPrefix": "customer."})
    assert everything["totalCount"] >= 2
    assert all(e["node"]["action"].startswith("customer.") for e in everything["edges"])
    users = await _log(api, audited, {"actionPrefix": "user."})
    assert {e["node"]["action"] for e in users["edges"]} == {"user.create"}
    # LIKE wildcards are literal characters.
    for wildcard in ("%", "_", "customer_", "custom%", "%.create"):
        none = await _log(api, audited, {"actionPrefix": wildcard})
        assert none["totalCount"] == 0, wildcard


async def test_filter_by_time_range(api, audited, history):
    log = await _log(api, audited, _of(history["id"]))
    update_at, create_at = (e["node"]["at"] for e in log["edges"])
    of = _of(history["id"])

    async def actions(at: dict) -> list[str]:
        found = await _log(api, audited, {"at": at, **of})
        return [e["node"]["action"] for e in found["edges"]]

    assert await actions({"lte": create_at}) == ["customer.create"]
    assert await actions({"gte": update_at}) == ["customer.update"]
    assert await actions({"gte": create_at, "lte": update_at}) == [
        "customer.update",
        "customer.create",
    ]
    assert await actions({"gte": create_at, "lte": create_at}) == ["customer.create"]
    # Without the entity filter, the range alone finds both too.
    window = await _log(api, audited, {"at": {"gte": create_at, "lte": update_at}})
    assert {e["node"]["entityId"] for e in window["edges"]} == {history["id"]}


async def test_pages_walk_the_whole_log_newest_first(api, audited):
    await _customer_history(api, audited, updates=4)
    whole = await api.gql(PAGE, {"first": 100}, token=audited.tokens["admin"])
    expected = [e["node"] for e in whole["auditLog"]["edges"]]
    assert 10 < len(expected) < 100
    keys = [(_at(n), int(n["id"])) for n in expected]
    assert keys == sorted(keys, reverse=True)
    assert len(set(keys)) == len(keys)
    # The provisioning transaction wrote its four users at one instant: id breaks ties.
    assert len({n["at"] for n in expected}) < len(expected)

    walked, after, pages = [], None, 0
    while True:
        data = await api.gql(PAGE, {"first": 3, "after": after}, token=audited.tokens["admin"])
        page = data["auditLog"]
        pages += 1
        assert len(page["edges"]) <= 3
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        walked += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert walked == expected
    assert pages == -(-len(expected) // 3)


async def test_filtered_pages(api, audited):
    customer = await _customer_history(api, audited, updates=4)
    filter_ = {"actionPrefix": "customer.", **_of(customer["id"])}
    first = await api.gql(PAGE, {"first": 3, "filter": filter_}, token=audited.tokens["admin"])
    page = first["auditLog"]
    assert [e["node"]["action"] for e in page["edges"]] == ["customer.update"] * 3
    assert page["pageInfo"]["hasNextPage"]
    rest = await api.gql(
        PAGE,
        {"first": 3, "after": page["pageInfo"]["endCursor"], "filter": filter_},
        token=audited.tokens["admin"],
    )
    page = rest["auditLog"]
    assert [e["node"]["action"] for e in page["edges"]] == ["customer.update", "customer.create"]
    assert not page["pageInfo"]["hasNextPage"]


@pytest.mark.parametrize("role", ["manager", "sales", "viewer"])
async def test_only_admins_read_the_log(api, audited, role):
    response = await api.post(AUDIT_LOG, {}, token=audited.tokens[role])
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["auditLog"]


@pytest.mark.parametrize(
    "filter_",
    [
        {"actorId": {"eq": "not-a-uuid"}},
        {"actorId": {"in": [str(uuid.uuid4()), "42"]}},
        {"entityType": "customer", "entityId": {"eq": "nope"}},
        {"entityType": "customer", "entityId": {"in": ["1"]}},
        {"entityId": {"eq": str(uuid.uuid4())}},  # an id needs its type
    ],
    ids=json.dumps,
)
async def test_bad_filters_are_bad_user_input(api, audited, filter_):
    errors = await api.errors(PAGE, {"filter": filter_}, token=audited.tokens["admin"])
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"]


async def test_bad_cursor_is_bad_user_input(api, audited):
    errors = await api.errors(PAGE, {"after": "garbage!"}, token=audited.tokens["admin"])
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"]


async def test_tenant_b_sees_none_of_a(api, tenant_a, tenant_b):
    customer = await _customer_history(api, tenant_a)
    a_log = await _log(api, tenant_a, _of(customer["id"]))
    assert a_log["totalCount"] == 2  # the filters do find A's records in A
    a_users = {str(u) for u in tenant_a.user_ids.values()}
    sales, manager = str(tenant_a.user_ids["sales"]), str(tenant_a.user_ids["manager"])
    at = a_log["edges"][0]["node"]["at"]
    filters = [
        _of(customer["id"]),
        {"entityType": "customer", "entityId": {"in": [customer["id"]]}},
        {"actorId": {"eq": sales}},
        {"actorId": {"in": [sales, manager]}},
        {"actorId": {"eq": manager}, "actionPrefix": "customer."},
        {"action": "customer.update", "actorId": {"eq": manager}},
        {"entityType": "user", "entityId": {"eq": sales}},
    ]
    for filter_ in filters:
        mine = await _log(api, tenant_a, filter_)
        assert mine["totalCount"] >= 1, filter_
        theirs = await _log(api, tenant_b, filter_)
        assert (theirs["totalCount"], theirs["edges"]) == (0, []), filter_
    # Unfiltered, by time or by action, B lists only its own records: none names A's customer
    # or A's users, and no actor resolves to one of A's users.
    for filter_ in (None, {"at": {"gte": at}}, {"actionPrefix": "customer."}):
        theirs = await _log(api, tenant_b, filter_)
        for node in (e["node"] for e in theirs["edges"]):
            assert node["entityId"] != customer["id"]
            assert node["entityId"] not in a_users
            assert node["actorId"] not in a_users
            assert node["actor"] is None or node["actor"]["id"] not in a_users


@pytest.fixture(scope="module")
async def many(services, audited):
    """60 records written directly, with user actors, job actors, the system and an
    id naming no user: enough for a page of 50."""
    users = list(audited.user_ids.values())
    stranger = uuid.uuid4()
    actors = [Actor("user", u) for u in users] + [Actor("job", users[0]), SYSTEM]
    actors.append(Actor("user", stranger))
    async with tenant_transaction(services.engine, audited.schema) as conn:
        for i in range(60):
            await record(
                conn, actor=actors[i % len(actors)], action="probe.touch", entity_type="probe",
                entity_id=uuid.uuid4(), changes={"n": {"from": i, "to": i + 1}},
            )  # fmt: skip
    return {"stranger": str(stranger)}


ACTORS = """query($first: Int, $filter: AuditLogFilter) {
  auditLog(first: $first, filter: $filter) {
    edges { node { actorId actorKind changes actor { id email } } }
  }
}"""


async def test_actors_load_once_per_page(api, audited, many, sql_counter):
    token = audited.tokens["admin"]
    filter_ = {"entityType": "probe"}
    counts, statements = {}, {}
    for first in (5, 50):
        # Twice, keeping the fewer: the principal cache (1 s in tests) refreshes at
        # most once a second, so never in both of two back-to-back requests.
        runs = []
        for _ in range(2):
            sql_counter.statements.clear()
            data = await api.gql(ACTORS, {"first": first, "filter": filter_}, token=token)
            runs.append(list(sql_counter.statements))
        nodes = [e["node"] for e in data["auditLog"]["edges"]]
        assert len(nodes) == first
        statements[first] = min(runs, key=len)
        counts[first] = len(statements[first])
    assert counts[5] == counts[50], statements
    # The page, then the actors: no count (totalCount is not selected), nothing per row.
    for listed in statements.values():
        assert sum(".audit_log" in s for s in listed) == 1, listed
        assert sum(".users" in s and " IN (" in s for s in listed) == 1, listed
        assert not any("count(" in s for s in listed), listed

    emails = {str(u): f"{role}@{audited.slug}.example.com" for role, u in audited.user_ids.items()}
    for node in nodes:
        if node["actorId"] in emails:
            assert node["actor"]["email"] == emails[node["actorId"]], node
        else:  # the system (no id) or an id naming no user of this tenant
            assert node["actor"] is None, node
    kinds = {(n["actorKind"], n["actor"] is None) for n in nodes}
    assert kinds == {("user", False), ("job", False), ("system", True), ("user", True)}
    assert many["stranger"] in {n["actorId"] for n in nodes}


async def test_without_actor_no_user_lookup(api, audited, many, sql_counter):
    sql_counter.statements.clear()
    await api.gql(
        PAGE, {"first": 50, "filter": {"entityType": "probe"}}, token=audited.tokens["admin"]
    )
    assert not any(".users" in s and " IN (" in s for s in sql_counter.statements)


# Every filter, and the sort, can be served by an index. With sequential scans off,
# the count statement (the filter alone, no order, no limit) must find its rows by an
# Index Cond on a filtered column, not by reading an index whole and filtering; the
# page statement, unfiltered, takes its order from the (at) index (ties of `at`
# sorted by id), also after a cursor. Which index a filtered page uses is then the
# planner's call, by selectivity.
INDEX_CASES = [
    ({"at": {"gte": "2026-01-01T00:00:00Z", "lte": "2036-01-01T00:00:00Z"}}, {"at"}),
    ({"actorId": {"eq": str(uuid.uuid4())}}, {"actor_id"}),
    ({"actorId": {"in": [str(uuid.uuid4()), str(uuid.uuid4())]}}, {"actor_id"}),
    ({"actorId": {"isNull": True}}, {"actor_id"}),
    ({"entityType": "customer"}, {"entity_type"}),
    ({"entityType": "customer", "entityId": {"eq": str(uuid.uuid4())}}, {"entity_id"}),
    ({"entityType": "user", "entityId": {"in": [str(uuid.uuid4())]}}, {"entity_id"}),
    ({"entityType": "customer", "action": "customer.update"}, {"entity_type", "action"}),
    ({"entityType": "customer", "actionPrefix": "customer."}, {"entity_type", "action"}),
    ({"action": "customer.update"}, {"action"}),
    ({"actionPrefix": "customer."}, {"action"}),
]
COUNTED = """query($first: Int, $after: String, $filter: AuditLogFilter) {
  auditLog(first: $first, after: $after, filter: $filter) { totalCount edges { node { id } } }
}"""


def _nodes(plan: dict) -> list[dict]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


async def _plans(api, services, sql_counter, token: str, variables: dict) -> list[list[dict]]:
    """The plans (as node lists) of the audit_log statements one request ran."""
    sql_counter.statements.clear()
    sql_counter.parameters.clear()
    await api.gql(COUNTED, variables, token=token)
    ran = list(zip(sql_counter.statements, sql_counter.parameters, strict=True))
    plans = []
    async with services.engine.begin() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        for statement, parameters in ran:
            if ".audit_log" not in statement:
                continue
            raw = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
            plan = raw.scalar()
            plan = plan if isinstance(plan, list) else json.loads(plan)
            nodes = _nodes(plan[0]["Plan"])
            assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], nodes
            plans.append(nodes)
    return plans


@pytest.mark.parametrize(
    ("filter_", "columns"),
    [pytest.param(f, columns, id=json.dumps(f)) for f, columns in INDEX_CASES],
)
async def test_every_filter_uses_an_index(
    api, services, audited, many, sql_counter, filter_, columns
):
    token = audited.tokens["admin"]
    _, count = await _plans(api, services, sql_counter, token, {"first": 5, "filter": filter_})
    conditions = " ".join(n.get("Index Cond", "") for n in count)
    assert any(re.search(rf"\b{c}\b", conditions) for c in columns), count


@pytest.mark.parametrize("after", [False, True], ids=["first page", "after a cursor"])
async def test_the_sort_uses_the_at_index(api, services, audited, many, sql_counter, after):
    token = audited.tokens["admin"]
    variables: dict = {"first": 5}
    if after:
        first = await api.gql(PAGE, {"first": 1}, token=token)
        variables["after"] = first["auditLog"]["pageInfo"]["endCursor"]
    page, _ = await _plans(api, services, sql_counter, token, variables)
    (scan,) = (n for n in page if "Relation Name" in n)
    assert (scan["Node Type"], scan["Index Name"], scan["Scan Direction"]) == (
        "Index Scan",
        "ix_audit_log_at",
        "Backward",
    ), page
    assert "Sort" not in [n["Node Type"] for n in page], page  # Incremental Sort only
    if after:
        assert re.search(r"\bat <=", scan.get("Index Cond", "")), page
