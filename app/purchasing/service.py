"""Writes to suppliers and purchase orders. Every function runs inside the caller's
transaction (flush, never commit), raises UserErrors for anything the user can fix
(having changed nothing the caller keeps: the mutation's transaction rolls back), and
writes its audit record in the same transaction. Receipts are in
app/purchasing/receipts.py.

- Creates are idempotent on a client-supplied id: the same id with the same content
  returns the existing row (no second number is drawn), with other content CONFLICT.
- Changes name the version they loaded; a stale one is a CONFLICT.
- A purchase order's status changes only through app/purchasing/lifecycle.py.
- Locks: the order row (FOR UPDATE) for any change of an order; the supplier and the
  warehouse an order points at FOR KEY SHARE (so they exist at commit).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, diff, record
from app.catalog.pricing import LineAmounts, total
from app.catalog.tables import products
from app.company.service import base_currency
from app.errors import UserError, UserErrors, fail
from app.numbering.service import DocumentType, next_number
from app.purchasing.lifecycle import Action, transition
from app.purchasing.rules import (
    OrderLine,
    amounts,
    api_name,
    check_dates,
    check_lines,
    cost_basis_errors,
    normalise_order,
    normalise_supplier,
)
from app.purchasing.tables import purchase_order_lines, purchase_orders, suppliers
from app.records import apply_change, insert_once, lock_for_change, new_id
from app.stock.rules import quantity
from app.stock.tables import warehouses
from app.validation import check_length, check_required, clean

SUPPLIER_UNIQUE = {
    "uq_suppliers_code": UserError("code", "TAKEN", "another supplier already has this code")
}
SUPPLIER_FIELDS = (
    "code", "name", "contact_name", "email", "phone", "address", "payment_terms_days",
    "currency", "notes", "active",
)  # fmt: skip
ORDER_FIELDS = (
    "supplier_id", "warehouse_id", "currency", "order_date", "expected_date",
    "prices_include_tax", "notes",
)  # fmt: skip


# -- suppliers ------------------------------------------------------------------------


async def create_supplier(
    conn: AsyncConnection, *, actor: Actor, supplier_id: uuid.UUID | None, fields: dict[str, Any]
) -> Row:
    """A new supplier; its currency defaults to the company's base currency."""
    values = {k: v for k, v in fields.items() if k in SUPPLIER_FIELDS}
    if values.get("active") is None:
        values["active"] = True
    errors = normalise_supplier(values, creating=True)
    if errors:
        raise UserErrors(errors)
    if values.get("currency") is None:
        values["currency"] = await base_currency(conn)
    if values.get("payment_terms_days") is None:
        values.pop("payment_terms_days", None)
    row, _ = await insert_once(
        conn, suppliers, actor=actor, entity="supplier", row_id=supplier_id, values=values,
        unique=SUPPLIER_UNIQUE,
    )  # fmt: skip
    return row


async def update_supplier(
    conn: AsyncConnection, *, actor: Actor, supplier_id: uuid.UUID, version: int | None,
    fields: dict[str, Any],
) -> Row:  # fmt: skip
    """Change the given fields; `active: false` deactivates (suppliers are never
    deleted; an inactive one gets no new orders)."""
    current = await lock_for_change(
        conn, suppliers, supplier_id, entity="supplier", version=version
    )
    values = {k: v for k, v in fields.items() if k in SUPPLIER_FIELDS}
    for key in ("code", "name", "currency", "payment_terms_days"):
        if key in values and values[key] is None:
            raise fail(api_name(key), "REQUIRED", f"{api_name(key)} cannot be null")
    errors = normalise_supplier(values, creating=False)
    if errors:
        raise UserErrors(errors)
    return await apply_change(
        conn, suppliers, current, actor=actor, entity="supplier", action="update",
        values=values, unique=SUPPLIER_UNIQUE,
    )  # fmt: skip


# -- purchase orders ------------------------------------------------------------------


async def lock_order(conn: AsyncConnection, order_id: uuid.UUID, version: int | None) -> Row:
    return await lock_for_change(
        conn, purchase_orders, order_id, entity="purchase order", version=version
    )


async def _supplier(
    conn: AsyncConnection, supplier_id: uuid.UUID | None
) -> tuple[Row | None, list]:
    if supplier_id is None:
        return None, [UserError("supplierId", "REQUIRED", "name the supplier")]
    row = (
        await conn.execute(
            select(suppliers.c.id, suppliers.c.code, suppliers.c.currency, suppliers.c.active)
            .where(suppliers.c.id == supplier_id)
            .with_for_update(read=True, key_share=True)
        )
    ).first()
    if row is None:
        return None, [UserError("supplierId", "NOT_FOUND", "no such supplier")]
    if not row.active:
        return row, [UserError("supplierId", "SUPPLIER_INACTIVE",
                               f"supplier {row.code} is inactive: it gets no new orders")]  # fmt: skip
    return row, []


