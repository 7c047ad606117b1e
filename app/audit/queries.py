"""Reads of the audit log, as composable selects (no GraphQL here).

Every condition below is answered by one of the audit log's indexes, given how the
API combines them: (entity_type, entity_id, at), (actor_id, at), (at). Newest first
means (at DESC, id DESC): `at` comes from an index, `id` only breaks ties within one
transaction (every record a transaction writes has the same `at`).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, select

from app.audit.tables import audit_log

AUDIT_COLUMNS = list(audit_log.c)
# The sort, newest first, as (column, descending); the id makes it total.
NEWEST_FIRST = ((audit_log.c.at, True), (audit_log.c.id, True))


def audit_log_query(*conditions: ColumnElement[bool] | None) -> Select:
    """Audit records matching every condition (None means no condition), unordered."""
    return select(*AUDIT_COLUMNS).where(*(c for c in conditions if c is not None))


def entity_type_is(entity_type: str | None) -> ColumnElement[bool] | None:
    return None if entity_type is None else audit_log.c.entity_type == entity_type


def action_is(action: str | None) -> ColumnElement[bool] | None:
    return None if action is None else audit_log.c.action == action


def action_starts_with(prefix: str | None) -> ColumnElement[bool] | None:
    """Actions beginning with `prefix` literally: % and _ in it match only themselves."""
    if not prefix:
        return None
    return audit_log.c.action.startswith(prefix, autoescape=True)
