"""The tenant's OpenID Connect provider for federated sign-in, configured by its admins
(sign_in:manage), and read by the sign-in flow (app/federation/flow.py).

One provider per tenant, in the catalog (`identity_providers`, keyed by tenant id):
the sign-in pages find it before anyone is signed in. Every read and write here names
the caller's tenant, so another tenant's provider looks exactly like none at all.

Configuring stays offline but for a DNS lookup of the issuer's host (an internal
address is refused, app/federation/outbound.py): the issuer's discovery document and
keys are fetched at sign-in (and cached there), never here, so a provider that is down
or not yet set up (not even in DNS) does not stop an admin from saving its settings.

The client secret is write-only: no GraphQL field returns it and no audit record holds
it (only the fact that it changed). The sign-in flow needs it in clear to redeem codes
at the provider's token endpoint, so unlike our own clients' secrets it is not hashed.

Audit records go to the tenant's log in the same transaction, with entity_type
"identity_provider" and entity_id the tenant id: the row's own key, so
`auditLog(filter: {entityType: "identity_provider", entityId: {eq: <tenant id>}})`
is its whole history.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

import strawberry
from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.accounts.tables import identity_providers
from app.api.context import Info
from app.api.errors import UserErrorType, run_mutation
from app.api.permissions import requires
from app.audit.service import Actor, diff, record
from app.auth.roles import resolve_role
from app.errors import UserError, UserErrors
from app.federation.outbound import OutboundPolicy
from app.validation import (
    HTTPS_RULE,
    MAX_URL_LENGTH,
    check_length,
    check_required,
    web_url_problem,
)

MANAGE = "sign_in:manage"
ENTITY = "identity_provider"
MAX_CLIENT_ID_LENGTH = 200
MAX_SECRET_LENGTH = 500
MAX_DOMAINS = 50
# Lower-case labels of letters, digits and inner hyphens, at least two of them.
DOMAIN_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN = re.compile(rf"^{DOMAIN_LABEL}(?:\.{DOMAIN_LABEL})+$")
# Whoever the provider vouches for would become one: admins are made by admins only.
FORBIDDEN_DEFAULT_ROLES = frozenset({"admin"})
# Audit records say that the secret changed, never what it is or was.
SECRET_CHANGED = "changed"
SECRET_HIDDEN = "hidden"

# Every column but the secret: it never leaves the database through the admin API.
PUBLIC_COLUMNS = [c for c in identity_providers.c if c.key != "client_secret"]
HAS_SECRET = (func.length(identity_providers.c.client_secret) > 0).label("has_client_secret")
# The fields an admin sets, as audited (the secret is audited apart).
AUDITED = ("issuer", "client_id", "allowed_domains", "default_role", "enabled")


@dataclass(frozen=True)
class IdentityProviderConfig:
    """What the sign-in flow needs, secret included."""

    tenant_id: uuid.UUID
    issuer: str
    client_id: str
    client_secret: str
    allowed_domains: tuple[str, ...]
    default_role: str
    enabled: bool


async def load_identity_provider(
    conn: AsyncConnection, tenant_id: uuid.UUID
) -> IdentityProviderConfig | None:
    """The tenant's provider, enabled or not (the caller decides), or None."""
    t = identity_providers.c
    row = (await conn.execute(select(identity_providers).where(t.tenant_id == tenant_id))).first()
    if row is None:
        return None
    return IdentityProviderConfig(
        tenant_id=row.tenant_id,
        issuer=row.issuer,
        client_id=row.client_id,
        client_secret=row.client_secret,
        allowed_domains=tuple(row.allowed_domains),
        default_role=row.default_role,
        enabled=row.enabled,
    )


# --- checks (pure) ----------------------------------------------------------------


def issuer_problem(value: str, policy: OutboundPolicy) -> str | None:
    """Why `value` is no acceptable issuer as written, or None (no lookup). The issuer
    is compared exactly with the discovery document's and the ID tokens' `iss`, so it
    is kept as written."""
    # OpenID Connect Discovery: an issuer has no query or fragment (even an empty one).
    if "?" in value or "#" in value:
        return "must not have a query or fragment"
    reason = web_url_problem(value)
    # Browsers may be sent to loopback http, but the server fetches the issuer itself:
    # which schemes and hosts it may fetch is the outbound policy's to say.
    if reason is not None and reason != HTTPS_RULE:
        return reason
    return policy.scheme_problem(value)


