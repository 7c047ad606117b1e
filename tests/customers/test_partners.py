"""Assigning customers to partner (distributor) users: who can be a partner, the audit
of every change, `partner` loaded with the page, and tenants kept apart."""

from __future__ import annotations

import uuid

import pytest
from helpers import make_tenant
from sqlalchemy import select

from app.audit.service import SYSTEM
from app.audit.tables import audit_log
from app.auth.scope import EVERYTHING
from app.auth.tokens import issue_access_token
from app.customers import service
from app.db import tenant_transaction

CREATE = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id version partnerId partner { id name email } }
    userErrors { field code message } } }"""
UPDATE = """mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { id version partnerId partner { id name email } }
    userErrors { field code message } } }"""
GET = "query($id: ID!) { customer(id: $id) { id version partnerId ownerId } }"
CREATE_USER = """mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { id } userErrors { field code message } } }"""

NOT_A_USER = {"field": "partnerId", "code": "INVALID", "message": "no active user with this id"}
NOT_A_PARTNER = {
    "field": "partnerId",
    "code": "INVALID",
    "message": "this user cannot be a customer's partner: only users whose role has the "
    "assigned data scope (such as partner) can",
}


async def _user(api, token: str, slug: str, name: str, role: str) -> uuid.UUID:
    data = await api.gql(
        CREATE_USER,
        {"input": {"email": f"{name}-{uuid.uuid4().hex[:6]}@{slug}.cn", "role": role,
                   "name": name}},
        token=token,
    )  # fmt: skip
    assert data["createUser"]["userErrors"] == []
    return uuid.UUID(data["createUser"]["user"]["id"])


async def _token(services, tenant, user_id: uuid.UUID, role: str) -> str:
    return await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=tenant.id,
        user_id=user_id, roles=[role],
    )  # fmt: skip


@pytest.fixture(scope="module")
async def org(api, owner, services):
    """A tenant with two partners, a partner by a custom role with the assigned scope,
    and a deactivated partner."""
    tenant = await make_tenant(owner, services, "partners")
    admin = tenant.tokens["admin"]
    role = await api.gql(
        """mutation { createRole(input: {name: "reseller", description: "a reseller",
           permissions: ["customers:read"], dataScope: ASSIGNED}) { userErrors { code } } }""",
        token=admin,
    )
    assert role["createRole"]["userErrors"] == []
    ids = {
        name: await _user(api, admin, tenant.slug, name, role)
        for name, role in (("dist", "partner"), ("dist2", "partner"), ("reseller", "reseller"),
                           ("gone", "partner"))
    }  # fmt: skip
    deactivated = await api.gql(
        "mutation($id: ID!) { updateUser(input: {id: $id, active: false}) {"
        " userErrors { code } } }",
        {"id": str(ids["gone"])},
        token=admin,
    )
    assert deactivated["updateUser"]["userErrors"] == []
    tokens = {
        "dist": await _token(services, tenant, ids["dist"], "partner"),
        "reseller": await _token(services, tenant, ids["reseller"], "reseller"),
    }
    return {"tenant": tenant, "ids": ids, "tokens": tokens}


async def _audit(services, tenant, customer_id: str) -> list:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return (
            await conn.execute(
                select(audit_log.c.action, audit_log.c.changes)
                .where(audit_log.c.entity_id == uuid.UUID(customer_id))
                .order_by(audit_log.c.id)
            )
        ).all()


async def test_assigning_reassigning_and_clearing_are_audited(api, services, org):
    tenant, ids = org["tenant"], org["ids"]
    admin = tenant.tokens["admin"]
    created = await api.gql(
        CREATE, {"input": {"name": "Assigned Co", "partnerId": str(ids["dist"])}}, token=admin
    )
    payload = created["createCustomer"]
    assert payload["userErrors"] == []
    customer = payload["customer"]
    assert customer["partnerId"] == str(ids["dist"])
    assert customer["partner"]["id"] == str(ids["dist"])
    assert customer["partner"]["name"] == "dist"
    assert customer["partner"]["email"].startswith("dist-")
    moved = await api.gql(
        UPDATE,
        {"input": {"id": customer["id"], "version": 1, "partnerId": str(ids["reseller"])}},
        token=admin,
    )
    assert moved["updateCustomer"]["customer"]["partner"]["name"] == "reseller"
    cleared = await api.gql(
        UPDATE, {"input": {"id": customer["id"], "version": 2, "partnerId": None}}, token=admin
    )
    assert cleared["updateCustomer"]["customer"] == {
        "id": customer["id"], "version": 3, "partnerId": None, "partner": None,
    }  # fmt: skip
    rows = await _audit(services, tenant, customer["id"])
    assert [r.action for r in rows] == ["customer.create", "customer.update", "customer.update"]
    assert rows[0].changes["partner_id"] == {"from": None, "to": str(ids["dist"])}
    assert rows[1].changes == {"partner_id": {"from": str(ids["dist"]), "to": str(ids["reseller"])}}
    assert rows[2].changes == {"partner_id": {"from": str(ids["reseller"]), "to": None}}


async def test_a_custom_role_with_the_assigned_scope_sees_its_assignment(api, org):
    tenant, ids = org["tenant"], org["ids"]
    created = await api.gql(
        CREATE,
        {"input": {"name": "Resold Co", "partnerId": str(ids["reseller"]),
                   "ownerId": str(tenant.user_ids["sales"])}},
        token=tenant.tokens["admin"],
    )  # fmt: skip
    customer_id = created["createCustomer"]["customer"]["id"]
    seen = await api.gql(GET, {"id": customer_id}, token=org["tokens"]["reseller"])
    assert seen["customer"]["partnerId"] == str(ids["reseller"])
    assert (await api.gql(GET, {"id": customer_id}, token=org["tokens"]["dist"]))[
        "customer"
    ] is None


BAD_PARTNERS = {
    "nonexistent": lambda org, other: (str(uuid.uuid4()), NOT_A_USER),
    "malformed": lambda org, other: ("not-an-id", NOT_A_USER),
    "another tenant's partner": lambda org, other: (str(other), NOT_A_USER),
    "deactivated": lambda org, other: (str(org["ids"]["gone"]), NOT_A_USER),
    "a sales rep": lambda org, other: (str(org["tenant"].user_ids["sales"]), NOT_A_PARTNER),
    "an admin": lambda org, other: (str(org["tenant"].user_ids["admin"]), NOT_A_PARTNER),
}


@pytest.fixture(scope="module")
async def b_partner(api, tenant_b) -> uuid.UUID:
    return await _user(api, tenant_b.tokens["admin"], tenant_b.slug, "b-dist", "partner")


@pytest.mark.parametrize("case", list(BAD_PARTNERS))
async def test_an_invalid_partner_names_partner_id_and_changes_nothing(
    api, services, org, b_partner, case
):
    tenant = org["tenant"]
    admin = tenant.tokens["admin"]
    partner_id, error = BAD_PARTNERS[case](org, b_partner)
    name = f"Bad partner {uuid.uuid4().hex[:6]}"
    created = await api.gql(CREATE, {"input": {"name": name, "partnerId": partner_id}}, token=admin)
    assert created["createCustomer"] == {"customer": None, "userErrors": [error]}
    found = await api.gql(
        "query($s: String!) { customers(filter: {search: $s}) { totalCount } }", {"s": name},
        token=admin,
    )  # fmt: skip
    assert found["customers"]["totalCount"] == 0
    existing = await api.gql(
        CREATE, {"input": {"name": name, "partnerId": str(org["ids"]["dist"])}}, token=admin
    )
    customer_id = existing["createCustomer"]["customer"]["id"]
    updated = await api.gql(
        UPDATE,
        {"input": {"id": customer_id, "version": 1, "partnerId": partner_id, "tier": "A"}},
        token=admin,
    )
    assert updated["updateCustomer"] == {"customer": None, "userErrors": [error]}
    after = await api.gql(GET, {"id": customer_id}, token=admin)
    assert after["customer"]["version"] == 1
    assert after["customer"]["partnerId"] == str(org["ids"]["dist"])
    assert [r.action for r in await _audit(services, tenant, customer_id)] == ["customer.create"]


async def test_a_rep_assigns_partners_to_customers_they_see(api, org):
    """Writers pick any partner of the tenant (distributors are in no team); what they
    may change is still their own scope."""
    tenant = org["tenant"]
    rep = tenant.tokens["sales"]
    mine = await api.gql(
        CREATE,
        {"input": {"name": "Rep's own", "ownerId": str(tenant.user_ids["sales"]),
                   "partnerId": str(org["ids"]["dist2"])}},
        token=rep,
    )  # fmt: skip
    assert mine["createCustomer"]["userErrors"] == []
    assert mine["createCustomer"]["customer"]["partner"]["name"] == "dist2"
    others = await api.gql(
        CREATE,
        {"input": {"name": "Admin's own", "ownerId": str(tenant.user_ids["admin"])}},
        token=tenant.tokens["admin"],
    )
    other_id = others["createCustomer"]["customer"]["id"]
    refused = await api.gql(
        UPDATE,
        {"input": {"id": other_id, "version": 1, "partnerId": str(org["ids"]["dist2"])}},
        token=rep,
    )
    assert refused["updateCustomer"]["userErrors"][0]["field"] == "id"
    assert refused["updateCustomer"]["userErrors"][0]["code"] == "NOT_FOUND"


PAGE = """query($first: Int!, $p: ID!) {
  customers(first: $first, filter: {partnerId: {eq: $p}}) {
    edges { node { id owner { email } partner { email } } } } }"""


async def test_owners_and_partners_load_in_one_statement(api, services, org, sql_counter):
    tenant, ids = org["tenant"], org["ids"]
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        for i in range(12):
            await service.create_customer(
                conn, actor=SYSTEM, who=EVERYTHING, customer_id=None,
                fields={"name": f"Batched {i}", "partner_id": ids["dist2"],
                        "owner_id": tenant.user_ids["sales" if i % 2 else "manager"]},
            )  # fmt: skip
    counts = {}
    for first in (2, 12):
        sql_counter.statements.clear()
        data = await api.gql(
            PAGE, {"first": first, "p": str(ids["dist2"])}, token=tenant.tokens["admin"]
        )
        nodes = [e["node"] for e in data["customers"]["edges"]]
        assert len(nodes) == first
        assert all(n["owner"]["email"] and n["partner"]["email"] for n in nodes)
        counts[first] = [s for s in sql_counter.statements if ".users" in s]
    # The page, then one statement for owners and partners together.
    assert len(counts[2]) == len(counts[12]) == 1, counts


async def test_filter_by_partner(api, org):
    tenant, ids = org["tenant"], org["ids"]
    admin = tenant.tokens["admin"]
    marker = f"Filtered {uuid.uuid4().hex[:6]}"
    made = {}
    for key, partner in (("a", ids["dist"]), ("b", ids["dist2"]), ("none", None)):
        data = await api.gql(
            CREATE,
            {"input": {"name": f"{marker} {key}",
                       "partnerId": str(partner) if partner else None}},
            token=admin,
        )  # fmt: skip
        made[key] = data["createCustomer"]["customer"]["id"]
    query = """query($s: String!, $f: IdFilter!) {
      customers(filter: {search: $s, partnerId: $f}) { edges { node { id } } } }"""

    async def found(f: dict) -> set[str]:
        data = await api.gql(query, {"s": marker, "f": f}, token=admin)
        return {e["node"]["id"] for e in data["customers"]["edges"]}

    assert await found({"eq": str(ids["dist"])}) == {made["a"]}
    assert await found({"in": [str(ids["dist"]), str(ids["dist2"])]}) == {made["a"], made["b"]}
    assert await found({"isNull": True}) == {made["none"]}
    assert await found({"isNull": False}) == {made["a"], made["b"]}
    errors = await api.errors(query, {"s": marker, "f": {"eq": "nope"}}, token=admin)
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "partnerId" in errors[0]["message"]


async def test_tenants_cannot_assign_or_see_across(api, services, org, tenant_b, b_partner):
    """Tenant B cannot hand A's customer to its partner, A cannot use B's partner, and
    B's partner sees nothing of A, whatever ids it is given."""
    tenant, ids = org["tenant"], org["ids"]
    created = await api.gql(
        CREATE, {"input": {"name": "A's assigned", "partnerId": str(ids["dist"])}},
        token=tenant.tokens["admin"],
    )  # fmt: skip
    customer_id = created["createCustomer"]["customer"]["id"]
    hijack = await api.gql(
        UPDATE,
        {"input": {"id": customer_id, "version": 1, "partnerId": str(b_partner)}},
        token=tenant_b.tokens["admin"],
    )
    assert hijack["updateCustomer"]["customer"] is None
    assert hijack["updateCustomer"]["userErrors"][0]["code"] == "NOT_FOUND"
    b_token = await _token(services, tenant_b, b_partner, "partner")
    data = await api.gql(
        "query($id: ID!, $a: ID!, $b: ID!) { customer(id: $id) { id }"
        " mine: customers(filter: {partnerId: {eq: $b}}) { totalCount }"
        " theirs: customers(filter: {partnerId: {eq: $a}}) { totalCount }"
        " contacts { totalCount } }",
        {"id": customer_id, "a": str(ids["dist"]), "b": str(b_partner)},
        token=b_token,
    )
    assert data == {
        "customer": None, "mine": {"totalCount": 0}, "theirs": {"totalCount": 0},
        "contacts": {"totalCount": 0},
    }  # fmt: skip
    after = await api.gql(GET, {"id": customer_id}, token=tenant.tokens["admin"])
    assert after["customer"]["version"] == 1
    assert after["customer"]["partnerId"] == str(ids["dist"])
    assert (await api.gql(GET, {"id": customer_id}, token=org["tokens"]["dist"]))["customer"]
