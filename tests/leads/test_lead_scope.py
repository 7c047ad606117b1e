"""Data scope of leads: customers' owner rule. Reps see their own leads and the
unassigned ones; managers their team's subtree and the unassigned; viewers read their
team's; partners (assigned scope) none. Every read path and every write obeys it."""

from __future__ import annotations

import uuid

import pytest
from lead_helpers import ASSIGN, GET, LIST, UPDATE, build_org, operation

from app.audit.service import SYSTEM
from app.auth.scope import EVERYTHING
from app.auth.tokens import issue_access_token
from app.db import tenant_transaction
from app.leads import service

TEAMS = [("sales", None), ("east", "sales"), ("west", "sales")]
PEOPLE = {
    "mgr_east": ("manager", "east"),
    "rep_east": ("sales", "east"),
    "rep_east2": ("sales", "east"),
    "rep_west": ("sales", "west"),
    "viewer_east": ("viewer", "east"),
    "partner": ("partner", None),
}
OWNED = {"rep_east": 2, "rep_east2": 1, "rep_west": 3, "mgr_east": 1, None: 2}
SEES = {
    "admin": set(OWNED),
    "mgr_east": {"mgr_east", "rep_east", "rep_east2", None},
    "rep_east": {"rep_east", None},
    "rep_west": {"rep_west", None},
    "viewer_east": {"mgr_east", "rep_east", "rep_east2", None},
    "reader": set(),  # a custom role: leads:read with the assigned scope
}


@pytest.fixture(scope="module")
async def org(api, owner, services):
    org = await build_org(api, owner, services, "leadscope", TEAMS, PEOPLE)
    admin = org.tokens["admin"]
    role = await api.gql(
        """mutation { createRole(input: {name: "lead-reader", dataScope: ASSIGNED,
           permissions: ["leads:read", "leads:write", "customers:write", "contacts:write",
           "opportunities:write"]}) { userErrors { field } } }""",
        token=admin,
    )
    assert role["createRole"]["userErrors"] == []
    user = await api.gql(
        'mutation { createUser(input: {email: "reader@x.cn", role: "lead-reader"}) {'
        " user { id } } }",
        token=admin,
    )
    reader = uuid.UUID(user["createUser"]["user"]["id"])
    org.ids["reader"] = reader
    org.tokens["reader"] = await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=org.tenant.id,
        user_id=reader, roles=["lead-reader"],
    )  # fmt: skip
    owned: dict[str | None, list[str]] = {}
    async with tenant_transaction(services.engine, org.tenant.schema) as conn:
        for person, count in OWNED.items():
            for i in range(count):
                row = await service.create_lead(
                    conn, actor=SYSTEM, who=EVERYTHING, lead_id=None,
                    fields={"name": f"{person or 'pool'} {i}", "company": "共享公司",
                            "owner_id": org.ids[person] if person else None},
                )  # fmt: skip
                owned.setdefault(person, []).append(str(row.id))
    return {"org": org, "owned": owned}


def _visible(data, person: str) -> set[str]:
    return {i for owner in SEES[person] for i in data["owned"].get(owner, [])}


@pytest.mark.parametrize("person", list(SEES))
async def test_lists_counts_and_filters_match_the_scope(api, org, person):
    token = org["org"].tokens[person]
    expected = _visible(org, person)
    data = (await api.gql(LIST, {"first": 100}, token=token))["leads"]
    assert {e["node"]["id"] for e in data["edges"]} == expected
    assert data["totalCount"] == len(expected)
    searched = await api.gql(LIST, {"filter": {"search": "共享"}}, token=token)
    assert searched["leads"]["totalCount"] == len(expected)
    pool = await api.gql(LIST, {"filter": {"ownerId": {"isNull": True}}}, token=token)
    assert pool["leads"]["totalCount"] == len(set(org["owned"][None]) & expected)


@pytest.mark.parametrize("person", list(SEES))
async def test_out_of_scope_by_id_looks_missing(api, org, person):
    token = org["org"].tokens[person]
    visible = _visible(org, person)
    for ids in org["owned"].values():
        for lead_id in ids:
            got = (await api.gql(GET, {"id": lead_id}, token=token))["lead"]
            assert (got is not None) == (lead_id in visible), (person, lead_id)


