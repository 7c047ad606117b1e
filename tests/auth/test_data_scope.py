"""Data scope (own, team, all, assigned): every read path shows each user exactly the
records their role's scope allows, and nothing else; writes obey the same scope.
Internal users see customers by owner (and the pool); partners (assigned) see only the
customers assigned to them, whoever owns them."""

from __future__ import annotations

import json
import uuid

import pytest
from helpers import make_tenant

from app.audit.service import SYSTEM
from app.auth.scope import EVERYTHING
from app.auth.tokens import issue_access_token
from app.customers import service as customers
from app.db import tenant_transaction

# user -> (role, team); teams: sales > east > shanghai, sales > west
PEOPLE = {
    "mgr_sales": ("manager", "sales"),
    "mgr_east": ("manager", "east"),
    "rep_east": ("sales", "east"),
    "rep_sh": ("sales", "shanghai"),
    "rep_west": ("sales", "west"),
    "viewer_west": ("viewer", "west"),
    "warehouse": ("warehouse", None),
    "partner": ("partner", None),
    "partner_b": ("partner", None),
}
# The partner owns one customer, which must not make it visible to them.
OWNED = {"rep_east": 2, "rep_sh": 3, "rep_west": 4, "partner": 1, "admin": 1, None: 2}
# Customers assigned to each partner, as (owner, index): reps' customers and one from the
# pool (the rest of the pool stays out of their sight).
ASSIGNED = {
    "partner": [("rep_east", 0), ("rep_west", 1), ("pool", 0)],
    "partner_b": [("rep_sh", 0)],
}
EXPECTED = {
    "admin": 13,
    "warehouse": 13,
    "mgr_sales": 2 + 3 + 4 + 2,
    "mgr_east": 2 + 3 + 2,
    "rep_east": 2 + 2,
    "rep_sh": 3 + 2,
    "viewer_west": 4 + 2,
    "partner": 3,
    "partner_b": 1,
}

CREATE_TEAM = """mutation($input: CreateTeamInput!) {
  createTeam(input: $input) { team { id } userErrors { field code message } } }"""
CREATE_USER = """mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { id } userErrors { field code message } } }"""


@pytest.fixture(scope="module")
async def org(api, owner, services):
    tenant = await make_tenant(owner, services, "scope")
    admin = tenant.tokens["admin"]
    teams: dict[str, str] = {}
    for name, parent in (
        ("sales", None),
        ("east", "sales"),
        ("shanghai", "east"),
        ("west", "sales"),
    ):
        data = await api.gql(
            CREATE_TEAM, {"input": {"name": name, "parentId": teams.get(parent)}}, token=admin
        )
        teams[name] = data["createTeam"]["team"]["id"]
    ids = {"admin": tenant.user_ids["admin"]}
    for person, (role, team) in PEOPLE.items():
        data = await api.gql(
            CREATE_USER,
            {"input": {"email": f"{person}@{tenant.slug}.cn", "role": role,
                       "teamId": teams.get(team)}},
            token=admin,
        )  # fmt: skip
        assert data["createUser"]["userErrors"] == []
        ids[person] = uuid.UUID(data["createUser"]["user"]["id"])
    tokens = {"admin": admin}
    for person in PEOPLE:
        tokens[person] = await issue_access_token(
            keyring=services.keyring, settings=services.settings, tenant_id=tenant.id,
            user_id=ids[person], roles=[PEOPLE[person][0]],
        )  # fmt: skip
    owned: dict[str, list[str]] = {}
    contacts: dict[str, str] = {}
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        for person, count in OWNED.items():
            for i in range(count):
                row = await customers.create_customer(
                    conn, actor=SYSTEM, who=EVERYTHING, customer_id=None,
                    fields={"name": f"Scope {person or 'pool'} {i}", "owner_id": ids.get(person)},
                )  # fmt: skip
                contact = await customers.create_contact(
                    conn, actor=SYSTEM, who=EVERYTHING, contact_id=None, customer_id=row.id,
                    fields={"name": f"Contact of {row.name}", "is_primary": True},
                )  # fmt: skip
                owned.setdefault(person or "pool", []).append(str(row.id))
                contacts[str(row.id)] = str(contact.id)
        for partner, assigned in ASSIGNED.items():
            for person, i in assigned:
                await customers.update_customer(
                    conn, actor=SYSTEM, who=EVERYTHING, customer_id=uuid.UUID(owned[person][i]),
                    version=1, fields={"partner_id": ids[partner]},
                )  # fmt: skip
    return {"tenant": tenant, "tokens": tokens, "ids": ids, "teams": teams, "owned": owned,
            "contacts": contacts}  # fmt: skip


