"""Reads of the catalogue, as composable selects.

Data scope: products, categories and tenant-wide price lists (all customers, a tier)
are visible to whoever may read products. A customer-specific price list is visible
only with its customer: to principals whose data scope shows that customer
(app/customers/queries.visible_customers), so a price list never reveals a customer
the reader could not see.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Integer, Row, Select, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Scoped
from app.catalog.tables import (
    LIST_PRICE_KEY,
    price_list_items,
    price_lists,
    product_categories,
    products,
)
from app.customers.queries import text_search, visible_customers
from app.customers.tables import customers

# The list's sort key that is an expression, selected under its own name (what
# app/api/pagination needs to make cursors of it).
LIST_PRICE_SORT = LIST_PRICE_KEY.label("list_price_key")
PRODUCT_COLUMNS = [*(c for c in products.c if c.key != "search_tokens"), LIST_PRICE_SORT]


def product_search(text: str | None) -> ColumnElement[bool]:
    """Any part of the code or the name, in any language (the bigram index narrows,
    ILIKE decides)."""
    if not (text or "").strip():
        return true()
    return text_search(products, (products.c.code, products.c.name), text)


def category_subtree(root_id: uuid.UUID) -> Select:
    """The ids of a category and every category below it: a recursive walk down
    `parent_id`, kept inside the statement that uses it."""
    c = product_categories
    tree = select(c.c.id).where(c.c.id == root_id).cte("subtree", recursive=True, nesting=True)
    child = c.alias("child")
    tree = tree.union_all(select(child.c.id).where(child.c.parent_id == tree.c.id))
    return select(tree.c.id)


def products_query(*conditions: ColumnElement[bool]) -> Select:
    return select(*PRODUCT_COLUMNS).where(*conditions)


async def get_product(conn: AsyncConnection, who: Scoped, product_id: uuid.UUID) -> Row | None:
    """A product by id, inactive ones included; every product reader sees every one."""
    return (await conn.execute(products_query(products.c.id == product_id))).first()


async def products_by_id(
    conn: AsyncConnection, product_ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, Row]:
    ids = [i for i in dict.fromkeys(product_ids) if i is not None]
    if not ids:
        return {}
    rows = await conn.execute(products_query(products.c.id.in_(ids)))
    return {row.id: row for row in rows}


async def get_category(conn: AsyncConnection, who: Scoped, category_id: uuid.UUID) -> Row | None:
    query = select(product_categories).where(product_categories.c.id == category_id)
    return (await conn.execute(query)).first()


async def categories_by_id(
    conn: AsyncConnection, category_ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, Row]:
    ids = [i for i in dict.fromkeys(category_ids) if i is not None]
    if not ids:
        return {}
    query = select(product_categories).where(product_categories.c.id.in_(ids))
    return {row.id: row for row in await conn.execute(query)}


async def category_tree(
    conn: AsyncConnection, parent_id: uuid.UUID | None, *, descendants: bool
) -> list[Row]:
    """The children of `parent_id` (the roots for None), by name; with `descendants`,
    their whole subtrees too, depth first (each category right after its parent,
    siblings by name), each with its `depth` (0 for the children of `parent_id`).
    One statement."""
    c = product_categories
    start = c.c.parent_id.is_(None) if parent_id is None else c.c.parent_id == parent_id
    if not descendants:
        query = select(c, literal(0, Integer).label("depth")).where(start)
        return list((await conn.execute(query.order_by(c.c.name, c.c.id))).all())
    tree = select(
        c.c.id, array([c.c.name]).label("sort_path"), literal(0, Integer).label("depth")
    ).where(start)
    tree = tree.cte("tree", recursive=True)
    child = c.alias("child")
    tree = tree.union_all(
        select(
            child.c.id, func.array_append(tree.c.sort_path, child.c.name), tree.c.depth + 1
        ).where(child.c.parent_id == tree.c.id)
    )
    query = (
        select(c, tree.c.depth).join(tree, tree.c.id == c.c.id).order_by(tree.c.sort_path, c.c.id)
    )
    return list((await conn.execute(query)).all())


def visible_price_lists(who: Scoped) -> ColumnElement[bool]:
    """Tenant-wide lists for every product reader; a customer's list with its customer
    (a live one: a deleted customer's list shows again when the customer is restored;
    the `all` scope sees every list)."""
    if who.data_scope == "all":
        return true()
    seen = select(customers.c.id).where(customers.c.deleted_at.is_(None), visible_customers(who))
    return or_(price_lists.c.customer_id.is_(None), price_lists.c.customer_id.in_(seen))


def price_lists_query(*conditions: ColumnElement[bool]) -> Select:
    return select(price_lists).where(*conditions)


async def get_price_list(
    conn: AsyncConnection, who: Scoped, price_list_id: uuid.UUID
) -> Row | None:
    query = price_lists_query(price_lists.c.id == price_list_id, visible_price_lists(who))
    return (await conn.execute(query)).first()


async def price_lists_by_id(
    conn: AsyncConnection, who: Scoped, price_list_ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, Row]:
    ids = [i for i in dict.fromkeys(price_list_ids) if i is not None]
    if not ids:
        return {}
    query = price_lists_query(price_lists.c.id.in_(ids), visible_price_lists(who))
    return {row.id: row for row in await conn.execute(query)}


async def items_by_price_list(
    conn: AsyncConnection, price_list_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Row]]:
    """The items of many lists in one statement, by product code, then quantity."""
    ids = list(dict.fromkeys(price_list_ids))
    grouped: dict[uuid.UUID, list[Row]] = defaultdict(list)
    if not ids:
        return grouped
    i = price_list_items
    query = (
        select(i)
        .join(products, products.c.id == i.c.product_id)
        .where(i.c.price_list_id.in_(ids))
        .order_by(i.c.price_list_id, products.c.code, i.c.min_quantity)
    )
    for row in await conn.execute(query):
        grouped[row.price_list_id].append(row)
    return grouped
