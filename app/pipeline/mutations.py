"""Pipeline (pipelines:manage) and opportunity (opportunities:write) mutations: each
one transaction, audited, with userErrors naming the input field at fault."""

from __future__ import annotations

from typing import Any

import strawberry

from app.api.context import Info
from app.api.errors import run_mutation
from app.api.ids import optional_uuid, provided, require_uuid
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.custom_fields.types import input_items
from app.pipeline import pipelines, service
from app.pipeline.inputs import (
    CloseOpportunityInput,
    CloseOpportunityPayload,
    CreateOpportunityInput,
    CreateOpportunityPayload,
    CreatePipelineInput,
    CreatePipelinePayload,
    MoveOpportunityInput,
    MoveOpportunityPayload,
    ReopenOpportunityInput,
    ReopenOpportunityPayload,
    SetPipelineStagesInput,
    SetPipelineStagesPayload,
    UpdateOpportunityInput,
    UpdateOpportunityPayload,
    UpdatePipelineInput,
    UpdatePipelinePayload,
)
from app.pipeline.types import build_opportunities, build_pipelines

UNSET: Any = strawberry.UNSET
OPPORTUNITY_FIELDS = (
    "name",
    "amount",
    "currency",
    "expected_close_date",
    "owner_id",
    "competitors",
)
PIPELINE_FIELDS = ("name", "description", "is_default")


def _stages(stages: list, *, with_ids: bool) -> list[dict[str, Any]]:
    return [
        {
            "id": optional_uuid(s.id, "stages", "stage") if with_ids else None,
            "name": s.name, "probability": s.probability, "kind": s.kind.value,
        }
        for s in stages
    ]  # fmt: skip


async def _pipeline_mutation(info: Info, payload: type, change) -> Any:
    async def write(conn) -> dict:
        row = await change(conn, info.context.actor)
        (node,) = await build_pipelines(conn, [row], selected_paths(info), "pipeline.")
        return {"pipeline": node}

    return await run_mutation(info, payload, write)


async def _opportunity_mutation(info: Info, payload: type, change) -> Any:
    async def write(conn) -> dict:
        row = await change(conn, info.context.actor, info.context.principal)
        (node,) = await build_opportunities(
            conn, info.context.principal, [row], selected_paths(info), "opportunity."
        )
        return {"opportunity": node}

    return await run_mutation(info, payload, write)


@strawberry.type
class PipelineMutations:
    @strawberry.mutation(extensions=requires("pipelines:manage"))
    async def create_pipeline(
        self, info: Info, input: CreatePipelineInput
    ) -> CreatePipelinePayload:
        async def change(conn, actor):
            return await pipelines.create_pipeline(
                conn, actor=actor, pipeline_id=optional_uuid(input.id, "id", "pipeline"),
                fields=provided(input, PIPELINE_FIELDS),
                stages=_stages(input.stages, with_ids=False),
            )  # fmt: skip

        return await _pipeline_mutation(info, CreatePipelinePayload, change)

    @strawberry.mutation(extensions=requires("pipelines:manage"))
    async def update_pipeline(
        self, info: Info, input: UpdatePipelineInput
    ) -> UpdatePipelinePayload:
        async def change(conn, actor):
            return await pipelines.update_pipeline(
                conn, actor=actor, pipeline_id=require_uuid(input.id, "id", "pipeline"),
                version=input.version, fields=provided(input, PIPELINE_FIELDS),
            )  # fmt: skip

        return await _pipeline_mutation(info, UpdatePipelinePayload, change)

    @strawberry.mutation(extensions=requires("pipelines:manage"))
    async def set_pipeline_stages(
        self, info: Info, input: SetPipelineStagesInput
    ) -> SetPipelineStagesPayload:
        async def change(conn, actor):
            return await pipelines.set_pipeline_stages(
                conn, actor=actor, pipeline_id=require_uuid(input.id, "id", "pipeline"),
                version=input.version, stages=_stages(input.stages, with_ids=True),
            )  # fmt: skip

        return await _pipeline_mutation(info, SetPipelineStagesPayload, change)

    @strawberry.mutation(extensions=requires("opportunities:write"))
    async def create_opportunity(
        self, info: Info, input: CreateOpportunityInput
    ) -> CreateOpportunityPayload:
        async def change(conn, actor, who):
            return await service.create_opportunity(
                conn, actor=actor, who=who,
                opportunity_id=optional_uuid(input.id, "id", "opportunity"),
                customer_id=require_uuid(input.customer_id, "customerId", "customer"),
                pipeline_id=optional_uuid(input.pipeline_id, "pipelineId", "pipeline"),
                stage_id=optional_uuid(input.stage_id, "stageId", "stage"),
                fields=provided(input, OPPORTUNITY_FIELDS),
                custom_fields=input_items(input.custom_fields) or [],
            )  # fmt: skip

        return await _opportunity_mutation(info, CreateOpportunityPayload, change)

    @strawberry.mutation(extensions=requires("opportunities:write"))
    async def update_opportunity(
        self, info: Info, input: UpdateOpportunityInput
    ) -> UpdateOpportunityPayload:
        async def change(conn, actor, who):
            return await service.update_opportunity(
                conn, actor=actor, who=who,
                opportunity_id=require_uuid(input.id, "id", "opportunity"),
                version=input.version, fields=provided(input, OPPORTUNITY_FIELDS),
                custom_fields=input_items(input.custom_fields),
            )  # fmt: skip

        return await _opportunity_mutation(info, UpdateOpportunityPayload, change)

    @strawberry.mutation(extensions=requires("opportunities:write"))
    async def move_opportunity(
        self, info: Info, input: MoveOpportunityInput
    ) -> MoveOpportunityPayload:
        async def change(conn, actor, who):
            return await service.move_opportunity(
                conn, actor=actor, who=who,
                opportunity_id=require_uuid(input.id, "id", "opportunity"),
                version=input.version, stage_id=require_uuid(input.stage_id, "stageId", "stage"),
            )  # fmt: skip

        return await _opportunity_mutation(info, MoveOpportunityPayload, change)

    @strawberry.mutation(extensions=requires("opportunities:write"))
    async def close_opportunity(
        self, info: Info, input: CloseOpportunityInput
    ) -> CloseOpportunityPayload:
        async def change(conn, actor, who):
            return await service.close_opportunity(
                conn, actor=actor, who=who,
                opportunity_id=require_uuid(input.id, "id", "opportunity"),
                version=input.version, outcome=input.outcome.value, reason=input.reason,
            )  # fmt: skip

        return await _opportunity_mutation(info, CloseOpportunityPayload, change)

    @strawberry.mutation(extensions=requires("opportunities:write"))
    async def reopen_opportunity(
        self, info: Info, input: ReopenOpportunityInput
    ) -> ReopenOpportunityPayload:
        async def change(conn, actor, who):
            return await service.reopen_opportunity(
                conn, actor=actor, who=who,
                opportunity_id=require_uuid(input.id, "id", "opportunity"),
                version=input.version, stage_id=optional_uuid(input.stage_id, "stageId", "stage"),
            )  # fmt: skip

        return await _opportunity_mutation(info, ReopenOpportunityPayload, change)
