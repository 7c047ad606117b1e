"""tenant: distributors (经销商) and the partner users who work for them

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-23

Additive and cheap on big tables:
- `customers.is_distributor` boolean NOT NULL DEFAULT false: a constant default, so
  PostgreSQL 11+ adds it without rewriting the table; only distributors are looked up
  by it (the isDistributor filter), so the index is partial and starts out empty.
- `users.distributor_id` (FK customers.id, nullable): the distributor a partner user
  works for. Users are few, so the column and its index cost nothing. That it names a
  customer marked distributor, and that the user's role sees by assignment, is checked
  by the service holding the customer row locked (FOR KEY SHARE) against an unmark:
  a composite foreign key on (id, is_distributor) would need a new unique index on the
  whole customers table for a rule that only matters to a handful of users.
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "customers",
        sa.Column("is_distributor", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index(
        "ix_customers_distributors",
        "customers",
        ["id"],
        unique=False,
        postgresql_where=sa.text("is_distributor AND deleted_at IS NULL"),
    )
    op.add_column("users", sa.Column("distributor_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        "fk_users_distributor_id_customers", "users", "customers", ["distributor_id"], ["id"]
    )
    # A distributor's users (the check on unmarking a distributor, and merges).
    op.create_index(
        "ix_users_distributor_id",
        "users",
        ["distributor_id"],
        unique=False,
        postgresql_where=sa.text("distributor_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_users_distributor_id", "users")
    op.drop_constraint("fk_users_distributor_id_customers", "users", type_="foreignkey")
    op.drop_column("users", "distributor_id")
    op.drop_index("ix_customers_distributors", "customers")
    op.drop_column("customers", "is_distributor")