async def _warehouse(conn: AsyncConnection, warehouse_id: uuid.UUID | None) -> list[UserError]:
    """Goods are bought into one of the company's own active (standard) warehouses."""
    if warehouse_id is None:
        return [UserError("warehouseId", "REQUIRED", "name the warehouse the goods go to")]
    w = warehouses.c
    row = (
        await conn.execute(
            select(w.id, w.code, w.kind, w.active)
            .where(w.id == warehouse_id)
            .with_for_update(read=True, key_share=True)
        )
    ).first()
    if row is None:
        return [UserError("warehouseId", "NOT_FOUND", "no such warehouse")]
    if not row.active:
        return [UserError("warehouseId", "WAREHOUSE_INACTIVE",
                          f"warehouse {row.code} is inactive: it takes no new stock")]  # fmt: skip
    if row.kind != "standard":
        return [UserError("warehouseId", "INVALID",
                          "purchases are received into the company's own warehouses, not a "
                          "consignment warehouse")]  # fmt: skip
    return []


async def _priced_lines(
    conn: AsyncConnection, lines: list[OrderLine], *, prices_include_tax: bool,
    may_set_costs: bool, stored: bool = False,
) -> tuple[list[dict[str, Any]], LineAmounts]:  # fmt: skip
    """The lines as stored (products checked, tax rates defaulted to the product's,
    amounts computed per app/catalog/pricing.py) and the document totals. `stored`:
    the order's own lines, already checked (only their amounts are computed again).
    `may_set_costs`: the caller holds READ_COST (else given unit costs are FORBIDDEN)."""
    errors = [] if stored else check_lines(lines, may_set_costs=may_set_costs)
    ids = [x.product_id for x in lines if x.product_id is not None]
    found = {}
    if ids and not stored:
        p = products.c
        query = select(p.id, p.code, p.tax_rate, p.active).where(p.id.in_(set(ids)))
        found = {r.id: r for r in await conn.execute(query)}
    for index, line in enumerate([] if stored else lines):
        product = found.get(line.product_id)
        if line.product_id is not None and product is None:
            errors.append(UserError(f"lines[{index}].productId", "NOT_FOUND", "no such product"))
        elif product is not None and not product.active:
            errors.append(UserError(f"lines[{index}].productId", "PRODUCT_INACTIVE",
                                    f"{product.code} is inactive: it is not bought any more"))  # fmt: skip
    if errors:
        raise UserErrors(errors)
    rows, sums = [], []
    for position, line in enumerate(lines):
        if line.tax_rate is None:
            line.tax_rate = found[line.product_id].tax_rate
        money = amounts(line, prices_include_tax=prices_include_tax)
        sums.append(money)
        rows.append({
            "position": position, "product_id": line.product_id,
            "quantity": quantity(line.quantity), "unit_cost": Decimal(line.unit_cost),
            "tax_rate": Decimal(line.tax_rate), "net_amount": money.net,
            "tax_amount": money.tax, "gross_amount": money.gross,
        })  # fmt: skip
    return rows, total(sums)


def _totals(sums: LineAmounts) -> dict[str, Decimal]:
    return {"net_total": sums.net, "tax_total": sums.tax, "gross_total": sums.gross}


def _line_key(line: Any) -> tuple:
    get = line.get if isinstance(line, dict) else lambda k: getattr(line, k)
    return (
        get("product_id"), quantity(get("quantity")), Decimal(get("unit_cost")).normalize(),
        Decimal(get("tax_rate")).normalize(),
    )  # fmt: skip


async def lines_of(conn: AsyncConnection, order_id: uuid.UUID) -> list[Row]:
    l = purchase_order_lines.c  # noqa: E741
    query = select(purchase_order_lines).where(l.order_id == order_id).order_by(l.position)
    return list((await conn.execute(query)).all())


async def _insert_lines(
    conn: AsyncConnection, actor: Actor, order_id: uuid.UUID, rows: list[dict[str, Any]]
) -> None:
    await conn.execute(
        insert(purchase_order_lines),
        [{"id": new_id(), "order_id": order_id, "created_by": actor.id, **r} for r in rows],
    )


