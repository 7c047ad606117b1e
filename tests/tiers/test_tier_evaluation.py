"""evaluateTiers against tiers worked out by hand from known opportunities: amounts
per currency (a CNY threshold ignores USD deals), windows, won counts, open pipeline,
categories, the first matching rule by priority, customers matching nothing keeping
their tier; history and audit only for changed customers; a second run changes
nothing; the history query follows the customer's data scope."""

from __future__ import annotations

import uuid

import pytest
from helpers import make_tenant
from tier_helpers import (
    HISTORY,
    add_customer,
    add_deals,
    audits,
    delete_customer,
    evaluate,
    history,
    set_rules,
    tiers,
    versions,
)

RULES = [
    # Disabled: would make everyone C.
    {"tier": "C", "priority": 1, "enabled": False, "conditions": {}},
    {"tier": "A", "priority": 10, "conditions": {"wonAmountGte": "100000", "periodDays": 365}},
    {"tier": "A", "priority": 20, "conditions": {"wonAmountGte": "200000",
                                                  "wonAmountCurrency": "USD"}},
    {"tier": "B", "priority": 30, "conditions": {"wonCountGte": 2, "periodDays": 90}},
    {"tier": "B", "priority": 40, "conditions": {"openPipelineGte": "50000",
                                                  "categoryIn": ["ACTIVE", "TARGET"]}},
    {"tier": "C", "priority": 50, "conditions": {"categoryIn": ["PROSPECT"]}},
]  # fmt: skip

# name: (category, tier before, deals as (amount, currency, status, days ago))
CUSTOMERS = {
    # 110,000 CNY won within a year -> A by the first live rule, though it also
    # meets the won-count rule (two in 90 days) and the prospect rule.
    "big_cny": ("prospect", None, [("60000", "CNY", "won", 10), ("50000", "CNY", "won", 40)]),
    # 150,000 USD: over the CNY threshold as a number, but USD deals do not count
    # towards CNY, and under the USD rule's 200,000. Matches nothing: keeps C.
    "usd_deals": ("partner", "C", [("150000", "USD", "won", 10)]),
    # Won over a year ago: outside the window; a prospect -> C.
    "old_cny": ("prospect", None, [("150000", "CNY", "won", 400)]),
    # Two wins in 90 days -> B.
    "two_recent": ("partner", None, [("1000", "CNY", "won", 30), ("1000", "CNY", "won", 60)]),
    # One of two wins older than 90 days; but an active customer with 60,000 CNY open.
    "one_recent": ("active", "C", [("1000", "CNY", "won", 20), ("1000", "CNY", "won", 100),
                                   ("60000", "CNY", "open", 0)]),
    # Open pipeline in USD only: no rule; keeps its hand-set A.
    "open_usd": ("active", "A", [("60000", "USD", "open", 0)]),
    # Lost deals count for nothing.
    "lost_big": ("target", None, [("500000", "CNY", "lost", 5)]),
    # Already A, and meets the A rule: nothing changes, no history.
    "already_a": ("partner", "A", [("120000", "CNY", "won", 3)]),
    # A deleted opportunity counts for nothing.
    "deleted_deal": ("partner", None, [("200000", "CNY", "won", 3, "deleted")]),
    # A deleted customer is not evaluated.
    "deleted_customer": ("prospect", None, [("900000", "CNY", "won", 3)]),
}  # fmt: skip
EXPECTED = {
    "big_cny": ("A", 1),
    "old_cny": ("C", 5),
    "two_recent": ("B", 3),
    "one_recent": ("B", 4),
}
UNCHANGED = {"usd_deals": "C", "open_usd": "A", "lost_big": None, "already_a": "A",
             "deleted_deal": None, "deleted_customer": None}  # fmt: skip


@pytest.fixture(scope="module")
async def scene(api, owner, services):
    tenant = await make_tenant(owner, services, "tiereval")
    admin, sales = tenant.user_ids["admin"], tenant.user_ids["sales"]
    ids = {}
    deals = []
    for name, (category, tier, opportunities) in CUSTOMERS.items():
        # The rep owns big_cny; old_cny is the admin's (out of the rep's scope).
        owner_id = {"big_cny": sales, "old_cny": admin}.get(name)
        ids[name] = await add_customer(services, tenant, name, category=category, tier=tier,
                                       owner=owner_id)  # fmt: skip
        for amount, currency, status, days, *deleted in opportunities:
            deals.append({"customer": ids[name], "owner": admin, "amount": amount,
                          "currency": currency, "status": status, "days_ago": days,
                          "deleted": bool(deleted)})  # fmt: skip
    await add_deals(services, tenant, deals)
    await delete_customer(services, tenant, ids["deleted_customer"])
    payload = await set_rules(api, tenant.tokens["admin"], RULES)
    assert payload["userErrors"] == []
    rule_ids = [r["id"] for r in payload["rules"]]  # in priority order, as RULES
    before = await versions(services, tenant, ids.values())
    first = await evaluate(api, tenant.tokens["admin"])
    return {"tenant": tenant, "ids": ids, "rules": rule_ids, "first": first, "before": before}


