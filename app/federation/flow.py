"""Federated sign-in: the tenant's own OpenID Connect provider signs its users in
(authorization code + PKCE, state and nonce), and they are provisioned just in time.

    /oauth/federated/start     from the sign-in page: the tenant's provider, please
    /oauth/federated/callback  the provider sends the browser back here

Both legs belong to one authorization request of one of our clients; when the
provider vouches for the user, the request carries on as after a password sign-in.
The provider's discovery document and JWKS are fetched at sign-in (and cached), and
the ID token is validated explicitly: signature against the provider's keys, issuer,
audience, expiry, nonce, and a verified email in an allowed domain. Every request to
the provider goes through app/federation/outbound.py: https to public addresses only,
checked when it is sent, since anyone may start a sign-in and the URLs come from a
tenant admin and from whatever the provider's discovery document says.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from starlette.requests import Request as HttpRequest
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.accounts.membership import account_of_user, find_account, link_member
from app.accounts.tables import external_identities, memberships
from app.api.context import Services
from app.audit.service import SYSTEM, Actor, diff, record
from app.db import take_outbox_pending, tenant_transaction
from app.federation import outbound
from app.federation.admin import IdentityProviderConfig, load_identity_provider
from app.federation.outbound import OutboundPolicy, RefusedURL
from app.oauth.endpoints import (
    CSRF_COOKIE,
    FEDERATED_START_PATH,
    Endpoints,
    error_page,
)
from app.oauth.secrets import new_secret
from app.outbox import service as outbox
from app.users import service as users
from tenants.catalog import tenants

CALLBACK_PATH = "/oauth/federated/callback"
PENDING_TTL_SECONDS = 600
METADATA_TTL_SECONDS = 300
LEEWAY_SECONDS = 60
HTTP_TIMEOUT = httpx.Timeout(10.0)

T = TypeVar("T")


class FederationError(Exception):
    """Shown to the person signing in; says what went wrong without secrets."""


@dataclass
class ProviderMetadata:
    document: dict[str, Any]
    keys: KeySet
    fetched_at: float


async def _reach(field: str, url: Any, contact: Callable[[str], Awaitable[T]]) -> T:
    """`contact(url)`, or a FederationError naming the URL's field if it is missing or
    refused."""
    if not isinstance(url, str):
        raise FederationError(f"the identity provider's discovery document has no {field}")
    try:
        return await contact(url)
    except RefusedURL as refused:
        raise FederationError(
            f"we do not contact the identity provider's {field} ({refused})"
        ) from refused


async def _send(
    http: httpx.AsyncClient, field: str, method: str, url: Any, **kwargs: Any
) -> httpx.Response:
    """The request, or a FederationError naming the URL's field if it is refused."""
    return await _reach(field, url, lambda checked: http.request(method, checked, **kwargs))


