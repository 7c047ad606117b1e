"""Signing keys: ES256 keys with key ids, generated on first migrate and kept in the catalog.

A key is `active` (signs new tokens; exactly one, enforced by a unique index) or
`retired` (no longer signs, still published and still verifies, so tokens signed
before a rotation keep working until they expire). Removing a retired key deletes
its row: tokens it signed stop verifying. Rotation, removal and the first key all
take one advisory lock, so two operators rotating at once leave exactly one active key.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime

from joserfc.jwk import ECKey
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db import lookup_connection
from tenants.catalog import signing_keys

ALGORITHM = "ES256"
CURVE = "P-256"
# The public members of an EC JWK: a JWK Set is built from these names only, so a
# private member (`d`) can never be published whatever the stored JWK holds.
PUBLIC_MEMBERS = ("kty", "crv", "x", "y")


class SigningKeyError(Exception):
    """An operator's mistake about signing keys (unknown kid, removing the active key)."""


async def _lock(conn: AsyncConnection) -> None:
    await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('kehu.signing_keys'))")


def new_signing_key() -> ECKey:
    """A P-256 key whose kid (its RFC 7638 thumbprint, base64url) does not start with
    "-": operators pass kids to `kehu keys remove`, where one would read as an option."""
    while True:
        key = ECKey.generate_key(CURVE, private=True, auto_kid=True)
        if not key.kid.startswith("-"):
            return key


async def _insert_new_key(conn: AsyncConnection) -> str:
    key = new_signing_key()
    await conn.execute(
        insert(signing_keys).values(
            kid=key.kid,
            algorithm=ALGORITHM,
            private_jwk=key.as_dict(private=True),
            public_jwk=key.as_dict(private=False),
            status="active",
        )
    )
    return key.kid


async def _active_kid(conn: AsyncConnection) -> str | None:
    return await conn.scalar(
        select(signing_keys.c.kid)
        .where(signing_keys.c.status == "active")
        .order_by(signing_keys.c.created_at.desc())
        .limit(1)
    )


async def ensure_signing_key(conn: AsyncConnection) -> str:
    """Return the active key id, creating the first key if the catalog has none."""
    await _lock(conn)
    kid = await _active_kid(conn)
    return kid if kid is not None else await _insert_new_key(conn)


@dataclass(frozen=True)
class RotationResult:
    kid: str
    retired: str | None


async def rotate_signing_key(conn: AsyncConnection) -> RotationResult:
    """Retire the active key and create a new active one, in the caller's transaction.

    The advisory lock serialises concurrent rotations: the second waits for the first
    to commit, then retires the key the first created."""
    await _lock(conn)
    retired = await conn.scalar(
        update(signing_keys)
        .where(signing_keys.c.status == "active")
        .values(status="retired", retired_at=func.now())
        .returning(signing_keys.c.kid)
    )
    return RotationResult(kid=await _insert_new_key(conn), retired=retired)


async def remove_signing_key(conn: AsyncConnection, kid: str) -> None:
    """Delete a retired key; the active key is refused (rotate first)."""
    await _lock(conn)
    status = await conn.scalar(select(signing_keys.c.status).where(signing_keys.c.kid == kid))
    if status is None:
        raise SigningKeyError(f"no signing key {kid!r}")
    if status == "active":
        raise SigningKeyError(f"{kid!r} is the active signing key: rotate first, then remove it")
    await conn.execute(delete(signing_keys).where(signing_keys.c.kid == kid))


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    status: str
    created_at: datetime
    retired_at: datetime | None


async def list_signing_keys(conn: AsyncConnection) -> list[KeyInfo]:
    rows = await conn.execute(
        select(
            signing_keys.c.kid,
            signing_keys.c.status,
            signing_keys.c.created_at,
            signing_keys.c.retired_at,
        ).order_by(signing_keys.c.created_at, signing_keys.c.kid)
    )
    return [KeyInfo(r.kid, r.status, r.created_at, r.retired_at) for r in rows]


