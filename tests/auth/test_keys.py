"""Signing keys: the JWK Set and discovery documents as a third party sees them, and
rotation and removal run as an operator runs them (the real `kehu keys` command).

Rotation and removal run in a database of their own (`keyed`), with an API whose key
cache reload bound is RELOAD seconds: the session database's active key signed the
session tenants' tokens and must stay the one every other test relies on.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

import asyncpg
import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from helpers import TenantHandle, make_tenant
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api.context import Services
from app.auth.keys import KeyRing, new_signing_key
from app.auth.tokens import issue_access_token
from app.db import CATALOG, catalog_metadata, create_engine
from app.main import create_app
from app.preflight import ensure_database
from app.services import close_services, create_services
from app.settings import Settings
from tenants.catalog import signing_keys
from tenants.migrations import upgrade_catalog

KEHU = os.path.join(os.path.dirname(sys.executable), "kehu")
ME = "{ me { user { email } tenant { slug } } }"
RELOAD = 1.0  # the reload bound of the `keyed` API
PUBLIC_MEMBERS = {"kid", "kty", "crv", "x", "y", "alg", "use"}
DISCOVERY = ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")


def kid_of(token: str) -> str:
    segment = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))["kid"]


def max_age(response: httpx.Response) -> int:
    directives = dict(
        part.strip().partition("=")[::2] for part in response.headers["cache-control"].split(",")
    )
    return int(directives["max-age"])


async def eventually(check: Callable[[], Awaitable[bool]], within: float) -> float:
    """Seconds until `check` held; fails if it did not within `within` seconds."""
    started = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - started
        if time.monotonic() - started > within:
            pytest.fail(f"not true within {within} s")
        await asyncio.sleep(0.05)


async def past_the_reload_bound() -> None:
    """Wait out the `keyed` API's reload bound after a change has committed. A snapshot
    is dated from before its read, so any snapshot older than the change is then
    reloaded at its next use: exact, where polling against a deadline is not on a slow
    machine."""
    await asyncio.sleep(RELOAD + 0.05)


def assert_public_jwks(body: dict) -> None:
    assert set(body) == {"keys"} and body["keys"]
    for jwk in body["keys"]:
        assert set(jwk) == PUBLIC_MEMBERS, jwk  # never `d` or anything else
        assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
        assert not ECKey.import_key(jwk).is_private


# --- the session database: read-only checks against the shared API --------------------


async def test_jwks_verifies_a_fresh_token_as_a_third_party_would(client, services, tenant_a):
    token = await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=tenant_a.id,
        user_id=tenant_a.user_ids["viewer"], roles=["viewer"],
    )  # fmt: skip
    response = await client.get("/oauth/jwks")  # no token needed
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert 0 <= max_age(response) <= services.settings.keys_reload_seconds
    body = response.json()
    assert_public_jwks(body)
    assert '"d"' not in response.text
    # Only the JWKS: no server code, no shared key objects.
    decoded = jwt.decode(token, KeySet.import_key_set(body), algorithms=["ES256"])
    assert decoded.claims["sub"] == str(tenant_a.user_ids["viewer"])
    assert kid_of(token) in {k["kid"] for k in body["keys"]}
    # The session tenants' tokens verify against it too.
    jwt.decode(tenant_a.tokens["admin"], KeySet.import_key_set(body), algorithms=["ES256"])


async def test_jwks_publishes_exactly_the_catalog_keys(client, owner):
    async with owner.connect() as conn:
        kids = set(await conn.scalars(select(signing_keys.c.kid)))
    body = (await client.get("/oauth/jwks")).json()
    assert {k["kid"] for k in body["keys"]} == kids


@pytest.mark.parametrize("path", DISCOVERY)
async def test_discovery_document(client, settings, path):
    response = await client.get(path)
    assert response.status_code == 200
    doc = response.json()
    assert doc["issuer"] == settings.issuer
    assert doc["jwks_uri"] == f"{settings.issuer}/oauth/jwks"
    assert doc["id_token_signing_alg_values_supported"] == ["ES256"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    # Every advertised endpoint exists (answers something other than 404/405 to POST).
    for name in ("token", "revocation", "introspection"):
        response = await client.post(httpx.URL(doc[f"{name}_endpoint"]).path)
        assert response.status_code not in (404, 405), name
    assert (await client.get(httpx.URL(doc["authorization_endpoint"]).path)).status_code == 400
    jwks = await client.get(httpx.URL(doc["jwks_uri"]).path)
    assert jwks.status_code == 200
    assert_public_jwks(jwks.json())


async def test_both_discovery_documents_agree(client):
    first, second = [(await client.get(path)).json() for path in DISCOVERY]
    assert first == second


async def test_forged_kids_do_not_hammer_the_catalog(api, services, tenant_a):
    """Tokens with made-up kids: at most one reload, however many arrive. Counted on
    the engine itself: key reloads run on the lookup connection, which the request
    statement counter leaves out."""
    reads: list[str] = []

    def count(conn, cursor, statement, *args):
        if "signing_keys" in statement:
            reads.append(statement)

    event.listen(services.engine.sync_engine, "before_cursor_execute", count)
    try:
        for n in range(20):
            forger = ECKey.generate_key("P-256", private=True)
            claims = {"iss": services.settings.issuer, "sub": str(tenant_a.user_ids["admin"])}
            token = jwt.encode({"alg": "ES256", "kid": f"forged-{n}"}, claims, forger)
            assert (await api.post(ME, token=token)).status_code == 401
    finally:
        event.remove(services.engine.sync_engine, "before_cursor_execute", count)
    assert len(reads) <= 1, reads


async def test_keyring_reload_rate_limits(services):
    """Unknown kids reload at most every `unknown_kid_seconds`; known ones never
    before the bound."""
    ring = KeyRing(services.engine, max_age_seconds=60, unknown_kid_seconds=30)
    loads = 0

    def count(conn, cursor, statement, *args):
        nonlocal loads
        loads += "signing_keys" in statement

    event.listen(services.engine.sync_engine, "before_cursor_execute", count)
    try:
        kid = (await ring.signing_key()).kid
        results = await asyncio.gather(
            *(ring.verification_key(f"nope-{n}") for n in range(50)),
            *(ring.verification_key(kid) for _ in range(50)),
        )
    finally:
        event.remove(services.engine.sync_engine, "before_cursor_execute", count)
    assert loads == 1
    assert results[:50] == [None] * 50
    assert all(key is not None and key.kid == kid for key in results[50:])


async def test_catalog_schema_matches_table_definitions(owner):
    """The catalog migrations build exactly the tables tenants/catalog.py declares."""

    def diff(sync_conn):
        context = MigrationContext.configure(
            sync_conn,
            opts={
                "compare_type": True,
                "compare_server_default": False,
                "include_schemas": True,
                "include_name": lambda name, type_, parent: (
                    name == CATALOG if type_ == "schema" else name != "alembic_version"
                ),
            },
        )
        return compare_metadata(context, catalog_metadata)

    async with owner.connect() as conn:
        assert await conn.run_sync(diff) == []


# --- a database of its own: rotation and removal ---------------------------------------


@dataclass
class Keyed:
    settings: Settings
    owner: AsyncEngine
    services: Services
    client: httpx.AsyncClient
    tenant: TenantHandle

    def kehu(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [KEHU, *args], env=self.env(), capture_output=True, text=True, timeout=120
        )

    def start(self, *args: str, times: int) -> list[subprocess.Popen]:
        return [
            subprocess.Popen(
                [KEHU, *args],
                env=self.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for _ in range(times)
        ]

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.settings.database_url,
            "REDIS_URL": self.settings.redis_url,
            "KEHU_KEYS_RELOAD_SECONDS": str(RELOAD),
        }

    async def me(self, token: str) -> int:
        response = await self.client.post(
            "/graphql", json={"query": ME}, headers={"Authorization": f"Bearer {token}"}
        )
        return response.status_code

    async def jwks_kids(self) -> set[str]:
        response = await self.client.get("/oauth/jwks")
        assert response.status_code == 200
        assert max_age(response) <= RELOAD
        assert_public_jwks(response.json())
        return {k["kid"] for k in response.json()["keys"]}

    async def issue(self) -> str:
        """A token as the API process signs it (with its cached key)."""
        return await issue_access_token(
            keyring=self.services.keyring, settings=self.settings, tenant_id=self.tenant.id,
            user_id=self.tenant.user_ids["admin"], roles=["admin"],
        )  # fmt: skip

    async def fresh_token(self) -> str:
        """A token signed with the catalog's active key now, as a new process signs."""
        return await issue_access_token(
            keyring=KeyRing(self.services.engine), settings=self.settings,
            tenant_id=self.tenant.id, user_id=self.tenant.user_ids["admin"], roles=["admin"],
        )  # fmt: skip

    def cli_token(self) -> str:
        """A token as `kehu token` signs it (a fresh process: the catalog's active key)."""
        result = self.kehu("token", self.tenant.slug, f"admin@{self.tenant.slug}.example.com")
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    def rotate(self) -> str:
        result = self.kehu("keys", "rotate")
        assert result.returncode == 0, result.stderr
        return result.stdout.split()[4].rstrip(";")

    async def statuses(self) -> dict[str, str]:
        async with self.owner.connect() as conn:
            rows = await conn.execute(select(signing_keys.c.kid, signing_keys.c.status))
            return {r.kid: r.status for r in rows}

    async def active(self) -> str:
        [kid] = [k for k, s in (await self.statuses()).items() if s == "active"]
        return kid


