"""The OAuth client registry's rules, for tenant admins (clients:manage) and operators.

API clients are server-side integrations: they authenticate with their id and a secret
(client_credentials) and act as their run-as user, within their scopes. SPA clients are
single-page front ends: public clients (PKCE) whose web origins get CORS
(app/oauth/cors.py). Both live in the catalog (the token endpoint finds the tenant
from the client), so every read and write here names the caller's tenant: another
tenant's client looks exactly like one that does not exist.

Audit records go to the tenant's log in the same transaction. `audit_log.entity_id` is
a UUID and client ids are text, so entity_id stays NULL and the client id travels in
`changes` as "client_id". Secrets and their hashes are never audited nor selected.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Row, Select, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.ids import parse_uuid
from app.api.pagination import SortKey
from app.audit.service import Actor, diff, record
from app.auth.permissions import PERMISSIONS
from app.auth.principal import Principal
from app.errors import UserError, UserErrors, fail
from app.oauth.secrets import hash_secret, new_secret
from app.oauth.tables import oauth_clients
from app.users.tables import users
from app.validation import check_required, web_url_problem

MANAGE = "clients:manage"
# Running as someone else hands out their data scope: only for those who could
# already change that user's role.
RUN_AS_OTHERS = "users:manage"
MAX_URIS = 20

# Every column but the secret's hash: it never leaves the database once written.
CLIENT_COLUMNS = [c for c in oauth_clients.c if c.key != "secret_hash"]
NEWEST_FIRST = [SortKey(oauth_clients.c.created_at, True), SortKey(oauth_clients.c.client_id, True)]


# --- checks (pure) ----------------------------------------------------------------


def new_client_id() -> str:
    # Not a secret (it travels in URLs and logs), only unguessable enough to be unique.
    return "kehu_" + secrets.token_urlsafe(16)


def check_name(name: str | None) -> list[UserError]:
    error = check_required("name", name, max_length=200)
    return [error] if error else []


def normal_scopes(scopes: Iterable[str]) -> list[str]:
    """Sorted and unique, so the same set in another order is no change."""
    return sorted({s.strip() for s in scopes})


def check_scopes(scopes: list[str], granted: frozenset[str]) -> list[UserError]:
    if not scopes:
        return [UserError("scopes", "REQUIRED", "scopes needs at least one permission")]
    if unknown := [s for s in scopes if s not in PERMISSIONS]:
        return [UserError("scopes", "INVALID", f"unknown permissions: {', '.join(unknown)}")]
    # A client never does more than whoever registered it may do.
    if beyond := [s for s in scopes if s not in granted]:
        return [
            UserError(
                "scopes", "FORBIDDEN", f"you cannot grant what you do not hold: {', '.join(beyond)}"
            )
        ]
    return []


def redirect_uri_problem(value: str) -> str | None:
    return web_url_problem(value)


def canonical_origin(value: str) -> str:
    """The origin as browsers send it: lower case, default port left out."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = parts.port
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def web_origin_problem(value: str) -> str | None:
    if problem := web_url_problem(value):
        return problem
    parts = urlsplit(value)
    if parts.path or parts.query or value.endswith("?"):
        return "must be scheme://host[:port] only: no path, query or trailing slash"
    # CORS compares strings: one spelled otherwise than the browser's never matches.
    if value != (canonical := canonical_origin(value)):
        return f"must be written as browsers send it: {canonical}"
    return None


def check_urls(field: str, values: list[str], problem, *, required: bool) -> list[UserError]:
    if required and not values:
        return [UserError(field, "REQUIRED", f"{field} needs at least one URL")]
    if len(values) > MAX_URIS:
        return [UserError(field, "TOO_LONG", f"{field} may hold at most {MAX_URIS} URLs")]
    return [
        UserError(field, "INVALID", f"{field}[{i}] {reason}")
        for i, value in enumerate(values)
        if (reason := problem(value))
    ]


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


# --- reads --------------------------------------------------------------------------


def tenant_clients(tenant_id: uuid.UUID, kind: str) -> Select:
    """The tenant's clients of one kind; SPA clients are gone once removed."""
    c = oauth_clients.c
    query = select(*CLIENT_COLUMNS).where(c.tenant_id == tenant_id, c.kind == kind)
    return query.where(c.revoked_at.is_(None)) if kind == "spa" else query


