"""Writes to opportunities. Every function runs inside the caller's transaction and
raises UserErrors for anything the user can fix; every change of stage (creation
included) writes a row of stage history in the same transaction.

Status follows the stage's kind and changes in one place each: `move_opportunity`
between open stages, `close_opportunity` to the pipeline's won or lost stage,
`reopen_opportunity` back to an open stage.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor
from app.auth.principal import Scoped
from app.auth.scope import people_visible
from app.custom_fields import service as custom
from app.customers.queries import lock_referenced_customer
from app.errors import UserError, UserErrors, fail
from app.pipeline.queries import visible_opportunities
from app.pipeline.rules import check_reason, normalise_opportunity
from app.pipeline.tables import (
    opportunities,
    opportunity_stage_history,
    pipeline_stages,
    pipelines,
)
from app.records import apply_change, insert_once, lock_for_change, new_id
from app.users.tables import users


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _check_owner(conn: AsyncConnection, owner_id: uuid.UUID, who: Scoped) -> list[UserError]:
    """An owner is an active user the acting user may see: a rep (own scope) keeps
    opportunities, a manager hands them around the team."""
    active = await conn.scalar(
        select(users.c.active).where(users.c.id == owner_id, people_visible(who, users.c.id))
    )
    return [] if active else [UserError("ownerId", "NOT_FOUND", "no active user with this id")]


async def _check_customer(
    conn: AsyncConnection, customer_id: uuid.UUID, who: Scoped
) -> list[UserError]:
    if await lock_referenced_customer(conn, who, customer_id):
        return []
    return [UserError("customerId", "NOT_FOUND", "no such customer")]


# Locks, always in the order pipeline, then stage. setPipelineStages locks the
# pipeline FOR UPDATE, then its stages; an opportunity entering a stage reads that
# stage FOR SHARE, and a new one first takes its pipeline FOR KEY SHARE (which its
# foreign key would take anyway, later). So a stage is never removed or re-kinded
# while an opportunity moves in, and the two never deadlock.


async def _stage(conn: AsyncConnection, stage_id: uuid.UUID) -> Row | None:
    query = select(pipeline_stages).where(
        pipeline_stages.c.id == stage_id, pipeline_stages.c.deleted_at.is_(None)
    )
    return (await conn.execute(query.with_for_update(read=True))).first()


async def _outcome_stage(conn: AsyncConnection, pipeline_id: uuid.UUID, kind: str) -> Row:
    """The pipeline's won or lost stage, or (kind "open") its first open stage."""
    query = select(pipeline_stages).where(
        pipeline_stages.c.pipeline_id == pipeline_id,
        pipeline_stages.c.kind == kind,
        pipeline_stages.c.deleted_at.is_(None),
    )
    query = query.order_by(pipeline_stages.c.position).limit(1).with_for_update(read=True)
    return (await conn.execute(query)).first()


async def _pipeline(conn: AsyncConnection, pipeline_id: uuid.UUID | None) -> Row | None:
    """A live pipeline (the default one without an id), locked FOR KEY SHARE."""
    condition = pipelines.c.is_default if pipeline_id is None else pipelines.c.id == pipeline_id
    query = select(pipelines).where(condition, pipelines.c.deleted_at.is_(None))
    return (await conn.execute(query.with_for_update(read=True, key_share=True))).first()


async def _starting_stage(
    conn: AsyncConnection, pipeline_id: uuid.UUID | None, stage_id: uuid.UUID | None
) -> tuple[Row | None, list[UserError]]:
    """The stage a new opportunity starts in: the one named (an open stage), else the
    first open stage of the pipeline named, else of the default pipeline."""
    no_stage = [UserError("stageId", "NOT_FOUND", "no such stage in this pipeline")]
    if stage_id is not None and pipeline_id is None:
        pipeline_id = await conn.scalar(
            select(pipeline_stages.c.pipeline_id).where(pipeline_stages.c.id == stage_id)
        )
        if pipeline_id is None:
            return None, no_stage
    pipeline = await _pipeline(conn, pipeline_id)
    if pipeline is None:
        field = "pipelineId" if pipeline_id else None
        return None, [UserError(field, "NOT_FOUND", "no such pipeline")]
    if stage_id is None:
        return await _outcome_stage(conn, pipeline.id, "open"), []
    stage = await _stage(conn, stage_id)
    if stage is None or stage.pipeline_id != pipeline.id:
        return None, no_stage
    if stage.kind != "open":
        return None, [UserError("stageId", "INVALID", "start in an open stage; close later")]
    return stage, []


async def _history(
    conn: AsyncConnection, actor: Actor, row: Row, from_stage: uuid.UUID | None, at: dt.datetime
) -> None:
    await conn.execute(
        insert(opportunity_stage_history).values(
            id=new_id(), opportunity_id=row.id, from_stage_id=from_stage,
            to_stage_id=row.stage_id, changed_by=actor.id, changed_at=at,
        )
    )  # fmt: skip