@pytest.fixture(scope="module")
async def keyed(settings: Settings) -> AsyncIterator[Keyed]:
    own = replace(
        settings,
        database_url=f"{settings.database_url}_keys",
        queue_name=f"{settings.queue_name}:keys",
        keys_reload_seconds=RELOAD,
    )
    await ensure_database(own)
    owner = create_engine(own, owner=True, pool_size=2)
    await upgrade_catalog(owner, app_role=own.app_role)
    services = create_services(own)
    tenant = await make_tenant(owner, services, "keys")
    transport = httpx.ASGITransport(app=create_app(own, services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://kehu.test") as client:
            yield Keyed(own, owner, services, client, tenant)
    finally:
        await close_services(services)
        await owner.dispose()
        dsn = own.database_url.rsplit("/", 1)[0] + "/postgres"
        conn = await asyncpg.connect(dsn.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            name = own.database_url.rsplit("/", 1)[1]
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def test_rotation_signs_with_the_new_key_and_keeps_old_tokens(keyed):
    old_kid = await keyed.active()
    old_token = await keyed.fresh_token()
    assert kid_of(old_token) == old_kid
    assert await keyed.me(old_token) == 200

    result = keyed.kehu("keys", "rotate")
    assert result.returncode == 0, result.stderr
    new_kid = result.stdout.split()[4].rstrip(";")
    assert f"retired {old_kid}" in result.stdout
    assert await keyed.statuses() == {old_kid: "retired", new_kid: "active"}

    # A fresh process signs with the new key at once ...
    cli_token = keyed.cli_token()
    assert kid_of(cli_token) == new_kid

    # ... and the API, which had never seen the kid, verifies it and signs with it
    # within the reload bound; the JWKS has both keys.
    async def verifies_and_signs() -> bool:
        return await keyed.me(cli_token) == 200 and kid_of(await keyed.issue()) == new_kid

    await past_the_reload_bound()
    assert await verifies_and_signs()
    assert await keyed.me(await keyed.issue()) == 200
    assert await keyed.jwks_kids() == {old_kid, new_kid}
    # Tokens signed before the rotation keep working.
    assert await keyed.me(old_token) == 200

    listing = keyed.kehu("keys", "list")
    assert listing.returncode == 0, listing.stderr
    lines = {line.split()[0]: line.split() for line in listing.stdout.splitlines()[1:]}
    assert listing.stdout.splitlines()[0].split() == ["KID", "STATUS", "CREATED", "RETIRED"]
    assert lines[old_kid][1] == "retired" and lines[old_kid][3] != "-"
    assert lines[new_kid][1] == "active" and lines[new_kid][3] == "-"


async def test_removing_a_retired_key_refuses_its_tokens(keyed):
    doomed_kid = await keyed.active()
    doomed_token = await keyed.fresh_token()
    assert kid_of(doomed_token) == doomed_kid
    assert await keyed.me(doomed_token) == 200  # the API's cache holds the key
    new_kid = keyed.rotate()

    refused = keyed.kehu("keys", "remove", new_kid)
    assert refused.returncode == 2
    assert refused.stderr == (
        f"kehu: {new_kid!r} is the active signing key: rotate first, then remove it\n"
    )
    unknown = keyed.kehu("keys", "remove", "no-such-kid")
    assert unknown.returncode == 2
    assert unknown.stderr == "kehu: no signing key 'no-such-kid'\n"
    assert await keyed.me(doomed_token) == 200  # retired still verifies

    removed = keyed.kehu("keys", "remove", doomed_kid)
    assert removed.returncode == 0, removed.stderr
    assert doomed_kid not in await keyed.statuses()
    assert await keyed.active() == new_kid

    await past_the_reload_bound()
    assert await keyed.me(doomed_token) == 401
    assert doomed_kid not in await keyed.jwks_kids()
    # Nothing else changed: the active key still signs and verifies.
    assert await keyed.me(await keyed.fresh_token()) == 200


async def test_concurrent_rotations_leave_exactly_one_active_key(keyed):
    """Four operators rotate at once. The test holds a lock that blocks writes to the
    table until all four are waiting (for it, or for the rotation lock), so they meet."""
    before = await keyed.active()
    count = len(await keyed.statuses())
    waiting = text(
        "SELECT count(*) FROM pg_locks WHERE NOT granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    async with keyed.owner.begin() as holder:
        await holder.execute(text("LOCK TABLE catalog.signing_keys IN SHARE MODE"))
        processes = keyed.start("keys", "rotate", times=4)
        try:

            async def all_waiting() -> bool:
                async with keyed.owner.connect() as conn:
                    return await conn.scalar(waiting) == 4

            # Generous: four interpreters starting on a busy machine.
            await eventually(all_waiting, within=180)
        except BaseException:
            for process in processes:
                process.kill()
                process.communicate()
            raise
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, outputs
    created = {out.split()[4].rstrip(";") for out, _ in outputs}
    retired = {out.split("retired ")[1].split(":")[0] for out, _ in outputs}
    statuses = await keyed.statuses()
    assert len(statuses) == count + 4
    assert [k for k, s in statuses.items() if s == "active"] == [(created - retired).pop()]
    # The rotations ran one after another: each retired the key the previous created.
    assert retired == {before} | (created - {await keyed.active()})
    assert await keyed.me(await keyed.fresh_token()) == 200


async def test_the_database_allows_one_active_key_only(keyed):
    key = ECKey.generate_key("P-256", private=True, auto_kid=True)
    with pytest.raises(IntegrityError):
        async with keyed.owner.begin() as conn:
            await conn.execute(
                insert(signing_keys).values(
                    kid=key.kid, algorithm="ES256", private_jwk=key.as_dict(private=True),
                    public_jwk=key.as_dict(private=False), status="active",
                )
            )  # fmt: skip


async def test_the_app_role_cannot_change_keys(keyed):
    """Only the owner (the CLI) rotates and removes; the API can only read."""
    async with keyed.services.engine.connect() as conn:
        with pytest.raises(Exception, match="permission denied"):
            await conn.execute(text("DELETE FROM catalog.signing_keys"))


def test_kids_never_read_as_command_line_options():
    """`kehu keys remove <kid>`: a thumbprint is base64url, so 1 in 64 would start with
    "-" and be taken for an option."""
    assert not [k.kid for k in (new_signing_key() for _ in range(300)) if k.kid.startswith("-")]
