"""Price lists (writes) and price resolution.

How a line's price is resolved, in this one order (the first that yields a price wins):

1. a price list for this customer (target "customer");
2. a price list for the customer's tier (target "tier", matching `customers.tier` now);
3. a price list for all customers (target "all");
4. the product's list price, only when the requested currency is the tenant's base
   currency (list prices are in it, tax-exclusive).

A price list takes part only if it is active, in the requested currency (never
converted), valid on the date (`valid_from <= date <= valid_to`, both days inclusive,
a missing end is open) and has an item for the product whose `min_quantity` is at most
the line's quantity; within the list the item with the highest such `min_quantity`
applies (quantity breaks). A list that has the product only from a larger quantity
does not take part for a smaller line: the next list or level does.

Ties between lists of the same level are decided by, in turn: the latest
`valid_from` (a list starting later is the more specific one, such as a promotion
over a standing list; an open start counts as the earliest), then the most recently
created list, then the greater id, so the answer never depends on row order.

Without a customer only levels 3 and 4 apply. A line gets a per-line error instead
of a guess: NOT_FOUND (no such product), INACTIVE (the product is deactivated),
INVALID (quantity not above 0), NO_PRICE (nothing above applies).

The whole request is one SQL statement however many lines it has
(`resolve_prices`); orders and quotes call it inside their own transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Integer,
    Numeric,
    Row,
    Uuid,
    and_,
    case,
    cast,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, record
from app.auth.principal import Scoped
from app.auth.scope import EVERYTHING
from app.catalog.queries import visible_price_lists
from app.catalog.rules import check_quantity, check_target, normalise_items, normalise_price_list
from app.catalog.tables import price_list_items, price_lists, products
from app.company.currencies import normalise_currency
from app.company.service import base_currency_sql
from app.customers.queries import lock_referenced_customer, visible_customers
from app.customers.tables import customers
from app.errors import UserError, UserErrors, fail
from app.records import apply_change, insert_once, lock_for_change, new_id

MAX_LINES = 500
SOURCES = {1: "customer", 2: "tier", 3: "all"}  # 4: "list_price"


# --- price lists ---------------------------------------------------------------------


def _target_columns(values: dict[str, Any], merged: dict[str, Any]) -> list[UserError]:
    """A tier or customer sent for a list whose target does not use it is an error;
    the column a target does not use is cleared (changing a list's target leaves no
    stale tier or customer behind)."""
    errors = []
    for key, target, field in (("tier", "tier", "tier"), ("customer_id", "customer", "customerId")):
        if merged.get("target") == target:
            continue
        if values.get(key) is not None:
            errors.append(
                UserError(field, "INVALID", f"only a {target.upper()} list takes {field}")
            )
        merged[key] = values[key] = None
    return errors


async def _check_customer(
    conn: AsyncConnection, who: Scoped, values: dict[str, Any], before: Row | None
) -> list[UserError]:
    """A customer list's customer is live and visible to the writer (held FOR KEY
    SHARE, so a concurrent delete or merge waits for this write)."""
    customer_id = values.get("customer_id")
    if values.get("target") != "customer" or customer_id is None:
        return []
    if before is not None and before.customer_id == customer_id:
        return []
    if await lock_referenced_customer(conn, who, customer_id):
        return []
    return [UserError("customerId", "NOT_FOUND", "no such customer")]


async def _validated_list(
    conn: AsyncConnection, who: Scoped, fields: dict[str, Any], before: Row | None
) -> dict[str, Any]:
    values = dict(fields)
    errors = normalise_price_list(values, creating=before is None)
    if errors:
        raise UserErrors(errors)
    empty = {"tier": None, "customer_id": None, "valid_from": None, "valid_to": None}
    merged = {**(dict(before._mapping) if before is not None else empty), **values}
    errors = _target_columns(values, merged) + check_target(merged)
    if not errors:
        errors = await _check_customer(conn, who, merged, before)
    if errors:
        raise UserErrors(errors)
    return values


async def create_price_list(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    price_list_id: uuid.UUID | None,
    fields: dict[str, Any],
    items: list[dict[str, Any]] | None = None,
) -> Row:
    """A new list, with its items when given; a repeated create with the same id and
    content is a no-op (its items are then left as they are)."""
    values = await _validated_list(conn, who, fields, None)
    prepared = await _validated_items(conn, items) if items else []
    row, created = await insert_once(
        conn, price_lists, actor=actor, entity="price_list", row_id=price_list_id,
        values=values,
    )  # fmt: skip
    if created and prepared:
        await _write_items(conn, actor, row.id, prepared, replace_products=None)
    return row


async def _locked_list(
    conn: AsyncConnection, who: Scoped, price_list_id: uuid.UUID, version: int | None
) -> Row:
    return await lock_for_change(
        conn, price_lists, price_list_id, entity="price list", version=version,
        visible=visible_price_lists(who),
    )  # fmt: skip


async def update_price_list(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    price_list_id: uuid.UUID,
    version: int | None,
    fields: dict[str, Any],
) -> Row:
    """Change the given fields; `active: false` deactivates the list (lists are never
    deleted). A stale `version` is a CONFLICT."""
    current = await _locked_list(conn, who, price_list_id, version)
    values = await _validated_list(conn, who, fields, current)
    await _check_denomination(conn, current, values)
    return await apply_change(
        conn, price_lists, current, actor=actor, entity="price_list", action="update",
        values=values,
    )  # fmt: skip


async def _check_denomination(conn: AsyncConnection, current: Row, values: dict) -> None:
    """A list's prices are numbers in its currency, with or without tax: changing
    either would silently re-denominate every price it holds, so it is refused (IN_USE)
    while it has any. Create another list instead (or empty this one first)."""
    kind = "tax-inclusive" if current.tax_inclusive else "tax-exclusive"
    changing = [
        UserError(field, "IN_USE", f"the list's prices are {what}; create another list, or "
                  "remove its prices first")
        for key, field, what in (("currency", "currency", f"in {current.currency}"),
                                 ("tax_inclusive", "taxInclusive", kind))
        if key in values and values[key] != getattr(current, key)
    ]  # fmt: skip
    if changing and await conn.scalar(
        select(exists().where(price_list_items.c.price_list_id == current.id))
    ):
        raise UserErrors(changing)


async def _validated_items(
    conn: AsyncConnection, items: list[dict[str, Any]], removed: Sequence[uuid.UUID] = ()
) -> list[dict[str, Any]]:
    """Items checked on their own and their products looked up in one statement (a
    product of another tenant is as unknown as a made-up id)."""
    prepared = [dict(item) for item in items]
    errors = normalise_items(prepared)
    if any(e.code == "TOO_MANY" for e in errors):
        raise UserErrors(errors)
    wanted = {i["product_id"] for i in prepared if i.get("product_id")} | set(removed)
    found = set()
    if wanted:
        found = set(
            (await conn.scalars(select(products.c.id).where(products.c.id.in_(wanted)))).all()
        )
    for index, item in enumerate(prepared):
        if item.get("product_id") not in found:
            errors.append(UserError(f"items.{index}.productId", "NOT_FOUND", "no such product"))
    for index, product_id in enumerate(removed):
        if product_id not in found:
            errors.append(UserError(f"removeProductIds.{index}", "NOT_FOUND", "no such product"))
    if errors:
        raise UserErrors(errors)
    return prepared


async def _write_items(
    conn: AsyncConnection,
    actor: Actor,
    price_list_id: uuid.UUID,
    items: list[dict[str, Any]],
    *,
    replace_products: set[uuid.UUID] | None,
) -> tuple[int, int]:
    """Delete the items of `replace_products` (all items for None), insert `items`.
    Returns (removed, added)."""
    i = price_list_items
    removed = 0
    if replace_products is None or replace_products:
        statement = delete(i).where(i.c.price_list_id == price_list_id)
        if replace_products is not None:
            statement = statement.where(i.c.product_id.in_(replace_products))
        removed = (await conn.execute(statement)).rowcount
    if items:
        await conn.execute(
            insert(i),
            [
                {"id": new_id(), "price_list_id": price_list_id, "product_id": item["product_id"],
                 "min_quantity": item["min_quantity"], "unit_price": item["unit_price"],
                 "created_by": actor.id}
                for item in items
            ],
        )  # fmt: skip
    return removed, len(items)


async def set_price_list_items(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    price_list_id: uuid.UUID,
    version: int | None,
    items: list[dict[str, Any]],
    remove_product_ids: Sequence[uuid.UUID] = (),
    replace_all: bool = False,
) -> Row:
    """Set a list's prices. `replace_all`: the list holds exactly `items` afterwards.
    Otherwise only the products named change: each product in `items` gets exactly
    the breaks given (its other breaks go), each in `remove_product_ids` loses all of
    its breaks, every other product keeps its own. The list's version goes up and the
    change is audited (counts and products)."""
    try:
        current = await _locked_list(conn, who, price_list_id, version)
    except UserErrors as error:  # the input names the list priceListId
        raise UserErrors(
            [UserError("priceListId", e.code, e.message) if e.field == "id" else e
             for e in error.errors]
        ) from error  # fmt: skip
    prepared = await _validated_items(conn, items, remove_product_ids)
    named = {item["product_id"] for item in prepared} | set(remove_product_ids)
    removed, added = await _write_items(
        conn, actor, price_list_id, prepared, replace_products=None if replace_all else named
    )
    if not (removed or added):
        return current
    row = (
        await conn.execute(
            update(price_lists)
            .where(price_lists.c.id == price_list_id)
            .values(version=price_lists.c.version + 1, updated_at=func.now())
            .returning(price_lists)
        )
    ).one()
    await record(
        conn, actor=actor, action="price_list.items", entity_type="price_list",
        entity_id=price_list_id,
        changes={"items": {"removed": removed, "added": added, "replaceAll": replace_all,
                           "products": sorted(str(p) for p in named)[:100]}},
    )  # fmt: skip
    return row


# --- price resolution ----------------------------------------------------------------


@dataclass(frozen=True)
class PriceLine:
    product_id: uuid.UUID | None  # None: a malformed id, which names no product
    quantity: Decimal


@dataclass(frozen=True)
class ResolvedPrice:
    """One line's price. `error` set means no price: every other price field is None."""

    index: int
    product_id: uuid.UUID | None
    quantity: Decimal
    currency: str
    unit_price: Decimal | None = None
    tax_inclusive: bool | None = None
    tax_rate: Decimal | None = None
    source: str | None = None  # customer, tier, all (a price list) or list_price
    price_list_id: uuid.UUID | None = None
    min_quantity: Decimal | None = None  # the quantity break applied
    error: UserError | None = None


