"""tenant: activity links to leads and opportunities

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23

Activities and tasks on a lead or an opportunity (app/activities/tables.py):
- `lead_id`, `opportunity_id` on `activities` and `tasks`, nullable, with foreign keys;
- `activities.customer_id` becomes nullable (an activity on a lead that is not
  converted has no customer), with a check that an activity has a customer or a lead;
- an index per new column, partial on the rows that have one (live ones).

Additive and cheap on big tables: one ALTER TABLE per table (one lock, no rewrite:
new nullable columns without a default and dropping NOT NULL change only the
catalog). The foreign keys are added NOT VALID, which skips the scan that would
validate them: every existing row has null links, so they hold, and they are enforced
for every row written from now on. The check is validated (one sequential read of
`activities`, no sort; NOT VALID checks trip SQLAlchemy's reflection). The partial
indexes read each table once per index but hold no entries yet. (CREATE INDEX
CONCURRENTLY would need a step outside the tenant's migration transaction, which the
runner does not have yet.)
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

LINKS = (("lead_id", "leads"), ("opportunity_id", "opportunities"))
# table -> the column its lists sort by after the link (as the customer_id indexes)
SORTED_BY = {"activities": "occurred_at", "tasks": "due_at"}


def upgrade() -> None:
    for table in SORTED_BY:
        changes = [
            *(f"ADD COLUMN {column} uuid" for column, _ in LINKS),
            *(
                f"ADD CONSTRAINT fk_{table}_{column}_{target} FOREIGN KEY ({column})"
                f" REFERENCES {target} (id) NOT VALID"
                for column, target in LINKS
            ),
        ]
        if table == "activities":
            changes += [
                "ALTER COLUMN customer_id DROP NOT NULL",
                "ADD CONSTRAINT ck_activities_customer_or_lead"
                " CHECK (customer_id IS NOT NULL OR lead_id IS NOT NULL)",
            ]
        op.execute(f"ALTER TABLE {table} " + ", ".join(changes))
    for table, sort in SORTED_BY.items():
        for column, _ in LINKS:
            op.create_index(
                f"ix_{table}_{column}", table, [column, sort, "id"],
                postgresql_where=sa.text(f"{column} IS NOT NULL AND deleted_at IS NULL"),
            )  # fmt: skip


def downgrade() -> None:
    for table in SORTED_BY:
        for column, _ in LINKS:
            op.drop_index(f"ix_{table}_{column}", table_name=table)
    # Fails while activities on leads that were never converted (no customer) exist:
    # deciding what becomes of them is not a downgrade's to make.
    op.execute(
        "ALTER TABLE activities DROP CONSTRAINT ck_activities_customer_or_lead,"
        " ALTER COLUMN customer_id SET NOT NULL"
    )
    for table in SORTED_BY:
        op.execute(
            f"ALTER TABLE {table} " + ", ".join(f"DROP COLUMN {column}" for column, _ in LINKS)
        )
