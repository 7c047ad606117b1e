"""Sales orders: the service API (writes; flush, never commit). Shipments, invoices
and payments call these, and `refresh_progress`, in their own transactions.

    create_sales_order(conn, *, actor, who, order_id, customer_id, warehouse_id, lines,
                       today, may_override, currency=None, prices_include_tax=None,
                       order_date=None, requested_date=None, notes=None) -> Row
        A draft, priced per app/orders/lines.py, numbered SO-<year>-<n>. Idempotent on a
        client-supplied id: the same request again returns the first order.
    update_sales_order(conn, *, actor, who, order_id, version, fields, lines, today,
                       may_override) -> Row
        A draft's warehouse, dates, notes; `lines` (when given) replace all lines and
        are priced afresh at the order date (the order keeps its currency and tax basis).
    confirm_sales_order(conn, *, actor, who, order_id, version, today) -> Row
        draft -> confirmed: the customer's credit limit is checked (app/orders/credit.py)
        and every line's quantity is reserved from the order's warehouse
        (app/stock/service.reserve, source ("sales_order", order id), line ids = the
        order's line ids), never out of batches expired as of `today` (the tenant's
        day). All or nothing: a refusal leaves the order a draft holding nothing.
    cancel_sales_order(conn, *, actor, who, order_id, version, reason=None) -> Row
        draft/confirmed -> cancelled, releasing every open reservation; refused once
        anything has shipped.
    close_sales_order(conn, *, actor, who, order_id, version) -> Row
        confirmed -> closed (short-close): what is still reserved is released, and the
        progress measures are recomputed (what is due becomes what shipped).
    refresh_progress(conn, order_ids)   (app/orders/progress.py)

Every refused transition is decided by app/orders/lifecycle.py. Lock order (so
writers queue rather than deadlock): the customer (confirmations only), the order,
then stock (reservations, levels: app/stock/ledger.py). A merge locks customers then
re-points orders, in the same order.

Every function raises UserErrors naming the field for anything the caller can fix;
`who` is the data scope: an order whose customer `who` cannot see is NOT_FOUND, and so
is creating one for such a customer (its existence is not revealed).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import ClauseElement, ColumnElement, Row, Table, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, diff, record
from app.auth.principal import Scoped
from app.company.currencies import normalise_currency
from app.company.service import base_currency
from app.customers.queries import lock_referenced_customer
from app.errors import UserError, UserErrors, fail
from app.numbering.service import DocumentType, next_number
from app.orders import lifecycle
from app.orders.credit import check_credit, lock_customer_for_credit
from app.orders.lines import LineInput, price_lines, replace_lines, write_lines
from app.orders.progress import refresh_progress
from app.orders.queries import SOURCE_TYPE, lines_by_order, visible_orders
from app.orders.tables import sales_order_lines, sales_orders
from app.records import lock_for_change, new_id
from app.stock import queries as stock_queries
from app.stock import service as stock
from app.stock.tables import warehouses
from app.validation import check_length, clean

__all__ = [
    "LineInput",
    "cancel_sales_order",
    "close_sales_order",
    "confirm_sales_order",
    "create_sales_order",
    "order_source",
    "refresh_progress",
    "update_sales_order",
]

MAX_NOTES = 2000
MAX_REASON = 500
DATES = (dt.date(2000, 1, 1), dt.date(2999, 12, 31))


def order_source(order_id: uuid.UUID) -> stock.Source:
    """The stock reservations of an order are keyed by this source."""
    return stock.Source(SOURCE_TYPE, order_id)


# -- checks ------------------------------------------------------------------------------


async def require_customer(conn: AsyncConnection, who: Scoped, customer_id: uuid.UUID) -> None:
    """A live customer `who` may see, held until commit (a merge or delete waits);
    otherwise NOT_FOUND on customerId, whether it exists or not."""
    if not await lock_referenced_customer(conn, who, customer_id):
        raise fail("customerId", "NOT_FOUND", "no such customer")


async def warehouse_errors(
    conn: AsyncConnection, warehouse_id: uuid.UUID, who: Scoped | None = None
) -> list[UserError]:
    """With `who`, a warehouse it may not see does not exist: a distributor's partner
    user orders from their consignment warehouse only (staff may change a draft's
    warehouse before confirming it)."""
    visible = None if who is None else stock_queries.visible_warehouses(who)
    query = select(warehouses.c.code, warehouses.c.active).where(warehouses.c.id == warehouse_id)
    row = (await conn.execute(query if visible is None else query.where(visible))).first()
    if row is None:
        return [UserError("warehouseId", "NOT_FOUND", "no such warehouse")]
    if not row.active:
        return [UserError("warehouseId", "WAREHOUSE_INACTIVE",
                          f"warehouse {row.code} is inactive: orders cannot ship from it")]  # fmt: skip
    return []


async def document_currency(
    conn: AsyncConnection, currency: str | None
) -> tuple[str | None, list[UserError]]:
    """A new document's currency: the given one, normalised, or the base currency."""
    if currency is None:
        return await base_currency(conn), []
    code, problem = normalise_currency(currency)
    return code, [problem] if problem else []


