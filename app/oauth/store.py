"""What the authorization server keeps: authorization codes and refresh-token families.

Codes and refresh tokens are consumed by one conditional UPDATE each, so two
concurrent redemptions cannot both succeed; a second redemption of a spent code or
refresh token is treated as theft and ends the whole sign-in session (RFC 9700
section 4.14).

A code is looked up first and consumed only once the token request proved it may
use it (the redirect_uri it was issued for and the PKCE verifier): otherwise whoever
intercepted the code alone could spend it, or replay it after its redemption, and
make the real client's redemption look like theft.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.oauth.secrets import hash_secret, new_secret
from app.oauth.tables import authorization_codes, refresh_tokens

CODE_TTL = dt.timedelta(minutes=1)
# Sliding: each rotation issues a token good for this long; an idle session ends.
REFRESH_TTL = dt.timedelta(days=14)


@dataclass(frozen=True)
class GrantUser:
    """Whom a code or refresh token was issued for: a tenant's user, signed in as an
    account, in one session (refresh-token family)."""

    tenant_id: uuid.UUID
    user_id: uuid.UUID
    account_id: uuid.UUID
    session_id: uuid.UUID
    nonce: str | None = None

    def get_user_id(self) -> uuid.UUID:
        return self.user_id


@dataclass(frozen=True)
class AuthorizationCode:
    code_hash: bytes
    client_id: str
    user: GrantUser
    redirect_uri: str
    scope: str
    code_challenge: str

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True)
class RefreshToken:
    client_id: str
    user: GrantUser
    scope: str
    expires_at: dt.datetime
    revoked: bool

    def check_client(self, client) -> bool:
        return client.get_client_id() == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int((self.expires_at - dt.datetime.now(dt.UTC)).total_seconds()))

    def is_expired(self) -> bool:
        return self.expires_at <= dt.datetime.now(dt.UTC)

    def is_revoked(self) -> bool:
        return self.revoked


async def save_code(
    conn: AsyncConnection,
    *,
    code: str,
    client_id: str,
    user: GrantUser,
    redirect_uri: str,
    scope: str,
    code_challenge: str,
) -> None:
    await conn.execute(
        insert(authorization_codes).values(
            code_hash=hash_secret(code),
            client_id=client_id,
            tenant_id=user.tenant_id,
            user_id=user.user_id,
            account_id=user.account_id,
            redirect_uri=redirect_uri,
            scope=scope,
            code_challenge=code_challenge,
            nonce=user.nonce,
            expires_at=func.now() + CODE_TTL,
            # The session the code's tokens will belong to, fixed now so a second
            # redemption knows which session to end.
            family_id=user.session_id,
        )
    )


async def find_code(conn: AsyncConnection, code: str, client_id: str) -> AuthorizationCode | None:
    """The client's code, unused and unexpired or already spent (a spent one is
    returned whatever its age, so its replay can be recognised once it is proven);
    nothing is changed."""
    row = (
        await conn.execute(
            select(authorization_codes).where(
                authorization_codes.c.code_hash == hash_secret(code),
                authorization_codes.c.client_id == client_id,
                or_(
                    authorization_codes.c.used_at.is_not(None),
                    authorization_codes.c.expires_at > func.now(),
                ),
            )
        )
    ).first()
    if row is None:
        return None
    user = GrantUser(row.tenant_id, row.user_id, row.account_id, row.family_id, row.nonce)
    return AuthorizationCode(
        row.code_hash, row.client_id, user, row.redirect_uri, row.scope, row.code_challenge
    )


async def consume_code(conn: AsyncConnection, code: AuthorizationCode) -> bool:
    """Spend a code whose redemption was proven; False if it was spent already (before,
    or by a concurrent redemption: the row lock lets exactly one through) or expired
    meanwhile. A spent code presented again is a replay: its session ends."""
    spent_now = await conn.scalar(
        update(authorization_codes)
        .where(
            authorization_codes.c.code_hash == code.code_hash,
            authorization_codes.c.used_at.is_(None),
            authorization_codes.c.expires_at > func.now(),
        )
        .values(used_at=func.now())
        .returning(authorization_codes.c.code_hash)
    )
    if spent_now is not None:
        return True
    spent = await conn.scalar(
        select(authorization_codes.c.family_id).where(
            authorization_codes.c.code_hash == code.code_hash,
            authorization_codes.c.used_at.is_not(None),
        )
    )
    if spent is not None:
        await end_session(conn, spent)
    return False


async def issue_refresh_token(
    conn: AsyncConnection, *, client_id: str, user: GrantUser, scope: str
) -> str:
    token = new_secret()
    await conn.execute(
        insert(refresh_tokens).values(
            token_hash=hash_secret(token),
            family_id=user.session_id,
            client_id=client_id,
            tenant_id=user.tenant_id,
            user_id=user.user_id,
            account_id=user.account_id,
            scope=scope,
            expires_at=func.now() + REFRESH_TTL,
        )
    )
    return token


@dataclass(frozen=True)
class Rotation:
    token: RefreshToken | None
    # Whose session a replayed token ended.
    reused: GrantUser | None = None


async def rotate_refresh_token(conn: AsyncConnection, token: str, client_id: str) -> Rotation:
    """Spend a refresh token. A token already spent (or of an ended session) is a
    replay: the session ends, whoever holds its newest token."""
    token_hash = hash_secret(token)
    row = (
        await conn.execute(
            update(refresh_tokens)
            .where(
                refresh_tokens.c.token_hash == token_hash,
                refresh_tokens.c.client_id == client_id,
                refresh_tokens.c.used_at.is_(None),
                refresh_tokens.c.revoked_at.is_(None),
                refresh_tokens.c.expires_at > func.now(),
            )
            .values(used_at=func.now())
            .returning(refresh_tokens)
        )
    ).first()
    if row is not None:
        return Rotation(_refresh_token(row))
    spent = (
        await conn.execute(
            select(refresh_tokens).where(
                refresh_tokens.c.token_hash == token_hash,
                refresh_tokens.c.client_id == client_id,
                refresh_tokens.c.used_at.is_not(None),
            )
        )
    ).first()
    if spent is None:
        return Rotation(None)
    await end_session(conn, spent.family_id)
    return Rotation(None, reused=_refresh_token(spent).user)


async def find_refresh_token(conn: AsyncConnection, token: str) -> RefreshToken | None:
    row = (
        await conn.execute(
            select(refresh_tokens).where(refresh_tokens.c.token_hash == hash_secret(token))
        )
    ).first()
    return None if row is None else _refresh_token(row)


def _refresh_token(row) -> RefreshToken:
    user = GrantUser(row.tenant_id, row.user_id, row.account_id, row.family_id)
    revoked = row.revoked_at is not None or row.used_at is not None
    return RefreshToken(row.client_id, user, row.scope, row.expires_at, revoked)


async def end_session(conn: AsyncConnection, session_id: uuid.UUID) -> int:
    result = await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.family_id == session_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return result.rowcount
