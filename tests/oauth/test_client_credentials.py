"""Client credentials as an integrator uses them: a token per client secret, bounded by
the client's scopes whatever its run-as user's role, and introspection of tokens."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from flows import browser, redeem, register_spa, set_password, sign_in
from helpers import make_tenant
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from app.oauth.secrets import hash_secret, new_secret
from app.oauth.tables import oauth_clients

CUSTOMERS = "{ customers(first: 5) { totalCount edges { node { id name } } } }"
CREATE = """mutation($name: String!) { createCustomer(input: {name: $name}) {
  customer { id } userErrors { field code } } }"""


async def api_client(owner, tenant, *, scopes, run_as="admin") -> tuple[str, str]:
    client_id, secret = f"kehu_{uuid.uuid4().hex[:12]}", new_secret()
    async with owner.begin() as conn:
        await conn.execute(
            insert(oauth_clients).values(
                client_id=client_id, tenant_id=tenant.id, kind="api", name="ERP sync",
                secret_hash=hash_secret(secret), scopes=scopes,
                run_as_user_id=tenant.user_ids[run_as],
            )
        )  # fmt: skip
    return client_id, secret


async def client_token(http, client_id, secret, **data) -> dict:
    response = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials", **data}, auth=(client_id, secret)
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
async def tenants(owner, services):
    return (
        await make_tenant(owner, services, "cc-a"),
        await make_tenant(owner, services, "cc-b"),
    )


async def test_a_client_gets_a_token_and_reads_within_its_scopes(client, api, owner, tenants):
    a, _ = tenants
    client_id, secret = await api_client(owner, a, scopes=["customers:read"])
    token = await client_token(client, client_id, secret)
    assert token["scope"] == "customers:read"
    assert "refresh_token" not in token
    await api.gql(CUSTOMERS, token=token["access_token"])
    # The run-as user is an admin, but the client may only read customers.
    errors = await api.errors(CREATE, {"name": "Integrator Co"}, token=token["access_token"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_client_secret_post_works_too(client, owner, tenants):
    a, _ = tenants
    client_id, secret = await api_client(owner, a, scopes=["customers:read"])
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text


async def test_a_token_never_exceeds_the_run_as_users_role(client, api, owner, tenants):
    a, _ = tenants
    client_id, secret = await api_client(
        owner, a, scopes=["customers:read", "customers:write"], run_as="viewer"
    )
    token = await client_token(client, client_id, secret)
    errors = await api.errors(CREATE, {"name": "Nope Co"}, token=token["access_token"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_asking_for_fewer_scopes_narrows_the_token(client, api, owner, tenants):
    a, _ = tenants
    client_id, secret = await api_client(owner, a, scopes=["customers:read", "customers:write"])
    token = await client_token(client, client_id, secret, scope="customers:read users:manage")
    assert token["scope"] == "customers:read"
    errors = await api.errors(CREATE, {"name": "Narrow Co"}, token=token["access_token"])
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_wrong_secret_and_unknown_client_are_refused(client, owner, tenants):
    a, _ = tenants
    client_id, _ = await api_client(owner, a, scopes=["customers:read"])
    for credentials in ((client_id, "wrong"), ("kehu_nobody", "x")):
        response = await client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=credentials
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"


async def test_api_clients_cannot_use_the_code_flow_nor_spas_client_credentials(
    client, owner, tenants
):
    a, _ = tenants
    spa = await register_spa(owner, a.id)
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials", "client_id": spa}
    )
    assert response.status_code in (400, 401)
    assert "access_token" not in response.json()


async def test_a_tenant_a_client_sees_nothing_of_tenant_b(client, api, owner, tenants, services):
    a, b = tenants
    created = await api.gql(CREATE, {"name": "Only In B"}, token=b.tokens["admin"])
    b_customer = created["createCustomer"]["customer"]["id"]
    client_id, secret = await api_client(owner, a, scopes=["customers:read"])
    token = (await client_token(client, client_id, secret))["access_token"]
    names = [
        e["node"]["name"] for e in (await api.gql(CUSTOMERS, token=token))["customers"]["edges"]
    ]
    assert "Only In B" not in names
    data = await api.gql(
        "query($id: ID!) { customer(id: $id) { id } }", {"id": b_customer}, token=token
    )
    assert data["customer"] is None


async def test_revoking_a_client_stops_its_tokens(client, api, owner, tenants):
    a, _ = tenants
    client_id, secret = await api_client(owner, a, scopes=["customers:read"])
    token = (await client_token(client, client_id, secret))["access_token"]
    async with owner.begin() as conn:
        await conn.execute(
            update(oauth_clients)
            .where(oauth_clients.c.client_id == client_id)
            .values(revoked_at=oauth_clients.c.created_at)
        )
    await asyncio.sleep(1.1)  # the principal cache bound in tests
    assert (await api.post(CUSTOMERS, token=token)).status_code == 401
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert response.json()["error"] == "invalid_client"


async def test_narrowing_a_clients_scopes_applies_to_issued_tokens(client, api, owner, tenants):
    a, _ = tenants
    client_id, secret = await api_client(owner, a, scopes=["customers:read", "customers:write"])
    token = (await client_token(client, client_id, secret))["access_token"]
    async with owner.begin() as conn:
        await conn.execute(
            update(oauth_clients)
            .where(oauth_clients.c.client_id == client_id)
            .values(scopes=["customers:read"])
        )
    await asyncio.sleep(1.1)
    errors = await api.errors(CREATE, {"name": "Too Late Co"}, token=token)
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_introspection_of_own_tenants_tokens_only(client, owner, tenants):
    a, b = tenants
    client_id, secret = await api_client(owner, a, scopes=["customers:read"])
    own = (await client_token(client, client_id, secret))["access_token"]
    other_id, other_secret = await api_client(owner, b, scopes=["customers:read"])
    foreign = (await client_token(client, other_id, other_secret))["access_token"]

    async def introspect(token: str) -> dict:
        response = await client.post(
            "/oauth/introspect", data={"token": token}, auth=(client_id, secret)
        )
        assert response.status_code == 200, response.text
        return response.json()

    body = await introspect(own)
    assert body["active"] is True
    assert body["client_id"] == client_id
    assert body["tenant"] == str(a.id)
    assert body["scope"] == "customers:read"
    assert await introspect(foreign) == {"active": False}
    assert await introspect("garbage") == {"active": False}
    unauthenticated = await client.post("/oauth/introspect", data={"token": own})
    assert unauthenticated.status_code == 401


async def test_introspection_sees_a_revoked_session(client, owner, tenants):
    a, _ = tenants
    client_id, secret = await api_client(owner, a, scopes=["customers:read"])
    spa = await register_spa(owner, a.id)
    await set_password(owner, f"sales@{a.slug}.example.com")
    async with browser(client) as web:
        auth, code = await sign_in(web, spa, f"sales@{a.slug}.example.com")
        tokens = (await redeem(web, auth, code)).json()
        revoke = await web.post(
            "/oauth/revoke", data={"token": tokens["access_token"], "client_id": spa}
        )
        assert revoke.status_code == 200, revoke.text
    for token in (tokens["access_token"], tokens["refresh_token"]):
        response = await client.post(
            "/oauth/introspect", data={"token": token}, auth=(client_id, secret)
        )
        assert response.json() == {"active": False}
