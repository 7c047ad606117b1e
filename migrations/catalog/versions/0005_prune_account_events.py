"""catalog: prune_account_events(), the one way old account events are deleted

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

The application role may only read and append catalog.account_events (tenants/
grants.py), so that a compromised API process cannot erase the trace of what it did
to accounts. The worker, which runs as that role, still has to delete events past
their retention: this function, running as its owner, deletes only events older
than `keep` and refuses a `keep` under 90 days, the span the account page shows.
At most `batch` rows per call: each call is one short transaction, and the index on
`at` lets each find its rows without scanning the table.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The table is days old when this runs: a plain CREATE INDEX blocks its inserts
    # (failed sign-ins) for a moment only.
    op.create_index("ix_account_events_at", "account_events", ["at"], schema="catalog")
    # search_path is pinned: a SECURITY DEFINER function must not resolve names through
    # schemas its caller could create objects in.
    op.execute(
        """
        CREATE FUNCTION catalog.prune_account_events(keep interval, batch integer)
        RETURNS integer
        LANGUAGE plpgsql
        SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $$
        DECLARE
            deleted integer;
        BEGIN
            IF keep IS NULL OR keep < interval '90 days' THEN
                RAISE EXCEPTION 'account events are kept at least 90 days, not %', keep
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF batch IS NULL OR batch < 1 OR batch > 10000 THEN
                RAISE EXCEPTION 'a batch is 1 to 10000 rows, not %', batch
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            DELETE FROM catalog.account_events
            WHERE id IN (
                SELECT id FROM catalog.account_events
                WHERE at < now() - keep
                ORDER BY at
                LIMIT batch
            );
            GET DIAGNOSTICS deleted = ROW_COUNT;
            RETURN deleted;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION catalog.prune_account_events(interval, integer)")
    op.drop_index("ix_account_events_at", "account_events", schema="catalog")
