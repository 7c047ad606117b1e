"""The OIDC test peer behaves as a real provider for a relying party: discovery, authorization
code with PKCE S256, state and nonce, client_secret_basic, and an ID token signed by its JWKS."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from peers.oidc_provider import OidcProvider, sign_in

CLIENT_ID = "kehu-test"
CLIENT_SECRET = "kehu-test-secret"
# Nothing listens here: sign_in stops at the redirect and never requests it.
REDIRECT_URI = "http://127.0.0.1:9/auth/oidc/callback"
ACCOUNTS = [
    {"sub": "u-ada", "email": "ada@example.com", "email_verified": True, "name": "Ada Lovelace"},
    {"sub": "u-bob", "email": "bob@example.com", "email_verified": False, "name": "Bob Byte"},
]


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[OidcProvider]:
    clients = [
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "client_secret_basic",
        }
    ]
    async with OidcProvider(clients=clients, accounts=ACCOUNTS) as op:
        yield op


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def discover(http: httpx.AsyncClient, issuer: str) -> dict[str, Any]:
    response = await http.get(f"{issuer}/.well-known/openid-configuration")
    response.raise_for_status()
    return response.json()


def authorization_request(discovery: dict[str, Any]) -> tuple[str, dict[str, str]]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email profile",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    url = f"{discovery['authorization_endpoint']}?{urlencode(params)}"
    return url, {**params, "code_verifier": verifier}


def callback_params(url: str) -> dict[str, str]:
    assert url.startswith(REDIRECT_URI + "?"), url
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def redeem(
    http: httpx.AsyncClient, discovery: dict[str, Any], code: str, verifier: str
) -> httpx.Response:
    return await http.post(
        discovery["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),  # client_secret_basic
    )


async def test_code_flow_with_pkce_yields_verifiable_id_token(
    provider: OidcProvider, http: httpx.AsyncClient
) -> None:
    discovery = await discover(http, provider.issuer)
    assert discovery["issuer"] == provider.issuer
    assert "S256" in discovery["code_challenge_methods_supported"]
    assert "client_secret_basic" in discovery["token_endpoint_auth_methods_supported"]

    url, request = authorization_request(discovery)
    callback = callback_params(await sign_in(url, "ADA@example.com"))
    assert callback["state"] == request["state"]
    assert callback["iss"] == provider.issuer  # RFC 9207 issuer identification

    response = await redeem(http, discovery, callback["code"], request["code_verifier"])
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"].lower() == "bearer"

    jwks = (await http.get(discovery["jwks_uri"])).json()
    token = jwt.decode(tokens["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256"])
    claims = token.claims
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": CLIENT_ID},
        nonce={"essential": True, "value": request["nonce"]},
        exp={"essential": True},
    ).validate(claims)
    assert claims["sub"] == "u-ada"
    assert claims["email"] == "ada@example.com"
    assert claims["email_verified"] is True
    assert claims["name"] == "Ada Lovelace"


async def test_login_by_sub_picks_that_account(
    provider: OidcProvider, http: httpx.AsyncClient
) -> None:
    discovery = await discover(http, provider.issuer)
    url, request = authorization_request(discovery)
    callback = callback_params(await sign_in(url, "u-bob"))
    response = await redeem(http, discovery, callback["code"], request["code_verifier"])
    assert response.status_code == 200, response.text
    claims = jwt.decode(
        response.json()["id_token"],
        KeySet.import_key_set((await http.get(discovery["jwks_uri"])).json()),
        algorithms=["RS256"],
    ).claims
    assert (claims["sub"], claims["email"], claims["email_verified"]) == (
        "u-bob",
        "bob@example.com",
        False,
    )


async def test_wrong_code_verifier_is_invalid_grant(
    provider: OidcProvider, http: httpx.AsyncClient
) -> None:
    discovery = await discover(http, provider.issuer)
    url, request = authorization_request(discovery)
    callback = callback_params(await sign_in(url, "ada@example.com"))
    response = await redeem(http, discovery, callback["code"], secrets.token_urlsafe(48))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_unknown_login_is_access_denied(
    provider: OidcProvider, http: httpx.AsyncClient
) -> None:
    discovery = await discover(http, provider.issuer)
    url, request = authorization_request(discovery)
    callback = callback_params(await sign_in(url, "mallory@example.com"))
    assert callback["error"] == "access_denied"
    assert callback["state"] == request["state"]
    assert "code" not in callback


async def test_pkce_is_required(provider: OidcProvider, http: httpx.AsyncClient) -> None:
    discovery = await discover(http, provider.issuer)
    url, request = authorization_request(discovery)
    without = {k: v for k, v in request.items() if not k.startswith("code_")}
    url = f"{discovery['authorization_endpoint']}?{urlencode(without)}"
    callback = callback_params(await sign_in(url, "ada@example.com"))
    assert callback["error"] == "invalid_request"
    assert "PKCE" in callback["error_description"]


async def test_client_secret_post(http: httpx.AsyncClient) -> None:
    client = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "client_secret_post",
    }
    async with OidcProvider(clients=[client], accounts=ACCOUNTS) as op:
        discovery = await discover(http, op.issuer)
        url, request = authorization_request(discovery)
        callback = callback_params(await sign_in(url, "ada@example.com"))
        form = {
            "grant_type": "authorization_code",
            "code": callback["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": request["code_verifier"],
        }
        # Note: oidc-provider treats client_secret_basic and client_secret_post as one family and
        # accepts either for a client registered with one of them, so this peer cannot catch an
        # RP that uses the wrong one of the two; here the secret goes in the form body.
        creds = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        response = await http.post(discovery["token_endpoint"], data={**form, **creds})
        assert response.status_code == 200, response.text
        assert "id_token" in response.json()