def check_date(field: str, value: dt.date | None) -> list[UserError]:
    if value is not None and not DATES[0] <= value <= DATES[1]:
        return [UserError(field, "INVALID", f"{field} must be between 2000 and 2999")]
    return []


def check_text(field: str, value: str | None, limit: int) -> list[UserError]:
    error = check_length(field, value, max_length=limit)
    return [error] if error else []


def _order_fields(fields: dict[str, Any], order_date: dt.date) -> list[UserError]:
    """Clean the optional fields in place; what is wrong with them."""
    errors: list[UserError] = []
    if "notes" in fields:
        fields["notes"] = clean(fields["notes"])
        errors += check_text("notes", fields["notes"], MAX_NOTES)
    if "order_date" in fields:
        if fields["order_date"] is None:
            errors.append(UserError("orderDate", "REQUIRED", "orderDate cannot be cleared"))
        errors += check_date("orderDate", fields["order_date"])
    if fields.get("requested_date") is not None:
        errors += check_date("requestedDate", fields["requested_date"])
        if fields["requested_date"] < order_date:
            errors.append(UserError("requestedDate", "INVALID",
                                    "requestedDate cannot be before the order date"))  # fmt: skip
    return errors


# -- create ------------------------------------------------------------------------------


def _same_request(
    existing: Row, lines: Sequence[Row], wanted: dict, inputs: Sequence[LineInput]
) -> bool:
    if any(getattr(existing, k) != v for k, v in wanted.items()):
        return False
    if len(lines) != len(inputs):
        return False
    for line, given in zip(lines, inputs, strict=True):
        discount = given.discount_percent if given.discount_percent is not None else 0
        if (line.product_id, line.quantity, line.discount_percent) != (
            given.product_id, given.quantity, discount,
        ):  # fmt: skip
            return False
        if given.unit_price is not None and (line.price_source, line.unit_price) != (
            "manual", given.unit_price,
        ):  # fmt: skip
            return False
    return True


async def replay_document(
    conn: AsyncConnection, table: Table, row_id: uuid.UUID, *, visible: ColumnElement[bool],
    lines: Callable[[], Awaitable[Sequence[Row]]], wanted: dict, inputs: Sequence[LineInput],
    entity: str,
) -> Row | None:  # fmt: skip
    """The document (an order, a quote) already made with this id by the same request,
    or None if none has the id; CONFLICT if another one has it, or one the caller
    cannot see (so an id says nothing about documents out of scope)."""
    existing = (await conn.execute(select(table).where(table.c.id == row_id))).first()
    if existing is None:
        return None
    seen = await conn.scalar(select(table.c.id).where(table.c.id == row_id, visible))
    if seen is not None and _same_request(existing, await lines(), wanted, inputs):
        return existing
    raise fail("id", "CONFLICT", f"another {entity} already has this id")


async def _replay(
    conn: AsyncConnection, who: Scoped, order_id: uuid.UUID, wanted: dict,
    inputs: Sequence[LineInput],
) -> Row | None:  # fmt: skip
    return await replay_document(
        conn, sales_orders, order_id, visible=visible_orders(who),
        lines=lambda: order_lines(conn, order_id), wanted=wanted, inputs=inputs,
        entity="sales order",
    )  # fmt: skip


async def insert_document(
    conn: AsyncConnection, table: Table, line_table: Table, parent: str, *, actor: Actor,
    entity: str, row_id: uuid.UUID, number: str, values: dict, lines: Sequence[dict],
    audit: dict | None = None,
) -> Row | None:  # fmt: skip
    """A document row (an order, a quote) and its lines, audited as `<entity>.create`;
    None if the id was taken meanwhile (a concurrent create with the same id), nothing
    written then."""
    statement = (
        insert(table)
        .values(id=row_id, number=number, created_by=actor.id, **values)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(table)
    )
    row = (await conn.execute(statement)).first()
    if row is None:
        return None
    await write_lines(conn, line_table, parent, row.id, actor, lines)
    await record(conn, actor=actor, action=f"{entity}.create", entity_type=entity,
                 entity_id=row.id, changes={
        **diff(None, {"number": number, **values}), "lines": {"from": None, "to": len(lines)},
        **(audit or {}),
    })  # fmt: skip
    return row


