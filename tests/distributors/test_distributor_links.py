"""Linking users to distributors: who may link whom (users:manage; only users whose
role sees by assignment; only customers marked distributor, of this tenant), what a
refused change leaves behind (nothing), unmarking a distributor in use, and users of
other data scopes, whom a distributor link never widens."""

from __future__ import annotations

import uuid

import pytest
from distributor_helpers import (
    CREATE_USER,
    UPDATE_CUSTOMER,
    UPDATE_USER,
    World,
    make_world,
    new_user,
    ok,
    payload,
    token_for,
)
from sqlalchemy import func, select

from app.db import tenant_transaction
from app.users.tables import users

CUSTOMER_VERSION = "query($id: ID!) { customer(id: $id) { id version isDistributor } }"
ME = "{ me { user { id distributorId } dataScope } }"


@pytest.fixture(scope="module")
async def world(api, owner, services) -> World:
    return await make_world(api, owner, services, "distlink")


@pytest.fixture(scope="module")
async def other(api, owner, services) -> World:
    return await make_world(api, owner, services, "distlink2")


def _errors(result: dict) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in result["userErrors"]]


async def _user_count(services, world: World) -> int:
    async with tenant_transaction(services.engine, world.tenant.schema) as conn:
        return await conn.scalar(select(func.count()).select_from(users))


async def test_me_shows_the_link(api, world):
    me = (await api.gql(ME, token=world.tokens["p"]))["me"]
    assert me == {"user": {"id": world.p, "distributorId": world.d}, "dataScope": "assigned"}


@pytest.mark.parametrize(
    ("role", "target", "expected"),
    [
        ("partner", "x", [("distributorId", "INVALID")]),  # not a distributor
        ("sales", "d", [("distributorId", "INVALID")]),  # own scope
        ("manager", "d", [("distributorId", "INVALID")]),  # team scope
        ("admin", "d", [("distributorId", "INVALID")]),  # all scope
        ("partner", "nonexistent", [("distributorId", "NOT_FOUND")]),
        ("partner", "malformed", [("distributorId", "NOT_FOUND")]),
    ],
)
async def test_create_user_refuses_bad_links_and_leaves_nothing(
    api, services, world, role, target, expected
):
    before = await _user_count(services, world)
    distributor = {"x": world.x, "d": world.d, "nonexistent": str(uuid.uuid4()),
                   "malformed": "nope"}[target]  # fmt: skip
    result = await payload(api, CREATE_USER, "createUser", {
        "email": f"bad-{uuid.uuid4().hex[:6]}@x.cn", "role": role,
        "distributorId": distributor}, world.tenant.tokens["admin"])  # fmt: skip
    assert result["user"] is None
    assert _errors(result) == expected
    assert await _user_count(services, world) == before


async def test_update_user_links_and_unlinks(api, services, world):
    admin = world.tenant.tokens["admin"]
    user_id, token = await new_user(api, services, world.tenant, "partner")
    sales_id, _ = await new_user(api, services, world.tenant, "sales")
    refused = await payload(api, UPDATE_USER, "updateUser",
                            {"id": sales_id, "distributorId": world.d}, admin)  # fmt: skip
    assert _errors(refused) == [("distributorId", "INVALID")]
    assert "assigned data scope" in refused["userErrors"][0]["message"]
    refused = await payload(api, UPDATE_USER, "updateUser",
                            {"id": user_id, "distributorId": world.x}, admin)  # fmt: skip
    assert _errors(refused) == [("distributorId", "INVALID")]
    linked = await ok(api, UPDATE_USER, "updateUser", {"id": user_id, "distributorId": world.e},
                      admin)  # fmt: skip
    assert linked["user"]["distributorId"] == world.e
    # Moving the linked user to a role of another scope, keeping the link: refused.
    refused = await payload(api, UPDATE_USER, "updateUser", {"id": user_id, "role": "sales"},
                            admin)  # fmt: skip
    assert _errors(refused) == [("role", "INVALID")]
    # Changing both at once, unlinking: fine.
    moved = await ok(api, UPDATE_USER, "updateUser",
                     {"id": user_id, "role": "sales", "distributorId": None}, admin)  # fmt: skip
    assert moved["user"] == {"id": user_id, "role": "sales", "distributorId": None}
    # Changing role and link together to a non-assigned role: refused naming the link.
    refused = await payload(api, UPDATE_USER, "updateUser",
                            {"id": user_id, "distributorId": world.d}, admin)  # fmt: skip
    assert _errors(refused) == [("distributorId", "INVALID")]
    # Only users:manage may link.
    errors = await api.errors(
        UPDATE_USER, {"input": {"id": user_id, "distributorId": world.d}},
        token=world.tenant.tokens["manager"],
    )  # fmt: skip
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    errors = await api.errors(
        UPDATE_USER, {"input": {"id": world.p, "distributorId": world.e}}, token=world.tokens["p"]
    )
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_another_tenants_distributor_is_not_found(api, world, other):
    admin = world.tenant.tokens["admin"]
    result = await payload(api, CREATE_USER, "createUser", {
        "email": f"iso-{uuid.uuid4().hex[:6]}@x.cn", "role": "partner",
        "distributorId": other.d}, admin)  # fmt: skip
    assert _errors(result) == [("distributorId", "NOT_FOUND")]
    result = await payload(api, UPDATE_USER, "updateUser",
                           {"id": world.q, "distributorId": other.d}, admin)  # fmt: skip
    assert _errors(result) == [("distributorId", "NOT_FOUND")]
    # The other tenant's partner sees its own distributor, never this tenant's.
    seen = await api.gql(CUSTOMER_VERSION, {"id": world.d}, token=other.tokens["p"])
    assert seen["customer"] is None