async def test_tiers_are_the_first_matching_rules(services, scene):
    tenant, ids = scene["tenant"], scene["ids"]
    assert scene["first"] == {"evaluated": len(CUSTOMERS) - 1, "changed": len(EXPECTED),
                              "userErrors": []}  # fmt: skip
    now = await tiers(services, tenant, ids.values())
    assert {name: now[ids[name]] for name in EXPECTED} == {
        name: tier for name, (tier, _) in EXPECTED.items()
    }
    assert {name: now[ids[name]] for name in UNCHANGED} == UNCHANGED


async def test_only_changed_customers_get_history_audit_and_a_new_version(services, scene):
    tenant, ids, rules = scene["tenant"], scene["ids"], scene["rules"]
    rows = await history(services, tenant)
    admin = tenant.user_ids["admin"]
    names = {v: k for k, v in ids.items()}
    assert {names[r.customer_id]: (r.from_tier, r.to_tier, r.rule_id, r.changed_by) for r in rows} == {
        name: (CUSTOMERS[name][1], tier, uuid.UUID(rules[rule]), admin)
        for name, (tier, rule) in EXPECTED.items()
    }  # fmt: skip
    audited = await audits(services, tenant, "customer.tier_change")
    assert sorted(a.entity_id for a in audited) == sorted(ids[n] for n in EXPECTED)
    one = next(a for a in audited if a.entity_id == ids["one_recent"])
    assert (one.actor_id, one.actor_kind) == (admin, "user")
    assert one.changes == {"tier": {"from": "C", "to": "B"},
                           "rule_id": {"from": None, "to": rules[4]}}  # fmt: skip
    after = await versions(services, tenant, ids.values())
    assert {n for n, i in ids.items() if after[i] != scene["before"][i]} == set(EXPECTED)
    assert all(after[ids[n]] == scene["before"][ids[n]] + 1 for n in EXPECTED)
    runs = await audits(services, tenant, "tier_rules.evaluate")
    assert runs[-1].changes["changed"] == {"from": None, "to": len(EXPECTED)}


async def test_a_second_run_changes_nothing(api, services, scene):
    tenant = scene["tenant"]
    again = await evaluate(api, tenant.tokens["admin"])
    assert again["changed"] == 0
    assert len(await history(services, tenant)) == len(EXPECTED)


async def test_priority_decides_and_a_changed_rule_set_moves_tiers(api, services, scene):
    """Raising the won-count rule above the amount rule makes big_cny B."""
    tenant, ids = scene["tenant"], scene["ids"]
    token = tenant.tokens["admin"]
    kept = [dict(r, id=i) for r, i in zip(RULES, scene["rules"], strict=True)]
    swapped = [dict(r) for r in kept]
    swapped[1]["priority"], swapped[3]["priority"] = 30, 10
    payload = await set_rules(api, token, swapped)
    assert payload["userErrors"] == []
    outcome = await evaluate(api, token)
    assert outcome["changed"] == 1
    assert (await tiers(services, tenant, [ids["big_cny"]]))[ids["big_cny"]] == "B"
    assert (await set_rules(api, token, kept))["userErrors"] == []
    assert (await evaluate(api, token))["changed"] == 1
    assert (await tiers(services, tenant, [ids["big_cny"]]))[ids["big_cny"]] == "A"


async def test_history_follows_the_customers_data_scope(api, scene):
    tenant, ids = scene["tenant"], scene["ids"]
    # Newest first, with the rule and who ran it.
    data = await api.gql(HISTORY, {"customerId": str(ids["big_cny"])}, token=tenant.tokens["sales"])
    nodes = [e["node"] for e in data["customerTierChanges"]["edges"]]
    assert data["customerTierChanges"]["totalCount"] == len(nodes) >= 1
    # (After the priority test: A, then B, then A again.)
    assert (nodes[-1]["fromTier"], nodes[-1]["toTier"]) == (None, "A")
    assert [n["evaluatedAt"] for n in nodes] == sorted(
        (n["evaluatedAt"] for n in nodes), reverse=True
    )
    assert nodes[-1]["rule"] == {"tier": "A", "priority": 10}
    assert nodes[-1]["changedBy"] == {"name": "admin"}
    # The admin's customer is outside the rep's scope: as if it did not exist.
    hidden = await api.gql(
        HISTORY, {"customerId": str(ids["old_cny"])}, token=tenant.tokens["sales"]
    )
    assert hidden["customerTierChanges"] == {"totalCount": 0, "edges": [],
                                             "pageInfo": {"hasNextPage": False, "endCursor": None}}  # fmt: skip
    shown = await api.gql(
        HISTORY, {"customerId": str(ids["old_cny"])}, token=tenant.tokens["admin"]
    )
    assert shown["customerTierChanges"]["totalCount"] == 1
    junk = await api.gql(HISTORY, {"customerId": "nope"}, token=tenant.tokens["admin"])
    assert junk["customerTierChanges"]["edges"] == []
