"""catalog: signing key rotation (retired_at, at most one active key)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

Additive. Before this revision nothing retired keys, so the backfill only guards a
hand-edited catalog: every active key but the newest is retired, and a retired key
without a date is dated by this migration.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "catalog"


def upgrade() -> None:
    op.add_column("signing_keys", sa.Column("retired_at", sa.DateTime(timezone=True)), schema=S)
    op.execute(
        """
        UPDATE catalog.signing_keys SET status = 'retired'
        WHERE status = 'active' AND kid <> (
            SELECT kid FROM catalog.signing_keys WHERE status = 'active'
            ORDER BY created_at DESC, kid DESC LIMIT 1
        )
        """
    )
    op.execute(
        "UPDATE catalog.signing_keys SET retired_at = now() "
        "WHERE status = 'retired' AND retired_at IS NULL"
    )
    op.create_check_constraint(
        "ck_signing_keys_retired_at",
        "signing_keys",
        "(status = 'retired') = (retired_at IS NOT NULL)",
        schema=S,
    )
    op.create_index(
        "uq_signing_keys_one_active",
        "signing_keys",
        ["status"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("status = 'active'"),
    )


def downgrade() -> None:
    op.drop_index("uq_signing_keys_one_active", "signing_keys", schema=S)
    op.drop_constraint("ck_signing_keys_retired_at", "signing_keys", schema=S)
    op.drop_column("signing_keys", "retired_at", schema=S)
