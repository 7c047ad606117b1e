"""tenant: opportunity stage stays and their daily counts

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23

Additive: four tables derived from `opportunity_stage_history`, kept up to date by
triggers in the same transaction as every write of the history (or of an
opportunity's owner or soft delete), and filled here from the existing history.
`pipelineSummary` reads them instead of walking the history with window functions
(app/pipeline/analytics.py explains the numbers):

- `opportunity_stage_stays`: one row per history row, the stay it starts: its stage,
  when it was entered and left (the next history row, by changed_at then id) and for
  what stage, when the opportunity last entered the same stage before
  (`prior_entry_at`, null the first time) and `reached_set`: the stages entered at
  or after it (itself and rows at the same instant included), as an id of
- `stage_sets`: each distinct, sorted set of stage ids once (a handful per pipeline;
  rank-free, so reordering stages changes nothing stored);
- `stage_entry_days`: first entries (`prior_entry_at` null) of live opportunities per
  stage, owner, UTC day and reached set;
- `stage_exit_days`: stays of live opportunities that ended, per stage, owner and UTC
  day, with their total length in seconds.

Why triggers: every writer of the history is covered without knowing it (the
pipeline service, lead conversion through it, fixtures and repairs in SQL, deletes),
and what is derived is always exactly the history as committed. Each refresh
recomputes the stays of the opportunities touched from their whole history (a few
rows each) and applies the difference to the daily counts. Two writers of one
opportunity are serialised on its row (FOR NO KEY UPDATE, which the app's FOR UPDATE
already holds), so stays never overlap; the daily counts are upserted in key order
in one statement per refresh, so concurrent refreshes queue instead of deadlocking.
The functions take the tenant schema (TG_TABLE_SCHEMA) and qualify every name: the
application role's search_path names no tenant schema.

Backfill: the same refresh over every opportunity, inside this migration's
transaction, after the triggers exist (creating them locks out concurrent writes of
the history and of opportunities until commit, so nothing is missed).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The stays of the opportunities in $1 (every opportunity when the filter is left
# out), worked out afresh from their history. %1$I is the tenant schema, %2$s the
# filter. `later`: the stages entered at or after each row, peers included.
FRESH = r"""
SELECT f.id, f.opportunity_id, f.stage_id, f.entered_at, f.left_at, f.next_stage_id,
       f.prior_entry_at,
       ARRAY(SELECT DISTINCT s FROM pg_catalog.unnest(f.later) AS s ORDER BY s) AS reached