def _visible_owners(person: str) -> set[str]:
    return {
        "admin": set(OWNED) - {None} | {"pool"},
        "warehouse": set(OWNED) - {None} | {"pool"},
        "mgr_sales": {"rep_east", "rep_sh", "rep_west", "pool"},
        "mgr_east": {"rep_east", "rep_sh", "pool"},
        "rep_east": {"rep_east", "pool"},
        "rep_sh": {"rep_sh", "pool"},
        "viewer_west": {"rep_west", "pool"},
    }[person]


def _visible(org, person: str) -> set[str]:
    """Customer ids the person may see: by owner, or for partners by assignment only."""
    if person in ASSIGNED:
        return {org["owned"][owner][i] for owner, i in ASSIGNED[person]}
    return {i for owner in _visible_owners(person) for i in org["owned"].get(owner, [])}


LIST = """{ customers(first: 100) { totalCount edges { node { id contacts { id } } } }
  searched: customers(filter: {search: "Scope"}) { totalCount }
  contacts(first: 100) { totalCount edges { node { id customer { id } } } } }"""


@pytest.mark.parametrize("person", list(EXPECTED))
async def test_lists_counts_and_search_match_the_scope(api, org, person):
    data = await api.gql(LIST, token=org["tokens"][person])
    expected_ids = _visible(org, person)
    got = {e["node"]["id"] for e in data["customers"]["edges"]}
    assert got == expected_ids
    assert data["customers"]["totalCount"] == EXPECTED[person] == len(expected_ids)
    assert data["searched"]["totalCount"] == EXPECTED[person]
    assert data["contacts"]["totalCount"] == EXPECTED[person]
    assert {e["node"]["customer"]["id"] for e in data["contacts"]["edges"]} == expected_ids
    assert {c["id"] for e in data["customers"]["edges"] for c in e["node"]["contacts"]} == {
        org["contacts"][i] for i in expected_ids
    }


@pytest.mark.parametrize("person", ["rep_east", "mgr_east", "viewer_west", "partner", "partner_b"])
async def test_out_of_scope_by_id_looks_missing(api, org, person):
    visible = _visible(org, person)
    for customer_id in (i for ids in org["owned"].values() for i in ids):
        data = await api.gql(
            "query($id: ID!, $k: ID!) { customer(id: $id) { id contacts { id } }"
            " contact(id: $k) { id customer { id } } }",
            {"id": customer_id, "k": org["contacts"][customer_id]},
            token=org["tokens"][person],
        )  # fmt: skip
        seen = customer_id in visible
        assert (data["customer"] is not None) == seen, customer_id
        assert (data["contact"] is not None) == seen, customer_id
        if seen:
            assert data["customer"]["contacts"] == [{"id": org["contacts"][customer_id]}]
            assert data["contact"]["customer"] == {"id": customer_id}


