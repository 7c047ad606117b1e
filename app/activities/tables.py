"""Follow-up work around customers: activities (the log of calls, visits, emails,
notes and meetings), tasks, appointments, and each user's notification inbox.

Every filter and sort the API offers has an index here; list indexes are partial on
live rows, because every read path filters `deleted_at IS NULL`.

Activities and tasks may also be on a lead or an opportunity (`lead_id`,
`opportunity_id`, migration 0011). The rules (app/activities/checks.py `check_links`):
one on an opportunity takes the opportunity's customer; one on a lead that is not
converted has no customer (so an activity has a customer or a lead); converting the
lead gives its activities and tasks the customer (and opportunity) it became
(app/activities/service.py `link_converted_lead`).
"""

from sqlalchemy import (
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)

from app.db import record_columns, tenant_metadata

ACTIVITY_KINDS = ("call", "visit", "email", "note", "meeting")
TASK_PRIORITIES = ("low", "normal", "high", "urgent")
TASK_STATUSES = ("open", "done", "cancelled")
NOTIFICATION_KINDS = ("task_due", "appointment_soon", "low_stock")  # low_stock: app/stock
# An appointment lasts at most this long, so "appointments overlapping [a, b)" is the
# bounded index range starts_at in (a - MAX, b) instead of every earlier appointment.
MAX_APPOINTMENT_DAYS = 14

LIVE = text("deleted_at IS NULL")
# Most rows have no lead or opportunity: their indexes hold only the rows that do.
LIVE_LEAD = text("lead_id IS NOT NULL AND deleted_at IS NULL")
LIVE_OPPORTUNITY = text("opportunity_id IS NOT NULL AND deleted_at IS NULL")

activities = Table(
    "activities",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("duration_minutes", Integer),
    Column("outcome", Text),
    Column("next_step", Text),
    # Null only on a lead that is not converted (then lead_id is set).
    Column("customer_id", Uuid, ForeignKey("customers.id")),
    Column("contact_id", Uuid, ForeignKey("contacts.id")),
    Column("owner_id", Uuid, ForeignKey("users.id"), nullable=False),
    *record_columns(),
    Column("deleted_at", DateTime(timezone=True)),
    Column("lead_id", Uuid, ForeignKey("leads.id")),
    Column("opportunity_id", Uuid, ForeignKey("opportunities.id")),
    CheckConstraint("kind in ('call', 'visit', 'email', 'note', 'meeting')", name="kind"),
    CheckConstraint("duration_minutes >= 0", name="duration_minutes"),
    CheckConstraint("customer_id IS NOT NULL OR lead_id IS NOT NULL", name="customer_or_lead"),
    # The customer's history (timeline, customerId filter) newest first.
    Index("ix_activities_customer_id", "customer_id", "occurred_at", "id", postgresql_where=LIVE),
    Index("ix_activities_occurred_at", "occurred_at", "id", postgresql_where=LIVE),
    Index("ix_activities_created_at", "created_at", "id", postgresql_where=LIVE),
    Index("ix_activities_owner_id", "owner_id", "occurred_at", postgresql_where=LIVE),
    Index("ix_activities_contact_id", "contact_id", "occurred_at", postgresql_where=LIVE),
    Index("ix_activities_kind", "kind", "occurred_at", postgresql_where=LIVE),
    Index("ix_activities_lead_id", "lead_id", "occurred_at", "id", postgresql_where=LIVE_LEAD),
    Index(
        "ix_activities_opportunity_id",
        "opportunity_id",
        "occurred_at",
        "id",
        postgresql_where=LIVE_OPPORTUNITY,
    ),
)

# Sorting by priority means by urgency, not alphabetically: `priority_rank` is the
# sortable form, computed by the database.
PRIORITY_RANK = (
    "CASE priority WHEN 'low'::text THEN 0 WHEN 'normal'::text THEN 1 "
    "WHEN 'high'::text THEN 2 WHEN 'urgent'::text THEN 3 ELSE NULL::integer END"
)

