"""The funnel and the forecast, computed in SQL: a few aggregate statements, each with
the caller's data scope in its WHERE, so every number counts only the opportunities
the caller may see.

Money is summed per currency and never across currencies; weighted amounts are
amount x stage probability / 100, summed exactly and rounded to cents at the end.
Periods are calendar days in the tenant's time zone, both ends inclusive.

Conversions and days in stage come from the stays derived from the stage history
(app/pipeline/tables.py, kept by the triggers of migration 0012): whole UTC days from
their daily counts, the rest of the period from the stays through their indexes, so
the summary's cost follows the number of days and stages, not the history's length.
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
    ARRAY,
    ColumnElement,
    Date,
    DateTime,
    Numeric,
    Row,
    Select,
    Uuid,
    and_,
    cast,
    extract,
    false,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Scoped
from app.pipeline.queries import visible_opportunities
from app.pipeline.tables import (
    opportunities,
    opportunity_stage_stays,
    pipeline_stages,
    stage_entry_days,
    stage_exit_days,
    stage_sets,
)
from app.teams.tables import teams
from app.users.tables import users

o = opportunities
stay = opportunity_stage_stays
e = stage_entry_days
x = stage_exit_days
sets = stage_sets
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


def _owned(who: Scoped, owner, owner_id: uuid.UUID | None) -> list:
    """The same scope on a table of counts that carries the owner (`owner`): the
    pipeline follows from the stage and the counts hold live opportunities only."""
    conditions = [visible_opportunities(who, owner)]
    if owner_id is not None:
        conditions.append(owner == owner_id)
    return conditions


# Literals, not parameters, so the partial indexes match under generic plans too.
OPEN = literal_column("'open'")
CENT = literal_column("0.01")


def open_amounts_query(scoped: list) -> Select:
    """Open opportunities per stage and currency: count, amount, weighted amount (the
    sum times the stage's probability: one stage, one probability, so the same as
    weighing each amount, exactly). Read from ix_opportunities_open_amounts alone."""
    per_stage = (
        select(o.c.stage_id, o.c.currency, func.count().label("n"),
               func.sum(o.c.amount).label("amount"))
        .where(*scoped, o.c.status == OPEN)
        .group_by(o.c.stage_id, o.c.currency)
        .subquery()
    )  # fmt: skip
    return (
        select(per_stage, func.round(per_stage.c.amount * s.c.probability * CENT, 2).label("weighted"))
        .join(s, s.c.id == per_stage.c.stage_id)
        .order_by(per_stage.c.stage_id, per_stage.c.currency)
    )  # fmt: skip


@dataclass(frozen=True)
class Span:
    """A period as instants, split for the daily counts: the whole UTC days inside it
    (`days`: first day, day after the last; None for an open end; `days` None when no
    whole day fits) come from stage_entry_days / stage_exit_days, and the parts of a
    day at either end (`edges`, [from, to) instants) from the stays themselves."""

    start: dt.datetime | None
    end: dt.datetime | None
    days: tuple[dt.date | None, dt.date | None] | None
    edges: tuple[tuple[dt.datetime, dt.datetime], ...]


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def span(start: dt.date | None, end: dt.date | None, zone: str) -> Span:
    tz = ZoneInfo(zone)
    begin = None if start is None else dt.datetime.combine(start, dt.time(), tz)
    stop = None if end is None else dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz)
    first = last = None  # the first whole UTC day, and the day after the last one
    if begin is not None:
        utc = begin.astimezone(dt.UTC)
        first = utc.date() + dt.timedelta(days=0 if utc.time() == dt.time() else 1)
    if stop is not None:
        last = stop.astimezone(dt.UTC).date()
    if first is not None and last is not None and first >= last:
        return Span(begin, stop, None, ((begin, stop),))
    edges = []
    if begin is not None and begin < _utc_midnight(first):
        edges.append((begin, _utc_midnight(first)))
    if stop is not None and _utc_midnight(last) < stop:
        edges.append((_utc_midnight(last), stop))
    return Span(begin, stop, (first, last), tuple(edges))


def _between(column, lower, upper) -> ColumnElement[bool]:
    parts = [] if lower is None else [column >= lower]
    if upper is not None:
        parts.append(column < upper)
    return and_(true(), *parts)


def _at_edges(column, when: Span) -> ColumnElement[bool]:
    return or_(false(), *(_between(column, lower, upper) for lower, upper in when.edges))


def movements_query(
    who: Scoped,
    pipeline_id: uuid.UUID,
    owner_id: uuid.UUID | None,
    stage_ids: list[uuid.UUID],
    when: Span,
) -> Select:
    """Per stage, for the period, from the stays (app/pipeline/tables.py) and their
    daily counts, in one statement:
    - kind "entered", per reached set: the opportunities that entered the stage in the
      period, each once: an entry counts when it is the first one into the stage in
      the period (no entry before it, or the one before it was before the period);
      `stage_ids` the stages reached from it on, which say whether it advanced;
    - kind "left": the stays in the stage that ended in the period, and their average
      length in days.
    Whole UTC days come from the daily counts (first entries only), the rest (the
    parts of a day at the ends, and entries after an earlier one) from the stays,
    through their indexes: no sort of the history, whatever the period."""
    scoped = _scoped(who, pipeline_id, owner_id)
    entries, exits = [], []
    if when.days is not None:
        first, last = when.days
        entries.append(
            select(e.c.stage_id, e.c.reached_set, e.c.entered.label("n"))
            .where(e.c.stage_id.in_(stage_ids), *_owned(who, e.c.owner_id, owner_id),
                   _between(e.c.day, first, last))
        )  # fmt: skip
        exits.append(
            select(x.c.stage_id, x.c.stays.label("n"), x.c.seconds)
            .where(x.c.stage_id.in_(stage_ids), *_owned(who, x.c.owner_id, owner_id),
                   _between(x.c.day, first, last))
        )  # fmt: skip
    reentered = false()
    if when.start is not None:
        reentered = and_(
            stay.c.prior_entry_at.is_not(None),
            stay.c.prior_entry_at < when.start,
            _between(stay.c.entered_at, when.start, when.end),
        )
    entries.append(
        select(stay.c.stage_id, stay.c.reached_set, literal_column("1").label("n"))
        .join(o, o.c.id == stay.c.opportunity_id)
        .where(*scoped, stay.c.stage_id.in_(stage_ids),
               or_(and_(stay.c.prior_entry_at.is_(None), _at_edges(stay.c.entered_at, when)),
                   reentered))
    )  # fmt: skip
    exits.append(
        select(stay.c.stage_id, literal_column("1").label("n"),
               extract("epoch", stay.c.left_at - stay.c.entered_at).label("seconds"))
        .join(o, o.c.id == stay.c.opportunity_id)
        .where(*scoped, stay.c.stage_id.in_(stage_ids), _at_edges(stay.c.left_at, when))
    )  # fmt: skip
    entered = union_all(*entries).subquery("entered")
    per_set = (
        select(entered.c.stage_id, entered.c.reached_set, func.sum(entered.c.n).label("n"))
        .group_by(entered.c.stage_id, entered.c.reached_set)
        .subquery("per_set")
    )
    left = union_all(*exits).subquery("left")
    stays = func.sum(left.c.n)
    return union_all(
        select(literal_column("'entered'").label("kind"), per_set.c.stage_id,
               sets.c.stage_ids, per_set.c.n, cast(null(), Numeric).label("days"))
        .join(sets, sets.c.id == per_set.c.reached_set),
        select(literal_column("'left'"), left.c.stage_id, cast(null(), ARRAY(Uuid)), stays,
               func.sum(left.c.seconds) / func.nullif(stays, 0) / DAY_SECONDS)
        .group_by(left.c.stage_id),
    )  # fmt: skip


def closed_query(scoped: list, during: Period) -> Select:
    """Opportunities won and lost in the period (from ix_opportunities_pipeline_closed_at)."""
    return select(
        func.count().filter(o.c.status == "won").label("won"),
        func.count().filter(o.c.status == "lost").label("lost"),
    ).where(
        *scoped, o.c.closed_at.is_not(None), o.c.status.in_(("won", "lost")), during(o.c.closed_at)
    )


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
    pipeline_id = stages[0].pipeline_id
    scoped = _scoped(who, pipeline_id, owner_id)
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
    when = span(start, end, time_zone)
    for row in await conn.execute(movements_query(who, pipeline_id, owner_id, list(numbers), when)):
        stage = numbers[row.stage_id]
        if row.kind == "entered":
            stage.entered += row.n
            # Advanced: later (or at the same instant) it entered a stage ranked after.
            if max((ranks.get(i, -1) for i in row.stage_ids), default=-1) > ranks[row.stage_id]:
                stage.advanced += row.n
        else:
            stage.stays_ended = row.n
            stage.average_days = float(row.days) if row.n else None
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
