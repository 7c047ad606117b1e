"""Attainment of sales targets and the sales ranking, computed in SQL.

A target's metric says what counts as achieved:

WON_AMOUNT (`won_amount`, the default): the amount of live opportunities WON (status
won, by `closed_at`) in the target's currency, closed within the target's month in the
tenant's calendar, credited to the opportunity's owner.

ORDER_VALUE (`order_value`, 订单额): the value of sales orders booked in the month:
- orders whose status is confirmed or closed: a draft is not yet an order, a cancelled
  one no longer is (an order cancelled after confirmation drops out when it is read
  next: nothing is stored). A short-closed order counts in full: the measure is what
  was booked, not what was shipped, invoiced or paid;
- by `order_date` (the date on the document, a calendar date, so no time zone is
  involved; only a draft may change it, so a confirmed order stays in its month). It
  is the date both parties sign and finance files the order under; `confirmed_at`
  would move an order signed on the 31st into the next month when it is approved on
  the 1st;
- its `gross_total`, tax included (价税合计): the amount of the contract and of the
  invoices, the figure Chinese sales teams are measured on, and the same whether the
  order's prices were entered with or without tax;
- credited to the rep who owns the order's customer when the report is read
  (`customers.owner_id`, whatever the customer's state): the responsible rep, like the
  order's visibility. An order does not remember who owned the customer when it was
  signed, so transferring a customer moves its orders with it, as moving a rep between
  teams moves their history. Orders of unowned (pool) customers count only for the
  company.

For either metric, achieved is by:
- a user target: that owner;
- a team target: owners who are members of the team or any team below it (current
  membership and the current tree: moving a rep moves their history with them);
- the company target: everyone.
Amounts are never converted between currencies: a target in CNY counts only what is
in CNY.

Which targets a caller gets is their data scope (app/targets/queries.py); a target's
achieved amount is always its subject's whole result, so a rep sees how far the
company is, not only their own part of it. The ranking, on the other hand, counts
only what the caller may see: for won amount the opportunities (by owner), for order
value the orders (app/orders/queries.visible_orders: those of customers they see). A
manager ranks their subtree, a rep sees themselves.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    Row,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Scoped
from app.customers.tables import customers
from app.orders.queries import visible_orders
from app.orders.tables import sales_orders
from app.pipeline.analytics import period
from app.pipeline.queries import visible_opportunities
from app.pipeline.tables import opportunities
from app.targets.queries import in_months, visible_targets
from app.targets.tables import sales_targets
from app.teams.tables import teams
from app.users.tables import users

o = opportunities.c
so = sales_orders.c
t = sales_targets.c

WON_AMOUNT = "won_amount"
ORDER_VALUE = "order_value"
# The order statuses whose orders are booked (ORDER_VALUE counts them).
BOOKED = ("confirmed", "closed")


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
    metric: str
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


def _booked(currency: str, start, end):
    """Booked orders in `currency` dated from `start` (included) to `end` (excluded)."""
    return and_(so.status.in_(BOOKED), so.currency == currency, so.order_date >= start,
                so.order_date < end)  # fmt: skip


def attainment_query(
    who: Scoped, *, start: dt.date, end: dt.date, currency: str, zone: str,
    metric: str | None = None,
):  # fmt: skip
    """Per visible target of the months of [start, end] in `currency` (of `metric`, or
    of every metric): the target's columns and `achieved`. One statement."""
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
    won_amount = (
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
    # Booked order value per month and owner (with the owner's department path), over
    # the range: the months' range of ix_sales_orders_status, each order's customer (and
    # owner) by primary key. order_date is a date: its month is the calendar's.
    # MATERIALIZED: aggregated once for the statement (and only if an order-value target
    # reads it), not once per target.
    rep_team = teams.alias("rep_team")
    order_month = cast(func.date_trunc(literal_column("'month'"), so.order_date), Date)
    booked = (
        select(order_month.label("month"), customers.c.owner_id,
               rep_team.c.path.label("team_path"), func.sum(so.gross_total).label("amount"))
        .select_from(sales_orders.join(customers, customers.c.id == so.customer_id)
                     .outerjoin(users, users.c.id == customers.c.owner_id)
                     .outerjoin(rep_team, rep_team.c.id == users.c.team_id))
        .where(_booked(currency, low.date(), high.date()))
        .group_by(order_month, customers.c.owner_id, rep_team.c.path)
        .cte("booked")
        .prefix_with("MATERIALIZED")
    )  # fmt: skip
    order_value = (
        select(func.coalesce(func.sum(booked.c.amount), 0))
        .where(
            booked.c.month == t.period,
            or_(
                t.scope == "company",
                and_(t.scope == "user", booked.c.owner_id == t.user_id),
                and_(t.scope == "team", booked.c.team_path.startswith(subject_team.c.path)),
            ),
        )
        .scalar_subquery()
    )
    # Each target's own metric; the other subquery is not run for it.
    achieved = case((t.metric == ORDER_VALUE, order_value), else_=won_amount)
    return (
        select(sales_targets, achieved.label("achieved"))
        .select_from(sales_targets.outerjoin(subject_team, subject_team.c.id == t.team_id))
        .where(visible_targets(who), in_months(start, end), t.currency == currency,
               true() if metric is None else t.metric == metric)
        .order_by(t.scope, t.team_id, t.user_id, t.metric, t.period)
    )  # fmt: skip


async def attainment(
    conn: AsyncConnection, who: Scoped, *, start: dt.date, end: dt.date, currency: str,
    zone: str, metric: str | None = None,
) -> tuple[list[TargetResult], list[SubjectTotal]]:  # fmt: skip
    """Each target with its achieved amount, and per subject and metric the sums over
    the range (a quarter's or a year's attainment: the months that have a target)."""
    query = attainment_query(who, start=start, end=end, currency=currency, zone=zone,
                             metric=metric)  # fmt: skip
    rows = (await conn.execute(query)).all()
    results = [TargetResult(row, row.achieved) for row in rows]
    totals: dict[tuple, SubjectTotal] = {}
    for result in results:
        row = result.target
        key = (row.scope, row.team_id, row.user_id, row.metric)
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
    zone: str, first: int, metric: str = WON_AMOUNT,
) -> list[Ranked]:  # fmt: skip
    """Owners by `metric` in `currency` over the days [start, end] (won amount: among
    the opportunities `who` may see; order value: among the booked orders `who` may
    see, by their customers' owners); ties share a rank (1, 1, 3) and list by name.
    One statement."""
    if metric == ORDER_VALUE:
        owner = customers.c.owner_id
        total = func.sum(so.gross_total)
        source = sales_orders.join(customers, customers.c.id == so.customer_id).join(
            users, users.c.id == owner
        )
        conditions = [_booked(currency, start, end + dt.timedelta(days=1)), visible_orders(who)]
    else:
        owner = o.owner_id
        total = func.sum(o.amount)
        source = opportunities.join(users, users.c.id == owner)
        conditions = [o.deleted_at.is_(None), o.status == "won", o.currency == currency,
                      visible_opportunities(who), period(o.closed_at, start, end, zone)]  # fmt: skip
    rank = func.rank().over(order_by=total.desc())
    rows = await conn.execute(
        select(owner.label("owner_id"), total.label("amount"), func.count().label("n"),
               rank.label("rank"))
        .select_from(source)
        .where(*conditions)
        .group_by(owner, users.c.name)
        .order_by(total.desc(), users.c.name, owner)
        .limit(first)
    )  # fmt: skip
    return [Ranked(r.rank, r.owner_id, r.amount, r.n) for r in rows]
