"""`pipelineSummary` (the funnel) and `forecast` over GraphQL; the numbers come from
app/pipeline/analytics.py, with the caller's data scope applied to every one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import strawberry

from app.api.context import Info
from app.api.filters import filter_id
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.errors import BadUserInput
from app.pipeline import analytics, queries
from app.pipeline.types import Pipeline, PipelineStage
from app.users.graphql import User
from app.users.queries import users_by_id

MAX_FORECAST_DAYS = 5 * 366


@strawberry.type
class CurrencyAmount:
    currency: str
    amount: Decimal
    weighted: Decimal = strawberry.field(
        description="Sum of amount x stage probability / 100, rounded to cents."
    )


def _money(items: list[analytics.Money]) -> list[CurrencyAmount]:
    return [
        CurrencyAmount(currency=m.currency, amount=m.amount, weighted=m.weighted) for m in items
    ]


@strawberry.type
class StageSummary:
    stage: PipelineStage
    count: int = strawberry.field(description="Open opportunities in this stage now.")
    amounts: list[CurrencyAmount] = strawberry.field(
        description="Their amounts, per currency (never added across currencies)."
    )
    entered: int = strawberry.field(description="Opportunities that entered it in the period.")
    advanced: int = strawberry.field(
        description="Of those, how many later reached a later open stage or the won stage."
    )
    conversion_rate: float | None = strawberry.field(
        description="advanced / entered; null when none entered."
    )
    stays_ended: int = strawberry.field(description="Stays in this stage that ended in the period.")
    average_days_in_stage: float | None = strawberry.field(
        description="Their average length in days; null when none ended."
    )


@strawberry.type
class PipelineSummary:
    pipeline: Pipeline
    stages: list[StageSummary] = strawberry.field(description="The open stages, in order.")
    won: int = strawberry.field(description="Opportunities won in the period.")
    lost: int = strawberry.field(description="Opportunities lost in the period.")
    win_rate: float | None = strawberry.field(description="won / (won + lost); null without any.")


@strawberry.input
class PipelineSummaryFilter:
    pipeline_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: the default pipeline."
    )
    owner_id: strawberry.ID | None = None
    from_: dt.date | None = strawberry.field(
        default=None, name="from", description="First day of the period (tenant's calendar)."
    )
    to: dt.date | None = strawberry.field(default=None, description="Last day, inclusive.")


@strawberry.type
class MonthForecast:
    month: dt.date = strawberry.field(description="The first day of the expected close month.")
    currency: str
    count: int
    amount: Decimal
    weighted: Decimal


@strawberry.type
class OwnerForecast(MonthForecast):
    owner_id: strawberry.ID
    owner: User | None = None


@strawberry.type
class TeamForecast(MonthForecast):
    team_id: strawberry.ID | None = strawberry.field(description="Null for owners in no team.")
    team_name: str | None


@strawberry.type
class Forecast:
    by_month: list[MonthForecast]
    by_owner: list[OwnerForecast]
    by_team: list[TeamForecast] = strawberry.field(description="By the owner's own team.")


def _month(row: analytics.ForecastRow) -> dict:
    return {"month": row.month, "currency": row.currency, "count": row.count,
            "amount": row.amount, "weighted": row.weighted}  # fmt: skip


@strawberry.type
class PipelineReportQueries:
    @strawberry.field(
        extensions=requires("opportunities:read"),
        description="The funnel of a pipeline: what is in each open stage now, and for the "
        "period conversion between stages, days in stage and the win rate. Null for an "
        "unknown pipeline.",
    )
    async def pipeline_summary(
        self, info: Info, filter: PipelineSummaryFilter | None = None
    ) -> PipelineSummary | None:
        f = filter or PipelineSummaryFilter()
        pipeline_id, owner_id = (
            filter_id(f.pipeline_id, "pipelineId"),
            filter_id(f.owner_id, "ownerId"),
        )
        if f.from_ and f.to and f.from_ > f.to:
            raise BadUserInput("from must not be after to")
        principal = info.context.principal
        async with info.context.db.read() as conn:
            pipeline = await queries.get_pipeline(conn, pipeline_id)
            if pipeline is None:
                return None
            stages = (await queries.stages_by_pipeline(conn, [pipeline.id]))[pipeline.id]
            summary = await analytics.pipeline_summary(
                conn, principal, stages=stages, owner_id=owner_id, start=f.from_, end=f.to,
                time_zone=principal.tenant.time_zone,
            )  # fmt: skip
        node = Pipeline.from_row(pipeline)
        node.stages = [PipelineStage.from_row(s) for s in stages]
        return PipelineSummary(
            pipeline=node,
            stages=[
                StageSummary(
                    stage=PipelineStage.from_row(n.stage),
                    count=n.count,
                    amounts=_money(n.amounts),
                    entered=n.entered,
                    advanced=n.advanced,
                    conversion_rate=n.conversion_rate,
                    stays_ended=n.stays_ended,
                    average_days_in_stage=n.average_days,
                )
                for n in summary.stages
            ],  # fmt: skip
            won=summary.won,
            lost=summary.lost,
            win_rate=summary.win_rate,
        )

    @strawberry.field(
        extensions=requires("opportunities:read"),
        description="Weighted amounts of open opportunities by expected close month, per "
        "currency: in total, by owner and by team.",
    )
    async def forecast(
        self, info: Info, from_: Annotated[dt.date, strawberry.argument(name="from")], to: dt.date
    ) -> Forecast:
        if from_ > to:
            raise BadUserInput("from must not be after to")
        if (to - from_).days > MAX_FORECAST_DAYS:
            raise BadUserInput("a forecast covers at most five years")
        principal = info.context.principal
        async with info.context.db.read() as conn:
            result = await analytics.forecast(conn, principal, start=from_, end=to)
            owners = {}
            if "byOwner.owner" in selected_paths(info):
                owners = await users_by_id(conn, [r.owner_id for r in result.by_owner])
        return Forecast(
            by_month=[MonthForecast(**_month(r)) for r in result.by_month],
            by_owner=[
                OwnerForecast(
                    **_month(r),
                    owner_id=strawberry.ID(str(r.owner_id)),
                    owner=User.from_row(owners[r.owner_id]) if r.owner_id in owners else None,
                )
                for r in result.by_owner
            ],  # fmt: skip
            by_team=[
                TeamForecast(
                    **_month(r),
                    team_id=strawberry.ID(str(r.team_id)) if r.team_id else None,
                    team_name=r.team_name,
                )
                for r in result.by_team
            ],  # fmt: skip
        )
