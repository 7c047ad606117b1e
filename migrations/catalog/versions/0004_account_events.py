"""catalog: account_events, an account's own sign-in and password history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

Additive: a new table. Failed sign-ins and password resets used to be copied into
the audit log of every tenant the account belongs to; they are now the account's
own (see app/accounts/service.py), so no tenant reads another's sign-in IPs.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "catalog"


def upgrade() -> None:
    op.create_table(
        "account_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("details", JSONB, nullable=False, server_default="{}"),
        sa.PrimaryKeyConstraint("id", name="pk_account_events"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            [f"{S}.accounts.id"],
            name="fk_account_events_account_id_accounts",
            ondelete="CASCADE",
        ),  # fmt: skip
        schema=S,
    )
    op.create_index(
        "ix_account_events_account_id_at", "account_events", ["account_id", "at"], schema=S
    )


def downgrade() -> None:
    op.drop_table("account_events", schema=S)
