"""catalog: accounts, memberships, external identities, password resets, identity
providers, OAuth clients, authorization codes and refresh tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Additive: new tables only.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "catalog"


def _created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text),
        sa.Column("failed_sign_ins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("password_changed_at", sa.DateTime(timezone=True)),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        schema=S,
    )
    op.create_index(
        "uq_accounts_email", "accounts", [sa.text("lower(email)")], unique=True, schema=S
    )
    op.create_table(
        "memberships",
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("user_id", sa.Uuid, nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("account_id", "tenant_id", name="pk_memberships"),
        sa.UniqueConstraint("tenant_id", "user_id", name="uq_memberships_tenant_id_user_id"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{S}.accounts.id"],
            name="fk_memberships_account_id_accounts",
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            [f"{S}.tenants.id"],
            name="fk_memberships_tenant_id_tenants",
            ondelete="CASCADE",
        ),  # fmt: skip
        schema=S,
    )
    op.create_table(
        "external_identities",
        sa.Column("issuer", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("account_id", sa.Uuid, nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("issuer", "subject", name="pk_external_identities"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{S}.accounts.id"],
            name="fk_external_identities_account_id_accounts",
            ondelete="CASCADE",
        ),  # fmt: skip
        schema=S,
    )
    op.create_index(
        "ix_external_identities_account_id", "external_identities", ["account_id"], schema=S
    )
    op.create_table(
        "password_resets",
        sa.Column("token_hash", sa.LargeBinary, nullable=False),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        _created_at(),
        sa.PrimaryKeyConstraint("token_hash", name="pk_password_resets"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{S}.accounts.id"],
            name="fk_password_resets_account_id_accounts",
            ondelete="CASCADE",
        ),  # fmt: skip
        schema=S,
    )
    op.create_index("ix_password_resets_account_id", "password_resets", ["account_id"], schema=S)
    op.create_table(
        "identity_providers",
        sa.Column("tenant_id", sa.Uuid, nullable=False),
        sa.Column("issuer", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("client_secret", sa.Text, nullable=False),
        sa.Column("allowed_domains", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("default_role", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default="true"),
        _created_at(),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_identity_providers"),
        sa.CheckConstraint(
            "cardinality(allowed_domains) > 0", name="ck_identity_providers_allowed_domains"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            [f"{S}.tenants.id"],
            name="fk_identity_providers_tenant_id_tenants",
            ondelete="CASCADE",
        ),  # fmt: skip
        schema=S,
    )
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Uuid),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("secret_hash", sa.LargeBinary),
        sa.Column("redirect_uris", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("web_origins", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("scopes", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("run_as_user_id", sa.Uuid),
        sa.Column("created_by", sa.Uuid),
        _created_at(),
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("client_id", name="pk_oauth_clients"),
        sa.CheckConstraint("kind in ('spa', 'api')", name="ck_oauth_clients_kind"),
        sa.CheckConstraint(
            "(kind = 'spa' AND secret_hash IS NULL AND cardinality(redirect_uris) > 0)"
            " OR (kind = 'api' AND secret_hash IS NOT NULL AND tenant_id IS NOT NULL"
            " AND run_as_user_id IS NOT NULL)",
            name="ck_oauth_clients_kind_shape",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            [f"{S}.tenants.id"],
            name="fk_oauth_clients_tenant_id_tenants",
            ondelete="CASCADE",
        ),  # fmt: skip
        schema=S,
    )
    op.create_index(
        "ix_oauth_clients_tenant_id_created_at",
        "oauth_clients",
        ["tenant_id", "created_at"],
        schema=S,
    )
    for table in ("authorization_codes", "refresh_tokens"):
        secret = "code_hash" if table == "authorization_codes" else "token_hash"
        columns = [
            sa.Column(secret, sa.LargeBinary, nullable=False),
            sa.Column("client_id", sa.Text, nullable=False),
            sa.Column("tenant_id", sa.Uuid, nullable=False),
            sa.Column("user_id", sa.Uuid, nullable=False),
            sa.Column("account_id", sa.Uuid, nullable=False),
            sa.Column("scope", sa.Text, nullable=False, server_default=""),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("used_at", sa.DateTime(timezone=True)),
        ]
        if table == "authorization_codes":
            columns += [
                sa.Column("redirect_uri", sa.Text, nullable=False),
                sa.Column("code_challenge", sa.Text, nullable=False),
                sa.Column("nonce", sa.Text),
                sa.Column("family_id", sa.Uuid),
            ]
        else:
            columns += [
                sa.Column("family_id", sa.Uuid, nullable=False),
                sa.Column("revoked_at", sa.DateTime(timezone=True)),
            ]
        op.create_table(
            table,
            *columns,
            _created_at(),
            sa.PrimaryKeyConstraint(secret, name=f"pk_{table}"),
            sa.ForeignKeyConstraint(
                ["client_id"],
                [f"{S}.oauth_clients.client_id"],
                name=f"fk_{table}_client_id_oauth_clients",
                ondelete="CASCADE",
            ),  # fmt: skip
            sa.ForeignKeyConstraint(
                ["tenant_id"],
                [f"{S}.tenants.id"],
                name=f"fk_{table}_tenant_id_tenants",
                ondelete="CASCADE",
            ),  # fmt: skip
            schema=S,
        )
        op.create_index(f"ix_{table}_expires_at", table, ["expires_at"], schema=S)
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"], schema=S)


def downgrade() -> None:
    for table in (
        "refresh_tokens",
        "authorization_codes",
        "oauth_clients",
        "identity_providers",
        "password_resets",
        "external_identities",
        "memberships",
        "accounts",
    ):
        op.drop_table(table, schema=S)