def _lines_table(lines: Sequence[tuple[int, PriceLine]]):
    """The lines as rows of the statement: unnest of three arrays."""
    return (
        func.unnest(
            cast(literal([i for i, _ in lines], ARRAY(Integer)), ARRAY(Integer)),
            cast(literal([line.product_id for _, line in lines], ARRAY(Uuid)), ARRAY(Uuid)),
            cast(literal([line.quantity for _, line in lines], ARRAY(Numeric)), ARRAY(Numeric)),
        )
        .table_valued(
            column("idx", Integer), column("product_id", Uuid), column("quantity", Numeric)
        )
        .render_derived(name="line", with_types=False)
    )


def resolution_statement(
    lines: Sequence[tuple[int, PriceLine]],
    *,
    customer_id: uuid.UUID | None,
    currency: str,
    on_date: dt.date,
    who: Scoped,
):
    """The statement resolving every line at once. First the lists that apply to this
    request (active, currency, validity, target: a handful, found through the target
    and customer indexes, computed once); then per line its product and the one best
    item of those lists (LATERAL ... ORDER BY level, tie-breaks, break LIMIT 1, through
    the (list, product, min quantity) index). So the cost grows with the lines and the
    lists that apply, never with how many other customers' lists hold the product."""
    line = _lines_table(lines)
    pl, item = price_lists, price_list_items
    if customer_id is None:
        customer_known = literal(True)
        applies = pl.c.target == "all"
    else:
        live_customer = and_(
            customers.c.id == customer_id, customers.c.deleted_at.is_(None), visible_customers(who)
        )
        tier = select(customers.c.tier).where(live_customer).scalar_subquery()
        customer_known = exists().where(live_customer)
        applies = or_(
            pl.c.target == "all",
            and_(pl.c.target == "tier", pl.c.tier == tier),
            and_(pl.c.target == "customer", pl.c.customer_id == customer_id, customer_known),
        )
    level = case((pl.c.target == "customer", 1), (pl.c.target == "tier", 2), else_=3)
    lists = (
        select(pl.c.id, level.label("level"), pl.c.valid_from, pl.c.created_at, pl.c.tax_inclusive)
        .where(
            pl.c.active,
            pl.c.currency == currency,
            or_(pl.c.valid_from.is_(None), pl.c.valid_from <= on_date),
            or_(pl.c.valid_to.is_(None), pl.c.valid_to >= on_date),
            applies,
        )
        .cte("applicable")
        .prefix_with("MATERIALIZED")
    )
    best = (
        select(
            lists.c.level,
            lists.c.id.label("price_list_id"),
            lists.c.tax_inclusive,
            item.c.unit_price,
            item.c.min_quantity,
        )  # fmt: skip
        .select_from(lists.join(item, item.c.price_list_id == lists.c.id))
        .where(item.c.product_id == line.c.product_id, item.c.min_quantity <= line.c.quantity)
        .order_by(
            lists.c.level,
            lists.c.valid_from.desc().nulls_last(),
            lists.c.created_at.desc(),
            lists.c.id.desc(),
            item.c.min_quantity.desc(),
        )
        .limit(1)
        .lateral("best")
    )
    return (
        select(
            line.c.idx,
            products.c.id.label("product_id"),
            products.c.active,
            products.c.tax_rate,
            products.c.list_price,
            best.c.level,
            best.c.price_list_id,
            best.c.tax_inclusive,
            best.c.unit_price,
            best.c.min_quantity,
            base_currency_sql().label("base_currency"),
            customer_known.label("customer_known"),
        )
        .select_from(
            line.outerjoin(products, products.c.id == line.c.product_id).outerjoin(best, true())
        )
        .order_by(line.c.idx)
    )