async def get_client(conn: AsyncConnection, tenant_id: uuid.UUID, kind: str, client_id: str):
    query = tenant_clients(tenant_id, kind).where(oauth_clients.c.client_id == client_id)
    return (await conn.execute(query)).first()


async def lock_client(conn: AsyncConnection, who: Principal, kind: str, client_id: str) -> Row:
    query = tenant_clients(who.tenant.id, kind).where(oauth_clients.c.client_id == client_id)
    row = (await conn.execute(query.with_for_update())).first()
    if row is None:
        raise fail("id", "NOT_FOUND", f"no such {'API' if kind == 'api' else 'SPA'} client")
    return row


async def check_run_as(conn: AsyncConnection, who: Principal, value: object) -> list[UserError]:
    """The run-as user must be an active user of the caller's tenant (the connection is
    bound to it, so another tenant's user is simply not found)."""
    user_id = parse_uuid(value)
    found = user_id is not None and await conn.scalar(
        select(users.c.id).where(users.c.id == user_id, users.c.active)
    )
    if not found:
        return [UserError("runAsUserId", "NOT_FOUND", "no such active user")]
    if user_id != who.user_id and not who.can(RUN_AS_OTHERS):
        message = f"running as another user needs the {RUN_AS_OTHERS} permission"
        return [UserError("runAsUserId", "FORBIDDEN", message)]
    return []


# --- writes (flush, never commit: run_mutation owns the transaction) -------------------


def _actor(who: Principal) -> Actor:
    return Actor("user", who.user_id)