PARTNER_FILTERS = """query($me: ID!, $other: ID!, $notMine: ID!) {
  pool: customers(filter: {ownerId: {isNull: true}}) { edges { node { id } } }
  ownedByMe: customers(filter: {ownerId: {eq: $me}}) { totalCount }
  assignedToMe: customers(filter: {partnerId: {eq: $me}}) { totalCount }
  assignedToOther: customers(filter: {partnerId: {eq: $other}}) { totalCount }
  unassigned: customers(filter: {partnerId: {isNull: true}}) { totalCount }
  searchedPool: customers(filter: {search: "Scope pool"}) { edges { node { id } } }
  searchedOwn: customers(filter: {search: "Scope partner"}) { totalCount }
  either: customers(filter: {or: [{ownerId: {isNull: true}}, {tags: {any: ["none"]}}]}) {
    totalCount }
  contactsOfOther: contacts(filter: {customerId: {eq: $notMine}}) { totalCount }
  contactsSearched: contacts(filter: {search: "Contact of Scope"}) { totalCount }
}"""


async def test_partner_filters_and_search_stay_within_the_assignment(api, org):
    """Filters narrow what is visible; they never widen it: not to the pool, not to what
    the partner owns, not to another partner's customers."""
    ids = org["ids"]
    data = await api.gql(
        PARTNER_FILTERS,
        {"me": str(ids["partner"]), "other": str(ids["partner_b"]),
         "notMine": org["owned"]["rep_sh"][0]},
        token=org["tokens"]["partner"],
    )  # fmt: skip
    assigned_pool = {org["owned"]["pool"][0]}
    assert {e["node"]["id"] for e in data["pool"]["edges"]} == assigned_pool
    assert data["ownedByMe"]["totalCount"] == 0
    assert data["assignedToMe"]["totalCount"] == EXPECTED["partner"]
    assert data["assignedToOther"]["totalCount"] == 0
    assert data["unassigned"]["totalCount"] == 0
    assert {e["node"]["id"] for e in data["searchedPool"]["edges"]} == assigned_pool
    assert data["searchedOwn"]["totalCount"] == 0
    assert data["either"]["totalCount"] == 1
    assert data["contactsOfOther"]["totalCount"] == 0
    assert data["contactsSearched"]["totalCount"] == EXPECTED["partner"]


ASSIGN = """mutation($id: ID!, $v: Int!, $p: ID) {
  updateCustomer(input: {id: $id, version: $v, partnerId: $p}) {
    customer { version partnerId partner { id email } } userErrors { field code message } } }"""
SEES = """query($id: ID!) { customer(id: $id) { id contacts { id } }
  customers { totalCount } contacts { totalCount } }"""
VERSION = "query($id: ID!) { customer(id: $id) { version } }"


async def test_assigning_and_unassigning_changes_what_a_partner_sees(api, org):
    customer_id = org["owned"]["rep_west"][2]
    partner, rep = org["tokens"]["partner_b"], org["tokens"]["rep_west"]

    async def partner_sees() -> dict:
        return await api.gql(SEES, {"id": customer_id}, token=partner)

    before = await partner_sees()
    assert before["customer"] is None
    version = (await api.gql(VERSION, {"id": customer_id}, token=rep))["customer"]["version"]
    # The owning rep assigns it: the distributor is in no team, any partner may be picked.
    assigned = await api.gql(
        ASSIGN, {"id": customer_id, "v": version, "p": str(org["ids"]["partner_b"])}, token=rep
    )
    try:
        payload = assigned["updateCustomer"]
        assert payload["userErrors"] == []
        assert payload["customer"]["partnerId"] == str(org["ids"]["partner_b"])
        assert payload["customer"]["partner"]["email"].startswith("partner_b@")
        after = await partner_sees()
        assert after["customer"]["contacts"] == [{"id": org["contacts"][customer_id]}]
        assert after["customers"]["totalCount"] == before["customers"]["totalCount"] + 1
        assert after["contacts"]["totalCount"] == before["contacts"]["totalCount"] + 1
        # The rep still owns and sees it.
        assert (await api.gql(VERSION, {"id": customer_id}, token=rep))["customer"] is not None
    finally:
        cleared = await api.gql(ASSIGN, {"id": customer_id, "v": version + 1, "p": None}, token=rep)
    assert cleared["updateCustomer"]["userErrors"] == []
    assert cleared["updateCustomer"]["customer"]["partner"] is None
    assert await partner_sees() == before


