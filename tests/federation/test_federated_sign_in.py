"""Federated sign-in against a real OpenID Connect provider (panva's oidc-provider, run
locally): a tenant admin configures it, and its users sign in to one of our clients
through it, provisioned just in time."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from flows import (
    authorization,
    browser,
    code_from,
    open_sign_in,
    redeem,
    refresh,
    register_spa,
    set_password,
    submit_password,
)
from helpers import make_tenant
from joserfc import jwk, jwt
from joserfc.jwk import KeySet
from peers.oidc_provider import OidcProvider, ensure_node_modules
from peers.oidc_provider import sign_in as provider_sign_in
from sqlalchemy import func, select

from app.accounts import invitations
from app.accounts.tables import accounts, external_identities, memberships
from app.audit.service import SYSTEM
from app.audit.tables import audit_log
from app.db import tenant_transaction
from app.federation.admin import IdentityProviderConfig
from app.federation.flow import FederationError, ProviderMetadata, validate_id_token
from app.users import service as user_service
from app.users.tables import users

SECRET = "federation-secret-for-tests"
ACCOUNTS = [
    {"sub": "ada", "email": "ada@corp.example", "email_verified": True, "name": "Ada"},
    {"sub": "eve", "email": "eve@elsewhere.example", "email_verified": True, "name": "Eve"},
    {"sub": "una", "email": "una@corp.example", "email_verified": False, "name": "Una"},
    # Has an account already, in another tenant, with a password.
    {"sub": "bob", "email": "bob@corp.example", "email_verified": True, "name": "Bob"},
]
CONFIGURE = """mutation($input: ConfigureIdentityProviderInput!) {
  configureIdentityProvider(input: $input) { userErrors { field message } } }"""
ME = "{ me { user { email role } tenant { slug } } }"


@pytest.fixture(scope="module")
async def provider(settings):
    ensure_node_modules()
    client = {
        "client_id": "kehu-test",
        "client_secret": SECRET,
        "redirect_uris": [settings.issuer.rstrip("/") + "/oauth/federated/callback"],
    }
    async with OidcProvider(clients=[client], accounts=ACCOUNTS) as op:
        yield op


@pytest.fixture(scope="module")
async def corp(owner, services, provider, api):
    tenant = await make_tenant(owner, services, "corp")
    data = await api.gql(
        CONFIGURE,
        {"input": {"issuer": provider.issuer, "clientId": "kehu-test", "clientSecret": SECRET,
                   "allowedDomains": ["corp.example"], "defaultRole": "sales"}},
        token=tenant.tokens["admin"],
    )  # fmt: skip
    assert data["configureIdentityProvider"]["userErrors"] == []
    tenant.spa = await register_spa(owner, None)
    return tenant


async def federated(web: httpx.AsyncClient, tenant, login: str):
    """Sign-in page → company single sign-on → the provider → back to us."""
    auth = authorization(tenant.spa)
    page = await open_sign_in(web, auth)
    assert page.status_code == 200
    start = await web.get(
        "/oauth/federated/start?" + urlencode({**auth.params, "tenant": tenant.slug})
    )
    assert start.status_code == 303, start.text
    callback = await provider_sign_in(start.headers["location"], login)
    parts = urlsplit(callback)
    response = await web.get(f"{parts.path}?{parts.query}")
    return auth, response


async def test_a_provider_user_signs_in_and_is_provisioned_once(client, api, corp, services):
    async with browser(client) as web:
        auth, response = await federated(web, corp, "ada")
        tokens = (await redeem(web, auth, code_from(response, auth))).json()
    me = (await api.gql(ME, token=tokens["access_token"]))["me"]
    assert me == {"user": {"email": "ada@corp.example", "role": "sales"},
                  "tenant": {"slug": corp.slug}}  # fmt: skip

    async with browser(client) as web:  # again: the same user, not a second one
        auth, response = await federated(web, corp, "ada")
        code_from(response, auth)
    async with tenant_transaction(services.engine, corp.schema) as conn:
        count = await conn.scalar(
            select(func.count()).select_from(users).where(users.c.email == "ada@corp.example")
        )
        provisioned = await conn.scalar(
            select(func.count())
            .select_from(audit_log)
            .where(audit_log.c.action == "user.provisioned")
        )
    assert count == 1
    assert provisioned == 1
    # A new person: their account was made for this membership, accepted at once.
    async with services.engine.connect() as conn:
        accepted_at = await conn.scalar(
            select(memberships.c.accepted_at)
            .join(accounts, accounts.c.id == memberships.c.account_id)
            .where(accounts.c.email == "ada@corp.example", memberships.c.tenant_id == corp.id)
        )
    assert accepted_at is not None


@pytest.mark.parametrize("login", ["eve", "una"], ids=["domain-not-allowed", "email-unverified"])
async def test_users_the_tenant_did_not_allow_get_nothing(client, corp, services, login):
    async with browser(client) as web:
        _, response = await federated(web, corp, login)
    assert response.status_code == 401
    assert "location" not in response.headers
    email = next(a["email"] for a in ACCOUNTS if a["sub"] == login)
    async with tenant_transaction(services.engine, corp.schema) as conn:
        assert not await conn.scalar(select(users.c.id).where(users.c.email == email))


async def test_a_callback_from_another_browser_is_refused(client, corp):
    """Login CSRF: an attacker's callback URL (their code, their state) opened in the
    victim's browser must not sign the victim in as the attacker."""
    async with browser(client) as attacker:
        auth = authorization(corp.spa)
        await open_sign_in(attacker, auth)
        start = await attacker.get(
            "/oauth/federated/start?" + urlencode({**auth.params, "tenant": corp.slug})
        )
        callback = urlsplit(await provider_sign_in(start.headers["location"], "ada"))
    async with browser(client) as victim:
        response = await victim.get(f"{callback.path}?{callback.query}")
    assert response.status_code == 403
    assert "location" not in response.headers


