"""Reads of customers and contacts, as composable selects (resolvers, jobs and any
future compiled query path share them)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Scoped
from app.auth.scope import owner_visible
from app.customers.tables import contacts, customers

CUSTOMER_COLUMNS = [c for c in customers.c if c.key not in ("search_tokens", "name_key")]
CONTACT_COLUMNS = [c for c in contacts.c if c.key != "search_tokens"]


def search_tokens(text: str) -> list[str]:
    """The tokens `search_tokens()` in the database makes: a single character, or
    the distinct bigrams of the lower-cased query."""
    text = text.lower()
    if len(text) == 1:
        return [text]
    return sorted({text[i : i + 2] for i in range(len(text) - 1)})


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def text_search(table, columns: Sequence, text: str | None) -> ColumnElement[bool]:
    """Indexed substring search: the GIN token index narrows, ILIKE makes it exact."""
    text = (text or "").strip()
    if not text:
        return true()
    pattern = _like_pattern(text)
    return and_(
        table.c.search_tokens.contains(search_tokens(text)),
        or_(*(column.ilike(pattern, escape="\\") for column in columns)),
    )


def customer_search(text: str | None) -> ColumnElement[bool]:
    c = customers.c
    return text_search(customers, (c.name, c.email, c.phone), text)


def contact_search(text: str | None) -> ColumnElement[bool]:
    c = contacts.c
    return text_search(contacts, (c.name, c.email, c.phone), text)


def visible_customers(who: Scoped) -> ColumnElement[bool]:
    """By owner (and the pool) for internal users; by partner for the assigned scope,
    plus the distributor a partner user works for (users.distributor_id). Everything
    whose visibility follows the customer's (contacts, orders, quotes) follows."""
    return owner_visible(
        who, customers.c.owner_id, assigned=customers.c.partner_id, customer=customers.c.id
    )


def customer_visible(column: Any, who: Scoped) -> ColumnElement[bool]:
    """Rows that point at a customer (orders, quotes, invoices, ...) are visible exactly
    when that customer is; with scope "all" no subquery at all."""
    if who.data_scope == "all":
        return true()
    return column.in_(select(customers.c.id).where(visible_customers(who)))


def visible_contacts(who: Scoped) -> ColumnElement[bool]:
    """A contact is visible with its customer."""
    if who.data_scope == "all":
        return true()
    return contacts.c.customer_id.in_(select(customers.c.id).where(visible_customers(who)))


def live(table, deleted: bool = False) -> ColumnElement[bool]:
    return table.c.deleted_at.is_not(None) if deleted else table.c.deleted_at.is_(None)


def customers_query(*conditions: ColumnElement[bool]) -> Select:
    return select(*CUSTOMER_COLUMNS).where(*conditions)


def contacts_query(*conditions: ColumnElement[bool]) -> Select:
    return select(*CONTACT_COLUMNS).where(*conditions)


async def get_customer(conn: AsyncConnection, who: Scoped, customer_id: uuid.UUID) -> Row | None:
    """A customer by id, deleted ones included (a client may look at what it deleted)."""
    query = customers_query(customers.c.id == customer_id, visible_customers(who))
    return (await conn.execute(query)).first()


async def lock_referenced_customer(
    conn: AsyncConnection, who: Scoped, customer_id: uuid.UUID
) -> bool:
    """Whether a record may point at this customer (live, visible), holding it FOR KEY
    SHARE until the transaction ends: a delete or merge (FOR UPDATE) of the customer
    waits for this write, or this write waits for it and then sees it gone, so nothing
    is ever attached to a customer that was merged away meanwhile."""
    found = await conn.scalar(_held(customers.c.id == customer_id, visible_customers(who)))
    return found is not None


async def lock_live_customers(
    conn: AsyncConnection, customer_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these customers are live, held FOR KEY SHARE as by
    `lock_referenced_customer`, but with no data scope: for writes whose access is
    decided by another record (stock into a consignment warehouse, by the warehouse)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return set()
    return set(await conn.scalars(_held(customers.c.id.in_(ids)).order_by(customers.c.id)))


def _held(*conditions: ColumnElement[bool]) -> Select:
    return (
        select(customers.c.id)
        .where(live(customers), *conditions)
        .with_for_update(read=True, key_share=True)
    )


async def get_contact(conn: AsyncConnection, who: Scoped, contact_id: uuid.UUID) -> Row | None:
    query = contacts_query(contacts.c.id == contact_id, live(contacts), visible_contacts(who))
    return (await conn.execute(query)).first()


async def contacts_by_customer(
    conn: AsyncConnection, customer_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Row]]:
    """Live contacts of many customers in one statement, primary first, then by name."""
    ids = list(dict.fromkeys(customer_ids))
    grouped: dict[uuid.UUID, list[Row]] = defaultdict(list)
    if not ids:
        return grouped
    rows = await conn.execute(
        contacts_query(contacts.c.customer_id.in_(ids), live(contacts)).order_by(
            contacts.c.customer_id, contacts.c.is_primary.desc(), contacts.c.name, contacts.c.id
        )
    )
    for row in rows:
        grouped[row.customer_id].append(row)
    return grouped


async def customers_by_id(
    conn: AsyncConnection, who: Scoped, customer_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Row]:
    ids = list(dict.fromkeys(customer_ids))
    if not ids:
        return {}
    rows = await conn.execute(customers_query(customers.c.id.in_(ids), visible_customers(who)))
    return {row.id: row for row in rows}