async def test_partners_cannot_write(api, org):
    """Partners read what is assigned to them; changing it is for the tenant's staff."""
    customer_id = org["owned"]["rep_east"][0]
    for mutation in (
        'updateCustomer(input: {id: $id, version: 1, name: "x"}) { userErrors { code } }',
        "updateCustomer(input: {id: $id, version: 1, partnerId: null}) { userErrors { code } }",
        'createContact(input: {customerId: $id, name: "x"}) { userErrors { code } }',
    ):
        errors = await api.errors(
            f"mutation($id: ID!) {{ {mutation} }}", {"id": customer_id},
            token=org["tokens"]["partner"],
        )  # fmt: skip
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    data = await api.gql(
        "query($id: ID!) { customer(id: $id) { version partnerId } }", {"id": customer_id},
        token=org["tokens"]["partner"],
    )  # fmt: skip
    assert data["customer"] == {"version": 2, "partnerId": str(org["ids"]["partner"])}


async def test_out_of_scope_writes_look_missing(api, org):
    west_customer = org["owned"]["rep_west"][0]
    data = await api.gql(
        'mutation($id: ID!) { updateCustomer(input: {id: $id, version: 1, name: "x"}) {'
        " userErrors { field code } } deleteCustomer(input: {id: $id}) { userErrors { code } }"
        ' createContact(input: {customerId: $id, name: "x"}) { userErrors { field code } } }',
        {"id": west_customer},
        token=org["tokens"]["rep_east"],
    )
    assert data["updateCustomer"]["userErrors"] == [{"field": "id", "code": "NOT_FOUND"}]
    assert data["deleteCustomer"]["userErrors"] == [{"code": "NOT_FOUND"}]
    assert data["createContact"]["userErrors"] == [{"field": "customerId", "code": "NOT_FOUND"}]


async def test_own_scope_cannot_hand_customers_to_others(api, org):
    token = org["tokens"]["rep_east"]
    to_other = await api.gql(
        'mutation($o: ID!) { createCustomer(input: {name: "Gift", ownerId: $o}) {'
        " userErrors { field code } } }",
        {"o": str(org["ids"]["rep_west"])},
        token=token,
    )
    assert to_other["createCustomer"]["userErrors"] == [{"field": "ownerId", "code": "NOT_FOUND"}]
    to_self = await api.gql(
        'mutation($o: ID!) { createCustomer(input: {name: "Mine", ownerId: $o}) {'
        " customer { id } userErrors { code } } }",
        {"o": str(org["ids"]["rep_east"])},
        token=token,
    )
    assert to_self["createCustomer"]["userErrors"] == []