def _audit_lines(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [[str(r["product_id"]), str(r["quantity"]), str(r["unit_cost"]), str(r["tax_rate"])]
            for r in rows]  # fmt: skip


async def create_purchase_order(
    conn: AsyncConnection, *, actor: Actor, order_id: uuid.UUID | None, fields: dict[str, Any],
    lines: list[OrderLine], today: dt.date, may_set_costs: bool,
) -> Row:  # fmt: skip
    """A draft purchase order (PO-2026-000001) with its lines. The currency defaults to
    the supplier's, the order date to `today`, each line's tax rate to its product's.
    Every line has a unit cost, so without `may_set_costs` (READ_COST) it is refused."""
    values = {k: v for k, v in fields.items() if k in ORDER_FIELDS}
    given_order_date = values.get("order_date") is not None
    values.setdefault("expected_date", None)
    if values.get("order_date") is None:
        values["order_date"] = today
    if values.get("prices_include_tax") is None:
        values["prices_include_tax"] = False
    if values.get("currency") is None:
        values.pop("currency", None)  # the supplier's, below
    errors = normalise_order(values)
    errors += check_dates(values.get("order_date"), values.get("expected_date"))
    supplier, problems = await _supplier(conn, values.get("supplier_id"))
    errors += problems + await _warehouse(conn, values.get("warehouse_id"))
    if supplier is not None and values.get("currency") is None:
        values["currency"] = supplier.currency
    try:
        rows, sums = await _priced_lines(
            conn, lines, prices_include_tax=values["prices_include_tax"],
            may_set_costs=may_set_costs,
        )  # fmt: skip
    except UserErrors as error:
        raise UserErrors(errors + error.errors) from None
    if errors:
        raise UserErrors(errors)
    values["notes"] = values.get("notes")
    values.update(_totals(sums))
    row_id = order_id or new_id()
    existing = await _existing_order(conn, row_id, values, rows, given_order_date)
    if existing is not None:
        return existing
    number = await next_number(conn, DocumentType.PURCHASE_ORDER, values["order_date"])
    row = (
        await conn.execute(
            pg_insert(purchase_orders)
            .values(id=row_id, number=number, created_by=actor.id, **values)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(purchase_orders)
        )
    ).first()
    if row is None:  # a concurrent create with the same id won
        existing = await _existing_order(conn, row_id, values, rows, given_order_date)
        assert existing is not None
        return existing
    await _insert_lines(conn, actor, row.id, rows)
    await record(
        conn, actor=actor, action="purchase_order.create", entity_type="purchase_order",
        entity_id=row.id,
        changes={**diff(None, {"number": number, **values}),
                 "lines": {"from": None, "to": _audit_lines(rows)}},
    )  # fmt: skip
    return row


async def _existing_order(
    conn: AsyncConnection, order_id: uuid.UUID, values: dict[str, Any], rows: list[dict],
    given_order_date: bool,
) -> Row | None:  # fmt: skip
    """The order already created under this id with this content (a retry), or None
    when there is none; another content is a CONFLICT."""
    existing = (
        await conn.execute(select(purchase_orders).where(purchase_orders.c.id == order_id))
    ).first()
    if existing is None:
        return None
    compared = {k: v for k, v in values.items() if k != "order_date" or given_order_date}
    same = all(getattr(existing, k) == v for k, v in compared.items())
    if same:
        stored = await lines_of(conn, order_id)
        same = [_line_key(x) for x in stored] == [_line_key(r) for r in rows]
    if not same:
        raise fail("id", "CONFLICT", "another purchase order already has this id")
    return existing


async def update_purchase_order(
    conn: AsyncConnection, *, actor: Actor, order_id: uuid.UUID, version: int | None,
    fields: dict[str, Any], lines: list[OrderLine] | None, may_set_costs: bool,
) -> Row:  # fmt: skip
    """Change a draft: the given header fields, and the lines when `lines` is given
    (they replace all of them). Anything but a draft is refused (INVALID_TRANSITION).
    Without `may_set_costs` (READ_COST): no lines (they carry unit costs), and no change
    of the currency or the tax basis (they say what the stored costs mean); the other
    header fields change as for anyone."""
    current = await lock_order(conn, order_id, version)
    transition(current.status, Action.EDIT)
    values = {k: v for k, v in fields.items() if k in ORDER_FIELDS}
    for key in ("supplier_id", "warehouse_id", "currency", "prices_include_tax"):
        if key in values and values[key] is None:
            raise fail(api_name(key), "REQUIRED", f"{api_name(key)} cannot be null")
    errors = normalise_order(values)
    if not may_set_costs:
        errors += cost_basis_errors(values, current)
    merged = {k: values.get(k, getattr(current, k)) for k in ORDER_FIELDS}
    errors += check_dates(merged["order_date"], merged["expected_date"])
    if "supplier_id" in values and values["supplier_id"] != current.supplier_id:
        errors += (await _supplier(conn, values["supplier_id"]))[1]
    if "warehouse_id" in values and values["warehouse_id"] != current.warehouse_id:
        errors += await _warehouse(conn, values["warehouse_id"])
    stored = await lines_of(conn, order_id)
    try:
        rows, sums = await _priced_lines(
            conn,
            lines if lines is not None
            else [OrderLine(x.product_id, x.quantity, x.unit_cost, x.tax_rate) for x in stored],
            prices_include_tax=merged["prices_include_tax"], may_set_costs=may_set_costs,
            stored=lines is None,
        )  # fmt: skip
    except UserErrors as error:
        raise UserErrors(errors + error.errors) from None
    if errors:
        raise UserErrors(errors)
    values.update(_totals(sums))
    old_lines = [(_line_key(x), x.net_amount, x.tax_amount) for x in stored]
    new_lines = [(_line_key(r), r["net_amount"], r["tax_amount"]) for r in rows]
    changes = diff({k: getattr(current, k) for k in values}, values)
    if old_lines != new_lines:
        changes["lines"] = {"from": _audit_lines([x._mapping for x in stored]),
                            "to": _audit_lines(rows)}  # fmt: skip
        l = purchase_order_lines.c  # noqa: E741
        await conn.execute(delete(purchase_order_lines).where(l.order_id == order_id))
        await _insert_lines(conn, actor, order_id, rows)
    if not changes:
        return current
    row = (
        await conn.execute(
            update(purchase_orders)
            .where(purchase_orders.c.id == order_id)
            .values(**values, version=purchase_orders.c.version + 1, updated_at=func.now())
            .returning(purchase_orders)
        )
    ).one()
    await record(
        conn, actor=actor, action="purchase_order.update", entity_type="purchase_order",
        entity_id=order_id, changes=changes,
    )  # fmt: skip
    return row


async def _change_status(
    conn: AsyncConnection, *, actor: Actor, current: Row, action: Action, values: dict[str, Any],
    audit: dict[str, Any] | None = None,
) -> Row:  # fmt: skip
    target = transition(current.status, action)
    row = (
        await conn.execute(
            update(purchase_orders)
            .where(purchase_orders.c.id == current.id)
            .values(
                status=target.value,
                **values,
                version=purchase_orders.c.version + 1,
                updated_at=func.now(),
            )  # fmt: skip
            .returning(purchase_orders)
        )
    ).one()
    await record(
        conn, actor=actor, action=f"purchase_order.{action.value}",
        entity_type="purchase_order", entity_id=current.id,
        changes={**diff({"status": current.status}, {"status": target.value}), **(audit or {})},
    )  # fmt: skip
    return row


async def send_purchase_order(
    conn: AsyncConnection, *, actor: Actor, order_id: uuid.UUID, version: int | None
) -> Row:
    """Commit a draft to the supplier: draft -> sent. Its supplier must still be active."""
    current = await lock_order(conn, order_id, version)
    transition(current.status, Action.SEND)
    _, problems = await _supplier(conn, current.supplier_id)
    if problems:
        raise UserErrors(problems)
    return await _change_status(
        conn, actor=actor, current=current, action=Action.SEND,
        values={"sent_at": func.now(), "sent_by": actor.id},
    )  # fmt: skip


async def cancel_purchase_order(
    conn: AsyncConnection, *, actor: Actor, order_id: uuid.UUID, version: int | None,
    reason: str | None,
) -> Row:  # fmt: skip
    """Draft or sent -> cancelled; never once anything was received."""
    current = await lock_order(conn, order_id, version)
    transition(current.status, Action.CANCEL)
    reason = clean(reason)
    if error := check_length("reason", reason, max_length=500):
        raise UserErrors([error])
    return await _change_status(
        conn, actor=actor, current=current, action=Action.CANCEL,
        values={"cancelled_at": func.now(), "cancel_reason": reason},
    )  # fmt: skip


async def close_purchase_order(
    conn: AsyncConnection, *, actor: Actor, order_id: uuid.UUID, version: int | None,
    reason: str | None,
) -> Row:  # fmt: skip
    """Short-close (结案) a partially received order: what came stays, the remainder
    will not come and is no longer on order. The reason is required; the audit record
    keeps it with what was written off, per line (the lines themselves do not change:
    ordered and received stay as they were)."""
    current = await lock_order(conn, order_id, version)
    transition(current.status, Action.CLOSE)
    reason = clean(reason)
    if error := check_required("reason", reason, max_length=500):
        raise UserErrors([error])
    lines = await lines_of(conn, order_id)
    written_off = [[str(x.id), str(x.quantity - x.received_quantity)]
                   for x in lines if x.received_quantity < x.quantity]  # fmt: skip
    return await _change_status(
        conn, actor=actor, current=current, action=Action.CLOSE,
        values={"closed_at": func.now(), "closed_by": actor.id, "close_reason": reason},
        audit={"close_reason": {"from": None, "to": reason},
               "written_off": {"from": None, "to": written_off}},
    )  # fmt: skip