async def test_an_unknown_or_replayed_state_is_refused(client, corp):
    async with browser(client) as web:
        auth = authorization(corp.spa)
        await open_sign_in(web, auth)
        assert (await web.get("/oauth/federated/callback?state=forged&code=x")).status_code == 400
        start = await web.get(
            "/oauth/federated/start?" + urlencode({**auth.params, "tenant": corp.slug})
        )
        callback = urlsplit(await provider_sign_in(start.headers["location"], "ada"))
        first = await web.get(f"{callback.path}?{callback.query}")
        assert first.status_code == 303
        replay = await web.get(f"{callback.path}?{callback.query}")
    assert replay.status_code == 400


async def test_a_tenant_without_a_provider_offers_none(client, corp, owner, services):
    other = await make_tenant(owner, services, "nosso")
    async with browser(client) as web:
        auth = authorization(corp.spa)
        await open_sign_in(web, auth)
        response = await web.get(
            "/oauth/federated/start?" + urlencode({**auth.params, "tenant": other.slug})
        )
    assert response.status_code == 404
    assert "location" not in response.headers


# --- the ID token checks, one by one ------------------------------------------------

CONFIG = IdentityProviderConfig(
    tenant_id=None, issuer="https://idp.example", client_id="kehu", client_secret="x",
    allowed_domains=("corp.example",), default_role="sales", enabled=True,
)  # fmt: skip
KEY = jwk.RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)


def _metadata(key=KEY) -> ProviderMetadata:
    keys = KeySet.import_key_set({"keys": [key.as_dict(private=False)]})
    document = {"issuer": CONFIG.issuer, "id_token_signing_alg_values_supported": ["RS256"]}
    return ProviderMetadata(document, keys, time.monotonic())


def _token(key=KEY, alg="RS256", **overrides) -> str:
    now = int(time.time())
    claims = {"iss": CONFIG.issuer, "sub": "s1", "aud": "kehu", "iat": now, "exp": now + 300,
              "nonce": "n1", "email": "ada@corp.example", "email_verified": True}  # fmt: skip
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": "k1"}, claims, key, algorithms=[alg])


def test_a_good_id_token_passes():
    identity = validate_id_token(_token(), _metadata(), CONFIG, "n1")
    assert (identity.subject, identity.email) == ("s1", "ada@corp.example")


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://evil.example"},
        {"aud": "someone-else"},
        {"aud": ["kehu", "other"]},  # several audiences and no azp
        {"exp": int(time.time()) - 3600},
        {"nonce": "replayed"},
        {"nonce": None},
        {"email_verified": None},
        {"email": "ada@evil.example"},
    ],
)
def test_a_bad_id_token_is_refused(overrides):
    with pytest.raises(FederationError):
        validate_id_token(_token(**overrides), _metadata(), CONFIG, "n1")