async def _audit(
    conn: AsyncConnection,
    who: Principal,
    action: str,
    row: Row,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    changes = {"client_id": {"from": None if before is None else row.client_id,
                             "to": row.client_id}, **diff(before, after)}  # fmt: skip
    entity = action.split(".", 1)[0]
    await record(
        conn, actor=_actor(who), action=action, entity_type=entity, entity_id=None,
        changes=changes,
    )  # fmt: skip


async def _update(conn: AsyncConnection, client_id: str, values: dict[str, Any]) -> Row:
    statement = (
        update(oauth_clients)
        .where(oauth_clients.c.client_id == client_id)
        .values(**values)
        .returning(*CLIENT_COLUMNS)
    )
    return (await conn.execute(statement)).one()


async def _insert(conn: AsyncConnection, who: Principal, kind: str, values: dict) -> Row:
    statement = (
        insert(oauth_clients)
        .values(
            client_id=new_client_id(),
            tenant_id=who.tenant.id,
            kind=kind,
            created_by=who.user_id,
            **values,
        )
        .returning(*CLIENT_COLUMNS)
    )
    return (await conn.execute(statement)).one()


async def _apply(
    conn: AsyncConnection, who: Principal, current: Row, values: dict[str, Any], action: str
) -> Row:
    """Write the fields that differ from `current` and audit them; no change, no write."""
    before = {k: getattr(current, k) for k in values}
    if not diff(before, values):
        return current
    row = await _update(conn, current.client_id, values)
    await _audit(conn, who, action, row, before, values)
    return row


def _raise_any(errors: list[UserError]) -> None:
    if errors:
        raise UserErrors(errors)


async def _live_api_client(conn: AsyncConnection, who: Principal, client_id: str) -> Row:
    current = await lock_client(conn, who, "api", client_id)
    if current.revoked_at is not None:
        raise fail("id", "REVOKED", "this API client is revoked; create a new one")
    return current


async def create_api_client(
    conn: AsyncConnection, who: Principal, *, name: str, scopes: list[str], run_as: object | None
) -> tuple[Row, str]:
    """The new client and its secret, which exists only in this return value."""
    scopes = normal_scopes(scopes)
    run_as = who.user_id if run_as is None else run_as
    errors = check_name(name) + check_scopes(scopes, who.permissions)
    _raise_any(errors + await check_run_as(conn, who, run_as))
    secret = new_secret()
    values = {"name": name.strip(), "scopes": scopes, "run_as_user_id": parse_uuid(run_as)}
    row = await _insert(conn, who, "api", {**values, "secret_hash": hash_secret(secret)})
    await _audit(conn, who, "api_client.created", row, None, values)
    return row, secret


async def update_api_client(
    conn: AsyncConnection, who: Principal, client_id: str, *, name: str | None,
    scopes: list[str] | None,
) -> Row:  # fmt: skip
    current = await _live_api_client(conn, who, client_id)
    values: dict[str, Any] = {}
    errors: list[UserError] = []
    if name is not None:
        errors += check_name(name)
        values["name"] = name.strip()
    if scopes is not None:
        values["scopes"] = normal_scopes(scopes)
        errors += check_scopes(values["scopes"], who.permissions)
    _raise_any(errors)
    return await _apply(conn, who, current, values, "api_client.updated")


async def rotate_api_client_secret(
    conn: AsyncConnection, who: Principal, client_id: str
) -> tuple[Row, str]:
    """A new secret; the old hash is overwritten, so the old secret fails at once."""
    current = await _live_api_client(conn, who, client_id)
    secret = new_secret()
    row = await _update(
        conn, client_id, {"secret_hash": hash_secret(secret), "secret_rotated_at": func.now()}
    )
    before = {"secret_rotated_at": current.secret_rotated_at}
    await _audit(conn, who, "api_client.secret_rotated", row, before,
                 {"secret_rotated_at": row.secret_rotated_at})  # fmt: skip
    return row, secret


async def revoke_api_client(conn: AsyncConnection, who: Principal, client_id: str) -> Row:
    """Final. Revoking a revoked client returns it as it is: a retried request
    succeeds, and revokedAt keeps the first revocation's time (no second record)."""
    current = await lock_client(conn, who, "api", client_id)
    if current.revoked_at is not None:
        return current
    row = await _update(conn, client_id, {"revoked_at": func.now()})
    await _audit(conn, who, "api_client.revoked", row, {"revoked_at": None},
                 {"revoked_at": row.revoked_at})  # fmt: skip
    return row


def _spa_values(
    name: str | None, redirect_uris: list[str] | None, web_origins: list[str] | None
) -> tuple[dict[str, Any], list[UserError]]:
    """The given fields, checked; None means "leave as is"."""
    values: dict[str, Any] = {}
    errors: list[UserError] = []
    if name is not None:
        errors += check_name(name)
        values["name"] = name.strip()
    if redirect_uris is not None:
        values["redirect_uris"] = unique(redirect_uris)
        errors += check_urls("redirectUris", values["redirect_uris"], redirect_uri_problem,
                             required=True)  # fmt: skip
    if web_origins is not None:
        values["web_origins"] = unique(web_origins)
        errors += check_urls("webOrigins", values["web_origins"], web_origin_problem,
                             required=False)  # fmt: skip
    return values, errors


async def register_spa_client(
    conn: AsyncConnection, who: Principal, *, name: str, redirect_uris: list[str],
    web_origins: list[str],
) -> Row:  # fmt: skip
    values, errors = _spa_values(name, redirect_uris, web_origins)
    _raise_any(errors)
    row = await _insert(conn, who, "spa", values)
    await _audit(conn, who, "spa_client.registered", row, None, values)
    return row


async def update_spa_client(
    conn: AsyncConnection, who: Principal, client_id: str, *, name: str | None,
    redirect_uris: list[str] | None, web_origins: list[str] | None,
) -> Row:  # fmt: skip
    current = await lock_client(conn, who, "spa", client_id)
    values, errors = _spa_values(name, redirect_uris, web_origins)
    _raise_any(errors)
    return await _apply(conn, who, current, values, "spa_client.updated")


async def remove_spa_client(conn: AsyncConnection, who: Principal, client_id: str) -> Row:
    """The row stays (revoked_at set) so the id is never reused and the authorization
    server refuses it; for the admin it is gone: listed no more, NOT_FOUND after."""
    current = await lock_client(conn, who, "spa", client_id)
    row = await _update(conn, client_id, {"revoked_at": func.now()})
    await _audit(conn, who, "spa_client.removed", row, {"revoked_at": current.revoked_at},
                 {"revoked_at": row.revoked_at})  # fmt: skip
    return row
