"""Claiming customers from the public pool: per-id results, the claim limit (all or
nothing), and both under concurrency (two reps racing for one customer; one rep at
the limit claiming from two requests at once)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from helpers import make_tenant
from pool_helpers import (
    CLAIM,
    Who,
    add_person,
    audit_rows,
    claim,
    footprint,
    history_rows,
    make_customers,
    owned_count,
    owners,
    results,
    set_settings,
)

from app.audit.service import Actor
from app.customers import service as customers_service
from app.db import tenant_transaction
from app.errors import UserErrors
from app.pool import service


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "claim")


async def test_claim_takes_pool_customers_and_says_why_not_for_others(api, services, tenant):
    sales, manager = tenant.user_ids["sales"], tenant.user_ids["manager"]
    pool = await make_customers(services, tenant, 2)
    (managers,) = await make_customers(services, tenant, 1, owner=manager)
    (mine,) = await make_customers(services, tenant, 1, owner=sales)
    (gone,) = await make_customers(services, tenant, 1)
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        await customers_service.delete_customer(
            conn, actor=Actor("user", sales), who=Who(sales), customer_id=uuid.UUID(gone),
            version=None,
        )  # fmt: skip
    unknown, malformed = str(uuid.uuid4()), "not-an-id"
    asked = [*pool, pool[0], managers, mine, gone, unknown, malformed]
    payload = await claim(api, tenant.tokens["sales"], asked)
    assert payload["userErrors"] == []
    assert [r["customerId"] for r in payload["results"]] == [
        *pool,
        managers,
        mine,
        gone,
        unknown,
        malformed,
    ]
    assert results(payload) == {
        pool[0]: (True, None),
        pool[1]: (True, None),
        managers: (False, "ALREADY_OWNED"),
        mine: (False, "ALREADY_OWNED"),
        gone: (False, "NOT_FOUND"),
        unknown: (False, "NOT_FOUND"),
        malformed: (False, "NOT_FOUND"),
    }
    by_id = {r["customerId"]: r["customer"] for r in payload["results"]}
    for customer_id in pool:
        assert by_id[customer_id]["ownerId"] == str(sales)
        assert by_id[customer_id]["version"] == 2
    # The rep's own customer is shown; the manager's (outside the rep's scope) is not.
    assert by_id[mine]["ownerId"] == str(sales)
    assert by_id[managers] is None
    assert await owners(services, tenant, [*pool, managers]) == {
        pool[0]: str(sales),
        pool[1]: str(sales),
        managers: str(manager),
    }

    history = await history_rows(services, tenant, pool)
    assert [(h.kind, h.from_owner_id, h.to_owner_id, h.changed_by) for h in history] == [
        ("claim", None, sales, sales)
    ] * 2
    audited = await audit_rows(services, tenant, pool, "customer.claim")
    assert {str(a.entity_id) for a in audited} == set(pool)
    assert all(a.actor_id == sales and a.actor_kind == "user" for a in audited)
    assert audited[0].changes == {"owner_id": {"from": None, "to": str(sales)}}
    # Nothing was written about the customers not claimed (beyond their creation).
    others = await history_rows(services, tenant, [managers, mine, gone])
    assert sorted((str(h.customer_id), h.kind) for h in others) == sorted(
        [(managers, "create"), (mine, "create")]
    )
    assert await audit_rows(services, tenant, [managers, mine, gone], "customer.claim") == []


async def test_claimed_customer_leaves_the_pool_for_others(api, services, tenant):
    (customer,) = await make_customers(services, tenant, 1)
    pool_filter = "query($id: ID!) { customer(id: $id) { id ownerId } }"
    assert (await claim(api, tenant.tokens["admin"], [customer]))["results"][0]["claimed"]
    seen = await api.gql(pool_filter, {"id": customer}, token=tenant.tokens["sales"])
    assert seen["customer"] is None, "an own-scope rep no longer sees it"
    again = await claim(api, tenant.tokens["sales"], [customer])
    assert results(again) == {customer: (False, "ALREADY_OWNED")}
    assert again["results"][0]["customer"] is None


async def test_limit_is_all_or_nothing(api, services, owner):
    tenant = await make_tenant(owner, services, "limit")
    await set_settings(services, tenant, claim_limit=3)
    sales = tenant.user_ids["sales"]
    await make_customers(services, tenant, 2, owner=sales)
    pool = await make_customers(services, tenant, 2)
    before = await footprint(services, tenant, pool)
    payload = await claim(api, tenant.tokens["sales"], pool)
    assert payload["results"] == []
    (error,) = payload["userErrors"]
    assert (error["field"], error["code"]) == ("ids", "LIMIT")
    assert "at most 3" in error["message"]
    assert await footprint(services, tenant, pool) == before, "nothing written"
    # One fits.
    one = await claim(api, tenant.tokens["sales"], pool[:1])
    assert results(one) == {pool[0]: (True, None)}
    assert await owned_count(services, tenant, sales) == 3
    # At the limit: one more is too many, even next to one already owned.
    full = await claim(api, tenant.tokens["sales"], [pool[0], pool[1]])
    assert full["userErrors"][0]["code"] == "LIMIT"
    assert await owners(services, tenant, pool[1:]) == {pool[1]: None}
    # No limit: anything goes.
    await set_settings(services, tenant, claim_limit=None)
    assert results(await claim(api, tenant.tokens["sales"], pool[1:])) == {pool[1]: (True, None)}


async def test_bad_requests(api, tenant):
    token = tenant.tokens["sales"]
    too_many = await claim(api, token, [str(uuid.uuid4()) for _ in range(101)])
    assert too_many["userErrors"] == [
        {"field": "ids", "code": "TOO_MANY", "message": "at most 100 customers at once"}
    ]
    empty = await claim(api, token, [])
    assert empty["userErrors"][0]["code"] == "REQUIRED"
    for role in ("viewer",):
        errors = await api.errors(CLAIM, {"ids": [str(uuid.uuid4())]}, token=tenant.tokens[role])
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_two_reps_racing_for_one_customer_one_wins(api, services, owner):
    tenant = await make_tenant(owner, services, "race")
    reps = [await add_person(api, services, tenant, role="sales", label=f"r{i}") for i in range(4)]
    for _ in range(5):
        (customer,) = await make_customers(services, tenant, 1)
        payloads = await asyncio.gather(*(claim(api, token, [customer]) for _, token in reps))
        outcomes = [p["results"][0] for p in payloads]
        winners = [rep for rep, o in zip(reps, outcomes, strict=True) if o["claimed"]]
        assert len(winners) == 1, outcomes
        assert sorted(o["reason"] or "" for o in outcomes) == ["", *["ALREADY_OWNED"] * 3]
        assert await owners(services, tenant, [customer]) == {customer: str(winners[0][0])}
        (history,) = await history_rows(services, tenant, [customer])
        assert (history.kind, history.to_owner_id) == ("claim", winners[0][0])
        assert len(await audit_rows(services, tenant, [customer], "customer.claim")) == 1


async def test_one_rep_at_the_limit_claiming_twice_at_once(api, services, owner):
    tenant = await make_tenant(owner, services, "burst")
    await set_settings(services, tenant, claim_limit=3)
    rep, token = await add_person(api, services, tenant, role="sales", label="burst")
    await make_customers(services, tenant, 1, owner=rep)
    for _ in range(3):
        first = await make_customers(services, tenant, 2)
        second = await make_customers(services, tenant, 2)
        # Either request alone fits (1 + 2 <= 3); both together would not.
        a, b = await asyncio.gather(claim(api, token, first), claim(api, token, second))
        assert sorted([bool(a["userErrors"]), bool(b["userErrors"])]) == [False, True], (a, b)
        loser = a if a["userErrors"] else b
        assert loser["userErrors"][0]["code"] == "LIMIT"
        assert await owned_count(services, tenant, rep) == 3
        # Back to one, for the next round.
        won = second if loser is a else first
        async with tenant_transaction(services.engine, tenant.schema) as conn:
            await service.release_customers(
                conn, actor=Actor("user", rep), who=Who(rep), ids=won, reason=None,
                may_release_others=False,
            )  # fmt: skip
        assert await owned_count(services, tenant, rep) == 1


async def test_claims_of_one_user_are_serialised(services, owner):
    """Deterministically: a second claim by the same user waits for the first to end,
    then counts what the first committed."""
    tenant = await make_tenant(owner, services, "serial")
    await set_settings(services, tenant, claim_limit=1)
    rep = tenant.user_ids["sales"]
    first, second = await make_customers(services, tenant, 2)
    actor, who = Actor("user", rep), Who(rep)

    async def claim_in_own_transaction(customer_id: str):
        async with tenant_transaction(services.engine, tenant.schema) as conn:
            return await service.claim_customers(conn, actor=actor, who=who, ids=[customer_id])

    async with tenant_transaction(services.engine, tenant.schema) as conn:
        (outcome,) = await service.claim_customers(conn, actor=actor, who=who, ids=[first])
        assert outcome.claimed
        waiting = asyncio.create_task(claim_in_own_transaction(second))
        await asyncio.sleep(0.3)
        assert not waiting.done(), "the second claim must wait for the first"
    with pytest.raises(UserErrors) as refused:
        await waiting
    assert refused.value.errors[0].code == "LIMIT"
    assert await owners(services, tenant, [first, second]) == {first: str(rep), second: None}


async def test_a_racing_claim_waits_and_then_finds_it_owned(services, owner):
    tenant = await make_tenant(owner, services, "wait")
    (customer,) = await make_customers(services, tenant, 1)
    sales, manager = tenant.user_ids["sales"], tenant.user_ids["manager"]

    async def claim_as(user_id: uuid.UUID):
        async with tenant_transaction(services.engine, tenant.schema) as conn:
            return await service.claim_customers(
                conn, actor=Actor("user", user_id), who=Who(user_id), ids=[customer]
            )

    async with tenant_transaction(services.engine, tenant.schema) as conn:
        (won,) = await service.claim_customers(
            conn, actor=Actor("user", sales), who=Who(sales), ids=[customer]
        )
        waiting = asyncio.create_task(claim_as(manager))
        await asyncio.sleep(0.3)
        assert not waiting.done(), "the row is locked by the first claim"
    (lost,) = await waiting
    assert won.claimed and not lost.claimed
    assert lost.reason == "ALREADY_OWNED"
    assert await owners(services, tenant, [customer]) == {customer: str(sales)}
