"""Registered clients as the authorization server sees them (authlib's ClientMixin).

Two kinds: single-page apps are public clients (no secret; authorization code with
PKCE, then refresh tokens), API clients are confidential integrators (client
credentials only, acting as a run-as user within their scopes)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.oauth.secrets import secret_matches
from app.oauth.tables import oauth_clients

# What a single-page app may ask for; its tokens carry the user's role, unbounded.
SPA_SCOPES = ("openid", "profile", "email", "offline_access")
SPA = "spa"
API = "api"


@dataclass(frozen=True)
class Client(ClientMixin):
    client_id: str
    kind: str
    tenant_id: uuid.UUID | None
    name: str
    secret_hash: bytes | None
    redirect_uris: tuple[str, ...]
    web_origins: tuple[str, ...]
    scopes: frozenset[str]
    run_as_user_id: uuid.UUID | None
    revoked: bool

    @classmethod
    def from_row(cls, row) -> Client:
        return cls(
            client_id=row.client_id,
            kind=row.kind,
            tenant_id=row.tenant_id,
            name=row.name,
            secret_hash=row.secret_hash,
            redirect_uris=tuple(row.redirect_uris),
            web_origins=tuple(row.web_origins),
            scopes=frozenset(row.scopes),
            run_as_user_id=row.run_as_user_id,
            revoked=row.revoked_at is not None,
        )

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Always explicit: the authorization endpoint requires redirect_uri.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(SPA_SCOPES) if self.kind == SPA else set(self.scopes)
        if not scope:
            return "" if self.kind == SPA else " ".join(sorted(allowed))
        return " ".join(s for s in scope_to_list(scope) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match: no prefix, no wildcard, no normalisation tricks.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.kind == API and secret_matches(client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.kind == SPA:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return self.kind == SPA and response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if self.kind == SPA:
            return grant_type in ("authorization_code", "refresh_token")
        return grant_type == "client_credentials"


async def load_client(conn: AsyncConnection, client_id: str) -> Client | None:
    """An active client, or None (unknown and revoked look the same)."""
    row = (
        await conn.execute(select(oauth_clients).where(oauth_clients.c.client_id == client_id))
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    return Client.from_row(row)
