"""Which sales targets a principal may see and set, as SQL conditions.

Seeing (targets:read), by data scope:
- all: every target;
- team: the company's, those of the teams in the user's department subtree (their
  own department included), and those of the users in it;
- own: the company's and the user's own;
- assigned: only the user's own (partners see no company figures).
The company target is everyone's shared goal, so every internal scope sees it.

Setting (targets:manage) is narrower: the company's needs the `all` scope; a team's
needs `all`, or `team` with the team in the user's subtree; a user's needs that user
visible as a person (`people_visible`: the subtree's users for a manager).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true

from app.auth.principal import Scoped
from app.auth.scope import team_member_ids
from app.targets.tables import sales_targets
from app.teams.tables import teams

t = sales_targets.c


def team_subtree_ids(who: Scoped) -> Select | None:
    """The ids of the user's department and every one below it (None: no department)."""
    if who.team_path is None:
        return None
    return select(teams.c.id).where(teams.c.path.startswith(who.team_path, autoescape=True))


def visible_targets(who: Scoped) -> ColumnElement[bool]:
    scope = who.data_scope
    company = t.scope == "company"
    own = and_(t.scope == "user", t.user_id == who.user_id)
    if scope == "all":
        return true()
    if scope == "team":
        subtree = team_subtree_ids(who)
        return or_(
            company,
            and_(t.scope == "team", t.team_id.in_(subtree)) if subtree is not None else false(),
            and_(t.scope == "user", t.user_id.in_(team_member_ids(who))),
        )
    if scope == "own":
        return or_(company, own)
    if scope == "assigned":
        return own
    return false()


def months(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The first days of the months of `start` and of `end`."""
    return start.replace(day=1), end.replace(day=1)


def in_months(start: dt.date | None, end: dt.date | None) -> ColumnElement[bool]:
    """Targets of the months overlapping the days [start, end]."""
    parts = []
    if start is not None:
        parts.append(t.period >= start.replace(day=1))
    if end is not None:
        parts.append(t.period <= end)
    return and_(true(), *parts)
