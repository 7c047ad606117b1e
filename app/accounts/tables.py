"""Sign-in identities, in the catalog: an account can belong to several tenants, and
each membership points at that tenant's own `users` row (where role and team live)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from app.db import catalog_metadata

accounts = Table(
    "accounts",
    catalog_metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", Text, nullable=False),
    # NULL for accounts that only sign in through their tenant's identity provider.
    Column("password_hash", Text),
    Column("failed_sign_ins", Integer, nullable=False, server_default="0"),
    Column("locked_until", DateTime(timezone=True)),
    Column("password_changed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Emails are compared case-insensitively; the address is kept as written.
    Index("uq_accounts_email", text("lower(email)"), unique=True),
)

memberships = Table(
    "memberships",
    catalog_metadata,
    Column("account_id", Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # When the account's owner accepted the membership; NULL while it is an invitation
    # (a tenant added an account that already existed: app/accounts/invitations.py).
    # Only accepted memberships are offered at password sign-in.
    Column("accepted_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("account_id", "tenant_id", name="pk_memberships"),
    UniqueConstraint("tenant_id", "user_id"),
)

# A subject at an external OpenID provider, linked to the account it signs in as.
external_identities = Table(
    "external_identities",
    catalog_metadata,
    Column("issuer", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("account_id", Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("issuer", "subject", name="pk_external_identities"),
    Index("ix_external_identities_account_id", "account_id"),
)

# An account's own security history (failed sign-ins with their IP, password resets):
# the account's, not any tenant's, so it is never copied into a tenant's audit log.
# The application role may only read and append (tenants/grants.py); old events go
# through catalog.prune_account_events (migration 0005).
account_events = Table(
    "account_events",
    catalog_metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("account_id", Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("action", Text, nullable=False),
    Column("details", JSONB, nullable=False, server_default="{}"),
    Index("ix_account_events_account_id_at", "account_id", "at"),
    # Retention deletes by age (migration 0005's prune_account_events).
    Index("ix_account_events_at", "at"),
)

# Only a hash of the emailed token is stored: a leaked table resets no password.
password_resets = Table(
    "password_resets",
    catalog_metadata,
    Column("token_hash", LargeBinary, primary_key=True),
    Column("account_id", Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_password_resets_account_id", "account_id"),
)

# A tenant's own OpenID Connect provider for federated sign-in (one per tenant).
identity_providers = Table(
    "identity_providers",
    catalog_metadata,
    Column(
        "tenant_id",
        Uuid,
        ForeignKey("tenants.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("issuer", Text, nullable=False),
    Column("client_id", Text, nullable=False),
    Column("client_secret", Text, nullable=False),
    Column("allowed_domains", ARRAY(Text), nullable=False, server_default="{}"),
    Column("default_role", Text, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default="true"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("cardinality(allowed_domains) > 0", name="allowed_domains"),
)
