"""Signing keys: ES256 keys with key ids, generated on first migrate and kept in the catalog."""

from __future__ import annotations

import time
from dataclasses import dataclass

from joserfc.jwk import ECKey
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tenants.catalog import signing_keys

ALGORITHM = "ES256"


async def ensure_signing_key(conn: AsyncConnection) -> str:
    """Return the active key id, creating the first key if the catalog has none."""
    await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('kehu.signing_keys'))")
    kid = await conn.scalar(
        select(signing_keys.c.kid)
        .where(signing_keys.c.status == "active")
        .order_by(signing_keys.c.created_at.desc())
        .limit(1)
    )
    if kid is not None:
        return kid
    key = ECKey.generate_key("P-256", private=True, auto_kid=True)
    kid = key.kid
    await conn.execute(
        insert(signing_keys).values(
            kid=kid,
            algorithm=ALGORITHM,
            private_jwk=key.as_dict(private=True),
            public_jwk=key.as_dict(private=False),
            status="active",
        )
    )
    return kid


@dataclass
class KeyRing:
    """The keys this process signs and verifies with, reloaded when an unknown kid
    shows up (at most every `refresh_seconds`, so forged kids cannot hammer the DB)."""

    engine: AsyncEngine
    refresh_seconds: float = 30.0
    _public: dict[str, ECKey] | None = None
    _signing: ECKey | None = None
    _loaded_at: float = 0.0

    async def load(self) -> None:
        async with self.engine.connect() as conn:
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
        self._public = {r.kid: ECKey.import_key(r.public_jwk) for r in rows}
        active = [r for r in rows if r.status == "active"]
        self._signing = ECKey.import_key(active[-1].private_jwk) if active else None
        self._loaded_at = time.monotonic()

    async def verification_key(self, kid: str) -> ECKey | None:
        if self._public is None:
            await self.load()
        assert self._public is not None
        if kid not in self._public and time.monotonic() - self._loaded_at > self.refresh_seconds:
            await self.load()
        return self._public.get(kid)

    async def signing_key(self) -> ECKey:
        if self._signing is None:
            await self.load()
        if self._signing is None:
            raise RuntimeError("no active signing key: run `kehu migrate` first")
        return self._signing
