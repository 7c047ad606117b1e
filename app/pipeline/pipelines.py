"""Writes to pipelines and their stages (tenant configuration, pipelines:manage).

Invariants kept here: one default pipeline (the partial unique index backs it up);
every pipeline has open stages, exactly one won and one lost stage; a stage that has
opportunities is neither removed nor changed to another kind. Removed stages are
marked deleted, not erased: the stage history still names them.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, record
from app.errors import UserError, UserErrors, fail
from app.pipeline.rules import normalise_pipeline, normalise_stages
from app.pipeline.tables import opportunities, pipeline_stages, pipelines
from app.records import apply_change, insert_once, lock_for_change, new_id

PIPELINE_UNIQUE = {
    "uq_pipelines_name": UserError("name", "TAKEN", "another pipeline already has this name")
}
# Stages are renumbered through positions no live stage uses (a pipeline has at most
# MAX_STAGES), so the unique (pipeline, position) index never sees a transient clash.
SHIFT = 1000


async def _demote_default(conn: AsyncConnection, actor: Actor, keep: uuid.UUID | None) -> None:
    """Make no pipeline but `keep` the default."""
    statement = update(pipelines).where(pipelines.c.is_default, pipelines.c.deleted_at.is_(None))
    if keep is not None:
        statement = statement.where(pipelines.c.id != keep)
    demoted = await conn.execute(
        statement.values(is_default=False, version=pipelines.c.version + 1, updated_at=func.now())
        .returning(pipelines.c.id)
    )  # fmt: skip
    for row in demoted:
        await record(
            conn, actor=actor, action="pipeline.update", entity_type="pipeline",
            entity_id=row.id, changes={"is_default": {"from": True, "to": False}},
        )  # fmt: skip


def _stage_snapshot(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"name": s["name"], "probability": str(s["probability"]), "kind": s["kind"]} for s in stages
    ]


async def create_pipeline(
    conn: AsyncConnection,
    *,
    actor: Actor,
    pipeline_id: uuid.UUID | None,
    fields: dict[str, Any],
    stages: list[dict[str, Any]],
) -> Row:
    values = dict(fields)
    errors = normalise_pipeline(values, creating=True) + normalise_stages(stages)
    if errors:
        raise UserErrors(errors)
    exists_already = pipeline_id is not None and await conn.scalar(
        select(pipelines.c.id).where(pipelines.c.id == pipeline_id)
    )
    if values["is_default"] and not exists_already:
        await _demote_default(conn, actor, keep=None)
    row, created = await insert_once(
        conn, pipelines, actor=actor, entity="pipeline", row_id=pipeline_id, values=values,
        unique=PIPELINE_UNIQUE,
    )  # fmt: skip
    if created:
        await _insert_stages(conn, actor, row.id, list(enumerate(stages)))
        await record(
            conn, actor=actor, action="pipeline.set_stages", entity_type="pipeline",
            entity_id=row.id, changes={"stages": {"from": None, "to": _stage_snapshot(stages)}},
        )  # fmt: skip
    return row


async def _insert_stages(
    conn: AsyncConnection, actor: Actor, pipeline_id: uuid.UUID, stages: list[tuple[int, dict]]
) -> None:
    if not stages:
        return
    await conn.execute(
        insert(pipeline_stages),
        [
            {"id": new_id(), "pipeline_id": pipeline_id, "name": s["name"], "position": position,
             "probability": s["probability"], "kind": s["kind"], "created_by": actor.id}
            for position, s in stages
        ],
    )  # fmt: skip


async def update_pipeline(
    conn: AsyncConnection,
    *,
    actor: Actor,
    pipeline_id: uuid.UUID,
    version: int | None,
    fields: dict[str, Any],
) -> Row:
    current = await lock_for_change(
        conn, pipelines, pipeline_id, entity="pipeline", version=version
    )
    values = dict(fields)
    errors = normalise_pipeline(values, creating=False)
    if current.is_default and values.get("is_default") is False:
        errors.append(
            UserError("isDefault", "INVALID", "make another pipeline the default instead")
        )
    if errors:
        raise UserErrors(errors)
    if values.get("is_default") and not current.is_default:
        await _demote_default(conn, actor, keep=current.id)
    return await apply_change(
        conn, pipelines, current, actor=actor, entity="pipeline", action="update", values=values,
        unique=PIPELINE_UNIQUE,
    )  # fmt: skip


async def _stage_ids_in_use(conn: AsyncConnection, stage_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    if not stage_ids:
        return set()
    rows = await conn.execute(
        select(pipeline_stages.c.id).where(
            pipeline_stages.c.id.in_(stage_ids),
            exists().where(
                opportunities.c.stage_id == pipeline_stages.c.id,
                opportunities.c.deleted_at.is_(None),
            ),
        )
    )
    return {row.id for row in rows}


async def set_pipeline_stages(
    conn: AsyncConnection,
    *,
    actor: Actor,
    pipeline_id: uuid.UUID,
    version: int | None,
    stages: list[dict[str, Any]],
) -> Row:
    """Replace a pipeline's stages with `stages`, in order: an entry with an `id` keeps
    (renames, reorders, re-weighs) that stage, one without adds a stage, and stages
    left out are removed."""
    current = await lock_for_change(
        conn, pipelines, pipeline_id, entity="pipeline", version=version
    )
    live_stages = await conn.execute(
        select(pipeline_stages)
        .where(pipeline_stages.c.pipeline_id == current.id, pipeline_stages.c.deleted_at.is_(None))
        .with_for_update()
    )
    existing = {row.id: row for row in live_stages}
    errors = normalise_stages(stages)
    kept = [s["id"] for s in stages if s.get("id") is not None]
    if any(i not in existing for i in kept) or len(set(kept)) != len(kept):
        errors.append(
            UserError("stages", "NOT_FOUND", "a stage id is not a stage of this pipeline")
        )
    if errors:
        raise UserErrors(errors)
    removed = [i for i in existing if i not in kept]
    rekinded = [s["id"] for s in stages if s.get("id") and existing[s["id"]].kind != s["kind"]]
    in_use = await _stage_ids_in_use(conn, removed + rekinded)
    if in_use:
        names = ", ".join(sorted(existing[i].name for i in in_use))
        raise fail(
            "stages", "IN_USE",
            f"stages with opportunities cannot be removed or change kind: {names}",
        )  # fmt: skip
    before = [existing[i] for i in sorted(existing, key=lambda i: existing[i].position)]
    await _write_stages(conn, actor, current.id, stages, removed)
    row = (
        await conn.execute(
            update(pipelines).where(pipelines.c.id == current.id)
            .values(version=pipelines.c.version + 1, updated_at=func.now()).returning(pipelines)
        )
    ).one()  # fmt: skip
    await record(
        conn, actor=actor, action="pipeline.set_stages", entity_type="pipeline",
        entity_id=current.id,
        changes={"stages": {"from": _stage_snapshot([r._mapping for r in before]),
                            "to": _stage_snapshot(stages)}},
    )  # fmt: skip
    return row


async def _write_stages(
    conn: AsyncConnection,
    actor: Actor,
    pipeline_id: uuid.UUID,
    stages: list[dict[str, Any]],
    removed: list[uuid.UUID],
) -> None:
    s = pipeline_stages
    live = (s.c.pipeline_id == pipeline_id) & s.c.deleted_at.is_(None)
    if removed:
        await conn.execute(
            update(s).where(s.c.id.in_(removed))
            .values(deleted_at=func.now(), version=s.c.version + 1, updated_at=func.now())
        )  # fmt: skip
    await conn.execute(update(s).where(live).values(position=s.c.position + SHIFT))
    for position, stage in enumerate(stages):
        if stage.get("id") is None:
            continue
        await conn.execute(
            update(s).where(s.c.id == stage["id"])
            .values(name=stage["name"], probability=stage["probability"], kind=stage["kind"],
                    position=position, version=s.c.version + 1, updated_at=func.now())
        )  # fmt: skip
    await _insert_stages(
        conn, actor, pipeline_id, [(p, st) for p, st in enumerate(stages) if st.get("id") is None]
    )
