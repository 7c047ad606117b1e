"""Attainment of sales targets and the sales ranking, computed in SQL.

Achieved = the amount of live opportunities WON (status won, by `closed_at`) in the
target's currency, closed within the target's month in the tenant's calendar, by:
- a user target: that owner;
- a team target: owners who are members of the team or any team below it (current
  membership and the current tree: moving a rep moves their history with them);
- the company target: everyone.
Amounts are never converted between currencies.

Which targets a caller gets is their data scope (app/targets/queries.py); a target's
achieved amount is always its subject's whole result, so a rep sees how far the
company is, not only their own part of it. The ranking, on the other hand, counts
only opportunities the caller may see: a manager ranks their subtree, a rep sees
themselves.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Row, and_, bindparam, cast, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Scoped
from app.pipeline.analytics import period
from app.pipeline.queries import visible_opportunities
from app.pipeline.tables import opportunities
from app.targets.queries import in_months, visible_targets
from app.targets.tables import sales_targets
from app.teams.tables import teams
from app.users.tables import users

o = opportunities.c
t = sales_targets.c


@dataclass
class TargetResult:
    target: Row
    achieved: Decimal

    @property
    def ratio(self) -> float | None:
        return float(self.achieved / self.target.amount) if self.target.amount else None


@dataclass
class SubjectTotal:
    scope: str
    team_id: uuid.UUID | None
    user_id: uuid.UUID | None
    currency: str
    months: int = 0
    target: Decimal = Decimal(0)
    achieved: Decimal = Decimal(0)

    @property
    def ratio(self) -> float | None:
        return float(self.achieved / self.target) if self.target else None


def _month_range(start: dt.date, end: dt.date, zone: str) -> tuple[dt.datetime, dt.datetime]:
    """From the first instant of `start`'s month to the first of the month after `end`'s."""
    tz = ZoneInfo(zone)
    last = end.replace(day=1)
    after = dt.date(last.year + last.month // 12, last.month % 12 + 1, 1)
    return (
        dt.datetime.combine(start.replace(day=1), dt.time(), tz),
        dt.datetime.combine(after, dt.time(), tz),
    )


def attainment_query(who: Scoped, *, start: dt.date, end: dt.date, currency: str, zone: str):
    """Per visible target of the months of [start, end] in `currency`: the target's
    columns and `achieved`. One statement."""
    low, high = _month_range(start, end, zone)
    # The zone inline (not a parameter), so SELECT and GROUP BY are the same expression.
    local = func.timezone(bindparam("zone", zone, literal_execute=True), o.closed_at)
    month = cast(func.date_trunc(literal_column("'month'"), local), Date)
    # Won amounts per month and owner (with the owner's department path): small.
    won = (
        select(month.label("month"), o.owner_id, teams.c.path.label("team_path"),
               func.sum(o.amount).label("amount"))
        .select_from(opportunities.join(users, users.c.id == o.owner_id)
                     .outerjoin(teams, teams.c.id == users.c.team_id))
        .where(o.deleted_at.is_(None), o.status == "won", o.currency == currency,
               o.closed_at >= low, o.closed_at < high)
        .group_by(month, o.owner_id, teams.c.path)
        .cte("won")
    )  # fmt: skip
    subject_team = teams.alias("subject_team")
    achieved = (
        select(func.coalesce(func.sum(won.c.amount), 0))
        .where(
            won.c.month == t.period,
            or_(
                t.scope == "company",
                and_(t.scope == "user", won.c.owner_id == t.user_id),
                and_(t.scope == "team", won.c.team_path.startswith(subject_team.c.path)),
            ),
        )
        .scalar_subquery()
    )
    return (
        select(sales_targets, achieved.label("achieved"))
        .select_from(sales_targets.outerjoin(subject_team, subject_team.c.id == t.team_id))
        .where(visible_targets(who), in_months(start, end), t.metric == "won_amount",
               t.currency == currency)
        .order_by(t.scope, t.team_id, t.user_id, t.period)
    )  # fmt: skip


async def attainment(
    conn: AsyncConnection, who: Scoped, *, start: dt.date, end: dt.date, currency: str, zone: str
) -> tuple[list[TargetResult], list[SubjectTotal]]:
    """Each target with its achieved amount, and per subject the sums over the range
    (a quarter's or a year's attainment: the months that have a target)."""
    rows = (
        await conn.execute(
            attainment_query(who, start=start, end=end, currency=currency, zone=zone)
        )
    ).all()
    results = [TargetResult(row, row.achieved) for row in rows]
    totals: dict[tuple, SubjectTotal] = {}
    for result in results:
        row = result.target
        key = (row.scope, row.team_id, row.user_id)
        total = totals.setdefault(key, SubjectTotal(*key, currency=currency))
        total.months += 1
        total.target += row.amount
        total.achieved += result.achieved
    return results, list(totals.values())


@dataclass
class Ranked:
    rank: int
    owner_id: uuid.UUID
    amount: Decimal
    count: int


async def ranking(
    conn: AsyncConnection, who: Scoped, *, start: dt.date, end: dt.date, currency: str,
    zone: str, first: int,
) -> list[Ranked]:  # fmt: skip
    """Owners by won amount in `currency` over the days [start, end], among the
    opportunities `who` may see; ties share a rank (1, 1, 3) and list by name."""
    total = func.sum(o.amount)
    rank = func.rank().over(order_by=total.desc())
    rows = await conn.execute(
        select(o.owner_id, total.label("amount"), func.count().label("n"), rank.label("rank"))
        .join(users, users.c.id == o.owner_id)
        .where(o.deleted_at.is_(None), o.status == "won", o.currency == currency,
               visible_opportunities(who), period(o.closed_at, start, end, zone))
        .group_by(o.owner_id, users.c.name)
        .order_by(total.desc(), users.c.name, o.owner_id)
        .limit(first)
    )  # fmt: skip
    return [Ranked(r.rank, r.owner_id, r.amount, r.n) for r in rows]
