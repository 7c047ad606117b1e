"""Data scope as SQL: which rows a principal may see, as a condition every read path
adds to its statement (lists, counts, get-by-id, nested fields, search, jobs). A row
outside the scope is indistinguishable from one that does not exist.

Capabilities say how their rows relate to people (an owner column, a creator column,
an assignment column, or a parent row) and call these; they never test roles
themselves.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select, true

from app.auth.principal import Scoped
from app.teams.tables import teams
from app.users.tables import users


@dataclass(frozen=True)
class _Everything:
    """The scope of operators and the system itself (CLI, seeding, migrations)."""

    user_id: uuid.UUID | None = None
    data_scope: str = "all"
    team_path: str | None = None
    distributor_id: uuid.UUID | None = None


EVERYTHING: Scoped = _Everything()  # type: ignore[assignment]


def team_member_ids(principal: Scoped) -> Select:
    """Users of the principal's department and every department below it."""
    if principal.team_path is None:
        return select(users.c.id).where(users.c.id == principal.user_id)
    return (
        select(users.c.id)
        .join(teams, teams.c.id == users.c.team_id)
        .where(teams.c.path.startswith(principal.team_path, autoescape=True))
    )


def people_visible(principal: Scoped, person: Any) -> ColumnElement[bool]:
    """Rows tied to a person (creator, assignee) the principal may see."""
    scope = principal.data_scope
    if scope == "all":
        return true()
    if scope == "team":
        return person.in_(team_member_ids(principal))
    if scope in ("own", "assigned"):
        return person == principal.user_id
    return false()


def distributor_visible(principal: Scoped, customer: Any) -> ColumnElement[bool]:
    """For the assigned scope, rows of the distributor the user works for: `customer`
    is the column naming the row's customer (a customer's own id). A comparison with a
    value the principal carries (loaded with it, cached), so no per-row lookup. Other
    scopes get nothing from a distributor link."""
    distributor_id = getattr(principal, "distributor_id", None)
    if principal.data_scope != "assigned" or distributor_id is None or customer is None:
        return false()
    return customer == distributor_id


def owner_visible(
    principal: Scoped, owner: Any, assigned: Any | None = None, customer: Any | None = None
) -> ColumnElement[bool]:
    """Owned rows: as `people_visible`, plus the unowned pool for own and team scopes
    (reps must see the public pool to claim from it).

    `assigned` scope sees only rows whose assignment column (`assigned`, e.g. a
    customer's partner) names the user: owning a row grants it nothing, since the owner
    is the internal rep responsible and a partner is assigned separately; it never sees
    the pool. Rows with no assignment column are not visible to it at all. A partner
    user working for a distributor also sees the rows whose `customer` column names
    that distributor (`distributor_visible`)."""
    if principal.data_scope == "assigned":
        own = false() if assigned is None else assigned == principal.user_id
        if getattr(principal, "distributor_id", None) is None or customer is None:
            return own
        return or_(own, distributor_visible(principal, customer))
    condition = people_visible(principal, owner)
    if principal.data_scope in ("own", "team"):
        return or_(condition, owner.is_(None))
    return condition
