"""Releasing customers to the pool and transferring them between people: who may,
within which scope, and that a refused request writes nothing."""

from __future__ import annotations

import uuid

import pytest
from helpers import make_tenant
from pool_helpers import (
    RELEASE,
    TRANSFER,
    add_person,
    add_team,
    audit_rows,
    footprint,
    history_rows,
    make_customers,
    owners,
    release,
    set_settings,
    transfer,
)

ROLE = """mutation { createRole(input: {name: "team-rep", description: "writes, no transfers",
  permissions: ["customers:read", "customers:write"], dataScope: TEAM}) { userErrors { code } } }"""


@pytest.fixture(scope="module")
async def org(api, owner, services):
    """A team East with its manager and two reps; a rep of another team; a partner."""
    tenant = await make_tenant(owner, services, "transfer")
    east, west = await add_team(api, tenant, "east"), await add_team(api, tenant, "west")
    await api.gql(ROLE, token=tenant.tokens["admin"])
    people = {}
    for label, role, team in (
        ("mgr", "manager", east),
        ("rep1", "sales", east),
        ("rep2", "sales", east),
        ("lead", "team-rep", east),
        ("west", "sales", west),
        ("partner", "partner", None),
    ):
        people[label] = await add_person(api, services, tenant, role=role, team_id=team,
                                         label=label)  # fmt: skip
    return {"tenant": tenant, "ids": {k: v[0] for k, v in people.items()},
            "tokens": {k: v[1] for k, v in people.items()}}  # fmt: skip


async def test_owner_releases_with_a_reason(api, services, org):
    tenant, ids, tokens = org["tenant"], org["ids"], org["tokens"]
    mine = await make_customers(services, tenant, 2, owner=ids["rep1"])
    (pooled,) = await make_customers(services, tenant, 1)
    payload = await release(api, tokens["rep1"], [*mine, pooled], reason="  客户无意向  ")
    assert payload["userErrors"] == []
    assert [(c["id"], c["ownerId"]) for c in payload["customers"]] == [
        (mine[0], None), (mine[1], None), (pooled, None)
    ]  # fmt: skip
    assert [c["version"] for c in payload["customers"]] == [2, 2, 1]
    history = await history_rows(services, tenant, [*mine, pooled])
    released = [h for h in history if h.kind == "release"]
    assert {str(h.customer_id) for h in released} == set(mine)
    assert {(h.from_owner_id, h.to_owner_id, h.changed_by, h.reason) for h in released} == {
        (ids["rep1"], None, ids["rep1"], "客户无意向")
    }
    audited = await audit_rows(services, tenant, mine, "customer.release")
    assert audited[0].changes == {
        "owner_id": {"from": str(ids["rep1"]), "to": None},
        "reason": {"from": None, "to": "客户无意向"},
    }
    # Releasing again is a no-op.
    again = await release(api, tokens["rep1"], mine)
    assert again["userErrors"] == []
    assert len(await history_rows(services, tenant, mine)) == len(
        [h for h in history if str(h.customer_id) in mine]
    )


