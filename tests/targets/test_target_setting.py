"""setSalesTargets: an upsert per month and subject, audited; validation naming the
target and field with nothing written; who may set what (viewer and rep: nothing; a
manager: their team subtree and its people; the company's: the all scope); and
salesTargets listing what each scope may see."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from target_helpers import SET_TARGETS, TARGETS, set_targets, target_count
from target_model import PEOPLE, sees
from target_model import TARGETS as MODEL

from app.audit.tables import audit_log
from app.db import tenant_transaction


async def _audits(services, tenant, action: str) -> int:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        rows = await conn.execute(select(audit_log.c.id).where(audit_log.c.action == action))
        return len(rows.all())


async def test_setting_again_replaces_the_amount(api, services, org):
    token = org.tokens["admin"]
    target = {"period": "2027-04-01", "scope": "COMPANY", "amount": "1000"}
    (first,) = (await set_targets(api, token, [target]))["targets"]
    assert (first["amount"], first["version"], first["currency"], first["metric"]) == (
        "1000.00", 1, "CNY", "WON_AMOUNT",
    )  # fmt: skip
    updates = await _audits(services, org.tenant, "sales_target.update")
    (second,) = (await set_targets(api, token, [dict(target, amount="1500.5")]))["targets"]
    assert (second["id"], second["amount"], second["version"]) == (first["id"], "1500.50", 2)
    (third,) = (await set_targets(api, token, [dict(target, amount="1500.50")]))["targets"]
    assert third["version"] == 2
    assert await _audits(services, org.tenant, "sales_target.update") == updates + 1
    # Another currency is another target.
    (usd,) = (await set_targets(api, token, [dict(target, currency="usd")]))["targets"]
    assert usd["id"] != first["id"] and usd["currency"] == "USD"


async def test_invalid_targets_name_target_and_field_and_write_nothing(api, services, org):
    before = await target_count(services, org.tenant)
    payload = await set_targets(api, org.tokens["admin"], [
        {"period": "2027-05-01", "scope": "COMPANY", "amount": "-1"},
        {"period": "2027-05-01", "scope": "USER", "userId": str(org.ids["rep_e1"]),
         "amount": "10", "currency": "RMB1"},
        {"period": "2027-05-01", "scope": "TEAM", "teamId": str(uuid.uuid4()), "amount": "10"},
        {"period": "2027-05-01", "scope": "USER", "userId": str(uuid.uuid4()), "amount": "10"},
        {"period": "2027-05-15", "scope": "COMPANY", "amount": "10"},
        {"period": "2027-06-01", "scope": "TEAM", "amount": "10"},
        {"period": "2027-06-01", "scope": "COMPANY", "userId": str(org.ids["rep_e1"]), "amount": "10"},
        {"period": "2027-06-01", "scope": "TEAM", "teamId": "east", "amount": "10"},
        {"period": "2027-07-01", "scope": "COMPANY", "amount": "0.001"},
        {"period": "2027-08-01", "scope": "COMPANY", "amount": "1"},
        {"period": "2027-08-01", "scope": "COMPANY", "amount": "2"},
    ])  # fmt: skip
    assert payload["targets"] == []
    assert {(e["field"], e["code"]) for e in payload["userErrors"]} == {
        ("targets[0].amount", "INVALID"),
        ("targets[1].currency", "INVALID"),
        ("targets[2].teamId", "NOT_FOUND"),
        ("targets[3].userId", "NOT_FOUND"),
        ("targets[4].period", "INVALID"),
        ("targets[5].teamId", "REQUIRED"),
        ("targets[6].userId", "INVALID"),
        ("targets[7].teamId", "NOT_FOUND"),
        ("targets[8].amount", "INVALID"),
        ("targets[10]", "DUPLICATE"),
    }
    assert await target_count(services, org.tenant) == before


@pytest.mark.parametrize("role", ["viewer_east", "rep_e1"])
async def test_readers_cannot_set_targets(api, services, org, role):
    before = await target_count(services, org.tenant)
    errors = await api.errors(
        SET_TARGETS,
        {"input": {"targets": [{"period": "2027-09-01", "scope": "USER",
                                "userId": str(org.ids[role]), "amount": "1"}]}},
        token=org.tokens[role],
    )  # fmt: skip
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert await target_count(services, org.tenant) == before
    listed = await api.gql(TARGETS, {"first": 5}, token=org.tokens[role])
    assert listed["salesTargets"]["edges"]


async def test_a_manager_sets_targets_only_within_the_team_subtree(api, services, org):
    token = org.tokens["mgr_east"]
    inside = [
        {"period": "2027-10-01", "scope": "TEAM", "teamId": org.teams["east"], "amount": "100"},
        {"period": "2027-10-01", "scope": "TEAM", "teamId": org.teams["east_sub"], "amount": "50"},
        {"period": "2027-10-01", "scope": "USER", "userId": str(org.ids["rep_e2"]), "amount": "20"},
        {"period": "2027-10-01", "scope": "USER", "userId": str(org.ids["mgr_east"]), "amount": "30"},
    ]  # fmt: skip
    payload = await set_targets(api, token, inside)
    assert payload["userErrors"] == []
    assert len(payload["targets"]) == 4
    before = await target_count(services, org.tenant)
    outside = await set_targets(api, token, [
        {"period": "2027-11-01", "scope": "TEAM", "teamId": org.teams["west"], "amount": "1"},
        {"period": "2027-11-01", "scope": "USER", "userId": str(org.ids["rep_w"]), "amount": "1"},
        {"period": "2027-11-01", "scope": "COMPANY", "amount": "1"},
        {"period": "2027-11-01", "scope": "TEAM", "teamId": org.teams["sales"], "amount": "1"},
        {"period": "2027-11-01", "scope": "USER", "userId": str(org.ids["admin"]), "amount": "1"},
        inside[0],  # fine by itself, but nothing is written
    ])  # fmt: skip
    assert {(e["field"], e["code"]) for e in outside["userErrors"]} == {
        ("targets[0].teamId", "FORBIDDEN"),
        ("targets[1].userId", "FORBIDDEN"),
        ("targets[2].scope", "FORBIDDEN"),
        ("targets[3].teamId", "FORBIDDEN"),
        ("targets[4].userId", "FORBIDDEN"),
    }
    assert await target_count(services, org.tenant) == before


@pytest.mark.parametrize("person", ["admin", *PEOPLE])
async def test_each_scope_lists_the_targets_it_may_see(api, org, person):
    data = await api.gql(
        TARGETS, {"filter": {"from": "2027-01-01", "to": "2027-03-31"}, "first": 100},
        token=org.tokens[person],
    )  # fmt: skip
    nodes = [e["node"] for e in data["salesTargets"]["edges"]]
    names = {v: k for k, v in org.teams.items()} | {str(v): k for k, v in org.ids.items()}
    got = sorted((n["scope"].lower(), names.get(n["teamId"] or n["userId"]), n["period"],
                  n["currency"], n["amount"]) for n in nodes)  # fmt: skip
    assert got == sorted(
        (t.scope, t.subject, t.period.isoformat(), t.currency, f"{t.amount}.00")
        for t in MODEL
        if sees(person, t)
    )
    assert data["salesTargets"]["totalCount"] == len(nodes)


async def test_filters_and_pages(api, org):
    token = org.tokens["admin"]
    by_team = await api.gql(
        TARGETS, {"filter": {"teamId": org.teams["east"], "to": "2027-03-31"}}, token=token
    )
    assert [(e["node"]["period"], e["node"]["team"]["name"])
            for e in by_team["salesTargets"]["edges"]] == [
        ("2027-01-01", "east"), ("2027-02-01", "east")]  # fmt: skip
    by_user = await api.gql(
        TARGETS, {"filter": {"userId": str(org.ids["rep_e1"]), "from": "2027-01-01",
                             "to": "2027-01-31"}}, token=token,
    )  # fmt: skip
    assert sorted(e["node"]["currency"] for e in by_user["salesTargets"]["edges"]) == ["CNY", "USD"]
    assert {e["node"]["user"]["name"] for e in by_user["salesTargets"]["edges"]} == {"rep_e1"}
    seen, after = [], None
    while True:
        page = await api.gql(TARGETS, {"filter": {"from": "2027-01-01", "to": "2027-03-31"},
                                       "first": 5, "after": after}, token=token)  # fmt: skip
        seen += [e["node"]["id"] for e in page["salesTargets"]["edges"]]
        if not page["salesTargets"]["pageInfo"]["hasNextPage"]:
            break
        after = page["salesTargets"]["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == len(MODEL)
