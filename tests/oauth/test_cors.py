"""CORS for registered SPA clients: a preflight to /graphql, /oauth/token or
/oauth/revoke from a registered web origin is allowed with exactly the promised
headers and no credentials; from any other origin, or a removed client's (once the
cache's few seconds are up), it is refused with no Allow-Origin; actual responses carry
Allow-Origin only for registered origins; other paths keep their own behaviour; and
the origins are read once per cache period, not once per request."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import event

REGISTER_SPA = """mutation($input: RegisterSpaClientInput!) {
  registerSpaClient(input: $input) { spaClient { id } userErrors { field code message } }
}"""
REMOVE_SPA = """mutation($id: ID!) {
  removeSpaClient(input: {id: $id}) { userErrors { code } }
}"""
CORS_PATHS = ["/graphql", "/oauth/token", "/oauth/revoke"]
PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type"}  # fmt: skip


async def _past_the_cache(services) -> None:
    """Longer than principal_cache_seconds (1 s in tests): the next request rereads."""
    await asyncio.sleep(services.settings.principal_cache_seconds + 0.1)


async def _register(api, tenant, origins: list[str]) -> str:
    data = await api.gql(
        REGISTER_SPA,
        {"input": {"name": "CORS app", "redirectUris": [f"{origins[0]}/callback"],
                   "webOrigins": origins}},
        token=tenant.tokens["admin"],
    )  # fmt: skip
    assert data["registerSpaClient"]["userErrors"] == []
    return data["registerSpaClient"]["spaClient"]["id"]


@pytest.fixture(scope="module")
async def origins(api, services, tenant_a):
    """Two registered origins (one on loopback http), one of a client removed later,
    and one nobody registered."""
    tag = uuid.uuid4().hex[:8]
    registered = f"https://app-{tag}.example.com"
    loopback = "http://127.0.0.1:5173"
    doomed = f"https://doomed-{tag}.example.com"
    await _register(api, tenant_a, [registered, loopback])
    doomed_id = await _register(api, tenant_a, [doomed])
    await _past_the_cache(services)
    return {"registered": registered, "loopback": loopback, "doomed": doomed,
            "doomed_id": doomed_id, "unregistered": f"https://other-{tag}.example.com"}  # fmt: skip


async def _preflight(client, path: str, origin: str):
    return await client.options(path, headers={"Origin": origin, **PREFLIGHT})


@pytest.mark.parametrize("path", CORS_PATHS)
@pytest.mark.parametrize("which", ["registered", "loopback"])
async def test_preflight_from_a_registered_origin(client, origins, path, which):
    origin = origins[which]
    response = await _preflight(client, path, origin)
    assert response.status_code == 204
    cors = {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access")}
    assert cors == {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": "GET, POST",
        "access-control-allow-headers": "Authorization, Content-Type",
        "access-control-max-age": "600",
    }  # no Allow-Credentials: bearer tokens, never cookies
    assert response.headers["vary"] == "Origin"


@pytest.mark.parametrize("path", CORS_PATHS)
async def test_preflight_from_an_unregistered_origin(client, origins, path):
    for origin in (
        origins["unregistered"],
        origins["registered"] + ".evil.example",  # a prefix is not the origin
        origins["registered"] + "/",
        origins["registered"].upper(),
        "null",
    ):
        response = await _preflight(client, path, origin)
        assert response.status_code == 403, origin
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-methods" not in response.headers


async def test_actual_requests_get_allow_origin_only_for_registered_origins(
    client, origins, tenant_a
):
    async def post(origin: str | None, token: str | None = tenant_a.tokens["viewer"]):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers |= {"Origin": origin} if origin else {}
        body = {"query": "{ me { user { email } } }"}
        return await client.post("/graphql", json=body, headers=headers)

    allowed = await post(origins["registered"])
    assert allowed.status_code == 200 and allowed.json()["data"]["me"]
    assert allowed.headers["access-control-allow-origin"] == origins["registered"]
    assert "Origin" in allowed.headers["vary"]
    assert "access-control-allow-credentials" not in allowed.headers
    # An error answer is readable too (the SPA must see why it was refused).
    refused = await post(origins["registered"], token=None)
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == origins["registered"]

    for origin in (origins["unregistered"], None):
        untouched = await post(origin)
        assert untouched.status_code == 200 and untouched.json()["data"]["me"]
        assert "access-control-allow-origin" not in untouched.headers
        assert "vary" not in untouched.headers


async def test_a_removed_client_origin_is_refused_after_the_cache_period(
    api, client, services, origins, tenant_a
):
    assert (await _preflight(client, "/graphql", origins["doomed"])).status_code == 204
    removed = await api.gql(
        REMOVE_SPA, {"id": origins["doomed_id"]}, token=tenant_a.tokens["admin"]
    )
    assert removed["removeSpaClient"]["userErrors"] == []
    await _past_the_cache(services)
    response = await _preflight(client, "/graphql", origins["doomed"])
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    # The other client's origins are unaffected.
    assert (await _preflight(client, "/graphql", origins["registered"])).status_code == 204


async def test_other_paths_keep_their_behaviour(client, origins):
    origin = {"Origin": origins["registered"]}
    discovery = await client.get("/.well-known/openid-configuration", headers=origin)
    assert discovery.headers["access-control-allow-origin"] == "*"
    jwks = await client.get("/oauth/jwks", headers=origin)
    assert jwks.headers["access-control-allow-origin"] == "*"
    health = await client.get("/healthz", headers=origin)
    assert "access-control-allow-origin" not in health.headers
    preflight = await _preflight(client, "/healthz", origins["registered"])
    assert "access-control-allow-origin" not in preflight.headers


async def test_origins_are_read_once_per_cache_period(client, services, origins):
    # The origin set is read on a labelled lookup connection (app/db.lookup_connection),
    # which the shared sql_counter leaves out; here every statement counts.
    statements: list[str] = []

    def spy(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    await _past_the_cache(services)
    engine = services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", spy)
    try:
        for _ in range(20):
            for origin in (origins["registered"], origins["unregistered"]):
                await _preflight(client, "/oauth/token", origin)
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    reads = [s for s in statements if "oauth_clients" in s]
    assert len(reads) == 1, reads
    assert len(statements) == 1, statements