def test_an_id_token_signed_by_another_key_is_refused():
    forger = jwk.RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    with pytest.raises(FederationError):
        validate_id_token(_token(key=forger), _metadata(), CONFIG, "n1")


def test_an_unsigned_id_token_is_refused():
    signed = _token().split(".")
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=")
    unsigned = f"{header.decode()}.{signed[1]}."
    with pytest.raises(FederationError):
        validate_id_token(unsigned, _metadata(), CONFIG, "n1")


async def test_another_tenants_client_cannot_use_this_tenants_provider(client, corp, owner):
    """A client bound to another tenant: the provider vouches for a corp user, but the
    client may only sign in to its own tenant."""
    other = await make_tenant(owner, client._transport.app.state.services, "elsewhere")
    foreign_spa = await register_spa(owner, other.id)
    async with browser(client) as web:
        auth = authorization(foreign_spa)
        await open_sign_in(web, auth)
        start = await web.get(
            "/oauth/federated/start?" + urlencode({**auth.params, "tenant": corp.slug})
        )
        callback = urlsplit(await provider_sign_in(start.headers["location"], "ada"))
        response = await web.get(f"{callback.path}?{callback.query}")
    assert response.status_code == 403
    assert "location" not in response.headers


async def test_an_existing_account_signs_in_through_the_provider_to_its_tenant_only(
    client, api, corp, owner, services, provider
):
    """Bob has an account in `theirs`, with a password. Corp's provider (chosen by
    corp's admin, so it cannot speak for Bob's other tenants) signs him in to corp,
    even while corp's membership is an invitation, and to nothing else; and it does
    not accept the invitation for him: his password sign-in still offers `theirs`
    only."""
    email = "bob@corp.example"
    theirs = await make_tenant(owner, services, "bobs")
    async with tenant_transaction(services.engine, theirs.schema) as conn:
        await user_service.create_user(
            conn, actor=SYSTEM, tenant_id=theirs.id, email=email, role="admin", name="Bob"
        )
    await set_password(owner, email)

    async with browser(client) as web:
        auth, response = await federated(web, corp, "bob")
        at_corp = (await redeem(web, auth, code_from(response, auth))).json()
    me = (await api.gql(ME, token=at_corp["access_token"]))["me"]
    assert me == {"user": {"email": email, "role": "sales"}, "tenant": {"slug": corp.slug}}

    async with owner.connect() as conn:
        rows = (
            await conn.execute(
                select(memberships.c.tenant_id, memberships.c.accepted_at, accounts.c.id)
                .join(accounts, accounts.c.id == memberships.c.account_id)
                .where(accounts.c.email == email)
            )
        ).all()
        linked = await conn.scalar(
            select(external_identities.c.account_id).where(
                external_identities.c.issuer == provider.issuer,
                external_identities.c.subject == "bob",
            )
        )
    pending = {row.tenant_id: row.accepted_at for row in rows}
    assert set(pending) == {theirs.id, corp.id}
    assert pending[corp.id] is None and pending[theirs.id] is not None
    account_id = rows[0].id
    assert linked == account_id

    # A client of `theirs` through corp's provider: refused.
    own_spa = await register_spa(owner, theirs.id)
    async with browser(client) as web:
        auth = authorization(own_spa)
        await open_sign_in(web, auth)
        start = await web.get(
            "/oauth/federated/start?" + urlencode({**auth.params, "tenant": corp.slug})
        )
        callback = urlsplit(await provider_sign_in(start.headers["location"], "bob"))
        refused = await web.get(f"{callback.path}?{callback.query}")
    assert refused.status_code == 403 and "location" not in refused.headers

    # Password sign-in: `theirs` only, no chooser offering corp.
    async with browser(client) as web:
        auth = authorization(corp.spa)
        await open_sign_in(web, auth)
        response = await submit_password(web, auth, email)
        tokens = (await redeem(web, auth, code_from(response, auth))).json()
    assert (await api.gql(ME, token=tokens["access_token"]))["me"]["tenant"]["slug"] == (
        theirs.slug
    )

    # Bob declines corp's invitation (which also leaves the mail queued for it, run by
    # some other test's worker without a mail server, nothing to send): his session
    # at corp ends.
    async with services.engine.begin() as conn:
        await invitations.decline(conn, account_id=account_id, tenant_id=corp.id, ip="192.0.2.1")
    async with browser(client) as web:
        ended = await refresh(web, corp.spa, at_corp["refresh_token"])
    assert ended.json()["error"] == "invalid_grant"
