"""The funnel and the forecast, computed in SQL: a few aggregate statements, each with
the caller's data scope in its WHERE, so every number counts only the opportunities
the caller may see.

Money is summed per currency and never across currencies; weighted amounts are
amount x stage probability / 100, summed exactly and rounded to cents at the end.
Periods are calendar days in the tenant's time zone, both ends inclusive.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Row,
    Select,
    and_,
    case,
    cast,
    extract,
    func,
    literal_column,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Scoped
from app.pipeline.queries import visible_opportunities
from app.pipeline.tables import opportunities, opportunity_stage_history, pipeline_stages
from app.teams.tables import teams
from app.users.tables import users

o = opportunities
h = opportunity_stage_history
Period = Callable[[Any], ColumnElement[bool]]
s = pipeline_stages
DAY_SECONDS = 86400


@dataclass
class Money:
    currency: str
    amount: Decimal
    weighted: Decimal


@dataclass
class StageNumbers:
    stage: Row
    count: int = 0
    amounts: list[Money] = field(default_factory=list)
    entered: int = 0
    advanced: int = 0
    stays_ended: int = 0
    average_days: float | None = None

    @property
    def conversion_rate(self) -> float | None:
        return self.advanced / self.entered if self.entered else None


@dataclass
class Summary:
    stages: list[StageNumbers]
    won: int
    lost: int

    @property
    def win_rate(self) -> float | None:
        closed = self.won + self.lost
        return self.won / closed if closed else None


def period(column, start: dt.date | None, end: dt.date | None, zone: str) -> ColumnElement[bool]:
    """`column` (a timestamp) within the days [start, end] of the tenant's calendar."""
    tz = ZoneInfo(zone)
    parts = []
    if start is not None:
        parts.append(column >= dt.datetime.combine(start, dt.time(), tz))
    if end is not None:
        parts.append(column < dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz))
    return and_(true(), *parts)


def _weighted(amount, probability):
    return func.round(func.sum(amount * probability / literal_column("100")), 2)


def _scoped(who: Scoped, pipeline_id: uuid.UUID, owner_id: uuid.UUID | None) -> list:
    """What every statement of the summary counts: live opportunities of the pipeline
    that the caller may see (and of one owner, if asked)."""
    conditions = [
        o.c.pipeline_id == pipeline_id,
        o.c.deleted_at.is_(None),
        visible_opportunities(who),
    ]
    if owner_id is not None:
        conditions.append(o.c.owner_id == owner_id)
    return conditions


def open_amounts_query(scoped: list) -> Select:
    """Open opportunities per stage and currency: count, amount, weighted amount."""
    return (
        select(o.c.stage_id, o.c.currency, func.count().label("n"),
               func.sum(o.c.amount).label("amount"),
               _weighted(o.c.amount, s.c.probability).label("weighted"))
        .join(s, s.c.id == o.c.stage_id)
        .where(*scoped, o.c.status == "open")
        .group_by(o.c.stage_id, o.c.currency)
        .order_by(o.c.stage_id, o.c.currency)
    )  # fmt: skip


def movements_query(
    scoped: list, stage_ids: list[uuid.UUID], ranks: dict[uuid.UUID, int], during: Period
) -> Select:
    """Per stage, from one pass over the stage history:
    - entered / advanced: the opportunities that entered it in the period, and how many
      of them later reached a stage ranked after it (`ranks`: the funnel's order);
    - stays / days: the stays that ended in the period and their average length (a
      stay runs from entering a stage to entering the next one).

    Walking each opportunity's entries newest first, the running maximum rank (peers
    at the same instant included, as RANGE frames do) is the furthest stage reached
    from that entry on."""
    rank = case(ranks, value=h.c.to_stage_id, else_=None)
    furthest = func.max(rank).over(
        partition_by=h.c.opportunity_id, order_by=h.c.changed_at.desc(), range_=(None, 0)
    )
    left_at = func.lead(h.c.changed_at).over(
        partition_by=h.c.opportunity_id, order_by=(h.c.changed_at, h.c.id)
    )
    history = (
        select(h.c.opportunity_id, h.c.to_stage_id.label("stage_id"), h.c.changed_at,
               left_at.label("left_at"), (furthest > rank).label("advanced"))
        .join(o, o.c.id == h.c.opportunity_id)
        .where(*scoped)
        .subquery()
    )  # fmt: skip
    entered = during(history.c.changed_at)
    ended = and_(history.c.left_at.is_not(None), during(history.c.left_at))
    distinct = func.count(history.c.opportunity_id.distinct())
    seconds = extract("epoch", history.c.left_at - history.c.changed_at)
    return (
        select(
            history.c.stage_id,
            distinct.filter(entered).label("entered"),
            distinct.filter(entered, history.c.advanced).label("advanced"),
            func.count().filter(ended).label("stays"),
            (func.avg(seconds).filter(ended) / DAY_SECONDS).label("days"),
        )
        .where(history.c.stage_id.in_(stage_ids))
        .group_by(history.c.stage_id)
    )


