"""Sales targets over GraphQL: `salesTargets`, `targetAttainment`, `salesRanking`
(targets:read) and `setSalesTargets` (targets:manage)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from typing import Annotated

import strawberry
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.context import Info
from app.api.errors import UserErrorType, run_mutation
from app.api.filters import all_of
from app.api.ids import parse_uuid
from app.api.pagination import Connection, SortKey, page_of
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.errors import BadUserInput
from app.pipeline.rules import CURRENCY
from app.targets import attainment, queries, service
from app.targets.tables import sales_targets
from app.teams.graphql import Team
from app.teams.tables import teams
from app.users.graphql import User
from app.users.queries import users_by_id

READ = "targets:read"
MANAGE = "targets:manage"
MAX_REPORT_DAYS = 5 * 366
MAX_RANKING = 100


@strawberry.enum(
    description="Whose target: the company's, a team's (with its subtree) or a user's."
)
class TargetScope(enum.Enum):
    COMPANY = "company"
    TEAM = "team"
    USER = "user"


@strawberry.enum(description="What a target measures (考核口径).")
class TargetMetric(enum.Enum):
    WON_AMOUNT = strawberry.enum_value(
        "won_amount", description="Amount of opportunities won (closed) in the month."
    )
    ORDER_VALUE = strawberry.enum_value(
        "order_value",
        description="Value of the sales orders booked in the month (订单额): confirmed or "
        "closed orders (not drafts, not cancelled) by order date, gross of tax (价税合计), "
        "credited to the current owner of each order's customer.",
    )


@strawberry.type(description="A sales target (销售目标) for one calendar month.")
class SalesTarget:
    id: strawberry.ID
    period: dt.date = strawberry.field(description="The month's first day.")
    scope: TargetScope
    team_id: strawberry.ID | None
    user_id: strawberry.ID | None
    metric: TargetMetric
    currency: str
    amount: Decimal
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    team: Team | None = None
    user: User | None = None

    @classmethod
    def from_row(cls, row: Row) -> SalesTarget:
        return cls(
            id=strawberry.ID(str(row.id)),
            period=row.period,
            scope=TargetScope(row.scope),
            team_id=strawberry.ID(str(row.team_id)) if row.team_id else None,
            user_id=strawberry.ID(str(row.user_id)) if row.user_id else None,
            metric=TargetMetric(row.metric),
            currency=row.currency,
            amount=row.amount,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


async def _subjects(
    conn: AsyncConnection, team_ids: list, user_ids: list, selected: set[str], prefix: str
) -> tuple[dict, dict]:
    """Teams and users named, when selected below `prefix`: one statement each."""
    found_teams: dict = {}
    found_users: dict = {}
    wanted_teams = [i for i in dict.fromkeys(team_ids) if i is not None]
    if wanted_teams and f"{prefix}team" in selected:
        rows = await conn.execute(select(teams).where(teams.c.id.in_(wanted_teams)))
        found_teams = {r.id: Team.from_row(r) for r in rows}
    if f"{prefix}user" in selected:
        found_users = {i: User.from_row(r) for i, r in (await users_by_id(conn, user_ids)).items()}
    return found_teams, found_users


async def build_targets(
    conn: AsyncConnection, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[SalesTarget]:
    nodes = [SalesTarget.from_row(r) for r in rows]
    found_teams, found_users = await _subjects(
        conn, [r.team_id for r in rows], [r.user_id for r in rows], selected, prefix
    )
    for node, row in zip(nodes, rows, strict=True):
        node.team = found_teams.get(row.team_id)
        node.user = found_users.get(row.user_id)
    return nodes


@strawberry.input
class SalesTargetFilter:
    from_: dt.date | None = strawberry.field(
        default=None, name="from", description="Targets of the months from this day's."
    )
    to: dt.date | None = strawberry.field(
        default=None, description="Targets of the months up to this day's."
    )
    scope: TargetScope | None = None
    team_id: strawberry.ID | None = None
    user_id: strawberry.ID | None = None
    metric: TargetMetric | None = None
    currency: str | None = None


@strawberry.input
class SalesTargetInput:
    period: dt.date = strawberry.field(description="The first day of the month.")
    scope: TargetScope
    team_id: strawberry.ID | None = strawberry.field(default=None, description="For TEAM.")
    user_id: strawberry.ID | None = strawberry.field(default=None, description="For USER.")
    metric: TargetMetric = TargetMetric.WON_AMOUNT
    currency: str = "CNY"
    amount: Decimal = strawberry.field(description="0 or more, at most 2 decimal places.")


@strawberry.input
class SetSalesTargetsInput:
    targets: list[SalesTargetInput] = strawberry.field(
        description="At most 200; each creates or replaces the target of its month, "
        "subject, metric and currency."
    )


@strawberry.type
class SetSalesTargetsPayload:
    targets: list[SalesTarget] = strawberry.field(
        default_factory=list, description="As set, in the order given."
    )
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type(description="One monthly target and how much of it was achieved.")
class TargetAttainment:
    target: SalesTarget
    achieved: Decimal = strawberry.field(
        description="The target's metric in the month for the subject (a team: its whole "
        "subtree), in the target's currency: won, or booked in orders."
    )
    ratio: float | None = strawberry.field(description="achieved / amount; null for a zero target.")


@strawberry.type(description="A subject's targets of the range summed (a quarter, a year).")
class SubjectAttainment:
    scope: TargetScope
    team_id: strawberry.ID | None
    user_id: strawberry.ID | None
    metric: TargetMetric
    currency: str
    months: int = strawberry.field(description="How many monthly targets are summed.")
    target_amount: Decimal
    achieved: Decimal = strawberry.field(description="Achieved in those months.")
    ratio: float | None
    team: Team | None = None
    user: User | None = None


@strawberry.type
class TargetAttainmentReport:
    targets: list[TargetAttainment] = strawberry.field(
        description="By scope (company, team, user), subject and month."
    )
    totals: list[SubjectAttainment] = strawberry.field(
        description="Per subject and metric, its months summed."
    )


@strawberry.type(description="A rep's place in the ranking.")
class RankedRep:
    rank: int = strawberry.field(description="1 for the most; equal amounts share a rank.")
    user_id: strawberry.ID
    metric: TargetMetric = strawberry.field(description="What is ranked.")
    amount: Decimal = strawberry.field(
        description="Won (WON_AMOUNT) or booked in orders (ORDER_VALUE) in the period."
    )
    count: int = strawberry.field(description="How many opportunities won, or orders booked.")
    won_amount: Decimal = strawberry.field(
        deprecation_reason="Use amount: the same number, whatever the metric."
    )
    won_count: int = strawberry.field(
        deprecation_reason="Use count: the same number, whatever the metric."
    )
    currency: str
    user: User | None = None


def _currency(value: str) -> str:
    code = (value or "").strip().upper()
    if not CURRENCY.match(code):
        raise BadUserInput("currency must be an ISO 4217 code of three letters")
    return code


def _range(start: dt.date, end: dt.date) -> None:
    if start > end:
        raise BadUserInput("from must not be after to")
    if (end - start).days > MAX_REPORT_DAYS:
        raise BadUserInput("a report covers at most five years")


def _id(value: object, field: str):
    if value is None:
        return None
    parsed = parse_uuid(value)
    if parsed is None:
        raise BadUserInput(f"{field}: {value!r} is not a valid id")
    return parsed


@strawberry.type
class TargetQueries:
    @strawberry.field(
        extensions=requires(READ),
        description="Sales targets you may see (a rep: the company's and their own; a "
        "manager: also their team subtree's and its people's), by month.",
    )
    async def sales_targets(
        self,
        info: Info,
        filter: SalesTargetFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[SalesTarget]:
        f = filter or SalesTargetFilter()
        t = sales_targets.c
        query = select(sales_targets).where(
            queries.visible_targets(info.context.principal),
            queries.in_months(f.from_, f.to),
            all_of([
                t.scope == f.scope.value if f.scope else None,
                t.team_id == _id(f.team_id, "teamId") if f.team_id is not None else None,
                t.user_id == _id(f.user_id, "userId") if f.user_id is not None else None,
                t.metric == f.metric.value if f.metric else None,
                t.currency == _currency(f.currency) if f.currency is not None else None,
            ]),
        )  # fmt: skip
        keys = [SortKey(t.period), SortKey(t.id)]
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            return await page_of(
                conn, query, keys, selected, partial(build_targets, conn),
                first=first, after=after, last=last, before=before,
            )  # fmt: skip

    @strawberry.field(
        extensions=requires(READ),
        description="For each target you may see of the months from `from` to `to` in the "
        "currency (of `metric`; null: of every metric): what was achieved against it by its "
        "metric (always the subject's whole result), and per subject and metric the months "
        "summed.",
    )
    async def target_attainment(
        self,
        info: Info,
        from_: Annotated[dt.date, strawberry.argument(name="from")],
        to: dt.date,
        currency: str = "CNY",
        metric: TargetMetric | None = None,
    ) -> TargetAttainmentReport:
        _range(from_, to)
        code = _currency(currency)
        principal = info.context.principal
        selected = selected_paths(info)
        async with info.context.db.read() as conn:
            results, totals = await attainment.attainment(
                conn, principal, start=from_, end=to, currency=code,
                zone=principal.tenant.time_zone, metric=metric.value if metric else None,
            )  # fmt: skip
            nodes = await build_targets(
                conn, [r.target for r in results], selected, "targets.target."
            )
            found_teams, found_users = await _subjects(
                conn, [s.team_id for s in totals], [s.user_id for s in totals], selected,
                "totals.",
            )  # fmt: skip
        return TargetAttainmentReport(
            targets=[
                TargetAttainment(target=node, achieved=r.achieved, ratio=r.ratio)
                for node, r in zip(nodes, results, strict=True)
            ],
            totals=[
                SubjectAttainment(
                    scope=TargetScope(s.scope),
                    team_id=strawberry.ID(str(s.team_id)) if s.team_id else None,
                    user_id=strawberry.ID(str(s.user_id)) if s.user_id else None,
                    metric=TargetMetric(s.metric),
                    currency=s.currency,
                    months=s.months,
                    target_amount=s.target,
                    achieved=s.achieved,
                    ratio=s.ratio,
                    team=found_teams.get(s.team_id),
                    user=found_users.get(s.user_id),
                )
                for s in totals
            ],  # fmt: skip
        )

    @strawberry.field(
        extensions=requires(READ),
        description="Reps by `metric` from `from` to `to` (days in the tenant's calendar, "
        "inclusive) in the currency: amount won among the opportunities you may see, or "
        "order value among the orders you may see (by their customers' owners); only reps "
        "with something to rank.",
    )
    async def sales_ranking(
        self,
        info: Info,
        from_: Annotated[dt.date, strawberry.argument(name="from")],
        to: dt.date,
        currency: str = "CNY",
        first: int = 10,
        metric: TargetMetric = TargetMetric.WON_AMOUNT,
    ) -> list[RankedRep]:
        _range(from_, to)
        code = _currency(currency)
        if not 1 <= first <= MAX_RANKING:
            raise BadUserInput(f"first must be from 1 to {MAX_RANKING}")
        principal = info.context.principal
        async with info.context.db.read() as conn:
            ranked = await attainment.ranking(
                conn, principal, start=from_, end=to, currency=code,
                zone=principal.tenant.time_zone, first=first, metric=metric.value,
            )  # fmt: skip
            people = {}
            if "user" in selected_paths(info):
                people = await users_by_id(conn, [r.owner_id for r in ranked])
        return [
            RankedRep(
                rank=r.rank, user_id=strawberry.ID(str(r.owner_id)), metric=metric,
                amount=r.amount, count=r.count, won_amount=r.amount, won_count=r.count,
                currency=code,
                user=User.from_row(people[r.owner_id]) if r.owner_id in people else None,
            )
            for r in ranked
        ]  # fmt: skip


@strawberry.type
class TargetMutations:
    @strawberry.mutation(
        extensions=requires(MANAGE),
        description="Create or replace monthly targets. The company's need the all data "
        "scope; a manager sets those of their team subtree and its people. userErrors name "
        "the target (targets[1].amount); nothing is written when there are any.",
    )
    async def set_sales_targets(
        self, info: Info, input: SetSalesTargetsInput
    ) -> SetSalesTargetsPayload:
        targets = [
            service.TargetInput(
                period=x.period, scope=x.scope.value, team_id=x.team_id, user_id=x.user_id,
                metric=x.metric.value, currency=x.currency, amount=x.amount,
            )
            for x in input.targets
        ]  # fmt: skip
        principal = info.context.principal

        async def write(conn) -> dict:
            rows = await service.set_targets(
                conn, actor=info.context.actor, who=principal, targets=targets
            )
            nodes = await build_targets(conn, rows, selected_paths(info), "targets.")
            return {"targets": nodes}

        return await run_mutation(info, SetSalesTargetsPayload, write)