async def insert_order(
    conn: AsyncConnection, *, actor: Actor, order_id: uuid.UUID, values: dict,
    lines: Sequence[dict], audit: dict,
) -> Row | None:  # fmt: skip
    """The order row (numbered here) and its lines; None as `insert_document`."""
    return await insert_document(
        conn, sales_orders, sales_order_lines, "order_id", actor=actor, entity="sales_order",
        row_id=order_id, values=values, lines=lines, audit=audit,
        number=await next_number(conn, DocumentType.SALES_ORDER, values["order_date"]),
    )  # fmt: skip


async def create_sales_order(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    order_id: uuid.UUID | None,
    customer_id: uuid.UUID,
    warehouse_id: uuid.UUID,
    lines: Sequence[LineInput],
    today: dt.date,
    may_override: bool,
    currency: str | None = None,
    prices_include_tax: bool | None = None,
    order_date: dt.date | None = None,
    requested_date: dt.date | None = None,
    notes: str | None = None,
) -> Row:
    """A new draft order (see the module's docstring)."""
    await require_customer(conn, who, customer_id)
    code, errors = await document_currency(conn, currency)
    fields = {"notes": notes, "requested_date": requested_date}
    day = order_date or today
    errors += check_date("orderDate", day) + _order_fields(fields, day)
    errors += await warehouse_errors(conn, warehouse_id, who)
    if errors:
        raise UserErrors(errors)
    wanted = {"customer_id": customer_id, "warehouse_id": warehouse_id, "currency": code,
              "requested_date": fields["requested_date"], "notes": fields["notes"]}  # fmt: skip
    if order_date is not None:
        wanted["order_date"] = order_date
    if prices_include_tax is not None:
        wanted["prices_include_tax"] = prices_include_tax
    if order_id is not None and (found := await _replay(conn, who, order_id, wanted, lines)):
        return found
    priced = await price_lines(
        conn, who=who, customer_id=customer_id, currency=code, on_date=day, lines=lines,
        prices_include_tax=prices_include_tax, may_override=may_override,
    )  # fmt: skip
    values = {**wanted, "order_date": day, "prices_include_tax": priced.prices_include_tax,
              **priced.total_values()}  # fmt: skip
    row = await insert_order(
        conn, actor=actor, order_id=order_id or new_id(), values=values,
        lines=[line.values() for line in priced.lines], audit={},
    )  # fmt: skip
    if row is None:  # a concurrent create with this id committed first
        found = await _replay(conn, who, order_id, wanted, lines)
        assert found is not None
        return found
    return row


# -- change ------------------------------------------------------------------------------


async def lock_order(
    conn: AsyncConnection, who: Scoped, order_id: uuid.UUID, version: int | None
) -> Row:
    return await lock_for_change(
        conn, sales_orders, order_id, entity="sales order", version=version,
        visible=visible_orders(who),
    )  # fmt: skip


async def write_change(
    conn: AsyncConnection, table: Table, current: Row, *, actor: Actor, entity: str,
    action: str, values: dict, changes: dict | None = None,
) -> Row:  # fmt: skip
    """Write `values` (and bump the version) when anything changed; audited (SQL
    expressions such as now() are written, not audited). Orders and quotes."""
    plain = {k: v for k, v in values.items() if not isinstance(v, ClauseElement)}
    changes = {**diff({k: getattr(current, k) for k in plain}, plain), **(changes or {})}
    if not changes:
        return current
    row = (
        await conn.execute(
            update(table)
            .where(table.c.id == current.id)
            .values(**values, version=table.c.version + 1, updated_at=func.now())
            .returning(table)
        )
    ).one()
    await record(conn, actor=actor, action=f"{entity}.{action}", entity_type=entity,
                 entity_id=row.id, changes=changes)  # fmt: skip
    return row


async def _write(conn: AsyncConnection, current: Row, **change: Any) -> Row:
    return await write_change(conn, sales_orders, current, entity="sales_order", **change)


async def update_sales_order(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    order_id: uuid.UUID,
    version: int | None,
    fields: dict[str, Any],
    lines: Sequence[LineInput] | None,
    today: dt.date,
    may_override: bool,
) -> Row:
    """Change a draft: `fields` among warehouse_id, order_date, requested_date, notes
    (only those given); `lines` replace all lines, priced afresh."""
    current = await lock_order(conn, who, order_id, version)
    lifecycle.ensure_order_editable(current.status)
    values = dict(fields)
    day = values.get("order_date") or current.order_date
    errors = _order_fields(values, day)
    if "requested_date" not in values and current.requested_date is not None \
            and current.requested_date < day:  # fmt: skip
        errors.append(UserError("orderDate", "INVALID",
                                "the order date cannot be after the requested date"))  # fmt: skip
    if values.get("warehouse_id") is not None:
        errors += await warehouse_errors(conn, values["warehouse_id"], who)
    elif "warehouse_id" in values:
        errors.append(UserError("warehouseId", "REQUIRED", "an order ships from a warehouse"))
    if errors:
        raise UserErrors(errors)
    changes: dict = {}
    if lines is not None:
        priced = await price_lines(
            conn, who=who, customer_id=current.customer_id, currency=current.currency,
            on_date=day, lines=lines, prices_include_tax=current.prices_include_tax,
            may_override=may_override,
        )  # fmt: skip
        removed = await replace_lines(conn, sales_order_lines, "order_id", order_id, actor, priced)
        values.update(priced.total_values())
        changes["lines"] = {"from": removed, "to": len(priced.lines)}
    return await _write(conn, current, actor=actor, action="update", values=values,
                        changes=changes)  # fmt: skip


