"""tenant: document number sequences

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23

Additive: one sequence per document type (app/numbering/service.py). A new document
type needs a migration adding its sequence.
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

PREFIXES = ("qt", "so", "sh", "rt", "inv", "cn", "pay", "po", "gr", "st")


def upgrade() -> None:
    for prefix in PREFIXES:
        op.execute(f"CREATE SEQUENCE document_number_{prefix} START 1")


def downgrade() -> None:
    for prefix in PREFIXES:
        op.execute(f"DROP SEQUENCE document_number_{prefix}")
