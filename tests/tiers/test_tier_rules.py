"""setTierRules: the typed condition language validated on write (userErrors name the
rule and field, nothing written), the whole set replaced (kept ids, removed rules,
swapped priorities), audited, and only for tiers:manage."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from helpers import make_tenant
from tier_helpers import EVALUATE, RULES, SET_RULES, audits, set_rules

from app.tiers.conditions import Conditions, parse


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "tierrules")


VALID = [
    {"tier": "A", "priority": 10, "conditions": {"wonAmountGte": "100000"}},
    {"tier": "B", "priority": 20, "conditions": {"wonCountGte": 2, "periodDays": 90,
                                                  "categoryIn": ["ACTIVE", "PARTNER"]}},
    {"tier": "C", "priority": 99, "enabled": False, "conditions": {}},
]  # fmt: skip


async def test_a_rule_set_is_stored_normalised_and_in_order(api, services, tenant):
    token = tenant.tokens["admin"]
    payload = await set_rules(api, token, list(reversed(VALID)))
    assert payload["userErrors"] == []
    rules = payload["rules"]
    assert [(r["tier"], r["priority"], r["enabled"]) for r in rules] == [
        ("A", 10, True), ("B", 20, True), ("C", 99, False),
    ]  # fmt: skip
    # Defaults filled in: the currency of amount tests, the window of won tests.
    assert rules[0]["conditions"] == {
        "wonAmountGte": "100000.00", "wonAmountCurrency": "CNY", "periodDays": 365,
        "wonCountGte": None, "openPipelineGte": None, "categoryIn": None,
    }  # fmt: skip
    assert rules[1]["conditions"]["categoryIn"] == ["ACTIVE", "PARTNER"]
    assert rules[1]["conditions"]["wonAmountCurrency"] is None
    listed = (await api.gql(RULES, token=tenant.tokens["viewer"]))["tierRules"]
    assert listed == rules
    created = await audits(services, tenant, "tier_rule.create")
    assert len(created) >= 3


async def test_resending_keeps_ids_and_writes_nothing(api, services, tenant):
    token = tenant.tokens["admin"]
    rules = (await api.gql(RULES, token=token))["tierRules"]
    before = len(await audits(services, tenant, "tier_rule.update"))
    again = [
        {"id": r["id"], "version": r["version"], "tier": r["tier"], "priority": r["priority"],
         "enabled": r["enabled"], "conditions": {k: v for k, v in r["conditions"].items() if v is not None}}
        for r in rules
    ]  # fmt: skip
    payload = await set_rules(api, token, again)
    assert payload["userErrors"] == []
    assert payload["rules"] == rules
    assert len(await audits(services, tenant, "tier_rule.update")) == before


async def test_priorities_swap_and_unlisted_rules_go(api, services, tenant):
    token = tenant.tokens["admin"]
    a, b, _ = (await api.gql(RULES, token=token))["tierRules"]
    payload = await set_rules(api, token, [
        {"id": a["id"], "tier": "A", "priority": 20, "conditions": {"wonAmountGte": "100000"}},
        {"id": b["id"], "tier": "B", "priority": 10, "conditions": {"wonCountGte": 2}},
    ])  # fmt: skip
    assert payload["userErrors"] == []
    assert [(r["id"], r["priority"], r["version"]) for r in payload["rules"]] == [
        (b["id"], 10, b["version"] + 1), (a["id"], 20, a["version"] + 1),
    ]  # fmt: skip
    assert len(await audits(services, tenant, "tier_rule.delete")) == 1
    # A stale version conflicts, naming the rule.
    stale = await set_rules(api, token, [
        {"id": a["id"], "version": a["version"], "tier": "A", "priority": 1, "conditions": {}},
    ])  # fmt: skip
    assert stale["userErrors"] == [
        {"field": "rules[0].version", "code": "CONFLICT", "message": stale["userErrors"][0]["message"]}
    ]  # fmt: skip


async def test_invalid_rules_name_the_rule_and_field_and_write_nothing(api, services, tenant):
    token = tenant.tokens["admin"]
    before = (await api.gql(RULES, token=token))["tierRules"]
    writes = len(await audits(services, tenant, "tier_rule.create"))
    payload = await set_rules(api, token, [
        {"tier": "A", "priority": 1, "conditions": {"wonAmountGte": "-5"}},
        {"tier": "A", "priority": 2, "conditions": {"wonAmountGte": "10", "wonAmountCurrency": "US$"}},
        {"tier": "B", "priority": 2, "conditions": {"wonCountGte": -1}},
        {"tier": "B", "priority": 3, "conditions": {"wonCountGte": 1, "periodDays": 0}},
        {"tier": "C", "priority": 4, "conditions": {"categoryIn": []}},
        {"tier": "C", "priority": 5, "conditions": {"wonAmountCurrency": "USD"}},
        {"tier": "C", "priority": 6, "conditions": {"periodDays": 30}},
        {"tier": "C", "priority": 7, "conditions": {"openPipelineGte": "1.005"}},
        {"tier": "C", "priority": -1, "conditions": {}},
        {"id": "not-an-id", "tier": "C", "priority": 8, "conditions": {}},
    ])  # fmt: skip
    assert payload["rules"] == []
    assert {(e["field"], e["code"]) for e in payload["userErrors"]} == {
        ("rules[0].conditions.wonAmountGte", "INVALID"),
        ("rules[1].conditions.wonAmountCurrency", "INVALID"),
        ("rules[2].priority", "DUPLICATE"),
        ("rules[2].conditions.wonCountGte", "INVALID"),
        ("rules[3].conditions.periodDays", "INVALID"),
        ("rules[4].conditions.categoryIn", "REQUIRED"),
        ("rules[5].conditions.wonAmountCurrency", "INVALID"),
        ("rules[6].conditions.periodDays", "INVALID"),
        ("rules[7].conditions.openPipelineGte", "INVALID"),
        ("rules[8].priority", "INVALID"),
        ("rules[9].id", "NOT_FOUND"),
    }
    assert (await api.gql(RULES, token=token))["tierRules"] == before
    assert len(await audits(services, tenant, "tier_rule.create")) == writes


async def test_a_removed_rule_cannot_come_back_by_id_and_ids_are_listed_once(api, tenant):
    token = tenant.tokens["admin"]
    (kept, removed) = (await set_rules(api, token, [
        {"tier": "A", "priority": 1, "conditions": {}},
        {"tier": "B", "priority": 2, "conditions": {}},
    ]))["rules"]  # fmt: skip
    assert (await set_rules(api, token, [{"id": kept["id"], "tier": "A", "priority": 1,
                                          "conditions": {}}]))["userErrors"] == []  # fmt: skip
    payload = await set_rules(api, token, [
        {"id": removed["id"], "tier": "B", "priority": 2, "conditions": {}},
        {"id": kept["id"], "tier": "A", "priority": 3, "conditions": {}},
        {"id": kept["id"], "tier": "A", "priority": 4, "conditions": {}},
    ])  # fmt: skip
    assert {(e["field"], e["code"]) for e in payload["userErrors"]} == {
        ("rules[0].id", "NOT_FOUND"), ("rules[2].id", "DUPLICATE"),
    }  # fmt: skip
    # A client-chosen id for a new rule is fine (offline capture).
    mine = str(uuid.uuid4())
    payload = await set_rules(
        api, token, [{"id": mine, "tier": "C", "priority": 1, "conditions": {}}]
    )
    assert [r["id"] for r in payload["rules"]] == [mine]


@pytest.mark.parametrize("role", ["manager", "sales", "viewer"])
async def test_only_tiers_manage_sets_or_runs_rules(api, tenant, role):
    token = tenant.tokens[role]
    errors = await api.errors(SET_RULES, {"input": {"rules": []}}, token=token)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    errors = await api.errors(EVALUATE, token=token)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert isinstance((await api.gql(RULES, token=token))["tierRules"], list)


def test_stored_conditions_are_validated_json():
    """The language itself, as stored: unknown keys and wrong types are refused."""
    conditions, errors = parse({"won_amount_gte": "10", "sql": "1=1"}, "c")
    assert conditions is None
    assert [(e.field, e.code) for e in errors] == [("c.sql", "UNKNOWN")]
    _, errors = parse({"won_count_gte": True, "category_in": "active"}, "c")
    assert {e.field for e in errors} == {"c.wonCountGte", "c.categoryIn"}
    _, errors = parse(["won_amount_gte"], "c")
    assert [e.code for e in errors] == ["INVALID"]
    parsed, errors = parse({"open_pipeline_gte": 5, "won_amount_currency": " usd "}, "c")
    assert errors == []
    assert parsed.to_json() == {"won_amount_currency": "USD", "open_pipeline_gte": "5.00"}
    assert Conditions.from_json(parsed.to_json()) == parsed
    assert parsed.open_pipeline_gte == Decimal("5.00")
