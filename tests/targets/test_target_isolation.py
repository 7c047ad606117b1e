"""Another tenant sees none of these targets, deals or people, and cannot name them."""

from __future__ import annotations

from target_helpers import ATTAINMENT, RANKING, TARGETS, set_targets


async def test_targets_stay_in_their_tenant(api, org, tenant_b):
    token = tenant_b.tokens["admin"]
    listed = await api.gql(TARGETS, {"first": 100}, token=token)
    theirs = {e["node"]["id"] for e in listed["salesTargets"]["edges"]}
    mine = await api.gql(TARGETS, {"first": 100}, token=org.tokens["admin"])
    assert not theirs & {e["node"]["id"] for e in mine["salesTargets"]["edges"]}
    report = await api.gql(ATTAINMENT, {"from": "2027-01-01", "to": "2027-02-28"}, token=token)
    assert report["targetAttainment"]["targets"] == []
    ranked = await api.gql(RANKING, {"from": "2027-01-01", "to": "2027-01-31"}, token=token)
    assert ranked["salesRanking"] == []
    payload = await set_targets(api, token, [
        {"period": "2027-01-01", "scope": "TEAM", "teamId": org.teams["east"], "amount": "1"},
        {"period": "2027-01-01", "scope": "USER", "userId": str(org.ids["rep_e1"]), "amount": "1"},
    ])  # fmt: skip
    assert {(e["field"], e["code"]) for e in payload["userErrors"]} == {
        ("targets[0].teamId", "NOT_FOUND"), ("targets[1].userId", "NOT_FOUND"),
    }  # fmt: skip
