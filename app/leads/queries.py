"""Reads of leads, as composable selects (resolvers, jobs and conversion share them).

Data scope of leads follows customers' owner rule (app.auth.scope.owner_visible):
`all` sees every lead; `team` the leads owned by people of the user's department and
the departments below it; `own` the user's own; both `team` and `own` also see the
unassigned leads (the pool reps take leads from). The `assigned` scope (partners) sees
no leads at all: leads have no assignment column.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Row, Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Scoped
from app.auth.scope import owner_visible
from app.customers.queries import contacts_query, text_search, visible_contacts
from app.customers.tables import contacts
from app.leads.tables import leads
from app.pipeline.queries import visible_opportunities_query
from app.pipeline.tables import opportunities

LEAD_COLUMNS = [c for c in leads.c if c.key != "search_tokens"]


def visible_leads(who: Scoped) -> ColumnElement[bool]:
    return owner_visible(who, leads.c.owner_id)


def live(deleted: bool = False) -> ColumnElement[bool]:
    return leads.c.deleted_at.is_not(None) if deleted else leads.c.deleted_at.is_(None)


def lead_search(text: str | None) -> ColumnElement[bool]:
    """Any part of the name, company, email or phone, in any language: the customers'
    indexed bigram search (the token index narrows, ILIKE decides)."""
    c = leads.c
    return text_search(leads, (c.name, c.company, c.email, c.phone), text)


def leads_query(*conditions: ColumnElement[bool]) -> Select:
    return select(*LEAD_COLUMNS).where(*conditions)


async def get_lead(conn: AsyncConnection, who: Scoped, lead_id: uuid.UUID) -> Row | None:
    """A lead by id, deleted ones included (a client may look at what it deleted)."""
    query = leads_query(leads.c.id == lead_id, visible_leads(who))
    return (await conn.execute(query)).first()


async def contacts_by_id(
    conn: AsyncConnection, who: Scoped, contact_ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, Row]:
    """Live contacts the caller may see, in one statement."""
    ids = [i for i in dict.fromkeys(contact_ids) if i is not None]
    if not ids:
        return {}
    query = contacts_query(
        contacts.c.id.in_(ids), contacts.c.deleted_at.is_(None), visible_contacts(who)
    )
    return {row.id: row for row in await conn.execute(query)}


async def opportunities_by_id(
    conn: AsyncConnection, who: Scoped, opportunity_ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, Row]:
    """Live opportunities the caller may see, in one statement."""
    ids = [i for i in dict.fromkeys(opportunity_ids) if i is not None]
    if not ids:
        return {}
    query = visible_opportunities_query(who, opportunities.c.id.in_(ids))
    return {row.id: row for row in await conn.execute(query)}
