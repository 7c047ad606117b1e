"""Suspended tenants and deactivated users are refused within the cache time; roles
gate writes; only admins manage users."""

from __future__ import annotations

import asyncio

from helpers import make_tenant

from app.audit.service import SYSTEM
from app.db import tenant_transaction
from app.users import service as users
from tenants import provisioning

ME = "{ me { user { email role } } }"


async def _answers_once_cached_out(api, services, token: str, status: int):
    """The API's answer once the principal cache has let go of what it held when the
    state changed. Every entry was cached before the change (the requests before it
    had all finished), so one cache period later none is left: exact, not a poll
    against a deadline that a slow machine can miss."""
    await asyncio.sleep(services.settings.principal_cache_seconds + 0.1)
    response = await api.post(ME, token=token)
    assert response.status_code == status, response.text
    return response


async def test_suspended_tenant_is_forbidden_then_resumed(api, owner, services):
    tenant = await make_tenant(owner, services, "suspend")
    token = tenant.tokens["admin"]
    await api.gql(ME, token=token)
    await provisioning.set_tenant_status(owner, tenant.slug, "suspended")
    body = (await _answers_once_cached_out(api, services, token, 403)).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await provisioning.set_tenant_status(owner, tenant.slug, "active")
    await _answers_once_cached_out(api, services, token, 200)


async def test_deactivated_user_is_forbidden(api, owner, services):
    tenant = await make_tenant(owner, services, "deact")
    token = tenant.tokens["sales"]
    await api.gql(ME, token=token)
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        await users.update_user(
            conn, actor=SYSTEM, user_id=tenant.user_ids["sales"],
            changes=users.UserChanges(active=False),
        )  # fmt: skip
    await _answers_once_cached_out(api, services, token, 403)


CREATE_USER = """
mutation($input: CreateUserInput!) {
  createUser(input: $input) { user { id email role active } userErrors { field code message } }
}"""
UPDATE_USER = """
mutation($input: UpdateUserInput!) {
  updateUser(input: $input) { user { id role active version } userErrors { field code message } }
}"""


async def test_only_admins_manage_users(api, tenant_a):
    for role in ("manager", "sales", "viewer"):
        errors = await api.errors(
            CREATE_USER, {"input": {"email": f"x-{role}@a.com", "role": "sales"}},
            token=tenant_a.tokens[role],
        )  # fmt: skip
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    data = await api.gql(
        CREATE_USER,
        {"input": {"email": "new.rep@acme.example.com", "role": "sales", "name": "New Rep"}},
        token=tenant_a.tokens["admin"],
    )
    user = data["createUser"]["user"]
    assert user["role"] == "sales" and user["active"] is True
    taken = await api.gql(
        CREATE_USER, {"input": {"email": "NEW.REP@acme.example.com", "role": "viewer"}},
        token=tenant_a.tokens["admin"],
    )  # fmt: skip
    assert taken["createUser"]["userErrors"][0]["code"] == "TAKEN"
    changed = await api.gql(
        UPDATE_USER, {"input": {"id": user["id"], "role": "manager", "active": False}},
        token=tenant_a.tokens["admin"],
    )  # fmt: skip
    assert changed["updateUser"]["user"]["role"] == "manager"
    assert changed["updateUser"]["user"]["active"] is False


async def test_admin_cannot_lock_themselves_out(api, tenant_a):
    data = await api.gql(
        UPDATE_USER, {"input": {"id": str(tenant_a.user_ids["admin"]), "active": False}},
        token=tenant_a.tokens["admin"],
    )  # fmt: skip
    assert data["updateUser"]["userErrors"][0]["code"] == "FORBIDDEN"


async def test_invalid_user_input_names_the_field(api, tenant_a):
    data = await api.gql(
        CREATE_USER, {"input": {"email": "nope", "role": "sales"}}, token=tenant_a.tokens["admin"]
    )
    assert data["createUser"]["userErrors"] == [
        {"field": "email", "code": "INVALID", "message": "email is not a valid email address"}
    ]


async def test_page_size_over_the_limit_is_bad_user_input(api, tenant_a):
    errors = await api.errors(
        "{ customers(first: 1000) { totalCount } }", token=tenant_a.tokens["admin"]
    )
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "100" in errors[0]["message"]
