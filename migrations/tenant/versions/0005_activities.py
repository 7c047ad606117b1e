"""tenant: activities, tasks and appointments

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

Additive: four new tables (activities, tasks, appointments, notifications) that refer
only to users, customers and contacts.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

LIVE = sa.text("deleted_at IS NULL")
PRIORITY_RANK = (
    "CASE priority WHEN 'low'::text THEN 0 WHEN 'normal'::text THEN 1 "
    "WHEN 'high'::text THEN 2 WHEN 'urgent'::text THEN 3 ELSE NULL::integer END"
)


def _record_columns() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),  # fmt: skip
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),  # fmt: skip
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    ]


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def _live_index(name: str, table: str, columns: list[str]) -> None:
    op.create_index(name, table, columns, postgresql_where=LIVE)


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),  # fmt: skip
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("next_step", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        *_record_columns(),
        sa.CheckConstraint(
            "kind in ('call', 'visit', 'email', 'note', 'meeting')", name="ck_activities_kind"
        ),
        sa.CheckConstraint("duration_minutes >= 0", name="ck_activities_duration_minutes"),
        _fk("activities", "customer_id", "customers"),
        _fk("activities", "contact_id", "contacts"),
        _fk("activities", "owner_id", "users"),
        sa.PrimaryKeyConstraint("id", name="pk_activities"),
    )
    _live_index("ix_activities_customer_id", "activities", ["customer_id", "occurred_at", "id"])
    _live_index("ix_activities_occurred_at", "activities", ["occurred_at", "id"])
    _live_index("ix_activities_created_at", "activities", ["created_at", "id"])
    _live_index("ix_activities_owner_id", "activities", ["owner_id", "occurred_at"])
    _live_index("ix_activities_contact_id", "activities", ["contact_id", "occurred_at"])
    _live_index("ix_activities_kind", "activities", ["kind", "occurred_at"])

    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("assignee_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("priority", sa.Text(), server_default="normal", nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        *_record_columns(),
        sa.Column("priority_rank", sa.Integer(), sa.Computed(PRIORITY_RANK, persisted=True)),
        sa.CheckConstraint(
            "priority in ('low', 'normal', 'high', 'urgent')", name="ck_tasks_priority"
        ),
        sa.CheckConstraint("status in ('open', 'done', 'cancelled')", name="ck_tasks_status"),
        sa.CheckConstraint(
            "(status = 'done') = (completed_at IS NOT NULL)", name="ck_tasks_completed_at"
        ),
        _fk("tasks", "customer_id", "customers"),
        _fk("tasks", "contact_id", "contacts"),
        _fk("tasks", "assignee_id", "users"),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
    )
    _live_index("ix_tasks_assignee_id", "tasks", ["assignee_id", "due_at", "id"])
    _live_index("ix_tasks_due_at", "tasks", ["due_at", "id"])
    _live_index("ix_tasks_status", "tasks", ["status", "due_at"])
    _live_index("ix_tasks_customer_id", "tasks", ["customer_id", "created_at", "id"])
    op.create_index(
        "ix_tasks_customer_completed", "tasks", ["customer_id", "completed_at", "id"],
        postgresql_where=sa.text("completed_at IS NOT NULL AND deleted_at IS NULL"),
    )  # fmt: skip
    _live_index("ix_tasks_priority_rank", "tasks", ["priority_rank", "id"])
    _live_index("ix_tasks_created_at", "tasks", ["created_at", "id"])
    op.create_index(
        "ix_tasks_open_due", "tasks", ["due_at"],
        postgresql_where=sa.text("status = 'open' AND deleted_at IS NULL"),
    )  # fmt: skip

    op.create_table(
        "appointments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        *_record_columns(),
        sa.CheckConstraint("ends_at > starts_at", name="ck_appointments_ends_after_start"),
        sa.CheckConstraint(
            "ends_at <= starts_at + interval '14 days'", name="ck_appointments_duration"
        ),
        _fk("appointments", "customer_id", "customers"),
        _fk("appointments", "contact_id", "contacts"),
        _fk("appointments", "owner_id", "users"),
        sa.PrimaryKeyConstraint("id", name="pk_appointments"),
    )
    _live_index("ix_appointments_owner_id", "appointments", ["owner_id", "starts_at", "id"])
    _live_index("ix_appointments_starts_at", "appointments", ["starts_at", "id"])
    _live_index("ix_appointments_customer_id", "appointments", ["customer_id", "starts_at", "id"])

    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("subject_type", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),  # fmt: skip
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind in ('task_due', 'appointment_soon')", name="ck_notifications_kind"
        ),
        _fk("notifications", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint(
            "user_id", "kind", "subject_id", "due_at", name="uq_notifications_reminder"
        ),
    )
    op.create_index("ix_notifications_user_id", "notifications", ["user_id", "created_at", "id"])
    op.create_index(
        "ix_notifications_unread", "notifications", ["user_id", "created_at", "id"],
        postgresql_where=sa.text("read_at IS NULL"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("appointments")
    op.drop_table("tasks")
    op.drop_table("activities")
