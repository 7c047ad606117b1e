"""The OAuth 2.0 authorization server: authlib's framework-independent core.

authlib's server classes are synchronous. They run in a worker thread
(`anyio.to_thread`), and every hook that needs the database calls back into the
event loop with `anyio.from_thread.run`, so the loop never blocks and the queries use
the same async engine as everything else.

Grants: authorization code with PKCE (S256 only, required) for single-page apps,
refresh tokens with rotation and reuse detection, client credentials for API clients.
Endpoints: revocation (RFC 7009) and introspection (RFC 7662).
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from anyio import from_thread
from authlib.oauth2 import AuthorizationServer as _AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from joserfc import jwt

from app.api.context import Services
from app.audit.service import Actor, diff, record
from app.auth import principal
from app.auth.keys import ALGORITHM
from app.auth.principal import load_tenant, load_user_access
from app.auth.tokens import issue_access_token, verify_access_token
from app.db import bind_tenant, tenant_transaction
from app.errors import Unauthenticated
from app.oauth import store
from app.oauth.clients import API, Client, load_client
from app.oauth.store import AuthorizationCode, GrantUser, RefreshToken

# Short: revoking a session or client takes effect within the principal cache bound
# anyway, and a leaked token is worth little for long.
ACCESS_TOKEN_TTL = 600


class Payload(OAuth2Payload):
    def __init__(self, datalist: dict[str, list[str]]) -> None:
        self._datalist = datalist
        self._data = {key: values[0] for key, values in datalist.items() if values}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class Request(OAuth2Request):
    """An HTTP request already read by starlette: method, URL, headers and parameters
    (query string for the authorization endpoint, form body for the others)."""

    def __init__(self, method: str, uri: str, headers: dict[str, str], params) -> None:
        super().__init__(method, uri, headers=headers)
        datalist: dict[str, list[str]] = defaultdict(list)
        for key, value in params:
            datalist[key].append(value)
        self.payload = Payload(dict(datalist))

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


def _run(async_fn, *args: Any) -> Any:
    return from_thread.run(async_fn, *args)


@dataclass(frozen=True)
class AccessToken:
    """A verified access token, for revocation and introspection."""

    token: str
    client_id: str | None
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    session_id: uuid.UUID | None
    scope: str
    expires_at: int

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def is_expired(self) -> bool:
        return self.expires_at <= time.time()

    def is_revoked(self) -> bool:
        return False


class PkceS256(CodeChallenge):
    """PKCE is required of every authorization request, with S256 only: a missing
    challenge or `plain` is refused, so a downgrade cannot strip it."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge' (PKCE is required)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: AuthorizationCode) -> str:
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code) -> str:
        return "S256"


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]

    def save_authorization_code(self, code: str, request: Request) -> None:
        user: GrantUser = request.user
        self.server.in_catalog(
            store.save_code,
            code=code,
            client_id=request.client.client_id,
            user=user,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope or "",
            code_challenge=request.payload.data["code_challenge"],
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        """Only looks the code up: authlib checks its redirect_uri and then (the
        after_validate_token_request hook) the PKCE verifier before anything else;
        `authenticate_user`, which runs next, spends it."""
        return self.server.in_catalog(store.find_code, code, client.client_id)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Nothing to do: `authenticate_user` spent it before any token was made."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> GrantUser:
        if not self.server.in_catalog(store.consume_code, authorization_code):
            raise InvalidGrantError("Invalid 'code' in request.")
        return self.server.check_user(authorization_code.user)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh spends the old token

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        rotation = self.server.in_catalog(
            store.rotate_refresh_token, refresh_token, self.request.client.client_id
        )
        if rotation.reused is not None:
            user = rotation.reused
            self.server.audit(
                user.tenant_id, Actor("user", user.user_id), "session.replay_detected",
                {"client_id": self.request.client.client_id, "session": str(user.session_id)},
            )  # fmt: skip
        return rotation.token

    def authenticate_user(self, refresh_token: RefreshToken) -> GrantUser:
        return self.server.check_user(refresh_token.user)

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        """Nothing to do: rotating already spent it."""


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class Revocation(RevocationEndpoint):
    """Refresh tokens end their whole session; so do access tokens that belong to
    one. An API client's access token has no session: it lapses within minutes, and
    revoking the client (revokeApiClient) stops all of its tokens at once."""

    CLIENT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"]

    def query_token(self, token_string: str, token_type_hint: str | None):
        return self.server.find_token(token_string, token_type_hint)

    def revoke_token(self, token, request) -> None:
        user = token.user if isinstance(token, RefreshToken) else None
        session_id = user.session_id if user else token.session_id
        if session_id is None:
            return
        self.server.in_catalog(store.end_session, session_id)
        tenant_id = user.tenant_id if user else token.tenant_id
        user_id = user.user_id if user else token.user_id
        self.server.audit(
            tenant_id, Actor("user", user_id), "session.revoked",
            {"client_id": request.client.client_id, "session": str(session_id)},
        )  # fmt: skip


class Introspection(IntrospectionEndpoint):
    """For API clients (confidential): tokens of their own tenant only."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string: str, token_type_hint: str | None):
        return self.server.find_token(token_string, token_type_hint)

    def check_permission(self, token, client: Client, request) -> bool:
        tenant_id = token.user.tenant_id if isinstance(token, RefreshToken) else token.tenant_id
        return client.kind == API and client.tenant_id == tenant_id

    def introspect_token(self, token) -> dict:
        if isinstance(token, RefreshToken):
            if self.server.session_ended(token.user.session_id):
                return {"active": False}
            return {
                "active": True,
                "token_type": "refresh_token",
                "client_id": token.client_id,
                "scope": token.scope,
                "sub": str(token.user.user_id),
                "tenant": str(token.user.tenant_id),
                "exp": int(token.expires_at.timestamp()),
            }
        if token.session_id is not None and self.server.session_ended(token.session_id):
            return {"active": False}
        return {
            "active": True,
            "token_type": "Bearer",
            "client_id": token.client_id,
            "scope": token.scope,
            "sub": str(token.user_id),
            "tenant": str(token.tenant_id),
            "exp": token.expires_at,
            "iss": self.server.services.settings.issuer,
            "aud": self.server.services.settings.audience,
        }


class AuthorizationServer(_AuthorizationServer):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.register_token_generator("default", self._generate_token)
        self.register_grant(AuthorizationCodeGrant, [PkceS256()])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)

    # --- bridging to the event loop -------------------------------------------------

    def in_catalog(self, change, *args: Any, **kwargs: Any) -> Any:
        """Run `change(conn, ...)` in its own transaction on the event loop."""

        async def run() -> Any:
            async with self.services.engine.begin() as conn:
                return await change(conn, *args, **kwargs)

        return _run(run)

    def query_client(self, client_id: str) -> Client | None:
        """Read fresh, never from the principal cache: a rotated secret or revoked
        client must fail here at once (token requests are rare enough)."""

        async def run() -> Client | None:
            async with self.services.engine.connect() as conn:
                return await load_client(conn, client_id)

        return _run(run)

    def session_ended(self, session_id: uuid.UUID) -> bool:
        async def run() -> bool:
            async with self.services.engine.connect() as conn:
                return await principal.session_ended(conn, session_id)

        return _run(run)

    def check_user(self, user: GrantUser) -> GrantUser:
        """Tokens are only issued for an active user of an active tenant."""

        async def run() -> bool:
            tenant = await load_tenant(self.services.engine, user.tenant_id)
            if tenant is None or tenant.status != "active":
                return False
            async with self.services.engine.connect() as raw:
                conn = await bind_tenant(raw, tenant.schema_name)
                access = await load_user_access(conn, user.user_id)
            return access is not None and access.active

        if not _run(run):
            raise InvalidGrantError("the user or tenant is no longer active")
        return user

    def find_token(self, token: str, hint: str | None) -> AccessToken | RefreshToken | None:
        if hint != "refresh_token" and token.count(".") == 2:
            access = _run(self._verify_access_token, token)
            if access is not None:
                return access
        return self.in_catalog(store.find_refresh_token, token)

    async def _verify_access_token(self, token: str) -> AccessToken | None:
        try:
            claims = await verify_access_token(
                token, keyring=self.services.keyring, settings=self.services.settings
            )
        except Unauthenticated:
            return None
        return AccessToken(
            token=token,
            client_id=claims.client_id,
            tenant_id=claims.tenant_id,
            user_id=claims.user_id,
            session_id=claims.session_id,
            scope=" ".join(sorted(claims.scope)),
            expires_at=claims.expires_at,
        )

    def audit(self, tenant_id: uuid.UUID, actor: Actor, action: str, changes: dict) -> None:
        """Token and session events go to the tenant's own audit log."""

        async def run() -> None:
            tenant = await load_tenant(self.services.engine, tenant_id)
            if tenant is None:
                return
            async with tenant_transaction(self.services.engine, tenant.schema_name) as conn:
                await record(
                    conn, actor=actor, action=action, entity_type="user",
                    entity_id=actor.id, changes=diff(None, changes),
                )  # fmt: skip

        _run(run)

    # --- authlib's framework hooks --------------------------------------------------

    def create_oauth2_request(self, request: Request) -> Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list) -> tuple:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No listeners: what happens is audited where it happens."""

    def save_token(self, token: dict, request: Request) -> None:
        """Refresh tokens are written when generated (see `_generate_token`)."""

    # --- tokens ---------------------------------------------------------------------

    def _generate_token(
        self,
        grant_type: str,
        client: Client,
        user: GrantUser | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict:
        return _run(self._issue, grant_type, client, user, scope, include_refresh_token)

    async def _issue(
        self,
        grant_type: str,
        client: Client,
        user: GrantUser | None,
        scope: str | None,
        include_refresh_token: bool,
    ) -> dict:
        scope = client.get_allowed_scope(scope)
        if client.kind == API:
            return await self._client_token(client, scope)
        assert user is not None
        access = await self._user_access(user)
        token = await self._bearer(client, user.tenant_id, access, scope, user.session_id)
        if include_refresh_token:
            async with self.services.engine.begin() as conn:
                token["refresh_token"] = await store.issue_refresh_token(
                    conn, client_id=client.client_id, user=user, scope=scope
                )
        if grant_type == "authorization_code" and "openid" in scope.split():
            token["id_token"] = await self._id_token(client, user, access.email)
        return token

    async def _client_token(self, client: Client, scope: str) -> dict:
        tenant = await load_tenant(self.services.engine, client.tenant_id)
        if tenant is None or tenant.status != "active":
            raise UnauthorizedClientError("the client's tenant is suspended")
        access = await self._user_access(
            GrantUser(client.tenant_id, client.run_as_user_id, uuid.UUID(int=0), uuid.UUID(int=0))
        )
        async with tenant_transaction(self.services.engine, tenant.schema_name) as conn:
            await record(
                conn, actor=Actor("user", client.run_as_user_id), action="api_client.token_issued",
                entity_type="api_client", entity_id=None,
                changes=diff(None, {"client_id": client.client_id, "scope": scope}),
            )  # fmt: skip
        return await self._bearer(client, client.tenant_id, access, scope, None)

    async def _bearer(
        self, client: Client, tenant_id: uuid.UUID, access, scope: str,
        session_id: uuid.UUID | None,
    ) -> dict:  # fmt: skip
        access_token = await issue_access_token(
            keyring=self.services.keyring, settings=self.services.settings,
            tenant_id=tenant_id, user_id=access.id, roles=[access.role.name],
            ttl_seconds=ACCESS_TOKEN_TTL, client_id=client.client_id, scope=scope,
            session_id=session_id,
        )  # fmt: skip
        return {
            "token_type": "Bearer",
            "access_token": access_token,
            "expires_in": ACCESS_TOKEN_TTL,
            "scope": scope,
        }

    async def _user_access(self, user: GrantUser):
        tenant = await load_tenant(self.services.engine, user.tenant_id)
        if tenant is None:
            raise InvalidGrantError("unknown tenant")
        async with self.services.engine.connect() as raw:
            access = await load_user_access(
                await bind_tenant(raw, tenant.schema_name), user.user_id
            )
        if access is None or not access.active:
            raise InvalidGrantError("the user is no longer active")
        return access

    async def _id_token(self, client: Client, user: GrantUser, email: str) -> str:
        """OpenID Connect ID token: who signed in, for the client (aud) that asked."""
        key = await self.services.keyring.signing_key()
        now = int(time.time())
        claims = {
            "iss": self.services.settings.issuer,
            "sub": str(user.user_id),
            "aud": client.client_id,
            "iat": now,
            "exp": now + ACCESS_TOKEN_TTL,
            "email": email,
            "tenant": str(user.tenant_id),
            "sid": str(user.session_id),
        }
        if user.nonce:
            claims["nonce"] = user.nonce
        return jwt.encode({"alg": ALGORITHM, "kid": key.kid}, claims, key, algorithms=[ALGORITHM])
