"""GraphQL types of pipelines, stages and opportunities, built as plain objects for a
whole page: children are fetched per page by looking ahead at the selection (one
statement per kind of child), never per row."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.context import Info
from app.api.ids import graphql_id
from app.api.pagination import Connection
from app.api.permissions import requires
from app.auth.principal import Scoped
from app.custom_fields.types import VALUES_DESCRIPTION, CustomFieldValue, attach_values
from app.customers.types import Customer, attach_customers
from app.pipeline import queries
from app.users.graphql import User
from app.users.queries import users_by_id

if TYPE_CHECKING:
    from app.activities.graphql import ActivityFilter, ActivityOrder
    from app.activities.types import Activity


@strawberry.enum
class StageKind(enum.Enum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


@strawberry.enum
class OpportunityStatus(enum.Enum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


@strawberry.type
class PipelineStage:
    id: strawberry.ID
    pipeline_id: strawberry.ID
    name: str
    position: int = strawberry.field(description="0 for the first stage.")
    probability: Decimal = strawberry.field(description="Win probability in percent, 0-100.")
    kind: StageKind

    @classmethod
    def from_row(cls, row: Row) -> PipelineStage:
        return cls(
            id=strawberry.ID(str(row.id)), pipeline_id=strawberry.ID(str(row.pipeline_id)),
            name=row.name, position=row.position, probability=row.probability,
            kind=StageKind(row.kind),
        )  # fmt: skip


@strawberry.type
class Pipeline:
    id: strawberry.ID
    name: str
    description: str
    is_default: bool
    version: int = strawberry.field(description="Pass it back on update; a stale one conflicts.")
    created_at: dt.datetime
    updated_at: dt.datetime
    stages: list[PipelineStage] = strawberry.field(
        default_factory=list, description="In order (by position)."
    )

    @classmethod
    def from_row(cls, row: Row) -> Pipeline:
        return cls(
            id=strawberry.ID(str(row.id)), name=row.name, description=row.description,
            is_default=row.is_default, version=row.version, created_at=row.created_at,
            updated_at=row.updated_at,
        )  # fmt: skip


async def build_pipelines(
    conn: AsyncConnection, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[Pipeline]:
    nodes = [Pipeline.from_row(r) for r in rows]
    if f"{prefix}stages" in selected and rows:
        grouped = await queries.stages_by_pipeline(conn, [r.id for r in rows])
        for node, row in zip(nodes, rows, strict=True):
            node.stages = [PipelineStage.from_row(s) for s in grouped.get(row.id, [])]
    return nodes


@strawberry.type
class StageChange:
    id: strawberry.ID
    from_stage_id: strawberry.ID | None = strawberry.field(description="Null on creation.")
    to_stage_id: strawberry.ID
    changed_by_id: strawberry.ID | None
    changed_at: dt.datetime
    from_stage: PipelineStage | None = None
    to_stage: PipelineStage | None = None
    changed_by: User | None = None


@strawberry.type
class Opportunity:
    id: strawberry.ID
    customer_id: strawberry.ID
    name: str
    amount: Decimal
    currency: str = strawberry.field(description="ISO 4217, upper-case.")
    expected_close_date: dt.date | None
    owner_id: strawberry.ID
    pipeline_id: strawberry.ID
    stage_id: strawberry.ID
    status: OpportunityStatus = strawberry.field(description="The kind of its stage.")
    lost_reason: str | None
    closed_at: dt.datetime | None
    competitors: list[str]
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int = strawberry.field(description="Pass it back on change; a stale one conflicts.")
    customer: Customer | None = strawberry.field(
        default=None,
        extensions=requires("customers:read"),
        description="Null when the customer is outside your data scope; FORBIDDEN without "
        "customers:read.",
    )
    owner: User | None = None
    pipeline: Pipeline | None = None
    stage: PipelineStage | None = None
    stage_history: list[StageChange] = strawberry.field(
        default_factory=list, description="Every stage it entered, oldest first."
    )
    custom_fields: list[CustomFieldValue] = strawberry.field(
        default_factory=list, description=VALUES_DESCRIPTION
    )

    @strawberry.field(
        extensions=requires("activities:read"),
        description="Activities on this opportunity you can see: the `activities` list with "
        "opportunityId set to it. FORBIDDEN without activities:read.",
    )
    async def activities(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: Annotated[ActivityFilter, strawberry.lazy("app.activities.graphql")] | None = None,
        order_by: list[Annotated[ActivityOrder, strawberry.lazy("app.activities.graphql")]]
        | None = None,
    ) -> Connection[Annotated[Activity, strawberry.lazy("app.activities.types")]] | None:
        # Lazy: activities depend on this capability, not the other way round.
        from app.activities.graphql import linked_activities

        return await linked_activities(
            info, "opportunity_id", self.id, first=first, after=after, filter=filter,
            order_by=order_by,
        )  # fmt: skip

    @classmethod
    def from_row(cls, row: Row) -> Opportunity:
        return cls(
            id=strawberry.ID(str(row.id)), customer_id=strawberry.ID(str(row.customer_id)),
            name=row.name, amount=row.amount, currency=row.currency,
            expected_close_date=row.expected_close_date, owner_id=strawberry.ID(str(row.owner_id)),
            pipeline_id=strawberry.ID(str(row.pipeline_id)),
            stage_id=strawberry.ID(str(row.stage_id)), status=OpportunityStatus(row.status),
            lost_reason=row.lost_reason, closed_at=row.closed_at,
            competitors=list(row.competitors), created_at=row.created_at,
            updated_at=row.updated_at, version=row.version,
        )  # fmt: skip


async def build_opportunities(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[Opportunity]:
    """Opportunities with the children the query selected below `prefix`: at most one
    statement each for history, stages, users, pipelines and customers (and the
    customers' own children), whatever the page size."""
    nodes = [Opportunity.from_row(r) for r in rows]
    if not rows:
        return nodes

    def wants(path: str) -> bool:
        return f"{prefix}{path}" in selected

    if wants("customFields"):
        await attach_values(conn, "opportunity", nodes, [r.id for r in rows])
    history = {}
    if wants("stageHistory"):
        history = await queries.history_by_opportunity(conn, [r.id for r in rows])
    changes = [h for entries in history.values() for h in entries]
    stage_ids = [r.stage_id for r in rows] if wants("stage") else []
    if wants("stageHistory.fromStage"):
        stage_ids += [h.from_stage_id for h in changes]
    if wants("stageHistory.toStage"):
        stage_ids += [h.to_stage_id for h in changes]
    user_ids = [r.owner_id for r in rows] if wants("owner") else []
    if wants("stageHistory.changedBy"):
        user_ids += [h.changed_by for h in changes]
    found_stages = await queries.stages_by_id(conn, stage_ids)
    stages = {k: PipelineStage.from_row(v) for k, v in found_stages.items()}
    people = {k: User.from_row(v) for k, v in (await users_by_id(conn, user_ids)).items()}
    for node, row in zip(nodes, rows, strict=True):
        node.stage = stages.get(row.stage_id)
        node.owner = people.get(row.owner_id)
        node.stage_history = [
            StageChange(
                id=strawberry.ID(str(h.id)), from_stage_id=graphql_id(h.from_stage_id),
                to_stage_id=strawberry.ID(str(h.to_stage_id)),
                changed_by_id=graphql_id(h.changed_by),
                changed_at=h.changed_at, from_stage=stages.get(h.from_stage_id),
                to_stage=stages.get(h.to_stage_id), changed_by=people.get(h.changed_by),
            )
            for h in history.get(row.id, [])
        ]  # fmt: skip
    if wants("pipeline"):
        found = await queries.pipelines_by_id(conn, [r.pipeline_id for r in rows])
        built = await build_pipelines(conn, list(found.values()), selected, f"{prefix}pipeline.")
        by_id = dict(zip(found, built, strict=True))
        for node, row in zip(nodes, rows, strict=True):
            node.pipeline = by_id.get(row.pipeline_id)
    await attach_customers(conn, who, nodes, rows, selected, prefix)
    return nodes
