"""Writes to products and the category tree. Every function runs inside the caller's
transaction (flush, never commit) and raises UserErrors for anything the user can fix;
the audit record is written in the same transaction (app/records.py).

Locks: a product pointing at a category holds it FOR KEY SHARE, and deleting a
category takes it FOR UPDATE before checking it is empty, so a product or a
subcategory is never attached to a category that is being deleted (the writer waits
and then sees it gone). Moves in the tree are serialised per tenant by a transaction
advisory lock, so two concurrent moves cannot each pass the cycle check and together
make a cycle.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, delete, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, record
from app.catalog.rules import normalise_category_name, normalise_product
from app.catalog.tables import product_categories, products
from app.company.tables import company_settings
from app.db import TENANT
from app.errors import UserError, UserErrors, fail
from app.records import apply_change, insert_once, lock_for_change
from app.stock.tables import stock_moves

PRODUCT_UNIQUE = {
    "uq_products_code": UserError("code", "TAKEN", "another product already has this code")
}
CATEGORY_UNIQUE = {
    "uq_product_categories_parent_name": UserError(
        "name", "TAKEN", "a category of this name already exists under this parent"
    )
}
NO_CATEGORY = UserError("categoryId", "NOT_FOUND", "no such category")


async def _lock_category(conn: AsyncConnection, category_id: uuid.UUID) -> bool:
    """Whether the category exists, holding it FOR KEY SHARE until the transaction
    ends (a concurrent delete waits for this write, or this write for the delete)."""
    found = await conn.scalar(
        select(product_categories.c.id)
        .where(product_categories.c.id == category_id)
        .with_for_update(read=True, key_share=True)
    )
    return found is not None


async def _validated_product(
    conn: AsyncConnection, fields: dict[str, Any], *, creating: bool
) -> dict[str, Any]:
    values = dict(fields)
    errors = normalise_product(values, creating=creating)
    category_id = values.get("category_id")
    if category_id is not None and not await _lock_category(conn, category_id):
        errors.append(NO_CATEGORY)
    if errors:
        raise UserErrors(errors)
    return values


async def create_product(
    conn: AsyncConnection,
    *,
    actor: Actor,
    product_id: uuid.UUID | None,
    fields: dict[str, Any],
) -> Row:
    """A new product; a repeated create with the same id and content is a no-op."""
    values = await _validated_product(conn, fields, creating=True)
    # Prices are in the base currency: hold the settings row so the currency cannot
    # change under a product being created (app/company/service.py refuses to change
    # it once products exist).
    await conn.execute(select(company_settings.c.id).with_for_update(read=True))
    row, _ = await insert_once(
        conn, products, actor=actor, entity="product", row_id=product_id, values=values,
        unique=PRODUCT_UNIQUE,
    )  # fmt: skip
    return row


async def update_product(
    conn: AsyncConnection,
    *,
    actor: Actor,
    product_id: uuid.UUID,
    version: int | None,
    fields: dict[str, Any],
) -> Row:
    """Change the given fields; `active: false` deactivates (products are never
    deleted). The code is not among them: documents, labels and other systems name
    the product by it, and it is never reused. A stale `version` is a CONFLICT."""
    if "code" in fields:
        raise fail("code", "IMMUTABLE", "a product's code never changes")
    current = await lock_for_change(conn, products, product_id, entity="product", version=version)
    values = await _validated_product(conn, fields, creating=False)
    if values.get("batch_tracked", current.batch_tracked) != current.batch_tracked:
        await _refuse_if_stocked(conn, product_id)
    return await apply_change(
        conn, products, current, actor=actor, entity="product", action="update",
        values=values, unique=PRODUCT_UNIQUE,
    )  # fmt: skip


async def _refuse_if_stocked(conn: AsyncConnection, product_id: uuid.UUID) -> None:
    """Batch tracking is fixed once stock has moved: balances are kept per batch or
    not at all, and a flip would strand them. Postings hold the product FOR KEY SHARE
    (app/stock/ledger.py), so none is in flight past the FOR UPDATE taken above."""
    # Reserving needs stock on hand, which needs a move: the moves say it all.
    moved = await conn.scalar(select(exists().where(stock_moves.c.product_id == product_id)))
    if moved:
        raise fail(
            "batchTracked",
            "IN_USE",
            "batch tracking cannot change once the product's stock has moved",
        )


async def _serialise_tree_moves(conn: AsyncConnection) -> None:
    """One move at a time per tenant (the key names the tenant's schema)."""
    options = conn.sync_connection.get_execution_options()
    schema = options.get("schema_translate_map", {}).get(TENANT, TENANT)
    key = f"kehu.product_categories.move.{schema}"
    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(literal(key)))))


