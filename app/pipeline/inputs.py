"""Inputs and payloads of the pipeline and opportunity mutations (the API contract)."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

import strawberry

from app.api.errors import UserErrorType
from app.custom_fields.types import CustomFieldInput
from app.pipeline.types import Opportunity, Pipeline, StageKind

UNSET: Any = strawberry.UNSET
CLIENT_ID = "Optional client-generated id; repeating a create is a no-op."
VERSION = "The version you loaded; stale ones conflict."
CUSTOM_FIELDS = (
    "Values of custom fields by key (customFieldDefinitions(entity: OPPORTUNITY)); fields "
    "not listed keep their value, null clears one. Errors name the field as "
    "customFields.<key>."
)


@strawberry.input
class NewPipelineStageInput:
    name: str
    probability: Decimal = strawberry.field(description="Win probability in percent, 0-100.")
    kind: StageKind = StageKind.OPEN


@strawberry.input
class PipelineStageInput:
    id: strawberry.ID | None = strawberry.field(
        default=None, description="An existing stage to keep; none adds a stage."
    )
    name: str
    probability: Decimal
    kind: StageKind = StageKind.OPEN


@strawberry.input
class CreatePipelineInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=CLIENT_ID)
    name: str
    description: str | None = UNSET
    is_default: bool | None = strawberry.field(
        default=UNSET, description="true makes it the default instead of the current one."
    )
    stages: list[NewPipelineStageInput] = strawberry.field(
        description="In order; open stages, exactly one WON and one LOST."
    )


@strawberry.input
class UpdatePipelineInput:
    id: strawberry.ID
    version: int = strawberry.field(description=VERSION)
    name: str | None = UNSET
    description: str | None = UNSET
    is_default: bool | None = strawberry.field(
        default=UNSET,
        description="true makes it the default; to change the default, set it on another.",
    )


@strawberry.input
class SetPipelineStagesInput:
    id: strawberry.ID
    version: int = strawberry.field(description=VERSION)
    stages: list[PipelineStageInput] = strawberry.field(
        description="The whole list, in order: stages left out are removed (refused with "
        "IN_USE while opportunities are in them)."
    )


@strawberry.type
class PipelinePayloadFields:
    pipeline: Pipeline | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreatePipelinePayload(PipelinePayloadFields):
    pass


@strawberry.type
class UpdatePipelinePayload(PipelinePayloadFields):
    pass


@strawberry.type
class SetPipelineStagesPayload(PipelinePayloadFields):
    pass


@strawberry.input
class CreateOpportunityInput:
    id: strawberry.ID | None = strawberry.field(default=None, description=CLIENT_ID)
    customer_id: strawberry.ID
    name: str
    amount: Decimal | None = strawberry.field(
        default=UNSET, description="A decimal string, at most 2 decimal places; default 0."
    )
    currency: str | None = strawberry.field(default=UNSET, description="ISO 4217; default CNY.")
    expected_close_date: dt.date | None = UNSET
    owner_id: strawberry.ID | None = strawberry.field(default=UNSET, description="Default: you.")
    pipeline_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: the stage's pipeline, else the default pipeline."
    )
    stage_id: strawberry.ID | None = strawberry.field(
        default=None, description="An open stage; default: the pipeline's first."
    )
    competitors: list[str] | None = UNSET
    custom_fields: list[CustomFieldInput] | None = strawberry.field(
        default=UNSET, description=CUSTOM_FIELDS
    )


@strawberry.input
class UpdateOpportunityInput:
    id: strawberry.ID
    version: int = strawberry.field(description=VERSION)
    name: str | None = UNSET
    amount: Decimal | None = UNSET
    currency: str | None = UNSET
    expected_close_date: dt.date | None = UNSET
    owner_id: strawberry.ID | None = UNSET
    competitors: list[str] | None = UNSET
    custom_fields: list[CustomFieldInput] | None = strawberry.field(
        default=UNSET, description=CUSTOM_FIELDS
    )


@strawberry.input
class MoveOpportunityInput:
    id: strawberry.ID
    version: int = strawberry.field(description=VERSION)
    stage_id: strawberry.ID = strawberry.field(
        description="An open stage of its pipeline (closing is closeOpportunity)."
    )


@strawberry.enum
class OpportunityOutcome(enum.Enum):
    WON = "won"
    LOST = "lost"


@strawberry.input
class CloseOpportunityInput:
    id: strawberry.ID
    version: int = strawberry.field(description=VERSION)
    outcome: OpportunityOutcome
    reason: str | None = strawberry.field(
        default=None, description="Why it was lost: required for LOST, refused for WON."
    )


@strawberry.input
class ReopenOpportunityInput:
    id: strawberry.ID
    version: int = strawberry.field(description=VERSION)
    stage_id: strawberry.ID | None = strawberry.field(
        default=None, description="An open stage; default: the one it was closed from."
    )


@strawberry.type
class OpportunityPayloadFields:
    opportunity: Opportunity | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.type
class CreateOpportunityPayload(OpportunityPayloadFields):
    pass


@strawberry.type
class UpdateOpportunityPayload(OpportunityPayloadFields):
    pass


@strawberry.type
class MoveOpportunityPayload(OpportunityPayloadFields):
    pass


@strawberry.type
class CloseOpportunityPayload(OpportunityPayloadFields):
    pass


@strawberry.type
class ReopenOpportunityPayload(OpportunityPayloadFields):
    pass