def closed_query(scoped: list, during: Period) -> Select:
    """Opportunities won and lost in the period."""
    return select(
        func.count().filter(o.c.status == "won").label("won"),
        func.count().filter(o.c.status == "lost").label("lost"),
    ).where(*scoped, o.c.status.in_(("won", "lost")), during(o.c.closed_at))


async def pipeline_summary(
    conn: AsyncConnection,
    who: Scoped,
    *,
    stages: list[Row],
    owner_id: uuid.UUID | None,
    start: dt.date | None,
    end: dt.date | None,
    time_zone: str,
) -> Summary:
    """The funnel of one pipeline over its open stages (in order): what is in each
    stage now, and for the period the conversion from each stage to the next, the
    days spent in each stage and the win rate. Three statements."""
    scoped = _scoped(who, stages[0].pipeline_id, owner_id)
    funnel = [st for st in stages if st.kind == "open"]
    won = next(st for st in stages if st.kind == "won")
    numbers = {st.id: StageNumbers(st) for st in funnel}
    # Each open stage's rank in the funnel; the won stage ranks after all of them.
    ranks = {st.id: i for i, st in enumerate(funnel)} | {won.id: len(funnel)}

    def during(column) -> ColumnElement[bool]:
        return period(column, start, end, time_zone)

    for row in await conn.execute(open_amounts_query(scoped)):
        if (stage := numbers.get(row.stage_id)) is not None:
            stage.count += row.n
            stage.amounts.append(Money(row.currency, row.amount, row.weighted))
    for row in await conn.execute(movements_query(scoped, list(numbers), ranks, during)):
        stage = numbers[row.stage_id]
        stage.entered, stage.advanced, stage.stays_ended = row.entered, row.advanced, row.stays
        stage.average_days = float(row.days) if row.stays else None
    closed = (await conn.execute(closed_query(scoped, during))).one()
    return Summary(stages=[numbers[st.id] for st in funnel], won=closed.won, lost=closed.lost)


@dataclass
class ForecastRow:
    month: dt.date
    currency: str
    count: int
    amount: Decimal
    weighted: Decimal
    owner_id: uuid.UUID | None = None
    team_id: uuid.UUID | None = None
    team_name: str | None = None


@dataclass
class Forecast:
    by_month: list[ForecastRow]
    by_owner: list[ForecastRow]
    by_team: list[ForecastRow]


async def forecast(conn: AsyncConnection, who: Scoped, *, start: dt.date, end: dt.date) -> Forecast:
    """Weighted amount of open opportunities by expected close month, per currency:
    in total, by owner and by the owner's team (their own department, not the ones
    above it), in one statement of grouping sets."""
    month = cast(
        func.date_trunc(literal_column("'month'"), cast(o.c.expected_close_date, DateTime)), Date
    )
    grouping = func.grouping(o.c.owner_id, users.c.team_id).label("grouping")
    rows = await conn.execute(
        select(month.label("month"), o.c.currency, o.c.owner_id, users.c.team_id,
               teams.c.name.label("team_name"), grouping, func.count().label("n"), func.sum(o.c.amount).label("amount"),
               _weighted(o.c.amount, s.c.probability).label("weighted"))
        .join(s, s.c.id == o.c.stage_id)
        .join(users, users.c.id == o.c.owner_id)
        .outerjoin(teams, teams.c.id == users.c.team_id)
        .where(o.c.deleted_at.is_(None), visible_opportunities(who), o.c.status == "open",
               o.c.expected_close_date.between(start, end))
        .group_by(func.grouping_sets(
            tuple_(month, o.c.currency),
            tuple_(month, o.c.currency, o.c.owner_id),
            tuple_(month, o.c.currency, users.c.team_id, teams.c.name),
        ))
        .order_by(month, o.c.currency, o.c.owner_id, users.c.team_id)
    )  # fmt: skip
    result = Forecast([], [], [])
    for row in rows:
        item = ForecastRow(row.month, row.currency, row.n, row.amount, row.weighted)
        if row.grouping == 3:  # neither owner nor team: the month's total
            result.by_month.append(item)
        elif row.grouping == 1:  # owner grouped, team not
            item.owner_id = row.owner_id
            result.by_owner.append(item)
        else:
            item.team_id, item.team_name = row.team_id, row.team_name
            result.by_team.append(item)
    return result
