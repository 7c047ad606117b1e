"""One tenant's rules never touch another's customers, and its history is not readable
from another tenant."""

from __future__ import annotations

from tier_helpers import HISTORY, RULES, add_customer, evaluate, history, set_rules, tiers


async def test_rules_and_history_stay_in_their_tenant(api, services, tenant_a, tenant_b):
    mine = await add_customer(services, tenant_a, "甲方客户", category="prospect", tier="B")
    theirs = await add_customer(services, tenant_b, "乙方客户", category="prospect")
    catch_all = [{"tier": "C", "priority": 0, "conditions": {}}]
    assert (await set_rules(api, tenant_b.tokens["admin"], catch_all))["userErrors"] == []
    try:
        await _check(api, services, tenant_a, tenant_b, mine, theirs)
    finally:  # tenant_b is shared: leave it without rules for the daily job of other tests
        await set_rules(api, tenant_b.tokens["admin"], [])


async def _check(api, services, tenant_a, tenant_b, mine, theirs):
    outcome = await evaluate(api, tenant_b.tokens["admin"])
    assert outcome["changed"] >= 1
    assert (await tiers(services, tenant_b, [theirs]))[theirs] == "C"
    assert (await tiers(services, tenant_a, [mine]))[mine] == "B"
    assert await history(services, tenant_a, [mine]) == []
    # tenant_a cannot see tenant_b's rules, nor read its customer's history by id.
    rules_a = (await api.gql(RULES, token=tenant_a.tokens["admin"]))["tierRules"]
    rules_b = (await api.gql(RULES, token=tenant_b.tokens["admin"]))["tierRules"]
    assert not {r["id"] for r in rules_a} & {r["id"] for r in rules_b}
    foreign = await api.gql(HISTORY, {"customerId": str(theirs)}, token=tenant_a.tokens["admin"])
    assert foreign["customerTierChanges"]["totalCount"] == 0
    own = await api.gql(HISTORY, {"customerId": str(theirs)}, token=tenant_b.tokens["admin"])
    assert own["customerTierChanges"]["totalCount"] == 1
