"""Every /graphql operation needs a valid bearer token; bad ones get HTTP 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from app.auth.tokens import issue_access_token

ME = "{ me { user { email } tenant { slug } } }"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(services, handle, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": services.settings.issuer,
        "aud": services.settings.audience,
        "sub": str(handle.user_ids["admin"]),
        "tenant": str(handle.id),
        "roles": ["admin"],
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


async def _signed(services, claims: dict) -> str:
    key = await services.keyring.signing_key()
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)


async def _assert_401(api, token: str | None) -> dict:
    response = await api.post(ME, token=token)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    return body


async def test_valid_token_reaches_me(api, tenant_a):
    data = await api.gql(ME, token=tenant_a.tokens["admin"])
    assert data["me"]["tenant"]["slug"] == tenant_a.slug


async def test_missing_token(api):
    await _assert_401(api, None)
    response = await api.client.post(
        "/graphql", json={"query": ME}, headers={"Authorization": "Basic Zm9vOmJhcg=="}
    )
    assert response.status_code == 401


async def test_garbage_token(api):
    await _assert_401(api, "not.a.jwt")
    await _assert_401(api, "x")


async def test_expired_token(api, services, tenant_a):
    past = int(time.time()) - 3600
    await _assert_401(
        api, await _signed(services, _claims(services, tenant_a, iat=past, nbf=past, exp=past + 60))
    )


async def test_not_yet_valid_token(api, services, tenant_a):
    future = int(time.time()) + 3600
    await _assert_401(api, await _signed(services, _claims(services, tenant_a, nbf=future)))


@pytest.mark.parametrize("claim", ["aud", "iss"])
async def test_wrong_audience_or_issuer(api, services, tenant_a, claim):
    await _assert_401(api, await _signed(services, _claims(services, tenant_a, **{claim: "evil"})))


@pytest.mark.parametrize("claim", ["exp", "tenant", "sub", "jti"])
async def test_missing_essential_claim(api, services, tenant_a, claim):
    await _assert_401(api, await _signed(services, _claims(services, tenant_a, **{claim: None})))


async def test_forged_signature(api, services, tenant_a):
    real_kid = (await services.keyring.signing_key()).kid
    forger = ECKey.generate_key("P-256", private=True)
    token = jwt.encode({"alg": "ES256", "kid": real_kid}, _claims(services, tenant_a), forger)
    await _assert_401(api, token)


async def test_unknown_key_id(api, services, tenant_a):
    forger = ECKey.generate_key("P-256", private=True)
    token = jwt.encode({"alg": "ES256", "kid": "made-up"}, _claims(services, tenant_a), forger)
    await _assert_401(api, token)


async def test_alg_none(api, services, tenant_a):
    kid = (await services.keyring.signing_key()).kid
    token = f"{_b64({'alg': 'none', 'kid': kid})}.{_b64(_claims(services, tenant_a))}."
    await _assert_401(api, token)


async def test_hs256_signed_with_the_public_key(api, services, tenant_a):
    """The classic key-confusion attack: HMAC keyed with the server's public key
    (joserfc refuses to build such a key, so the token is made by hand)."""
    key = await services.keyring.signing_key()
    signing_input = f"{_b64({'alg': 'HS256', 'kid': key.kid})}.{_b64(_claims(services, tenant_a))}"
    mac = hmac.new(key.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).decode().rstrip("=")
    await _assert_401(api, f"{signing_input}.{signature}")


async def test_token_for_unknown_tenant(api, services, tenant_a):
    await _assert_401(
        api, await _signed(services, _claims(services, tenant_a, tenant=str(uuid.uuid4())))
    )


async def test_token_lifetime_follows_ttl(services, tenant_a):
    token = await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=tenant_a.id,
        user_id=tenant_a.user_ids["viewer"], roles=["viewer"], ttl_seconds=120,
    )  # fmt: skip
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["exp"] - claims["iat"] == 120
    assert claims["tenant"] == str(tenant_a.id)
    assert claims["sub"] == str(tenant_a.user_ids["viewer"])
    assert set(claims) >= {"iss", "aud", "sub", "tenant", "roles", "exp", "iat", "jti"}


async def test_graphiql_page_needs_no_token(api):
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_get_queries_need_a_token(api, tenant_a):
    response = await api.client.get("/graphql", params={"query": ME})
    assert response.status_code == 401
    response = await api.client.get(
        "/graphql",
        params={"query": ME},
        headers={"Authorization": f"Bearer {tenant_a.tokens['viewer']}"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["me"]["tenant"]["slug"] == tenant_a.slug


async def test_health_endpoints(api):
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "database": "ok", "redis": "ok"}