async def test_partner_role_has_no_lead_permissions(api, org):
    errors = await api.errors(LIST, token=org["org"].tokens["partner"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_viewer_cannot_change_what_it_sees(api, org):
    lead_id = org["owned"]["rep_east"][0]
    errors = await api.errors(
        UPDATE, {"input": {"id": lead_id, "version": 1, "score": 1}},
        token=org["org"].tokens["viewer_east"],
    )  # fmt: skip
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("person", ["rep_east", "mgr_east", "reader"])
async def test_writes_outside_the_scope_are_not_found(api, org, person):
    token = org["org"].tokens[person]
    outside = org["owned"]["rep_west"][0]
    update = await api.gql(UPDATE, {"input": {"id": outside, "version": 1, "score": 1}},
                           token=token)  # fmt: skip
    assert [e["code"] for e in update["updateLead"]["userErrors"]] == ["NOT_FOUND"]
    convert = await api.gql(
        operation("convertLead"), {"input": {"id": outside, "version": 1}}, token=token
    )
    assert [e["code"] for e in convert["convertLead"]["userErrors"]] == ["NOT_FOUND"]
    assign = await api.gql(ASSIGN, {"ids": [outside], "ownerId": None}, token=token)
    assert [e["code"] for e in assign["assignLeads"]["userErrors"]] == ["NOT_FOUND"]


async def test_assign_leads_follows_people_visible(api, org, services):
    o = org["org"]
    pool = org["owned"][None]
    # A rep cannot hand a pool lead to a colleague, but may take it.
    to_colleague = await api.gql(
        ASSIGN, {"ids": [pool[0]], "ownerId": str(o.ids["rep_east2"])}, token=o.tokens["rep_east"]
    )
    assert [(e["field"], e["code"]) for e in to_colleague["assignLeads"]["userErrors"]] == [
        ("ownerId", "NOT_FOUND")
    ]
    taken = await api.gql(
        operation("assignLeads"), {"ids": [pool[0]], "ownerId": str(o.ids["rep_east"])},
        token=o.tokens["rep_east"],
    )  # fmt: skip
    assert taken["assignLeads"]["userErrors"] == []
    assert taken["assignLeads"]["leads"][0]["owner"]["name"] == "rep_east"
    # The manager hands it around the team, not outside, and never to a viewer.
    around = await api.gql(
        ASSIGN, {"ids": [pool[0]], "ownerId": str(o.ids["rep_east2"])}, token=o.tokens["mgr_east"]
    )
    assert around["assignLeads"]["userErrors"] == []
    outside = await api.gql(
        ASSIGN, {"ids": [pool[0]], "ownerId": str(o.ids["rep_west"])}, token=o.tokens["mgr_east"]
    )
    assert [e["code"] for e in outside["assignLeads"]["userErrors"]] == ["NOT_FOUND"]
    viewer = await api.gql(
        ASSIGN, {"ids": [pool[0]], "ownerId": str(o.ids["viewer_east"])},
        token=o.tokens["mgr_east"],
    )  # fmt: skip
    assert [(e["field"], e["code"]) for e in viewer["assignLeads"]["userErrors"]] == [
        ("ownerId", "INVALID")
    ]
    # All or nothing: one unknown id and nothing moves.
    bad = await api.gql(
        ASSIGN, {"ids": [pool[0], str(uuid.uuid4()), "nope"], "ownerId": None},
        token=o.tokens["mgr_east"],
    )  # fmt: skip
    assert [e["code"] for e in bad["assignLeads"]["userErrors"]] == ["NOT_FOUND"]
    got = (await api.gql(GET, {"id": pool[0]}, token=o.tokens["admin"]))["lead"]
    assert got["ownerId"] == str(o.ids["rep_east2"])
    # Back to the pool, where rep_west can see it again.
    back = await api.gql(ASSIGN, {"ids": [pool[0]], "ownerId": None}, token=o.tokens["mgr_east"])
    assert back["assignLeads"]["leads"][0]["ownerId"] is None
    assert (await api.gql(GET, {"id": pool[0]}, token=o.tokens["rep_west"]))["lead"]
