"""Quotes: the service API (writes; flush, never commit).

    create_quote(conn, *, actor, who, quote_id, customer_id, lines, today, may_override,
                 currency=None, prices_include_tax=None, quote_date=None,
                 valid_until=None, notes=None) -> Row
        A draft, revision 1 of a new family numbered QT-<year>-<n>; lines priced per
        app/orders/lines.py. `valid_until` defaults to 30 days after the quote date.
        Idempotent on a client-supplied id.
    update_quote(conn, *, actor, who, quote_id, version, fields, lines, today,
                 may_override) -> Row          a draft only
    send_quote(conn, *, actor, who, quote_id, version, today) -> Row
        draft -> sent; it must still be valid today.
    reject_quote(conn, *, actor, who, quote_id, version, today, reason=None) -> Row
    revise_quote(conn, *, actor, who, quote_id, version, today, new_id=None,
                 valid_until=None) -> (previous Row, new Row)
        sent / expired / rejected -> superseded, and the next version (revision n+1,
        the same family and number) as a new draft with the same lines, dated today.
    accept_quote(conn, *, actor, who, quote_id, version, warehouse_id, today,
                 order_id=None, order_date=None, requested_date=None) -> (quote, order)
        sent -> accepted, and one draft sales order with the same lines (prices,
        discounts, tax rates and amounts as quoted), in the same transaction. Once: the
        quote is locked, and `sales_orders.quote_id` is unique. An expired quote is
        refused (at accept time: see app/orders/lifecycle.py).

Transitions are decided by app/orders/lifecycle.py; data scope as for orders (the
customer's).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, select

from app.audit.service import Actor
from app.auth.principal import Scoped
from app.errors import UserError, UserErrors, fail
from app.numbering.service import DocumentType, next_number
from app.orders import lifecycle
from app.orders.lines import LineInput, price_lines, replace_lines
from app.orders.queries import lines_by_quote, visible_quotes
from app.orders.service import (
    MAX_NOTES,
    MAX_REASON,
    check_date,
    check_text,
    document_currency,
    insert_document,
    insert_order,
    replay_document,
    require_customer,
    warehouse_errors,
    write_change,
)
from app.orders.tables import quote_lines, quotes, sales_orders
from app.records import lock_for_change, new_id
from app.validation import clean

VALIDITY_DAYS = 30
LINE_COPY = (
    "position", "product_id", "quantity", "unit_price", "discount_percent", "tax_rate",
    "price_source", "price_list_id", "net_amount", "tax_amount", "gross_amount",
)  # fmt: skip


def _validity(quote_date: dt.date, valid_until: dt.date | None) -> list[UserError]:
    errors = check_date("quoteDate", quote_date) + check_date("validUntil", valid_until)
    if not errors and valid_until is not None and valid_until < quote_date:
        errors.append(
            UserError("validUntil", "INVALID", "validUntil cannot be before the quote date")
        )
    return errors


async def _lines_of(conn, quote_id: uuid.UUID) -> list[Row]:
    return (await lines_by_quote(conn, [quote_id])).get(quote_id, [])


async def _replay(conn, who: Scoped, quote_id: uuid.UUID, wanted: dict,
                  inputs: Sequence[LineInput]) -> Row | None:  # fmt: skip
    return await replay_document(
        conn, quotes, quote_id, visible=visible_quotes(who),
        lines=lambda: _lines_of(conn, quote_id), wanted=wanted, inputs=inputs, entity="quote",
    )  # fmt: skip


async def _insert_quote(
    conn, *, actor: Actor, quote_id: uuid.UUID, number: str, values: dict, lines: list[dict]
) -> Row | None:
    return await insert_document(
        conn, quotes, quote_lines, "quote_id", actor=actor, entity="quote", row_id=quote_id,
        number=number, values=values, lines=lines,
    )  # fmt: skip


async def create_quote(
    conn,
    *,
    actor: Actor,
    who: Scoped,
    quote_id: uuid.UUID | None,
    customer_id: uuid.UUID,
    lines: Sequence[LineInput],
    today: dt.date,
    may_override: bool,
    currency: str | None = None,
    prices_include_tax: bool | None = None,
    quote_date: dt.date | None = None,
    valid_until: dt.date | None = None,
    notes: str | None = None,
) -> Row:
    await require_customer(conn, who, customer_id)
    code, errors = await document_currency(conn, currency)
    day = quote_date or today
    notes = clean(notes)
    errors += _validity(day, valid_until) + check_text("notes", notes, MAX_NOTES)
    if errors:
        raise UserErrors(errors)
    wanted: dict[str, Any] = {"customer_id": customer_id, "currency": code, "notes": notes}
    for key, value in (("quote_date", quote_date), ("valid_until", valid_until),
                       ("prices_include_tax", prices_include_tax)):  # fmt: skip
        if value is not None:
            wanted[key] = value
    if quote_id is not None and (found := await _replay(conn, who, quote_id, wanted, lines)):
        return found
    priced = await price_lines(
        conn, who=who, customer_id=customer_id, currency=code, on_date=day, lines=lines,
        prices_include_tax=prices_include_tax, may_override=may_override,
    )  # fmt: skip
    quote_id = quote_id or new_id()
    values = {
        **wanted, "family_id": quote_id, "revision": 1, "quote_date": day,
        "valid_until": valid_until or day + dt.timedelta(days=VALIDITY_DAYS),
        "prices_include_tax": priced.prices_include_tax, **priced.total_values(),
    }  # fmt: skip
    row = await _insert_quote(
        conn, actor=actor, quote_id=quote_id,
        number=await next_number(conn, DocumentType.QUOTE, day), values=values,
        lines=[line.values() for line in priced.lines],
    )  # fmt: skip
    if row is None:
        found = await _replay(conn, who, quote_id, wanted, lines)
        assert found is not None
        return found
    return row


async def lock_quote(conn, who: Scoped, quote_id: uuid.UUID, version: int | None) -> Row:
    return await lock_for_change(
        conn, quotes, quote_id, entity="quote", version=version, visible=visible_quotes(who)
    )


async def _write(conn, current: Row, **change: Any) -> Row:
    return await write_change(conn, quotes, current, entity="quote", **change)


async def lock_quote_and_customer(
    conn, who: Scoped, quote_id: uuid.UUID, version: int | None
) -> Row:
    """For writes that attach something to the quote's customer (a new version, an
    order): the customer (live, visible) first, then the quote, the order a merge
    locks them in, so the two queue instead of deadlocking."""
    customer_id = await conn.scalar(
        select(quotes.c.customer_id).where(quotes.c.id == quote_id, visible_quotes(who))
    )
    if customer_id is None:
        raise fail("id", "NOT_FOUND", "no such quote")
    await require_customer(conn, who, customer_id)
    current = await lock_quote(conn, who, quote_id, version)
    if current.customer_id != customer_id:  # merged into another customer meanwhile
        raise fail("id", "CONFLICT", "this quote's customer changed meanwhile; try again")
    return current


def _status(row: Row, today: dt.date) -> str:
    return lifecycle.quote_status(row.status, row.valid_until, today)


async def update_quote(
    conn,
    *,
    actor: Actor,
    who: Scoped,
    quote_id: uuid.UUID,
    version: int | None,
    fields: dict[str, Any],
    lines: Sequence[LineInput] | None,
    today: dt.date,
    may_override: bool,
) -> Row:
    """Change a draft: `fields` among quote_date, valid_until, notes; `lines` replace
    all lines, priced afresh at the quote date."""
    current = await lock_quote(conn, who, quote_id, version)
    lifecycle.ensure_quote_editable(_status(current, today))
    values = dict(fields)
    errors: list[UserError] = []
    for key, name in (("quote_date", "quoteDate"), ("valid_until", "validUntil")):
        if key in values and values[key] is None:
            errors.append(UserError(name, "REQUIRED", f"{name} cannot be cleared"))
    if errors:
        raise UserErrors(errors)
    day = values.get("quote_date") or current.quote_date
    errors += _validity(day, values.get("valid_until") or current.valid_until)
    if "notes" in values:
        values["notes"] = clean(values["notes"])
        errors += check_text("notes", values["notes"], MAX_NOTES)
    if errors:
        raise UserErrors(errors)
    changes: dict = {}
    if lines is not None:
        priced = await price_lines(
            conn, who=who, customer_id=current.customer_id, currency=current.currency,
            on_date=day, lines=lines, prices_include_tax=current.prices_include_tax,
            may_override=may_override,
        )  # fmt: skip
        removed = await replace_lines(conn, quote_lines, "quote_id", quote_id, actor, priced)
        values.update(priced.total_values())
        changes["lines"] = {"from": removed, "to": len(priced.lines)}
    return await _write(conn, current, actor=actor, action="update", values=values,
                        changes=changes)  # fmt: skip


async def send_quote(
    conn, *, actor: Actor, who: Scoped, quote_id: uuid.UUID, version: int | None, today: dt.date
) -> Row:
    current = await lock_quote(conn, who, quote_id, version)
    target = lifecycle.quote_transition(_status(current, today), "send")
    if current.valid_until < today:
        raise fail("validUntil", "INVALID",
                   f"this quote was valid until {current.valid_until}, which has passed; "
                   "set a later validUntil before sending it")  # fmt: skip
    return await _write(
        conn, current, actor=actor, action="send",
        values={"status": target, "sent_at": func.now()},
    )  # fmt: skip


async def reject_quote(
    conn, *, actor: Actor, who: Scoped, quote_id: uuid.UUID, version: int | None,
    today: dt.date, reason: str | None = None,
) -> Row:  # fmt: skip
    current = await lock_quote(conn, who, quote_id, version)
    target = lifecycle.quote_transition(_status(current, today), "reject")
    reason = clean(reason)
    if errors := check_text("reason", reason, MAX_REASON):
        raise UserErrors(errors)
    return await _write(
        conn, current, actor=actor, action="reject",
        values={"status": target, "rejected_at": func.now(), "reject_reason": reason},
    )  # fmt: skip


async def revise_quote(
    conn, *, actor: Actor, who: Scoped, quote_id: uuid.UUID, version: int | None,
    today: dt.date, new_id_: uuid.UUID | None = None, valid_until: dt.date | None = None,
) -> tuple[Row, Row]:  # fmt: skip
    """Supersede the quote and make its next version: a draft with the same lines."""
    current = await lock_quote_and_customer(conn, who, quote_id, version)
    status = _status(current, today)
    target = lifecycle.quote_transition(status, "revise", valid_until=current.valid_until)
    span = current.valid_until - current.quote_date
    until = valid_until or today + span
    if errors := _validity(today, until):
        raise UserErrors(errors)
    previous = await _write(
        conn, current, actor=actor, action="revise",
        values={"status": target, "superseded_at": func.now()},
        changes={"revision": {"from": current.revision, "to": current.revision + 1}},
    )  # fmt: skip
    values = {
        "family_id": current.family_id, "revision": current.revision + 1,
        "customer_id": current.customer_id, "currency": current.currency,
        "prices_include_tax": current.prices_include_tax, "quote_date": today,
        "valid_until": until, "notes": current.notes, "net_total": current.net_total,
        "tax_total": current.tax_total, "gross_total": current.gross_total,
    }  # fmt: skip
    lines = [{k: getattr(line, k) for k in LINE_COPY} for line in await _lines_of(conn, quote_id)]
    row = await _insert_quote(
        conn, actor=actor, quote_id=new_id_ or new_id(), number=current.number, values=values,
        lines=lines,
    )  # fmt: skip
    if row is None:
        raise fail("newId", "CONFLICT", "another quote already has this id")
    return previous, row


async def accept_quote(
    conn, *, actor: Actor, who: Scoped, quote_id: uuid.UUID, version: int | None,
    warehouse_id: uuid.UUID, today: dt.date, order_id: uuid.UUID | None = None,
    order_date: dt.date | None = None, requested_date: dt.date | None = None,
) -> tuple[Row, Row]:  # fmt: skip
    """sent -> accepted, and its draft sales order (same lines), once."""
    current = await lock_quote_and_customer(conn, who, quote_id, version)
    target = lifecycle.quote_transition(
        _status(current, today), "accept", valid_until=current.valid_until
    )
    day = order_date or today
    errors = check_date("orderDate", day) + check_date("requestedDate", requested_date)
    if not errors and requested_date is not None and requested_date < day:
        errors.append(UserError("requestedDate", "INVALID",
                                "requestedDate cannot be before the order date"))  # fmt: skip
    errors += await warehouse_errors(conn, warehouse_id)
    if errors:
        raise UserErrors(errors)
    if order_id is not None and await conn.scalar(
        select(sales_orders.c.id).where(sales_orders.c.id == order_id)
    ):
        raise fail("orderId", "CONFLICT", "another sales order already has this id")
    lines = [{k: getattr(line, k) for k in LINE_COPY} for line in await _lines_of(conn, quote_id)]
    order = await insert_order(
        conn, actor=actor, order_id=order_id or new_id(),
        values={
            "customer_id": current.customer_id, "warehouse_id": warehouse_id,
            "currency": current.currency, "prices_include_tax": current.prices_include_tax,
            "quote_id": current.id, "order_date": day, "requested_date": requested_date,
            "notes": current.notes, "net_total": current.net_total,
            "tax_total": current.tax_total, "gross_total": current.gross_total,
        },
        lines=lines, audit={"quote": {"from": None, "to": f"{current.number} r{current.revision}"}},
    )  # fmt: skip
    if order is None:
        raise fail("orderId", "CONFLICT", "another sales order already has this id")
    accepted = await _write(
        conn, current, actor=actor, action="accept",
        values={"status": target, "accepted_at": func.now(), "accepted_by": actor.id},
        changes={"salesOrder": {"from": None, "to": order.number}},
    )  # fmt: skip
    return accepted, order