def public_jwk(key: ECKey) -> dict[str, str]:
    """The key as a JWK Set member: public members only, plus kid, alg and use."""
    data = key.as_dict(private=False)
    return {
        "kid": key.kid,
        **{name: data[name] for name in PUBLIC_MEMBERS},
        "alg": ALGORITHM,
        "use": "sig",
    }


@dataclass(frozen=True)
class _Snapshot:
    """One read of the catalog: every key that verifies, and the one that signs."""

    public: dict[str, ECKey]
    signing: ECKey | None
    loaded_at: float  # time.monotonic() taken *before* the read, so ages are never low


@dataclass
class KeyRing:
    """The keys this process signs and verifies with, cached per process.

    The reload bound: a snapshot older than `max_age_seconds` (settings
    `keys_reload_seconds`, KEHU_KEYS_RELOAD_SECONDS, default 60 s) is reloaded before it
    is used to sign, verify or publish. So, within that bound of a change committing:

    - after `kehu keys rotate`, every process signs with the new key;
    - after `kehu keys remove KID`, every process refuses tokens with that kid and
      stops publishing it (the snapshot only ever holds keys that were in the catalog
      when it was read, and no snapshot older than the bound is ever consulted);
    - the JWKS it serves is at most that old, and says so in its Cache-Control.

    A token whose kid this process does not know (a new key another process already
    signs with, or a forged kid) also triggers a reload, but at most every
    `unknown_kid_seconds`, so forged kids cannot hammer the database; a new key is
    therefore picked up for verification within min(unknown_kid_seconds,
    max_age_seconds). Reloads are single-flight: concurrent requests wait for the one
    read in progress instead of each querying the catalog.
    """

    engine: AsyncEngine
    max_age_seconds: float = 60.0
    unknown_kid_seconds: float = 30.0
    _snapshot: _Snapshot | None = None
    _reload: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def load(self) -> _Snapshot:
        started = time.monotonic()
        async with lookup_connection(self.engine, "signing_keys") as conn:
            rows = (
                await conn.execute(
                    select(
                        signing_keys.c.kid,
                        signing_keys.c.status,
                        signing_keys.c.private_jwk,
                        signing_keys.c.public_jwk,
                    ).order_by(signing_keys.c.created_at)
                )
            ).all()
        active = [r for r in rows if r.status == "active"]
        self._snapshot = _Snapshot(
            public={r.kid: ECKey.import_key(r.public_jwk) for r in rows},
            signing=ECKey.import_key(active[-1].private_jwk) if active else None,
            loaded_at=started,
        )
        return self._snapshot

    def _age(self, snapshot: _Snapshot) -> float:
        return time.monotonic() - snapshot.loaded_at

    async def _current(self, *, older_than: float | None = None) -> _Snapshot:
        """A snapshot no older than the bound (or than `older_than`, when given)."""
        limit = self.max_age_seconds if older_than is None else older_than
        snapshot = self._snapshot
        if snapshot is not None and self._age(snapshot) <= limit:
            return snapshot
        async with self._reload:
            snapshot = self._snapshot  # another request may have reloaded meanwhile
            if snapshot is not None and self._age(snapshot) <= limit:
                return snapshot
            return await self.load()

    async def verification_key(self, kid: str) -> ECKey | None:
        snapshot = await self._current()
        if kid not in snapshot.public:
            snapshot = await self._current(older_than=self.unknown_kid_seconds)
        return snapshot.public.get(kid)

    async def signing_key(self) -> ECKey:
        snapshot = await self._current()
        if snapshot.signing is None:
            raise RuntimeError("no active signing key: run `kehu migrate` first")
        return snapshot.signing

    async def jwks(self) -> tuple[dict, float]:
        """The public JWK Set, and how many seconds it may still be cached (the time
        left before this process would reload it)."""
        snapshot = await self._current()
        keys = [public_jwk(key) for key in snapshot.public.values()]
        return {"keys": keys}, max(0.0, self.max_age_seconds - self._age(snapshot))
