"""Lead assignment rules: who may set them, how they are checked, which rule assigns
a new lead, and round robin staying fair when leads are created concurrently."""

from __future__ import annotations

import asyncio
import collections

import pytest
from lead_helpers import CREATE, build_org, new_lead, operation, table_counts

RULES = operation("leadAssignmentRules")
SET_RULES = operation("setLeadAssignmentRules")
TEAMS = [("south", None), ("east", None), ("empty", None), ("north", None)]
PEOPLE = {
    "s1": ("sales", "south"),
    "s2": ("sales", "south"),
    "s3": ("sales", "south"),
    "e1": ("sales", "east"),
    "e2": ("manager", "east"),
    "e_viewer": ("viewer", "east"),  # reads leads, cannot own them
    "e_gone": ("sales", "east"),  # deactivated below
    "empty_viewer": ("viewer", "empty"),
    "n1": ("sales", "north"),
}


@pytest.fixture(scope="module")
async def org(api, owner, services):
    org = await build_org(api, owner, services, "leadrules", TEAMS, PEOPLE)
    gone = await api.gql(
        """mutation($id: ID!) { updateUser(input: {id: $id, active: false}) {
           userErrors { field } } }""",
        {"id": str(org.ids["e_gone"])}, token=org.tokens["admin"],
    )  # fmt: skip
    assert gone["updateUser"]["userErrors"] == []
    return org


def _rule(org, kind: str, team: str, position: int, region: str | None = None) -> dict:
    rule = {"kind": kind, "teamId": org.teams[team], "position": position}
    if region is not None:
        rule["region"] = region
    return rule


async def _set(api, org, rules: list[dict]) -> dict:
    data = await api.gql(SET_RULES, {"input": {"rules": rules}}, token=org.tokens["admin"])
    return data["setLeadAssignmentRules"]


def _south(org) -> list[str]:
    """South's reps in the order they take turns: by user id."""
    return sorted(["s1", "s2", "s3"], key=lambda name: org.ids[name])


def _owner_names(org, leads: list[dict]) -> list[str | None]:
    names = {str(v): k for k, v in org.ids.items()}
    return [names.get(lead["ownerId"]) if lead["ownerId"] else None for lead in leads]


async def test_only_leads_manage_reads_and_sets_rules(api, services, org):
    before = await table_counts(services, org.tenant)
    for person in ("manager", "s1", "viewer"):
        errors = await api.errors(RULES, token=org.tokens[person])
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
        errors = await api.errors(
            SET_RULES, {"input": {"rules": [_rule(org, "ROUND_ROBIN", "south", 0)]}},
            token=org.tokens[person],
        )  # fmt: skip
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert await table_counts(services, org.tenant) == before
    assert (await api.gql(RULES, token=org.tokens["admin"]))["leadAssignmentRules"] == []


async def test_invalid_rules_write_nothing(api, services, org):
    before = await table_counts(services, org.tenant)
    payload = await _set(api, org, [
        _rule(org, "REGION", "east", 0),
        {"kind": "ROUND_ROBIN", "teamId": "00000000-0000-0000-0000-000000000000", "position": 1},
        _rule(org, "ROUND_ROBIN", "south", 1, region="上海"),
        _rule(org, "ROUND_ROBIN", "south", -1),
    ])  # fmt: skip
    assert payload["rules"] == []
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        ("rules.0.region", "REQUIRED"),
        ("rules.1.teamId", "NOT_FOUND"),
        ("rules.2.region", "INVALID"),
        ("rules.2.position", "TAKEN"),
        ("rules.3.position", "INVALID"),
    ]
    assert await table_counts(services, org.tenant) == before


async def test_no_rules_leave_leads_unassigned(api, org):
    lead = await new_lead(api, org.tokens["admin"], name="无规则")
    assert lead["ownerId"] is None


