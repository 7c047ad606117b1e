"""Driving the authorization server over HTTP as a single-page app and its user's
browser would: PKCE, the sign-in form (with its CSRF cookie), the tenant chooser,
the redirect back, and the token endpoint."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from app.accounts.passwords import hash_password
from app.accounts.tables import accounts
from app.oauth.tables import oauth_clients

REDIRECT_URI = "http://127.0.0.1:5173/callback"
PASSWORD = "correct horse battery staple"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(32)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def register_spa(
    owner: AsyncEngine, tenant_id: uuid.UUID | None, *, origin: str = "http://127.0.0.1:5173"
) -> str:
    client_id = f"spa-{uuid.uuid4().hex[:10]}"
    async with owner.begin() as conn:
        await conn.execute(
            insert(oauth_clients).values(
                client_id=client_id, tenant_id=tenant_id, kind="spa", name="Test SPA",
                redirect_uris=[REDIRECT_URI], web_origins=[origin],
            )
        )  # fmt: skip
    return client_id


async def set_password(owner: AsyncEngine, email: str, password: str = PASSWORD) -> None:
    async with owner.begin() as conn:
        result = await conn.execute(
            update(accounts)
            .where(func.lower(accounts.c.email) == email.lower())
            .values(
                password_hash=await hash_password(password), failed_sign_ins=0, locked_until=None
            )  # fmt: skip
        )
        assert result.rowcount == 1, email


def form_fields(html: str) -> dict[str, str]:
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[unescape(name.group(1))] = unescape(value.group(1)) if value else ""
    return fields


def browser(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A fresh cookie jar on the same app: one user's browser."""
    return httpx.AsyncClient(transport=client._transport, base_url=client.base_url)


@dataclass
class Authorization:
    client_id: str
    verifier: str
    state: str
    params: dict[str, str]
    page: httpx.Response | None = None


def authorization(client_id: str, **overrides: str | None) -> Authorization:
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid offline_access",
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "nonce": secrets.token_urlsafe(8),
    }
    for key, value in overrides.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return Authorization(client_id, verifier, state, params)


async def open_sign_in(web: httpx.AsyncClient, auth: Authorization) -> httpx.Response:
    auth.page = await web.get("/oauth/authorize?" + urlencode(auth.params))
    return auth.page


async def submit_password(
    web: httpx.AsyncClient, auth: Authorization, email: str, password: str = PASSWORD
) -> httpx.Response:
    assert auth.page is not None and auth.page.status_code == 200, auth.page
    fields = form_fields(auth.page.text)
    fields.pop("tenant", None)  # the single sign-on form's field
    fields.update(email=email, password=password)
    auth.page = await web.post("/oauth/authorize", data=fields)
    return auth.page


async def choose_tenant(web: httpx.AsyncClient, auth: Authorization, slug: str) -> httpx.Response:
    assert auth.page is not None
    fields = form_fields(auth.page.text)
    fields["tenant"] = slug
    auth.page = await web.post("/oauth/authorize", data=fields)
    return auth.page


def code_from(response: httpx.Response, auth: Authorization) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [auth.state]
    return query["code"][0]


async def sign_in(
    web: httpx.AsyncClient, client_id: str, email: str, *, tenant: str | None = None
) -> tuple[Authorization, str]:
    auth = authorization(client_id)
    await open_sign_in(web, auth)
    response = await submit_password(web, auth, email)
    if tenant is not None:
        response = await choose_tenant(web, auth, tenant)
    return auth, code_from(response, auth)


async def redeem(
    web: httpx.AsyncClient, auth: Authorization, code: str, **overrides: str
) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": auth.client_id,
        "code_verifier": auth.verifier,
        **overrides,
    }
    return await web.post("/oauth/token", data=data)


async def refresh(web: httpx.AsyncClient, client_id: str, refresh_token: str) -> httpx.Response:
    return await web.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
        },
    )
