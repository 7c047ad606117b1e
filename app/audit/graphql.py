"""The audit log over GraphQL: `auditLog`, for holders of audit:read (admins)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial

import strawberry
from sqlalchemy import ColumnElement, Row
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.scalars import JSON

from app.api.context import Info
from app.api.filters import DateTimeFilter, IdFilter, datetime_condition, id_condition
from app.api.pagination import Connection, SortKey, page_of
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.audit import queries
from app.audit.tables import audit_log
from app.errors import BadUserInput
from app.users.graphql import User
from app.users.queries import users_by_id


@strawberry.type(description="One change: who did what to which record, and when.")
class AuditRecord:
    id: strawberry.ID
    at: dt.datetime
    actor_id: strawberry.ID | None
    actor_kind: str = strawberry.field(
        description="user; job (a background job that actorId started); account (a sign-in "
        "account, for a password changed in this tenant: entityId is its user here); or system."
    )
    action: str = strawberry.field(description='What happened, e.g. "customer.update".')
    entity_type: str = strawberry.field(description='The kind of record, e.g. "customer".')
    entity_id: strawberry.ID | None
    changes: JSON = strawberry.field(
        description='The fields that changed, as {field: {"from": old, "to": new}}.'
    )
    actor: User | None = strawberry.field(
        default=None, description="The user actorId names; null if it names none here."
    )

    @classmethod
    def from_row(cls, row: Row) -> AuditRecord:
        return cls(
            id=strawberry.ID(str(row.id)),
            at=row.at,
            actor_id=strawberry.ID(str(row.actor_id)) if row.actor_id else None,
            actor_kind=row.actor_kind,
            action=row.action,
            entity_type=row.entity_type,
            entity_id=strawberry.ID(str(row.entity_id)) if row.entity_id else None,
            changes=row.changes,
        )


async def build_records(
    conn: AsyncConnection, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[AuditRecord]:
    """Records with their actors if selected below `prefix`: one statement per page."""
    nodes = [AuditRecord.from_row(r) for r in rows]
    if f"{prefix}actor" in selected and rows:
        actors = await users_by_id(conn, [r.actor_id for r in rows])
        for node, row in zip(nodes, rows, strict=True):
            actor = actors.get(row.actor_id)
            node.actor = User.from_row(actor) if actor else None
    return nodes


@strawberry.input(description="Records matching every condition given.")
class AuditLogFilter:
    actor_id: IdFilter | None = None
    entity_type: str | None = None
    entity_id: IdFilter | None = strawberry.field(
        default=None, description="Only with entityType (records are found by type, then id)."
    )
    action: str | None = strawberry.field(
        default=None, description='Exactly this action, e.g. "customer.update".'
    )
    action_prefix: str | None = strawberry.field(
        default=None,
        description='Actions starting with this text, e.g. "customer."; % and _ are literal.',
    )
    at: DateTimeFilter | None = None


def audit_conditions(f: AuditLogFilter) -> list[ColumnElement[bool] | None]:
    if f.entity_id is not None and f.entity_type is None:
        raise BadUserInput("filter.entityId needs filter.entityType")
    c = audit_log.c
    return [
        id_condition(c.actor_id, f.actor_id, "actorId"),
        queries.entity_type_is(f.entity_type),
        id_condition(c.entity_id, f.entity_id, "entityId"),
        queries.action_is(f.action),
        queries.action_starts_with(f.action_prefix),
        datetime_condition(c.at, f.at),
    ]


NEWEST_FIRST = [SortKey(column, descending) for column, descending in queries.NEWEST_FIRST]


@strawberry.type
class AuditQueries:
    @strawberry.field(extensions=requires("audit:read"), description="The audit log, newest first.")
    async def audit_log(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: AuditLogFilter | None = None,
    ) -> Connection[AuditRecord]:
        query = queries.audit_log_query(*audit_conditions(filter or AuditLogFilter()))
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            return await page_of(
                conn, query, NEWEST_FIRST, selected, partial(build_records, conn),
                first=first, after=after,
            )  # fmt: skip