FROM (
    SELECT h.id, h.opportunity_id, h.to_stage_id AS stage_id, h.changed_at AS entered_at,
           lead(h.changed_at) OVER w AS left_at, lead(h.to_stage_id) OVER w AS next_stage_id,
           lag(h.changed_at) OVER (PARTITION BY h.opportunity_id, h.to_stage_id
                                   ORDER BY h.changed_at, h.id) AS prior_entry_at,
           array_agg(h.to_stage_id) OVER (PARTITION BY h.opportunity_id
                                          ORDER BY h.changed_at DESC
                                          RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
               AS later
    FROM %1$I.opportunity_stage_history h
    %2$s
    WINDOW w AS (PARTITION BY h.opportunity_id ORDER BY h.changed_at, h.id)
) f
"""

# Applies `changes` (sign +1 or -1, owner_id and a stay's columns) to the daily
# counts, in key order.
APPLY = r"""
entries AS (
    INSERT INTO %1$I.stage_entry_days AS d (stage_id, owner_id, day, reached_set, entered)
    SELECT c.stage_id, c.owner_id, (c.entered_at AT TIME ZONE 'UTC')::date, c.reached_set,
           sum(c.sign)
    FROM changes c
    WHERE c.prior_entry_at IS NULL
    GROUP BY 1, 2, 3, 4
    HAVING sum(c.sign) <> 0
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (stage_id, owner_id, day, reached_set)
        DO UPDATE SET entered = d.entered + excluded.entered
    RETURNING 1
), exits AS (
    INSERT INTO %1$I.stage_exit_days AS d (stage_id, owner_id, day, stays, seconds)
    SELECT c.stage_id, c.owner_id, (c.left_at AT TIME ZONE 'UTC')::date, sum(c.sign),
           sum(c.sign * extract(epoch FROM c.left_at - c.entered_at))
    FROM changes c
    WHERE c.left_at IS NOT NULL
    GROUP BY 1, 2, 3
    HAVING sum(c.sign) <> 0 OR sum(c.sign * extract(epoch FROM c.left_at - c.entered_at)) <> 0
    ORDER BY 1, 2, 3
    ON CONFLICT (stage_id, owner_id, day)
        DO UPDATE SET stays = d.stays + excluded.stays, seconds = d.seconds + excluded.seconds
    RETURNING 1
)
"""

COLUMNS = (
    "opportunity_id, stage_id, entered_at, left_at, next_stage_id, prior_entry_at, reached_set"
)

REFRESH = rf"""
CREATE FUNCTION stage_stays_refresh(tenant text, opportunity_ids uuid[]) RETURNS void
LANGUAGE plpgsql SET jit = off SET work_mem = '32MB' AS $fn$
DECLARE
    only_these text := CASE WHEN opportunity_ids IS NULL THEN ''
                            ELSE 'WHERE h.opportunity_id = ANY ($1)' END;
    fresh text := format($sql${FRESH}$sql$, tenant, only_these);
BEGIN
    IF opportunity_ids IS NOT NULL THEN
        -- One writer of an opportunity's stays at a time; the next one computes from
        -- what this one committed (a new snapshot per statement, READ COMMITTED).
        EXECUTE format('SELECT 1 FROM %I.opportunities WHERE id = ANY ($1) ORDER BY id '
                       'FOR NO KEY UPDATE', tenant) USING opportunity_ids;
    END IF;
    EXECUTE format('INSERT INTO %I.stage_sets (stage_ids) SELECT DISTINCT reached FROM (%s) f '
                   'ORDER BY 1 ON CONFLICT (stage_ids) DO NOTHING', tenant, fresh)
        USING opportunity_ids;
    EXECUTE format($sql$
        WITH computed AS MATERIALIZED (%2$s), fresh AS (
            SELECT f.id, f.opportunity_id, f.stage_id, f.entered_at, f.left_at,
                   f.next_stage_id, f.prior_entry_at, r.id AS reached_set
            FROM computed f JOIN %1$I.stage_sets r ON r.stage_ids = f.reached
        ), old AS (
            SELECT st.* FROM %1$I.opportunity_stage_stays st %3$s
        ), live AS (
            SELECT o.id, o.owner_id FROM %1$I.opportunities o
            WHERE o.deleted_at IS NULL %4$s
        ), changes AS (
            SELECT 1 AS sign, l.owner_id, f.stage_id, f.entered_at, f.left_at,
                   f.prior_entry_at, f.reached_set
            FROM fresh f JOIN live l ON l.id = f.opportunity_id
            UNION ALL
            SELECT -1, l.owner_id, s.stage_id, s.entered_at, s.left_at, s.prior_entry_at,
                   s.reached_set
            FROM old s JOIN live l ON l.id = s.opportunity_id
        ), {APPLY}, removed AS (
            DELETE FROM %1$I.opportunity_stage_stays st
            USING (SELECT id FROM old EXCEPT SELECT id FROM fresh) gone
            WHERE st.id = gone.id
            RETURNING 1
        ), written AS (
            INSERT INTO %1$I.opportunity_stage_stays AS st (id, {COLUMNS})
            SELECT id, {COLUMNS} FROM fresh
            ON CONFLICT (id) DO UPDATE SET
                ({COLUMNS}) = (excluded.opportunity_id, excluded.stage_id, excluded.entered_at,
                    excluded.left_at, excluded.next_stage_id, excluded.prior_entry_at,
                    excluded.reached_set)
            WHERE (st.opportunity_id, st.stage_id, st.entered_at, st.left_at,
                   st.next_stage_id, st.prior_entry_at, st.reached_set)
                IS DISTINCT FROM (excluded.opportunity_id, excluded.stage_id,
                    excluded.entered_at, excluded.left_at, excluded.next_stage_id,
                    excluded.prior_entry_at, excluded.reached_set)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM entries) + (SELECT count(*) FROM exits)
             + (SELECT count(*) FROM removed) + (SELECT count(*) FROM written)
    $sql$, tenant, fresh,
        CASE WHEN opportunity_ids IS NULL THEN ''
             ELSE 'WHERE st.opportunity_id = ANY ($1)' END,
        CASE WHEN opportunity_ids IS NULL THEN '' ELSE 'AND o.id = ANY ($1)' END)
        USING opportunity_ids;
END
$fn$
"""

REBUILD = r"""
CREATE FUNCTION stage_stays_rebuild(tenant text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    EXECUTE format('DELETE FROM %I.stage_entry_days', tenant);
    EXECUTE format('DELETE FROM %I.stage_exit_days', tenant);
    EXECUTE format('DELETE FROM %I.opportunity_stage_stays', tenant);
    EXECUTE format('SELECT %I.stage_stays_refresh($1, NULL)', tenant) USING tenant;
END
$fn$
"""

# One trigger function for the history's three statement triggers; each names its
# transition tables history_before / history_after.
HISTORY_CHANGED = r"""
CREATE FUNCTION stage_history_changed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    ids uuid[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        EXECUTE format('SELECT %I.stage_stays_rebuild($1)', TG_TABLE_SCHEMA) USING TG_TABLE_SCHEMA;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT opportunity_id) INTO ids FROM history_after;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT opportunity_id) INTO ids FROM history_before;
    ELSE
        SELECT array_agg(DISTINCT opportunity_id) INTO ids
        FROM (SELECT opportunity_id FROM history_before
              UNION SELECT opportunity_id FROM history_after) c;
    END IF;
    IF ids IS NOT NULL THEN
        EXECUTE format('SELECT %I.stage_stays_refresh($1, $2)', TG_TABLE_SCHEMA)
            USING TG_TABLE_SCHEMA, ids;
    END IF;
    RETURN NULL;
END
$fn$
"""

# An opportunity changing owner, or deleted or restored, moves its stays' counts.
OWNER_CHANGED = rf"""
CREATE FUNCTION stage_owner_changed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM opportunities_before b JOIN opportunities_after a ON a.id = b.id
               WHERE a.owner_id IS DISTINCT FROM b.owner_id
                  OR (a.deleted_at IS NULL) <> (b.deleted_at IS NULL)) THEN
        EXECUTE format($sql$
            WITH moved AS (
                SELECT b.id, b.owner_id AS owner_before, a.owner_id AS owner_after,
                       b.deleted_at IS NULL AS live_before, a.deleted_at IS NULL AS live_after
                FROM opportunities_before b JOIN opportunities_after a ON a.id = b.id
                WHERE a.owner_id IS DISTINCT FROM b.owner_id
                   OR (a.deleted_at IS NULL) <> (b.deleted_at IS NULL)
            ), changes AS (
                SELECT -1 AS sign, m.owner_before AS owner_id, s.stage_id, s.entered_at,
                       s.left_at, s.prior_entry_at, s.reached_set
                FROM moved m JOIN %1$I.opportunity_stage_stays s ON s.opportunity_id = m.id
                WHERE m.live_before
                UNION ALL
                SELECT 1, m.owner_after, s.stage_id, s.entered_at, s.left_at, s.prior_entry_at,
                       s.reached_set
                FROM moved m JOIN %1$I.opportunity_stage_stays s ON s.opportunity_id = m.id
                WHERE m.live_after
            ), {APPLY}
            SELECT (SELECT count(*) FROM entries) + (SELECT count(*) FROM exits)
        $sql$, TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END
$fn$
"""

# The backfill: every stay and count, from the history as it stands.
BACKFILL = "SELECT stage_stays_rebuild(current_schema())"

TRIGGERS = {
    "stage_history_inserted": "AFTER INSERT ON opportunity_stage_history "
    "REFERENCING NEW TABLE AS history_after",
    "stage_history_updated": "AFTER UPDATE ON opportunity_stage_history "
    "REFERENCING OLD TABLE AS history_before NEW TABLE AS history_after",
    "stage_history_deleted": "AFTER DELETE ON opportunity_stage_history "
    "REFERENCING OLD TABLE AS history_before",
}


def upgrade() -> None:
    op.create_table(
        "stage_sets",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("stage_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stage_sets"),
        sa.UniqueConstraint("stage_ids", name="uq_stage_sets_stage_ids"),
    )
    op.create_table(
        "opportunity_stage_stays",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("opportunity_id", sa.Uuid(), nullable=False),
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_stage_id", sa.Uuid(), nullable=True),
        sa.Column("prior_entry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reached_set", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_opportunity_stage_stays"),
    )
    op.create_index(
        "ix_opportunity_stage_stays_opportunity_id",
        "opportunity_stage_stays",
        ["opportunity_id", "entered_at"],
    )
    op.create_index(
        "ix_opportunity_stage_stays_entered_at",
        "opportunity_stage_stays",
        ["stage_id", "entered_at"],
    )
    op.create_index(
        "ix_opportunity_stage_stays_left_at",
        "opportunity_stage_stays",
        ["stage_id", "left_at"],
        postgresql_where=sa.text("left_at IS NOT NULL"),
    )
    op.create_index(
        "ix_opportunity_stage_stays_reentered_at",
        "opportunity_stage_stays",
        ["stage_id", "entered_at"],
        postgresql_where=sa.text("prior_entry_at IS NOT NULL"),
    )
    op.create_table(
        "stage_entry_days",
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reached_set", sa.Integer(), nullable=False),
        sa.Column("entered", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "stage_id", "owner_id", "day", "reached_set", name="pk_stage_entry_days"
        ),
    )
    op.create_table(
        "stage_exit_days",
        sa.Column("stage_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stays", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Numeric(), nullable=False),
        sa.PrimaryKeyConstraint("stage_id", "owner_id", "day", name="pk_stage_exit_days"),
    )
    # What pipelineSummary's other two statements read, without the table's heap.
    op.create_index(
        "ix_opportunities_open_amounts",
        "opportunities",
        ["pipeline_id", "stage_id", "currency", "owner_id"],
        postgresql_include=["amount"],
        postgresql_where=sa.text("status = 'open' AND deleted_at IS NULL"),
    )
    op.create_index(
        "ix_opportunities_pipeline_closed_at",
        "opportunities",
        ["pipeline_id", "closed_at"],
        postgresql_include=["status", "owner_id"],
        postgresql_where=sa.text("closed_at IS NOT NULL AND deleted_at IS NULL"),
    )
    op.execute(REFRESH)
    op.execute(REBUILD)
    op.execute(HISTORY_CHANGED)
    op.execute(OWNER_CHANGED)
    for name, when in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT "
            "EXECUTE FUNCTION stage_history_changed()"
        )
    op.execute(
        "CREATE TRIGGER stage_history_truncated AFTER TRUNCATE ON opportunity_stage_history "
        "FOR EACH STATEMENT EXECUTE FUNCTION stage_history_changed()"
    )
    op.execute(
        "CREATE TRIGGER stage_owner_changed AFTER UPDATE ON opportunities "
        "REFERENCING OLD TABLE AS opportunities_before NEW TABLE AS opportunities_after "
        "FOR EACH STATEMENT EXECUTE FUNCTION stage_owner_changed()"
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.execute("DROP TRIGGER stage_owner_changed ON opportunities")
    for name in (*TRIGGERS, "stage_history_truncated"):
        op.execute(f"DROP TRIGGER {name} ON opportunity_stage_history")
    op.execute("DROP FUNCTION stage_owner_changed()")
    op.execute("DROP FUNCTION stage_history_changed()")
    op.execute("DROP FUNCTION stage_stays_rebuild(text)")
    op.execute("DROP FUNCTION stage_stays_refresh(text, uuid[])")
    op.drop_index("ix_opportunities_pipeline_closed_at", table_name="opportunities")
    op.drop_index("ix_opportunities_open_amounts", table_name="opportunities")
    for table in ("stage_exit_days", "stage_entry_days", "opportunity_stage_stays", "stage_sets"):
        op.drop_table(table)