async def create_opportunity(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    opportunity_id: uuid.UUID | None,
    customer_id: uuid.UUID,
    pipeline_id: uuid.UUID | None,
    stage_id: uuid.UUID | None,
    fields: dict[str, Any],
    custom_fields: list[tuple[str, Any]] | None = None,
) -> Row:
    """`custom_fields` None (not given, as by lead conversion) skips the required
    custom fields; the API always passes a list."""
    values = dict(fields)
    errors = normalise_opportunity(values, creating=True)
    if values.get("owner_id") is None:
        values["owner_id"] = who.user_id
    errors += await _check_customer(conn, customer_id, who)
    errors += await _check_owner(conn, values["owner_id"], who)
    stage, stage_errors = await _starting_stage(conn, pipeline_id, stage_id)
    errors += stage_errors
    prepared, custom_errors = await custom.prepare(
        conn, "opportunity", custom_fields, creating=True
    )
    errors += custom_errors
    if errors:
        raise UserErrors(errors)
    values.update(
        customer_id=customer_id, pipeline_id=stage.pipeline_id, stage_id=stage.id, status="open"
    )
    row, created = await insert_once(
        conn, opportunities, actor=actor, entity="opportunity", row_id=opportunity_id,
        values=values,
    )  # fmt: skip
    if created:
        await _history(conn, actor, row, None, row.created_at)
        await custom.write(conn, prepared, actor=actor, entity_id=row.id)
    return row


async def _locked(
    conn: AsyncConnection, who: Scoped, opportunity_id: uuid.UUID, version: int | None
) -> Row:
    return await lock_for_change(
        conn, opportunities, opportunity_id, entity="opportunity", version=version,
        visible=visible_opportunities(who),
    )  # fmt: skip


async def update_opportunity(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    opportunity_id: uuid.UUID,
    version: int | None,
    fields: dict[str, Any],
    custom_fields: list[tuple[str, Any]] | None = None,
) -> Row:
    current = await _locked(conn, who, opportunity_id, version)
    values = dict(fields)
    errors = normalise_opportunity(values, creating=False)
    if "owner_id" in values:
        if values["owner_id"] is None:
            errors.append(UserError("ownerId", "REQUIRED", "an opportunity always has an owner"))
        elif values["owner_id"] != current.owner_id:
            errors += await _check_owner(conn, values["owner_id"], who)
    prepared, custom_errors = await custom.prepare(
        conn, "opportunity", custom_fields, creating=False
    )
    errors += custom_errors
    if errors:
        raise UserErrors(errors)
    row = await apply_change(
        conn, opportunities, current, actor=actor, entity="opportunity", action="update",
        values=values,
    )  # fmt: skip
    return await custom.write_on_update(
        conn, prepared, actor=actor, table=opportunities, current=current, row=row
    )


async def _change_stage(
    conn: AsyncConnection, actor: Actor, current: Row, action: str, values: dict[str, Any]
) -> Row:
    at = values.get("closed_at") or _now()
    row = await apply_change(
        conn, opportunities, current, actor=actor, entity="opportunity", action=action,
        values=values,
    )  # fmt: skip
    if row.stage_id != current.stage_id:
        await _history(conn, actor, row, current.stage_id, at)
    return row


async def move_opportunity(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    opportunity_id: uuid.UUID,
    version: int | None,
    stage_id: uuid.UUID,
) -> Row:
    """To another open stage of its pipeline (won and lost are for closing)."""
    current = await _locked(conn, who, opportunity_id, version)
    if current.status != "open":
        raise fail("stageId", "CLOSED", "this opportunity is closed; reopen it first")
    stage = await _stage(conn, stage_id)
    if stage is None or stage.pipeline_id != current.pipeline_id:
        raise fail("stageId", "NOT_FOUND", "no such stage in this opportunity's pipeline")
    if stage.kind != "open":
        raise fail("stageId", "INVALID", "moving to a won or lost stage is closeOpportunity")
    return await _change_stage(conn, actor, current, "move", {"stage_id": stage.id})


async def close_opportunity(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    opportunity_id: uuid.UUID,
    version: int | None,
    outcome: str,
    reason: str | None,
) -> Row:
    """Won or lost: to the pipeline's won or lost stage, with the time it closed."""
    current = await _locked(conn, who, opportunity_id, version)
    reason, error = check_reason(reason, lost=outcome == "lost")
    if error:
        raise UserErrors([error])
    if current.status != "open":
        raise fail("outcome", "CLOSED", f"this opportunity is already {current.status}")
    stage = await _outcome_stage(conn, current.pipeline_id, outcome)
    values = {"stage_id": stage.id, "status": outcome, "closed_at": _now(), "lost_reason": reason}
    return await _change_stage(conn, actor, current, "close", values)


async def _stage_before_closing(conn: AsyncConnection, current: Row) -> uuid.UUID | None:
    h = opportunity_stage_history
    return await conn.scalar(
        select(h.c.from_stage_id)
        .join(pipeline_stages, pipeline_stages.c.id == h.c.from_stage_id)
        .where(
            h.c.opportunity_id == current.id,
            h.c.to_stage_id == current.stage_id,
            pipeline_stages.c.kind == "open",
            pipeline_stages.c.deleted_at.is_(None),
        )
        .order_by(h.c.changed_at.desc(), h.c.id.desc())
        .limit(1)
    )


async def reopen_opportunity(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    opportunity_id: uuid.UUID,
    version: int | None,
    stage_id: uuid.UUID | None,
) -> Row:
    """Back to an open stage: the one named, else the one it was closed from, else the
    pipeline's first."""
    current = await _locked(conn, who, opportunity_id, version)
    if current.status == "open":
        raise fail("id", "OPEN", "this opportunity is open already")
    if stage_id is None:
        stage_id = await _stage_before_closing(conn, current)
    if stage_id is None:
        stage = await _outcome_stage(conn, current.pipeline_id, "open")
    else:
        stage = await _stage(conn, stage_id)
        if stage is None or stage.pipeline_id != current.pipeline_id or stage.kind != "open":
            raise fail("stageId", "NOT_FOUND", "no such open stage in this opportunity's pipeline")
    values = {"stage_id": stage.id, "status": "open", "closed_at": None, "lost_reason": None}
    return await _change_stage(conn, actor, current, "reopen", values)