async def test_release_refusals_write_nothing(api, services, org):
    tenant, ids, tokens = org["tenant"], org["ids"], org["tokens"]
    (mine,) = await make_customers(services, tenant, 1, owner=ids["rep1"])
    (colleagues,) = await make_customers(services, tenant, 1, owner=ids["rep2"])
    before = await footprint(services, tenant, [mine, colleagues])
    # Another rep's customer is outside an own scope: it does not exist for them.
    refused = await release(api, tokens["rep1"], [mine, colleagues])
    assert refused["customers"] == []
    assert refused["userErrors"] == [
        {"field": "ids", "code": "NOT_FOUND", "message": f"no such customer: {colleagues}"}
    ]
    # A team-scoped role sees it, but without customers:transfer may not release it.
    not_owner = await release(api, tokens["lead"], [colleagues])
    assert [(e["field"], e["code"]) for e in not_owner["userErrors"]] == [("ids", "NOT_OWNER")]
    too_long = await release(api, tokens["rep1"], [mine], reason="x" * 501)
    assert too_long["userErrors"][0]["field"] == "reason"
    assert (await release(api, tokens["rep1"], ["junk"]))["userErrors"][0]["code"] == "NOT_FOUND"
    assert await footprint(services, tenant, [mine, colleagues]) == before
    errors = await api.errors(RELEASE, {"input": {"ids": [mine]}}, token=tenant.tokens["viewer"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_manager_releases_a_team_members_customer(api, services, org):
    tenant, ids, tokens = org["tenant"], org["ids"], org["tokens"]
    (customer,) = await make_customers(services, tenant, 1, owner=ids["rep2"])
    payload = await release(api, tokens["mgr"], [customer], reason="离职交接")
    assert payload["userErrors"] == []
    (change,) = [h for h in await history_rows(services, tenant, [customer]) if h.kind == "release"]
    assert (change.from_owner_id, change.changed_by) == (ids["rep2"], ids["mgr"])


async def test_manager_transfers_within_the_team(api, services, org):
    tenant, ids, tokens = org["tenant"], org["ids"], org["tokens"]
    customers = await make_customers(services, tenant, 2, owner=ids["rep1"])
    (pooled,) = await make_customers(services, tenant, 1)
    (already,) = await make_customers(services, tenant, 1, owner=ids["rep2"])
    asked = [*customers, pooled, already]
    payload = await transfer(api, tokens["mgr"], asked, ids["rep2"], reason="调整片区")
    assert payload["userErrors"] == []
    assert [c["id"] for c in payload["customers"]] == asked
    assert {c["ownerId"] for c in payload["customers"]} == {str(ids["rep2"])}
    assert payload["customers"][0]["owner"]["id"] == str(ids["rep2"])
    moved = [h for h in await history_rows(services, tenant, asked) if h.kind == "transfer"]
    assert sorted((str(h.customer_id), h.from_owner_id) for h in moved) == sorted(
        [(customers[0], ids["rep1"]), (customers[1], ids["rep1"]), (pooled, None)]
    )
    assert {(h.to_owner_id, h.changed_by, h.reason) for h in moved} == {
        (ids["rep2"], ids["mgr"], "调整片区")
    }
    audited = await audit_rows(services, tenant, asked, "customer.transfer")
    assert len(audited) == 3 and all(a.actor_id == ids["mgr"] for a in audited)
    # The new owner sees them; the old one no longer does.
    query = "query($id: ID!) { customer(id: $id) { id } }"
    assert (await api.gql(query, {"id": customers[0]}, token=tokens["rep2"]))["customer"]
    assert (await api.gql(query, {"id": customers[0]}, token=tokens["rep1"]))["customer"] is None


async def test_transfers_ignore_the_targets_claim_limit(api, services, org):
    tenant, ids, tokens = org["tenant"], org["ids"], org["tokens"]
    await set_settings(services, tenant, claim_limit=0)
    try:
        (customer,) = await make_customers(services, tenant, 1, owner=ids["rep1"])
        payload = await transfer(api, tokens["mgr"], [customer], ids["rep2"])
        assert payload["userErrors"] == []
    finally:
        await set_settings(services, tenant, claim_limit=200)


async def test_transfer_refusals_write_nothing(api, services, org):
    tenant, ids, tokens = org["tenant"], org["ids"], org["tokens"]
    (east,) = await make_customers(services, tenant, 1, owner=ids["rep1"])
    (west,) = await make_customers(services, tenant, 1, owner=ids["west"])
    before = await footprint(services, tenant, [east, west])
    # A customer outside the manager's team, and a target outside it.
    outside = await transfer(api, tokens["mgr"], [east, west], ids["rep2"])
    assert outside["userErrors"] == [
        {"field": "ids", "code": "NOT_FOUND", "message": f"no such customer: {west}"}
    ]
    to_outsider = await transfer(api, tokens["mgr"], [east], ids["west"])
    assert [(e["field"], e["code"]) for e in to_outsider["userErrors"]] == [
        ("toUserId", "NOT_FOUND")
    ]
    both = await transfer(api, tokens["mgr"], [west], uuid.uuid4())
    assert {e["field"] for e in both["userErrors"]} == {"ids", "toUserId"}
    junk = await transfer(api, tokens["mgr"], [east], "junk")
    assert junk["userErrors"][0]["field"] == "toUserId"
    # Partners see customers by assignment, never by owner: they cannot own them.
    to_partner = await transfer(api, tenant.tokens["admin"], [east], ids["partner"])
    assert [(e["field"], e["code"]) for e in to_partner["userErrors"]] == [("toUserId", "INVALID")]
    # A deactivated user cannot receive customers.
    deactivate = """mutation($id: ID!) { updateUser(input: {id: $id, active: false}) {
      userErrors { code } } }"""
    extra, _ = await add_person(api, services, tenant, role="sales", label="leaver")
    await api.gql(deactivate, {"id": str(extra)}, token=tenant.tokens["admin"])
    inactive = await transfer(api, tenant.tokens["admin"], [east], extra)
    assert inactive["userErrors"][0]["code"] == "NOT_FOUND"
    assert await footprint(services, tenant, [east, west]) == before
    # Reps and viewers may not transfer at all.
    for token in (tokens["rep1"], tenant.tokens["viewer"], tokens["lead"]):
        errors = await api.errors(
            TRANSFER, {"input": {"ids": [east], "toUserId": str(ids["rep1"])}}, token=token
        )
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert await owners(services, tenant, [east]) == {east: str(ids["rep1"])}