async def check_issuer(issuer: str, policy: OutboundPolicy) -> list[UserError]:
    """Also refuses an issuer whose host resolves to a private, loopback, link-local or
    otherwise internal address: anyone can make the server fetch it by starting a
    sign-in. Sign-in checks again (DNS can change since); this is the early warning."""
    if error := check_required("issuer", issuer, max_length=MAX_URL_LENGTH):
        return [error]
    reason = issuer_problem(issuer, policy) or await policy.configuration_problem(issuer)
    return [UserError("issuer", "INVALID", f"issuer {reason}")] if reason else []


def check_client_secret(secret: str | None, *, creating: bool) -> list[UserError]:
    """None keeps the stored secret, so it is only missing when there is none yet; an
    empty one is a mistake either way (omit the field to keep the secret)."""
    if secret is None:
        if creating:
            return [UserError("clientSecret", "REQUIRED", "clientSecret is required")]
        return []
    if not secret:
        message = "clientSecret must not be empty; leave it out to keep the stored one"
        return [UserError("clientSecret", "REQUIRED", message)]
    error = check_length("clientSecret", secret, max_length=MAX_SECRET_LENGTH)
    return [error] if error else []


def normal_domains(domains: list[str]) -> list[str]:
    """Trimmed, lower case, sorted and unique: the same set in another spelling or
    order is no change. The sign-in flow compares an email's lower-cased domain."""
    return sorted({d.strip().lower() for d in domains})


def check_domains(domains: list[str]) -> list[UserError]:
    field = "allowedDomains"
    if not domains:
        return [UserError(field, "REQUIRED", "allowedDomains needs at least one domain")]
    if len(domains) > MAX_DOMAINS:
        return [UserError(field, "TOO_LONG", f"allowedDomains may hold at most {MAX_DOMAINS}")]
    # Exact names only: a wildcard or an address would let in more than was meant.
    return [
        UserError(field, "INVALID",
                  f"{d!r} is not a plain domain name such as example.com (no @, * or scheme)")
        for d in domains
        if len(d) > 253 or not DOMAIN.match(d)
    ]  # fmt: skip


async def check_default_role(conn: AsyncConnection, role: str) -> list[UserError]:
    """An existing role (built-in, or the tenant's own) other than admin. FORBIDDEN,
    not INVALID: the role exists and could be given by hand, just not to whoever the
    provider vouches for."""
    if error := check_required("defaultRole", role, max_length=50):
        return [error]
    if role in FORBIDDEN_DEFAULT_ROLES:
        message = "newcomers cannot become admins automatically; choose a lesser role"
        return [UserError("defaultRole", "FORBIDDEN", message)]
    if await resolve_role(conn, role) is None:
        return [UserError("defaultRole", "NOT_FOUND", f"no role named {role!r}")]
    return []


# --- writes (flush, never commit: run_mutation owns the transaction) -------------------


@dataclass(frozen=True)
class ProviderSettings:
    """An admin's input, trimmed; client_secret None means "keep the stored one"."""

    issuer: str
    client_id: str
    client_secret: str | None
    allowed_domains: list[str]
    default_role: str
    enabled: bool

    @classmethod
    def of(cls, issuer: str, client_id: str, client_secret: str | None,
           allowed_domains: list[str], default_role: str, enabled: bool) -> ProviderSettings:  # fmt: skip
        # Pasted secrets often carry a stray space or newline; real ones never do.
        secret = client_secret.strip() if client_secret is not None else None
        return cls(issuer.strip(), client_id.strip(), secret, normal_domains(allowed_domains),
                   default_role.strip(), enabled)  # fmt: skip

    def values(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in AUDITED}