async def test_a_distributor_in_use_cannot_be_unmarked(api, world):
    admin = world.tenant.tokens["admin"]
    current = (await api.gql(CUSTOMER_VERSION, {"id": world.d}, token=admin))["customer"]
    result = await payload(api, UPDATE_CUSTOMER, "updateCustomer", {
        "id": world.d, "version": current["version"], "isDistributor": False}, admin)  # fmt: skip
    assert result["customer"] is None
    assert _errors(result) == [("isDistributor", "IN_USE")]
    after = (await api.gql(CUSTOMER_VERSION, {"id": world.d}, token=admin))["customer"]
    assert after == current
    # A distributor nobody works for can be unmarked, and marked again.
    spare = await ok(api, UPDATE_CUSTOMER, "updateCustomer", {
        "id": world.x, "version": 1, "isDistributor": True}, admin)  # fmt: skip
    assert spare["customer"]["isDistributor"] is True
    back = await ok(api, UPDATE_CUSTOMER, "updateCustomer", {
        "id": world.x, "version": 2, "isDistributor": False}, admin)  # fmt: skip
    assert back["customer"]["isDistributor"] is False


CUSTOMERS = "{ customers(first: 50) { edges { node { id } } } }"
WAREHOUSES = "{ warehouses(first: 50) { edges { node { id } } } }"
ORDERS = "{ salesOrders(first: 50) { edges { node { id } } } }"


def _ids(data: dict, name: str) -> set[str]:
    return {e["node"]["id"] for e in data[name]["edges"]}


async def test_other_scopes_are_unaffected_by_a_link(api, services, world):
    """A custom role linked while it saw by assignment, then changed to own scope: the
    link is left in place but means nothing; the user sees what own scope sees."""
    admin = world.tenant.tokens["admin"]
    name = f"dealer{uuid.uuid4().hex[:6]}"
    made = await api.gql(
        """mutation($input: CreateRoleInput!) { createRole(input: $input) {
             role { version } userErrors { field code message } } }""",
        {"input": {"name": name, "dataScope": "ASSIGNED",
                   "permissions": ["customers:read", "orders:read", "stock:read"]}},
        token=admin,
    )  # fmt: skip
    assert made["createRole"]["userErrors"] == []
    user_id, _ = await new_user(api, services, world.tenant, name, distributorId=world.d)
    changed = await api.gql(
        """mutation($input: UpdateRoleInput!) { updateRole(input: $input) {
             userErrors { field code message } } }""",
        {"input": {"name": name, "version": made["createRole"]["role"]["version"],
                   "dataScope": "OWN"}},
        token=admin,
    )  # fmt: skip
    assert changed["updateRole"]["userErrors"] == []
    token = await token_for(services, world.tenant, user_id, name)
    customers = _ids(await api.gql(CUSTOMERS, token=token), "customers")
    # Every customer of the world has an owner: own scope sees none of them, D included.
    assert not {world.d, world.e, world.x, world.assigned} & customers
    assert not _ids(await api.gql(ORDERS, token=token), "salesOrders") & set(world.orders.values())
    # Stock is tenant-wide for internal scopes, as before.
    warehouses = _ids(await api.gql(WAREHOUSES, token=token), "warehouses")
    assert {world.w_i, world.w_d, world.w_e} <= warehouses
    # A sales rep sees the same as before: the pool and their own, no distributor.
    sales = _ids(await api.gql(CUSTOMERS, token=world.tenant.tokens["sales"]), "customers")
    assert not {world.d, world.e} & sales