async def order_lines(conn: AsyncConnection, order_id: uuid.UUID) -> list[Row]:
    return (await lines_by_order(conn, [order_id])).get(order_id, [])


async def confirm_sales_order(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, order_id: uuid.UUID,
    version: int | None, today: dt.date,
) -> Row:  # fmt: skip
    """draft -> confirmed, with the credit check and the stock reservation (out of
    batches not expired as of `today`, the tenant's day); refused as a whole (nothing
    reserved, still a draft) when either fails."""
    customer_id = await conn.scalar(
        select(sales_orders.c.customer_id).where(
            sales_orders.c.id == order_id, visible_orders(who)
        )  # fmt: skip
    )
    if customer_id is None:
        raise fail("id", "NOT_FOUND", "no such sales order")
    customer = await lock_customer_for_credit(conn, customer_id)
    current = await lock_order(conn, who, order_id, version)
    if current.customer_id != customer_id:  # merged into another customer meanwhile
        raise fail("id", "CONFLICT", "this order's customer changed meanwhile; try again")
    target = lifecycle.order_transition(current.status, "confirm")
    if customer is None or customer.deleted_at is not None:
        raise fail("customerId", "CUSTOMER_DELETED",
                   "the order's customer was deleted; restore it to confirm the order")  # fmt: skip
    lines = await order_lines(conn, order_id)
    checked = await check_credit(
        conn, customer_id=customer_id, credit_limit=customer.credit_limit, order_id=order_id,
        order_currency=current.currency, order_amount=current.gross_total,
    )  # fmt: skip
    await stock.reserve(
        conn, actor=actor, source=order_source(order_id),
        lines=[stock.ReserveLine(line.id, line.product_id, current.warehouse_id, line.quantity)
               for line in lines],
        today=today,
    )  # fmt: skip
    audit = {"reserved": {"from": None, "to": len(lines)}}
    if checked is not None:
        audit["creditExposure"] = {"from": None, "to": str(checked.total(current.currency))}
    return await _write(
        conn, current, actor=actor, action="confirm",
        values={"status": target, "confirmed_at": func.now(), "confirmed_by": actor.id},
        changes={"status": {"from": current.status, "to": target}, **audit},
    )  # fmt: skip


async def cancel_sales_order(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, order_id: uuid.UUID,
    version: int | None, reason: str | None = None,
) -> Row:  # fmt: skip
    """draft/confirmed -> cancelled; its reservations are released."""
    current = await lock_order(conn, who, order_id, version)
    shipped = await conn.scalar(
        select(func.count()).where(
            sales_order_lines.c.order_id == order_id, sales_order_lines.c.shipped_quantity > 0
        )
    )
    target = lifecycle.order_transition(current.status, "cancel", shipped=bool(shipped))
    reason = clean(reason)
    if errors := check_text("reason", reason, MAX_REASON):
        raise UserErrors(errors)
    released = await stock.release(conn, actor=actor, source=order_source(order_id))
    return await _write(
        conn, current, actor=actor, action="cancel",
        values={"status": target, "cancelled_at": func.now(), "cancel_reason": reason},
        changes={"status": {"from": current.status, "to": target},
                 "released": {"from": None, "to": len(released)}},
    )  # fmt: skip


async def close_sales_order(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, order_id: uuid.UUID, version: int | None
) -> Row:
    """confirmed -> closed (short-close): what is still reserved is released."""
    current = await lock_order(conn, who, order_id, version)
    target = lifecycle.order_transition(current.status, "close")
    released = await stock.release(conn, actor=actor, source=order_source(order_id))
    row = await _write(
        conn, current, actor=actor, action="close",
        values={"status": target, "closed_at": func.now()},
        changes={"status": {"from": current.status, "to": target},
                 "released": {"from": None, "to": len(released)}},
    )  # fmt: skip
    if await refresh_progress(conn, [order_id]):
        row = (await conn.execute(select(sales_orders).where(sales_orders.c.id == order_id))).one()
    return row