async def _check(
    conn: AsyncConnection, settings: ProviderSettings, issuer_errors: list[UserError], *,
    creating: bool,
) -> list[UserError]:  # fmt: skip
    client_id = check_required("clientId", settings.client_id, max_length=MAX_CLIENT_ID_LENGTH)
    return (
        issuer_errors
        + ([client_id] if client_id else [])
        + check_client_secret(settings.client_secret, creating=creating)
        + check_domains(settings.allowed_domains)
        + await check_default_role(conn, settings.default_role)
    )


async def _lock(conn: AsyncConnection, tenant_id: uuid.UUID) -> Row | None:
    query = select(identity_providers).where(identity_providers.c.tenant_id == tenant_id)
    return (await conn.execute(query.with_for_update())).first()


async def _insert(conn: AsyncConnection, tenant_id: uuid.UUID, values: dict) -> Row | None:
    """The new row, or None if another request created the tenant's provider first."""
    statement = (
        insert(identity_providers)
        .values(tenant_id=tenant_id, **values)
        .on_conflict_do_nothing(index_elements=["tenant_id"])
        .returning(*PUBLIC_COLUMNS, HAS_SECRET)
    )
    return (await conn.execute(statement)).first()


async def _update(conn: AsyncConnection, tenant_id: uuid.UUID, values: dict) -> Row:
    statement = (
        update(identity_providers)
        .where(identity_providers.c.tenant_id == tenant_id)
        .values(**values, updated_at=func.now())
        .returning(*PUBLIC_COLUMNS, HAS_SECRET)
    )
    return (await conn.execute(statement)).one()


async def _public_row(conn: AsyncConnection, tenant_id: uuid.UUID) -> Row | None:
    query = select(*PUBLIC_COLUMNS, HAS_SECRET).where(identity_providers.c.tenant_id == tenant_id)
    return (await conn.execute(query)).first()


async def _audit(
    conn: AsyncConnection, actor: Actor, tenant_id: uuid.UUID, action: str, changes: dict
) -> None:
    await record(
        conn, actor=actor, action=action, entity_type=ENTITY, entity_id=tenant_id,
        changes=changes,
    )  # fmt: skip


def _changes(current: Row | None, values: dict[str, Any], secret: str | None) -> dict:
    """The audited difference; the secret appears only as the word "changed"."""
    before = {k: getattr(current, k) for k in AUDITED} if current is not None else None
    if before is not None:
        before["allowed_domains"] = list(before["allowed_domains"])
    changes = diff(before, values)
    if secret is not None and (current is None or secret != current.client_secret):
        changes["client_secret"] = {
            "from": None if current is None else SECRET_HIDDEN,
            "to": SECRET_CHANGED,
        }
    return changes


async def configure_identity_provider(
    conn: AsyncConnection, actor: Actor, tenant_id: uuid.UUID, settings: ProviderSettings,
    policy: OutboundPolicy,
) -> Row:  # fmt: skip
    """Create or replace the tenant's provider; returns it without the secret. Nothing
    changes (and nothing is audited) when every field is as stored already."""
    # Before the row lock: a slow DNS lookup must not hold up other admins.
    issuer_errors = await check_issuer(settings.issuer, policy)
    current = await _lock(conn, tenant_id)
    if errors := await _check(conn, settings, issuer_errors, creating=current is None):
        raise UserErrors(errors)
    values = settings.values()
    secret = settings.client_secret
    if current is None:
        row = await _insert(conn, tenant_id, {**values, "client_secret": secret})
        if row is not None:
            await _audit(conn, actor, tenant_id, "identity_provider.configured",
                         _changes(None, values, secret))  # fmt: skip
            return row
        # Another admin created it meanwhile (the insert waited for them): update theirs.
        current = await _lock(conn, tenant_id)
    changes = _changes(current, values, secret)
    if not changes:
        return await _public_row(conn, tenant_id)
    if secret is not None:
        values["client_secret"] = secret
    row = await _update(conn, tenant_id, values)
    await _audit(conn, actor, tenant_id, "identity_provider.configured", changes)
    return row