tasks = Table(
    "tasks",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text),
    Column("customer_id", Uuid, ForeignKey("customers.id")),
    Column("contact_id", Uuid, ForeignKey("contacts.id")),
    Column("assignee_id", Uuid, ForeignKey("users.id"), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("priority", Text, nullable=False, server_default="normal"),
    Column("status", Text, nullable=False, server_default="open"),
    Column("completed_at", DateTime(timezone=True)),
    *record_columns(),
    Column("deleted_at", DateTime(timezone=True)),
    Column("priority_rank", Integer, Computed(PRIORITY_RANK, persisted=True)),
    Column("lead_id", Uuid, ForeignKey("leads.id")),
    Column("opportunity_id", Uuid, ForeignKey("opportunities.id")),
    CheckConstraint("priority in ('low', 'normal', 'high', 'urgent')", name="priority"),
    CheckConstraint("status in ('open', 'done', 'cancelled')", name="status"),
    CheckConstraint("(status = 'done') = (completed_at IS NOT NULL)", name="completed_at"),
    Index("ix_tasks_assignee_id", "assignee_id", "due_at", "id", postgresql_where=LIVE),
    Index("ix_tasks_due_at", "due_at", "id", postgresql_where=LIVE),
    Index("ix_tasks_status", "status", "due_at", postgresql_where=LIVE),
    Index("ix_tasks_customer_id", "customer_id", "created_at", "id", postgresql_where=LIVE),
    Index(
        "ix_tasks_customer_completed",
        "customer_id",
        "completed_at",
        "id",
        postgresql_where=text("completed_at IS NOT NULL AND deleted_at IS NULL"),
    ),
    Index("ix_tasks_priority_rank", "priority_rank", "id", postgresql_where=LIVE),
    Index("ix_tasks_created_at", "created_at", "id", postgresql_where=LIVE),
    Index("ix_tasks_lead_id", "lead_id", "due_at", "id", postgresql_where=LIVE_LEAD),
    Index(
        "ix_tasks_opportunity_id",
        "opportunity_id",
        "due_at",
        "id",
        postgresql_where=LIVE_OPPORTUNITY,
    ),  # fmt: skip
    # What the reminder cron reads every minute: open tasks by due time.
    Index(
        "ix_tasks_open_due",
        "due_at",
        postgresql_where=text("status = 'open' AND deleted_at IS NULL"),
    ),
)

appointments = Table(
    "appointments",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("title", Text, nullable=False),
    Column("customer_id", Uuid, ForeignKey("customers.id")),
    Column("contact_id", Uuid, ForeignKey("contacts.id")),
    Column("owner_id", Uuid, ForeignKey("users.id"), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("location", Text),
    Column("cancelled_at", DateTime(timezone=True)),
    *record_columns(),
    Column("deleted_at", DateTime(timezone=True)),
    CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    CheckConstraint(
        f"ends_at <= starts_at + interval '{MAX_APPOINTMENT_DAYS} days'", name="duration"
    ),
    # A user's calendar and the overlap check: owner, then a bounded range of starts.
    Index("ix_appointments_owner_id", "owner_id", "starts_at", "id", postgresql_where=LIVE),
    Index("ix_appointments_starts_at", "starts_at", "id", postgresql_where=LIVE),
    Index("ix_appointments_customer_id", "customer_id", "starts_at", "id", postgresql_where=LIVE),
)

# The inbox. A reminder is about one subject at one due instant: the unique key makes
# producing it idempotent (a rescheduled task or appointment gets a new reminder).
notifications = Table(
    "notifications",
    tenant_metadata,
    Column("id", Uuid, primary_key=True, server_default=func.gen_random_uuid()),
    Column("user_id", Uuid, ForeignKey("users.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text),
    Column("subject_type", Text, nullable=False),
    Column("subject_id", Uuid, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("read_at", DateTime(timezone=True)),
    CheckConstraint("kind in ('task_due', 'appointment_soon', 'low_stock')", name="kind"),
    UniqueConstraint("user_id", "kind", "subject_id", "due_at", name="uq_notifications_reminder"),
    Index("ix_notifications_user_id", "user_id", "created_at", "id"),
    Index(
        "ix_notifications_unread",
        "user_id",
        "created_at",
        "id",
        postgresql_where=text("read_at IS NULL"),
    ),
)