def _line_error(index: int, line: PriceLine, currency: str, row: Any | None) -> UserError | None:
    at = f"lines.{index}"
    if row is None or row.product_id is None:
        return UserError(f"{at}.productId", "NOT_FOUND", "no such product")
    if not row.active:
        return UserError(f"{at}.productId", "INACTIVE", "this product is deactivated")
    if row.level is None and row.base_currency != currency:
        return UserError(
            at,
            "NO_PRICE",
            f"no valid price list in {currency} prices this product at quantity "
            f"{line.quantity}, and its list price is in {row.base_currency}",
        )
    return None


async def resolve_prices(
    conn: AsyncConnection,
    *,
    customer_id: uuid.UUID | None,
    currency: str,
    on_date: dt.date,
    lines: Sequence[PriceLine],
    who: Scoped = EVERYTHING,
) -> list[ResolvedPrice]:
    """The price of each line, in the order given (see the module's docstring for
    the order of resolution). One statement for all lines.

    Raises UserErrors for what concerns the whole request: an unknown currency
    (`currency`), too many lines (`lines`), or a customer that does not exist, is
    deleted or is outside `who`'s data scope (`customerId`, NOT_FOUND, the same for
    each). Problems of one line come back as that line's `error`."""
    code, error = normalise_currency(currency)
    if error:
        raise UserErrors([error])
    if len(lines) > MAX_LINES:
        raise fail("lines", "TOO_MANY", f"at most {MAX_LINES} lines at once")
    results: dict[int, ResolvedPrice] = {}
    priced: list[tuple[int, PriceLine]] = []
    for index, line in enumerate(lines):
        if check_quantity(f"lines.{index}.quantity", line.quantity, positive=True) is not None:
            results[index] = ResolvedPrice(
                index, line.product_id, line.quantity, code,
                error=UserError(f"lines.{index}.quantity", "INVALID",
                                "quantity must be more than 0, below 10^14, at most 4 decimals"),
            )  # fmt: skip
        elif line.product_id is None:
            results[index] = ResolvedPrice(
                index, None, line.quantity, code, error=_line_error(index, line, code, None)
            )
        else:
            priced.append((index, line))
    if priced or customer_id is not None:
        statement = resolution_statement(
            priced or [(-1, PriceLine(None, Decimal(1)))],
            customer_id=customer_id, currency=code, on_date=on_date, who=who,
        )  # fmt: skip
        rows = (await conn.execute(statement)).all()
        if customer_id is not None and not (rows and rows[0].customer_known):
            raise fail("customerId", "NOT_FOUND", "no such customer")
        by_index = {row.idx: row for row in rows}
        for index, line in priced:
            results[index] = _resolved(index, line, code, by_index.get(index))
    return [results[i] for i in range(len(lines))]


def _resolved(index: int, line: PriceLine, currency: str, row: Any) -> ResolvedPrice:
    error = _line_error(index, line, currency, row)
    if error is not None:
        return ResolvedPrice(index, line.product_id, line.quantity, currency, error=error)
    if row.level is not None:
        return ResolvedPrice(
            index, line.product_id, line.quantity, currency, unit_price=row.unit_price,
            tax_inclusive=row.tax_inclusive, tax_rate=row.tax_rate, source=SOURCES[row.level],
            price_list_id=row.price_list_id, min_quantity=row.min_quantity,
        )  # fmt: skip
    return ResolvedPrice(
        index, line.product_id, line.quantity, currency, unit_price=row.list_price,
        tax_inclusive=False, tax_rate=row.tax_rate, source="list_price",
    )  # fmt: skip
