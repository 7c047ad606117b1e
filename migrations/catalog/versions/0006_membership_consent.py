"""catalog: memberships.accepted_at, the account owner's consent to a membership

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24

A tenant admin who creates a user with the email of an existing account used to add
their tenant to that person's tenant chooser at once. A membership of an existing
account now waits (accepted_at NULL) until its owner accepts it on
/account/invitations (app/accounts/invitations.py); the memberships there before
this revision were linked under the old rule and stay usable: accepted when made.

Cheap: adding a nullable column without a default only changes the catalog entry,
and the catalog holds one row per member of each tenant, so the backfill is one
short UPDATE. Both wait at most a few seconds for the table's lock rather than
queueing every sign-in behind a long one.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

S = "catalog"


def upgrade() -> None:
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.add_column("memberships", sa.Column("accepted_at", sa.DateTime(timezone=True)), schema=S)
    op.execute("UPDATE catalog.memberships SET accepted_at = created_at WHERE accepted_at IS NULL")
    op.execute("SET LOCAL lock_timeout TO DEFAULT")


def downgrade() -> None:
    op.drop_column("memberships", "accepted_at", schema=S)