async def remove_identity_provider(
    conn: AsyncConnection, actor: Actor, tenant_id: uuid.UUID
) -> bool:
    """Federated sign-in stops at once; users it created stay (with their roles).
    Removing when there is none is no error (a retried request succeeds): False."""
    statement = (
        delete(identity_providers)
        .where(identity_providers.c.tenant_id == tenant_id)
        .returning(*PUBLIC_COLUMNS)
    )
    row = (await conn.execute(statement)).first()
    if row is None:
        return False
    before = {k: getattr(row, k) for k in AUDITED}
    before["allowed_domains"] = list(before["allowed_domains"])
    changes = diff(before, dict.fromkeys(AUDITED))
    await _audit(conn, actor, tenant_id, "identity_provider.removed", changes)
    return True


# --- GraphQL ------------------------------------------------------------------------


@strawberry.type(
    description="The tenant's OpenID Connect provider for federated sign-in. Its client "
    "secret is write-only: only hasClientSecret tells it is there."
)
class IdentityProvider:
    issuer: str = strawberry.field(
        description="Exactly as the provider's discovery document and ID tokens state it."
    )
    client_id: str = strawberry.field(description="Our client id at the provider.")
    allowed_domains: list[str] = strawberry.field(
        description="Only verified email addresses at these domains may sign in."
    )
    default_role: str = strawberry.field(
        description="The role given to whoever it signs in for the first time."
    )
    enabled: bool
    has_client_secret: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: Row) -> IdentityProvider:
        return cls(
            issuer=row.issuer,
            client_id=row.client_id,
            allowed_domains=list(row.allowed_domains),
            default_role=row.default_role,
            enabled=row.enabled,
            has_client_secret=row.has_client_secret,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.input
class ConfigureIdentityProviderInput:
    issuer: str = strawberry.field(
        description="An https:// URL of a public host, no query or fragment; its discovery "
        "document is fetched at sign-in, not now."
    )
    client_id: str
    client_secret: str | None = strawberry.field(
        default=None, description="Required the first time; left out, the stored one is kept."
    )
    allowed_domains: list[str] = strawberry.field(
        description="Plain domain names such as example.com: no @, wildcard or scheme."
    )
    default_role: str = strawberry.field(
        description="An existing role other than admin, for users signing in the first time."
    )
    enabled: bool = True


@strawberry.type
class ConfigureIdentityProviderPayload:
    identity_provider: IdentityProvider | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class RemoveIdentityProviderPayload:
    removed: bool = strawberry.field(
        default=False, description="False if there was none to remove."
    )
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class IdentityProviderQueries:
    @strawberry.field(extensions=requires(MANAGE), description="Null if none is configured.")
    async def identity_provider(self, info: Info) -> IdentityProvider | None:
        async with info.context.db.read() as conn:
            row = await _public_row(conn, info.context.principal.tenant.id)
        return IdentityProvider.from_row(row) if row else None


@strawberry.type
class IdentityProviderMutations:
    @strawberry.mutation(
        extensions=requires(MANAGE),
        description="Create or replace the tenant's provider. Offline: the provider is "
        "first contacted when someone signs in through it.",
    )
    async def configure_identity_provider(
        self, info: Info, input: ConfigureIdentityProviderInput
    ) -> ConfigureIdentityProviderPayload:
        settings = ProviderSettings.of(
            input.issuer, input.client_id, input.client_secret, input.allowed_domains,
            input.default_role, input.enabled,
        )  # fmt: skip

        policy = OutboundPolicy.parse(info.context.services.settings.federation_allow_private_hosts)

        async def change(conn) -> dict:
            row = await configure_identity_provider(
                conn, info.context.actor, info.context.principal.tenant.id, settings, policy
            )
            return {"identity_provider": IdentityProvider.from_row(row)}

        return await run_mutation(info, ConfigureIdentityProviderPayload, change)

    @strawberry.mutation(
        extensions=requires(MANAGE),
        description="Federated sign-in stops at once; the users it created stay.",
    )
    async def remove_identity_provider(self, info: Info) -> RemoveIdentityProviderPayload:
        async def change(conn) -> dict:
            removed = await remove_identity_provider(
                conn, info.context.actor, info.context.principal.tenant.id
            )
            return {"removed": removed}

        return await run_mutation(info, RemoveIdentityProviderPayload, change)
