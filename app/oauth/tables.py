"""The authorization server's state, in the catalog: the token endpoint learns the
tenant from the client or the token, so these cannot live in a tenant's schema.
Every secret (client secret, code, refresh token) is stored only as a SHA-256 hash:
they are high-entropy random strings, so a slow hash would add nothing."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY

from app.db import catalog_metadata

oauth_clients = Table(
    "oauth_clients",
    catalog_metadata,
    Column("client_id", Text, primary_key=True),
    # NULL: a first-party client any tenant's users may sign in to (the tenant is
    # chosen at sign-in); otherwise the client belongs to, and only sees, one tenant.
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="CASCADE")),
    Column("kind", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("secret_hash", LargeBinary),
    Column("redirect_uris", ARRAY(Text), nullable=False, server_default="{}"),
    Column("web_origins", ARRAY(Text), nullable=False, server_default="{}"),
    # Bounds what the client's tokens may do, whatever the role behind them.
    Column("scopes", ARRAY(Text), nullable=False, server_default="{}"),
    # An API client acts as this tenant user (data scope from the user's role,
    # permissions the intersection of that role and the client's scopes).
    Column("run_as_user_id", Uuid),
    Column("created_by", Uuid),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("secret_rotated_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    CheckConstraint("kind in ('spa', 'api')", name="kind"),
    CheckConstraint(
        "(kind = 'spa' AND secret_hash IS NULL AND cardinality(redirect_uris) > 0)"
        " OR (kind = 'api' AND secret_hash IS NOT NULL AND tenant_id IS NOT NULL"
        " AND run_as_user_id IS NOT NULL)",
        name="kind_shape",
    ),
    Index("ix_oauth_clients_tenant_id_created_at", "tenant_id", "created_at"),
)

authorization_codes = Table(
    "authorization_codes",
    catalog_metadata,
    Column("code_hash", LargeBinary, primary_key=True),
    Column(
        "client_id",
        Text,
        ForeignKey("oauth_clients.client_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("account_id", Uuid, nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", Text, nullable=False, server_default=""),
    Column("code_challenge", Text, nullable=False),
    Column("nonce", Text),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    # The refresh-token family the code was redeemed for: a second redemption of the
    # same code revokes it (RFC 6749 section 4.1.2).
    Column("family_id", Uuid),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_authorization_codes_expires_at", "expires_at"),
)

# One row per refresh token ever issued; a family is one sign-in's chain of rotations.
refresh_tokens = Table(
    "refresh_tokens",
    catalog_metadata,
    Column("token_hash", LargeBinary, primary_key=True),
    Column("family_id", Uuid, nullable=False),
    Column(
        "client_id",
        Text,
        ForeignKey("oauth_clients.client_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("tenant_id", Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("account_id", Uuid, nullable=False),
    Column("scope", Text, nullable=False, server_default=""),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_refresh_tokens_family_id", "family_id"),
    Index("ix_refresh_tokens_expires_at", "expires_at"),
)
