"""Every ownership change, whichever path made it, is in the customer's ownership
history (paged newest first, within the caller's data scope) and in the audit log."""

from __future__ import annotations

import uuid

import pytest
from helpers import make_tenant
from pool_helpers import (
    HISTORY,
    audit_rows,
    claim,
    history_rows,
    make_customers,
    release,
    transfer,
)

CREATE = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id version } userErrors { code } } }"""
UPDATE = """mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { id version ownerId } userErrors { code } } }"""


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "history")


async def _history(api, token, customer_id, **variables) -> dict:
    data = await api.gql(HISTORY, {"customerId": customer_id, **variables}, token=token)
    return data["customerOwnershipHistory"]


async def test_every_path_is_recorded_and_paged_newest_first(api, services, tenant):
    sales, manager, admin = (tenant.user_ids[r] for r in ("sales", "manager", "admin"))
    tokens = tenant.tokens
    created = await api.gql(
        CREATE, {"input": {"name": "历史客户", "ownerId": str(sales)}}, token=tokens["sales"]
    )
    customer = created["createCustomer"]["customer"]["id"]
    # An update that leaves the owner alone records nothing.
    renamed = await api.gql(
        UPDATE,
        {"input": {"id": customer, "version": 1, "name": "历史客户 2"}},
        token=tokens["sales"],
    )
    assert renamed["updateCustomer"]["userErrors"] == []
    to_pool = await api.gql(
        UPDATE, {"input": {"id": customer, "version": 2, "ownerId": None}}, token=tokens["sales"]
    )
    assert to_pool["updateCustomer"]["customer"]["ownerId"] is None
    assert (await claim(api, tokens["sales"], [customer]))["results"][0]["claimed"]
    moved = await transfer(api, tokens["admin"], [customer], manager, reason="重新分配")
    assert moved["userErrors"] == []
    assert (await release(api, tokens["manager"], [customer], reason="退回公海"))[
        "userErrors"
    ] == []

    expected = [  # newest first
        ("RELEASE", manager, None, manager, "退回公海"),
        ("TRANSFER", sales, manager, admin, "重新分配"),
        ("CLAIM", None, sales, sales, None),
        ("UPDATE", sales, None, sales, None),
        ("CREATE", None, sales, sales, None),
    ]

    def as_tuples(edges):
        people = ("fromOwnerId", "toOwnerId", "changedById")
        return [
            (n["kind"], *(n[k] and uuid.UUID(n[k]) for k in people), n["reason"])
            for n in (e["node"] for e in edges)
        ]

    everything = await _history(api, tokens["admin"], customer, first=10)
    assert everything["totalCount"] == 5
    assert as_tuples(everything["edges"]) == expected
    newest = everything["edges"][0]["node"]
    assert (newest["fromOwner"]["name"], newest["toOwner"], newest["changedBy"]["name"]) == (
        "manager", None, "manager"
    )  # fmt: skip
    # Paging: two at a time, the same sequence.
    seen, after = [], None
    while True:
        page = await _history(api, tokens["admin"], customer, first=2, after=after)
        seen += page["edges"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert as_tuples(seen) == expected
    # In the pool now: a rep (own scope) and a viewer see it, and so its history.
    for role in ("sales", "viewer"):
        assert (await _history(api, tokens[role], customer))["totalCount"] == 5

    # The pool's own actions are audited by it; createCustomer/updateCustomer audit
    # their changes themselves (and no second record appears).
    actions = [a.action for a in await audit_rows(services, tenant, [customer])]
    assert actions == [
        "customer.create", "customer.update", "customer.update", "customer.claim",
        "customer.transfer", "customer.release",
    ]  # fmt: skip
    assert len(await history_rows(services, tenant, [customer])) == 5


async def test_history_follows_the_data_scope(api, services, tenant):
    manager = tenant.user_ids["manager"]
    created = await api.gql(
        CREATE, {"input": {"name": "经理的客户", "ownerId": str(manager)}},
        token=tenant.tokens["manager"],
    )  # fmt: skip
    customer = created["createCustomer"]["customer"]["id"]
    assert (await _history(api, tenant.tokens["admin"], customer))["totalCount"] == 1
    for role in ("sales", "viewer"):
        hidden = await _history(api, tenant.tokens[role], customer)
        assert hidden == {"totalCount": 0, "pageInfo": {"hasNextPage": False, "endCursor": None},
                          "edges": []}  # fmt: skip
    assert (await _history(api, tenant.tokens["admin"], "junk"))["totalCount"] == 0


async def test_statements_do_not_grow_with_the_rows(api, services, tenant, sql_counter):
    """One page, one count, one lookup of all the people: whatever the history's length;
    and a claim of 20 customers costs what a claim of one does."""
    sales = tenant.user_ids["sales"]
    short = await make_customers(services, tenant, 1, owner=sales)
    long = await make_customers(services, tenant, 1, owner=sales)
    for _ in range(3):
        assert (await release(api, tenant.tokens["sales"], long))["userErrors"] == []
        assert (await claim(api, tenant.tokens["sales"], long))["results"][0]["claimed"]
    counts = {}
    for name, ids in (("short", short), ("long", long)):
        await _history(api, tenant.tokens["admin"], ids[0])  # principal lookups cached
        sql_counter.statements.clear()
        history = await _history(api, tenant.tokens["admin"], ids[0], first=10)
        assert history["totalCount"] == (1 if name == "short" else 7)
        counts[name] = sql_counter.count
    assert counts["short"] == counts["long"] <= 3, counts

    claims = {}
    for size in (1, 20):
        ids = await make_customers(services, tenant, size)
        await api.gql("{ me { user { id } } }", token=tenant.tokens["manager"])
        sql_counter.statements.clear()
        payload = await claim(api, tenant.tokens["manager"], ids)
        assert all(r["claimed"] for r in payload["results"])
        claims[size] = sql_counter.count
    assert claims[1] == claims[20], claims