class Providers:
    """Discovery documents and key sets by issuer, cached per process."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        self._cache: dict[str, ProviderMetadata] = {}

    async def metadata(self, issuer: str, *, refresh: bool = False) -> ProviderMetadata:
        cached = self._cache.get(issuer)
        if cached and not refresh and time.monotonic() - cached.fetched_at < METADATA_TTL_SECONDS:
            return cached
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            async with outbound.client(self.policy, timeout=HTTP_TIMEOUT) as http:
                response = await _send(http, "issuer", "GET", url)
                document = response.raise_for_status().json()
                # The document must be the issuer's own (OpenID Connect Discovery 4.3).
                if not isinstance(document, dict) or document.get("issuer") != issuer:
                    raise FederationError("the provider's discovery document names another issuer")
                # Checked now too, so nobody signs in at the provider only to be refused
                # on the way back; the transport checks it again when the code is redeemed.
                await _reach("token_endpoint", document.get("token_endpoint"), self.policy.resolve)
                response = await _send(http, "jwks_uri", "GET", document.get("jwks_uri"))
                jwks = response.raise_for_status().json()
        except (httpx.HTTPError, ValueError, KeyError) as error:
            raise FederationError("the identity provider could not be reached") from error
        metadata = ProviderMetadata(document, KeySet.import_key_set(jwks), time.monotonic())
        self._cache[issuer] = metadata
        return metadata


@dataclass(frozen=True)
class Identity:
    subject: str
    email: str
    name: str


def validate_id_token(
    token: str, metadata: ProviderMetadata, config: IdentityProviderConfig, nonce: str
) -> Identity:
    algorithms = metadata.document.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [a for a in algorithms if a != "none"]
    try:
        claims = jwt.decode(token, metadata.keys, algorithms=algorithms).claims
        jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": config.issuer},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(claims)
    except (JoseError, ValueError) as error:
        raise FederationError("the identity provider's answer did not verify") from error
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if config.client_id not in audiences:
        raise FederationError("the identity provider's answer was for another application")
    if len(audiences) > 1 and claims.get("azp") != config.client_id:
        raise FederationError("the identity provider's answer was for another application")
    email = str(claims.get("email") or "").strip()
    if not email or claims.get("email_verified") is not True:
        raise FederationError("the identity provider did not vouch for an email address")
    domain = email.rsplit("@", 1)[-1].lower()
    if domain not in config.allowed_domains:
        raise FederationError(f"addresses at {domain} may not sign in to this company")
    return Identity(str(claims["sub"]), email, str(claims.get("name") or ""))


class Federation:
    def __init__(self, services: Services, endpoints: Endpoints) -> None:
        self.services = services
        self.endpoints = endpoints
        # Parsed once, so a malformed KEHU_FEDERATION_ALLOW_PRIVATE_HOSTS stops startup.
        self.policy = OutboundPolicy.parse(services.settings.federation_allow_private_hosts)
        self.providers = Providers(self.policy)

    @property
    def callback_url(self) -> str:
        return self.services.settings.issuer.rstrip("/") + CALLBACK_PATH

    async def start(self, request: HttpRequest) -> Response:
        prepared = await self.endpoints.prepare(request)
        if isinstance(prepared, Response):
            return prepared
        page, _, _ = prepared
        slug = request.query_params.get("tenant", "").strip().lower()
        tenant_id = await self._tenant_id(slug)
        config = None
        if tenant_id is not None:
            async with self.services.engine.connect() as conn:
                config = await load_identity_provider(conn, tenant_id)
        if config is None or not config.enabled:
            return page.sign_in(error="这个公司没有配置单点登录。 No single sign-on for that company.",
                                status=404)  # fmt: skip
        try:
            metadata = await self.providers.metadata(config.issuer)
        except FederationError as error:
            return page.sign_in(error=str(error), status=502)
        state, nonce, verifier = new_secret(), new_secret(), new_secret(48)
        pending = {
            "tenant_id": str(tenant_id),
            "params": page.params,
            "nonce": nonce,
            "verifier": verifier,
            "csrf": page.csrf,
        }
        redis = await self.services.queue.pool()
        await redis.set(f"kehu:federation:{state}", json.dumps(pending), ex=PENDING_TTL_SECONDS)
        url = add_params_to_uri(
            metadata.document["authorization_endpoint"],
            [("response_type", "code"), ("client_id", config.client_id),
             ("redirect_uri", self.callback_url), ("scope", "openid email profile"),
             ("state", state), ("nonce", nonce),
             ("code_challenge", create_s256_code_challenge(verifier)),
             ("code_challenge_method", "S256")],
        )  # fmt: skip
        # Through the page, so the browser keeps (or gets) the CSRF cookie that binds
        # the callback to this browser.
        response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
        page.bind_cookie(response)
        return response

    async def callback(self, request: HttpRequest) -> Response:
        state = request.query_params.get("state", "")
        redis = await self.services.queue.pool()
        raw = await redis.getdel(f"kehu:federation:{state}") if state else None
        if raw is None:
            return error_page("登录已过期，请重新开始。 This sign-in expired; please start again.")
        pending = json.loads(raw)
        if request.cookies.get(CSRF_COOKIE) != pending["csrf"]:
            # Someone else's callback in this browser: login CSRF.
            return error_page(
                "这个登录不是从本浏览器开始的。 This sign-in did not start here.", 403
            )
        prepared = await self.endpoints.prepare(request, params=pending["params"])
        if isinstance(prepared, Response):
            return prepared
        page, grant, oauth_request = prepared
        if request.query_params.get("error"):
            return page.sign_in(error="身份提供方拒绝了登录。 The identity provider refused the sign-in.",
                                status=401)  # fmt: skip
        tenant_id = uuid.UUID(pending["tenant_id"])
        async with self.services.engine.connect() as conn:
            config = await load_identity_provider(conn, tenant_id)
        if config is None or not config.enabled:
            return page.sign_in(error="单点登录已停用。 Single sign-on was turned off.", status=403)
        try:
            identity = await self._identity(config, request, pending)
            account_id = await self._provision(tenant_id, config, identity)
        except FederationError as error:
            return page.sign_in(error=str(error), status=401)
        return await self.endpoints.continue_as(
            page, grant, oauth_request, account_id, identity.email, tenant_id=tenant_id
        )

    async def _identity(
        self, config: IdentityProviderConfig, request: HttpRequest, pending: dict
    ) -> Identity:
        code = request.query_params.get("code")
        if not code:
            raise FederationError("the identity provider sent no code")
        metadata = await self.providers.metadata(config.issuer)
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.callback_url, "code_verifier": pending["verifier"]}  # fmt: skip
        try:
            async with outbound.client(self.policy, timeout=HTTP_TIMEOUT) as http:
                response = await _send(
                    http, "token_endpoint", "POST", metadata.document.get("token_endpoint"),
                    data=form,
                    auth=(quote(config.client_id, safe=""), quote(config.client_secret, safe="")),
                )  # fmt: skip
                token = response.raise_for_status().json()
        except (httpx.HTTPError, ValueError) as error:
            raise FederationError("the identity provider refused the code") from error
        id_token = token.get("id_token") if isinstance(token, dict) else None
        if not id_token:
            raise FederationError("the identity provider sent no ID token")
        try:
            return validate_id_token(id_token, metadata, config, pending["nonce"])
        except FederationError:
            # Perhaps the provider rotated its keys since we cached them: once more.
            metadata = await self.providers.metadata(config.issuer, refresh=True)
            return validate_id_token(id_token, metadata, config, pending["nonce"])

    async def _tenant_id(self, slug: str) -> uuid.UUID | None:
        if not slug:
            return None
        async with self.services.engine.connect() as conn:
            return await conn.scalar(
                select(tenants.c.id).where(tenants.c.slug == slug, tenants.c.status == "active")
            )

    async def _provision(
        self, tenant_id: uuid.UUID, config: IdentityProviderConfig, identity: Identity
    ) -> uuid.UUID:
        """The account this provider's subject signs in as, linked on first sign-in,
        and a user of the tenant (with the provider's default role) if it has none.

        A subject seen for the first time is linked to the account with its email,
        which may be older than this tenant's provider and belong to other tenants
        too. The provider is the tenant admin's choice, so it vouches for this tenant
        only: the sign-in that follows is restricted to this tenant
        (Endpoints.continue_as), and a membership it makes of an existing account is
        an invitation its owner still has to accept (app/accounts/membership.py),
        which no federated sign-in does for them. The account is created, if new,
        by linking the membership, so that a new person's membership is accepted."""
        schema = await self._schema(tenant_id)
        async with tenant_transaction(self.services.engine, schema) as conn:
            account_id = await conn.scalar(
                select(external_identities.c.account_id).where(
                    external_identities.c.issuer == config.issuer,
                    external_identities.c.subject == identity.subject,
                )
            )
            known_subject = account_id is not None
            if account_id is None:
                account_id = await find_account(conn, identity.email)
            member = account_id and await conn.scalar(
                select(memberships.c.user_id).where(
                    memberships.c.account_id == account_id, memberships.c.tenant_id == tenant_id
                )
            )
            if member is None and (existing := await users.find_by_email(conn, identity.email)):
                # A user from before accounts existed: the provider vouches for the email.
                linked = await link_member(
                    conn, tenant_id=tenant_id, user_id=existing.id, email=identity.email
                )
                account_id = account_id or linked
            elif member is None:
                row = await users.create_user(
                    conn, actor=SYSTEM, tenant_id=tenant_id, email=identity.email,
                    role=config.default_role, name=identity.name,
                )  # fmt: skip
                await record(
                    conn, actor=Actor("system"), action="user.provisioned", entity_type="user",
                    entity_id=row.id, changes=diff(None, {"issuer": config.issuer}),
                )  # fmt: skip
                account_id = account_id or await account_of_user(conn, tenant_id, row.id)
            if not known_subject:
                await conn.execute(
                    insert(external_identities)
                    .values(issuer=config.issuer, subject=identity.subject, account_id=account_id)
                    .on_conflict_do_nothing()
                )
            wrote_outbox = take_outbox_pending(conn)
        if wrote_outbox:  # an invitation's mail
            await outbox.relay_soon(self.services.engine, self.services.queue)
        return account_id

    async def _schema(self, tenant_id: uuid.UUID) -> str:
        async with self.services.engine.connect() as conn:
            return await conn.scalar(select(tenants.c.schema_name).where(tenants.c.id == tenant_id))


def routes(services: Services, endpoints: Endpoints) -> list[Route]:
    federation = Federation(services, endpoints)
    return [
        Route(FEDERATED_START_PATH, federation.start, methods=["GET"]),
        Route(CALLBACK_PATH, federation.callback, methods=["GET"]),
    ]
