"""Reads of pipelines, stages and opportunities, as composable selects.

Data scope of opportunities: an opportunity is visible by its OWNER, with the rules
customers' owners follow (`all`: every one; `team`: owners in the user's department
and the departments below it; `own`: the user's own) through
`app.auth.scope.people_visible`, but with no public pool: every opportunity has an
owner. The `assigned` scope (partners, distributors) sees no opportunities at all.
The customer's visibility plays no part: an opportunity shows even when its customer
is out of the caller's scope (its nested `customer` is then null), and the owner
alone decides. Pipelines and stages are tenant configuration, visible to whoever
may read opportunities.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Row, Select, false, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Scoped
from app.auth.scope import people_visible
from app.customers.queries import text_search
from app.pipeline.tables import (
    AMOUNT_CENTS,
    CLOSE_DATE_KEY,
    opportunities,
    opportunity_stage_history,
    pipeline_stages,
    pipelines,
)

# The list's sort keys that are expressions, selected under their own names (what
# app/api/pagination needs to make cursors of them).
AMOUNT_SORT = AMOUNT_CENTS.label("amount_cents")
CLOSE_DATE_SORT = CLOSE_DATE_KEY.label("close_date_sort")
OPPORTUNITY_COLUMNS = [
    *(c for c in opportunities.c if c.key != "search_tokens"),
    AMOUNT_SORT,
    CLOSE_DATE_SORT,
]
NO_SCOPE = "assigned"  # the data scope that sees no opportunities


def visible_opportunities(who: Scoped, owner: ColumnElement | None = None) -> ColumnElement[bool]:
    """`owner`: where the opportunity's owner is, when not opportunities.owner_id (the
    summary's daily counts carry it)."""
    if who.data_scope == NO_SCOPE:
        return false()
    return people_visible(who, opportunities.c.owner_id if owner is None else owner)


def live(table) -> ColumnElement[bool]:
    return table.c.deleted_at.is_(None)


def opportunity_search(text: str | None) -> ColumnElement[bool]:
    """Any part of the name, in any language (the bigram index narrows, ILIKE decides)."""
    if not (text or "").strip():
        return true()
    return text_search(opportunities, (opportunities.c.name,), text)


def opportunities_query(*conditions: ColumnElement[bool]) -> Select:
    return select(*OPPORTUNITY_COLUMNS).where(*conditions)


def visible_opportunities_query(who: Scoped, *conditions: ColumnElement[bool]) -> Select:
    return opportunities_query(live(opportunities), visible_opportunities(who), *conditions)


async def get_opportunity(
    conn: AsyncConnection, who: Scoped, opportunity_id: uuid.UUID
) -> Row | None:
    query = visible_opportunities_query(who, opportunities.c.id == opportunity_id)
    return (await conn.execute(query)).first()


async def list_pipelines(conn: AsyncConnection) -> list[Row]:
    """Live pipelines, the default first, then by name."""
    query = (
        select(pipelines)
        .where(live(pipelines))
        .order_by(pipelines.c.is_default.desc(), pipelines.c.name, pipelines.c.id)
    )
    return list((await conn.execute(query)).all())


async def get_pipeline(conn: AsyncConnection, pipeline_id: uuid.UUID | None) -> Row | None:
    """A live pipeline by id; without an id, the default one."""
    condition = pipelines.c.is_default if pipeline_id is None else pipelines.c.id == pipeline_id
    query = select(pipelines).where(condition, live(pipelines))
    return (await conn.execute(query)).first()


async def stages_by_pipeline(
    conn: AsyncConnection, pipeline_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Row]]:
    """Live stages of many pipelines in one statement, by position."""
    ids = list(dict.fromkeys(pipeline_ids))
    grouped: dict[uuid.UUID, list[Row]] = defaultdict(list)
    if not ids:
        return grouped
    rows = await conn.execute(
        select(pipeline_stages)
        .where(pipeline_stages.c.pipeline_id.in_(ids), live(pipeline_stages))
        .order_by(pipeline_stages.c.pipeline_id, pipeline_stages.c.position)
    )
    for row in rows:
        grouped[row.pipeline_id].append(row)
    return grouped


async def stages_by_id(
    conn: AsyncConnection, stage_ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, Row]:
    """Stages by id, removed ones included (history still names them)."""
    ids = [i for i in dict.fromkeys(stage_ids) if i is not None]
    if not ids:
        return {}
    rows = await conn.execute(select(pipeline_stages).where(pipeline_stages.c.id.in_(ids)))
    return {row.id: row for row in rows}


async def pipelines_by_id(
    conn: AsyncConnection, pipeline_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Row]:
    ids = list(dict.fromkeys(pipeline_ids))
    if not ids:
        return {}
    rows = await conn.execute(select(pipelines).where(pipelines.c.id.in_(ids)))
    return {row.id: row for row in rows}


async def history_by_opportunity(
    conn: AsyncConnection, opportunity_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Row]]:
    """Stage history of many opportunities in one statement, oldest first."""
    ids = list(dict.fromkeys(opportunity_ids))
    grouped: dict[uuid.UUID, list[Row]] = defaultdict(list)
    if not ids:
        return grouped
    h = opportunity_stage_history
    rows = await conn.execute(
        select(h)
        .where(h.c.opportunity_id.in_(ids))
        .order_by(h.c.opportunity_id, h.c.changed_at, h.c.id)
    )
    for row in rows:
        grouped[row.opportunity_id].append(row)
    return grouped