async def _ancestors(conn: AsyncConnection, category_id: uuid.UUID) -> list[uuid.UUID]:
    """The category and every category above it, by walking up `parent_id`."""
    c = product_categories
    chain = select(c.c.id, c.c.parent_id).where(c.c.id == category_id)
    chain = chain.cte("chain", recursive=True)
    parent = c.alias("parent")
    chain = chain.union_all(
        select(parent.c.id, parent.c.parent_id).where(parent.c.id == chain.c.parent_id)
    )
    return list((await conn.scalars(select(chain.c.id))).all())


async def create_category(
    conn: AsyncConnection,
    *,
    actor: Actor,
    category_id: uuid.UUID | None,
    name: str | None,
    parent_id: uuid.UUID | None,
) -> Row:
    name, error = normalise_category_name(name)
    errors = [error] if error else []
    if parent_id is not None and not await _lock_category(conn, parent_id):
        errors.append(UserError("parentId", "NOT_FOUND", "no such category"))
    if errors:
        raise UserErrors(errors)
    row, _ = await insert_once(
        conn, product_categories, actor=actor, entity="product_category", row_id=category_id,
        values={"name": name, "parent_id": parent_id}, unique=CATEGORY_UNIQUE,
    )  # fmt: skip
    return row


async def _lock_category_for_change(
    conn: AsyncConnection, category_id: uuid.UUID, version: int | None
) -> Row:
    return await lock_for_change(
        conn, product_categories, category_id, entity="category", version=version
    )


async def update_category(
    conn: AsyncConnection,
    *,
    actor: Actor,
    category_id: uuid.UUID,
    version: int | None,
    changes: dict[str, Any],
) -> Row:
    """Rename (`name`) and/or move (`parent_id`; None makes it a root). A move below
    itself or one of its own descendants is refused (CYCLE)."""
    moving = "parent_id" in changes
    if moving:
        await _serialise_tree_moves(conn)
    current = await _lock_category_for_change(conn, category_id, version)
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"], error = normalise_category_name(changes["name"])
        if error:
            raise UserErrors([error])
    if moving and changes["parent_id"] != current.parent_id:
        parent_id = changes["parent_id"]
        if parent_id is not None:
            if not await _lock_category(conn, parent_id):
                raise fail("parentId", "NOT_FOUND", "no such category")
            if category_id in await _ancestors(conn, parent_id):
                raise fail(
                    "parentId", "CYCLE", "a category cannot move below itself or its subcategories"
                )
        values["parent_id"] = parent_id
    return await apply_change(
        conn, product_categories, current, actor=actor, entity="product_category",
        action="update", values=values, unique=CATEGORY_UNIQUE,
    )  # fmt: skip


async def delete_category(
    conn: AsyncConnection, *, actor: Actor, category_id: uuid.UUID, version: int | None
) -> Row:
    """Only an empty category goes: no subcategories, no products (inactive ones
    included, since they still belong to it). Returns the row as it was."""
    current = await _lock_category_for_change(conn, category_id, version)
    c = product_categories
    if await conn.scalar(select(exists().where(c.c.parent_id == category_id))):
        raise fail("id", "NOT_EMPTY", "move or delete its subcategories first")
    if await conn.scalar(select(exists().where(products.c.category_id == category_id))):
        raise fail("id", "NOT_EMPTY", "move its products to another category first")
    await conn.execute(delete(c).where(c.c.id == category_id))
    await record(
        conn, actor=actor, action="product_category.delete", entity_type="product_category",
        entity_id=category_id, changes={"name": {"from": current.name, "to": None}},
    )  # fmt: skip
    return current