async def test_custom_role_and_moving_a_team_change_what_is_seen(api, org, services):
    admin = org["tokens"]["admin"]
    role = await api.gql(
        """mutation { createRole(input: {name: "east-auditor", description: "reads the east",
           permissions: ["customers:read", "contacts:read"], dataScope: TEAM}) {
           role { name builtin dataScope permissions } userErrors { field code } } }"""
    , token=admin)  # fmt: skip
    assert role["createRole"]["role"]["dataScope"] == "TEAM"
    user = await api.gql(
        CREATE_USER,
        {"input": {"email": f"auditor-{uuid.uuid4().hex[:4]}@x.cn", "role": "east-auditor",
                   "teamId": org["teams"]["east"]}},
        token=admin,
    )  # fmt: skip
    user_id = uuid.UUID(user["createUser"]["user"]["id"])
    token = await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=org["tenant"].id,
        user_id=user_id, roles=["east-auditor"],
    )  # fmt: skip
    count = "{ customers { totalCount } }"

    async def seen(who_token: str) -> int:
        return (await api.gql(count, token=who_token))["customers"]["totalCount"]

    assert await seen(token) == await seen(org["tokens"]["mgr_east"])
    west_before = await seen(org["tokens"]["viewer_west"])
    writes = await api.errors('mutation { createCustomer(input: {name: "no"}) { customer { id } } }',
                              token=token)  # fmt: skip
    assert writes[0]["extensions"]["code"] == "FORBIDDEN"
    # Moving Shanghai under West moves its rep out of the East's sight.
    teams = (await api.gql("{ teams { id name version } }", token=admin))["teams"]
    shanghai = next(t for t in teams if t["name"] == "shanghai")
    moved = await api.gql(
        "mutation($id: ID!, $v: Int!, $p: ID) { updateTeam(input: {id: $id, version: $v, parentId: $p})"
        " { team { parentId depth } userErrors { code } } }",
        {"id": shanghai["id"], "v": shanghai["version"], "p": org["teams"]["west"]},
        token=admin,
    )
    assert moved["updateTeam"]["team"] == {"parentId": org["teams"]["west"], "depth": 2}
    try:
        # The east is now its manager, rep_east and the auditor: what rep_east sees.
        assert await seen(token) == await seen(org["tokens"]["rep_east"])
        assert await seen(org["tokens"]["viewer_west"]) == west_before + OWNED["rep_sh"]
    finally:
        back = (await api.gql("{ teams { id name version } }", token=admin))["teams"]
        shanghai = next(t for t in back if t["name"] == "shanghai")
        await api.gql(
            "mutation($id: ID!, $v: Int!, $p: ID) { updateTeam(input: {id: $id, version: $v,"
            " parentId: $p}) { userErrors { code } } }",
            {"id": shanghai["id"], "v": shanghai["version"], "p": org["teams"]["east"]},
            token=admin,
        )


async def test_team_cycles_and_bad_roles_are_user_errors(api, org):
    admin = org["tokens"]["admin"]
    teams = (await api.gql("{ teams { id name version } }", token=admin))["teams"]
    sales = next(t for t in teams if t["name"] == "sales")
    cycle = await api.gql(
        "mutation($id: ID!, $v: Int!, $p: ID) { updateTeam(input: {id: $id, version: $v, parentId: $p})"
        " { userErrors { field code } } }",
        {"id": sales["id"], "v": sales["version"], "p": org["teams"]["shanghai"]},
        token=admin,
    )
    assert cycle["updateTeam"]["userErrors"] == [{"field": "parentId", "code": "CYCLE"}]
    bad = await api.gql(
        """mutation { createRole(input: {name: "admin", permissions: ["nope:do"], dataScope: ALL})
           { userErrors { field code } } }""",
        token=admin,
    )
    assert {e["field"] for e in bad["createRole"]["userErrors"]} == {"name", "permissions"}
    unknown = await api.gql(
        CREATE_USER, {"input": {"email": "x@y.cn", "role": "no-such-role"}}, token=admin
    )
    assert unknown["createUser"]["userErrors"][0]["field"] == "role"
    for person in ("mgr_sales", "rep_east"):
        errors = await api.errors(
            'mutation { createTeam(input: {name: "rogue"}) { team { id } } }',
            token=org["tokens"][person],
        )
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"


IMPORT = (
    "mutation($file: Upload!) { importCustomers(file: $file) { job { id } userErrors { code } } }"
)


async def test_jobs_follow_their_starters_scope(api, org):
    response = await api.client.post(
        "/graphql",
        data={"operations": json.dumps({"query": IMPORT, "variables": {"file": None}}),
              "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("c.csv", b"name\nScoped import\n", "text/csv")},
        headers={"Authorization": f"Bearer {org['tokens']['rep_west']}"},
    )  # fmt: skip
    job_id = response.json()["data"]["importCustomers"]["job"]["id"]
    query = "query($id: ID!) { job(id: $id) { id } jobs { totalCount } }"
    for person, sees in (("rep_west", True), ("mgr_sales", True), ("rep_east", False),
                         ("mgr_east", False), ("admin", True)):  # fmt: skip
        data = await api.gql(query, {"id": job_id}, token=org["tokens"][person])
        assert (data["job"] is not None) == sees, person
        assert (data["jobs"]["totalCount"] >= 1) == sees, person