async def test_rules_assign_and_round_robin_is_fair_under_concurrency(api, services, org):
    payload = await _set(api, org, [
        _rule(org, "REGION", "east", 10, region="上海"),
        _rule(org, "REGION", "empty", 20, region="广州"),  # no eligible member: passed over
        _rule(org, "ROUND_ROBIN", "south", 30),
    ])  # fmt: skip
    assert payload["userErrors"] == []
    assert [(r["kind"], r["region"], r["position"], r["team"]["id"]) for r in payload["rules"]] == [
        ("REGION", "上海", 0, org.teams["east"]),
        ("REGION", "广州", 1, org.teams["empty"]),
        ("ROUND_ROBIN", None, 2, org.teams["south"]),
    ]
    token = org.tokens["admin"]
    # 30 leads at once, none of them from 上海: 10 for each of the three south reps.
    created = await asyncio.gather(
        *(new_lead(api, token, name=f"并发{i}", region="广州" if i % 2 else None)
          for i in range(30))
    )  # fmt: skip
    counts = collections.Counter(_owner_names(org, created))
    assert counts == {"s1": 10, "s2": 10, "s3": 10}, counts
    # 上海 (any width, case or spacing) goes to east's eligible members in turn: the
    # viewer and the deactivated rep are skipped.
    shanghai = [await new_lead(api, token, name=f"沪{i}", region=region)
                for i, region in enumerate(["上海", " 上 海 ", "上海", "上海"])]  # fmt: skip
    owners = _owner_names(org, shanghai)
    assert sorted(owners[:2]) == ["e1", "e2"] and owners[2:] == owners[:2], owners
    # An owner given by hand is kept; the rules are not consulted.
    mine = await new_lead(api, token, name="指定", region="上海", ownerId=str(org.ids["n1"]))
    assert _owner_names(org, [mine]) == ["n1"]
    rules = (await api.gql(RULES, token=token))["leadAssignmentRules"]
    assert [r["assignedCount"] for r in rules] == [4, 0, 30]
    assert rules[2]["lastAssignedUser"]["name"] == _south(org)[2]  # 30 turns: a full cycle


async def test_a_rolled_back_create_gives_its_turn_back(api, services, org):
    token = org.tokens["admin"]
    rules = (await api.gql(RULES, token=token))["leadAssignmentRules"]
    before = rules[2]["lastAssignedUser"]["name"]
    bad = await api.gql(CREATE, {"input": {"name": "坏", "email": "bad"}}, token=token)
    assert bad["createLead"]["userErrors"]
    rules = (await api.gql(RULES, token=token))["leadAssignmentRules"]
    assert rules[2]["lastAssignedUser"]["name"] == before


async def test_kept_rules_keep_their_turn(api, org):
    token = org.tokens["admin"]
    before = (await api.gql(RULES, token=token))["leadAssignmentRules"]
    payload = await _set(api, org, [
        _rule(org, "ROUND_ROBIN", "south", 0),
        _rule(org, "REGION", "north", 1, region="北京"),
    ])  # fmt: skip
    assert payload["userErrors"] == []
    after = (await api.gql(RULES, token=token))["leadAssignmentRules"]
    kept = next(r for r in before if r["kind"] == "ROUND_ROBIN")
    assert after[0] | {"position": 2} == kept  # same id, count and cursor; moved first
    assert (after[1]["region"], after[1]["assignedCount"]) == ("北京", 0)
    # The round robin goes on where it was: the first two in turn, ...
    more = [await new_lead(api, token, name=f"继续{i}") for i in range(2)]
    assert _owner_names(org, more) == _south(org)[:2]
    # Setting the same rules again changes nothing.
    again = await _set(api, org, [
        _rule(org, "ROUND_ROBIN", "south", 5),
        _rule(org, "REGION", "north", 9, region="北京"),
    ])  # fmt: skip
    assert [r["id"] for r in again["rules"]] == [r["id"] for r in after]
    # ROUND_ROBIN matches everything first now, so 北京 never reaches its rule.
    beijing = await new_lead(api, token, name="京", region="北京")
    assert _owner_names(org, [beijing]) == _south(org)[2:]
    cleared = await _set(api, org, [])
    assert cleared == {"rules": [], "userErrors": []}
