"""Access tokens: signed JWTs (ES256 only, known key ids only), claims checked explicitly.

joserfc's decode checks only the signature; issuer, audience, expiry and the claims
we rely on are validated here, so a token can never skip a check.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError

from app.auth.keys import ALGORITHM, KeyRing
from app.errors import Unauthenticated
from app.settings import Settings

LEEWAY_SECONDS = 10


@dataclass(frozen=True)
class TokenClaims:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    roles: tuple[str, ...]
    jti: str
    expires_at: int
    # Set on tokens the authorization server issues: the client they were issued to,
    # the scopes granted (they bound an API client's permissions) and, for a user's
    # sign-in, the session (refresh-token family) that revoking ends.
    client_id: str | None = None
    scope: frozenset[str] = frozenset()
    session_id: uuid.UUID | None = None


async def issue_access_token(
    *,
    keyring: KeyRing,
    settings: Settings,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    roles: list[str],
    ttl_seconds: int | None = None,
    client_id: str | None = None,
    scope: str = "",
    session_id: uuid.UUID | None = None,
) -> str:
    key = await keyring.signing_key()
    now = int(time.time())
    claims: dict = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": str(user_id),
        "tenant": str(tenant_id),
        "roles": roles,
        "iat": now,
        "nbf": now,
        "exp": now + (ttl_seconds or settings.token_ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    if client_id is not None:
        claims["client_id"] = client_id
        claims["scope"] = scope
    if session_id is not None:
        claims["sid"] = str(session_id)
    return jwt.encode({"alg": ALGORITHM, "kid": key.kid}, claims, key, algorithms=[ALGORITHM])


def _header(token: str) -> dict:
    try:
        segment = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, IndexError) as error:
        raise Unauthenticated("malformed token") from error
    if not isinstance(header, dict):
        raise Unauthenticated("malformed token")
    return header


async def verify_access_token(token: str, *, keyring: KeyRing, settings: Settings) -> TokenClaims:
    header = _header(token)
    if header.get("alg") != ALGORITHM:
        raise Unauthenticated("unsupported token algorithm")
    kid = header.get("kid")
    key = await keyring.verification_key(kid) if isinstance(kid, str) else None
    if key is None:
        raise Unauthenticated("unknown signing key")
    try:
        decoded = jwt.decode(token, key, algorithms=[ALGORITHM])
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": settings.issuer},
            aud={"essential": True, "value": settings.audience},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
            tenant={"essential": True},
        )
        registry.validate(decoded.claims)
    except JoseError as error:
        raise Unauthenticated(f"invalid token: {error.error}") from error
    claims = decoded.claims
    try:
        return TokenClaims(
            tenant_id=uuid.UUID(claims["tenant"]),
            user_id=uuid.UUID(claims["sub"]),
            roles=tuple(claims.get("roles") or ()),
            jti=str(claims["jti"]),
            expires_at=int(claims["exp"]),
            client_id=_optional_str(claims.get("client_id")),
            scope=frozenset(str(claims.get("scope") or "").split()),
            session_id=uuid.UUID(claims["sid"]) if claims.get("sid") else None,
        )
    except (ValueError, TypeError, KeyError) as error:
        raise Unauthenticated("invalid token claims") from error


def _optional_str(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value
