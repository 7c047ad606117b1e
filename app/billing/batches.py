"""Batch traceability (批次管理): which batches a shipment line actually took, what came
back of each, and who received a batch (a recall).

    record_shipped(conn, *, shipment_id, shipment_date, line_ids, moves)
        After a shipment's stock is issued: one `shipment_line_batches` row per issue
        move of a batch-tracked product (the ledger picked the batches, first expiring
        first unless named); `line_ids` maps order line -> shipment line.
    return_batches(conn, plan, batch_ids) -> (errors, Outstanding)
        Before a return is written: each returned line of a batch-tracked product goes
        back into a batch its order line shipped and has not had back (an order line
        may come back into several batches: one return line per batch). No batch named:
        the one still out (BATCH_REQUIRED on `lines[i].batchId` when several are);
        a batch the line never shipped is BATCH_NOT_SHIPPED on `lines[i].batchId`, more
        than is out of it OVER_RETURN on `lines[i].quantity`.
    take_back(conn, outstanding, returned)
        After the return is written: the returned quantity is taken off the order
        line's rows of that batch, earliest shipment first.
    shipped_by_line(conn, line_ids), deliveries_query(who, batch_id): the reads.

The order is locked (FOR UPDATE) by every shipment and return, so its lines' rows
here change one document at a time without locks of their own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Row, Select, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principal import Scoped
from app.billing import common
from app.billing.tables import shipment_line_batches, shipments
from app.customers.queries import customer_visible
from app.customers.tables import customers
from app.errors import UserError
from app.orders.tables import sales_orders
from app.records import new_id
from app.stock.tables import batches

slb = shipment_line_batches


async def record_shipped(conn: AsyncConnection, *, shipment_id: uuid.UUID,
                         shipment_date: dt.date, line_ids: dict[uuid.UUID, uuid.UUID],
                         moves: Sequence[Row]) -> None:  # fmt: skip
    rows = [
        {"id": new_id(), "shipment_id": shipment_id,
         "shipment_line_id": line_ids[m.source_line_id], "order_line_id": m.source_line_id,
         "product_id": m.product_id, "batch_id": m.batch_id, "move_id": m.id,
         "shipment_date": shipment_date, "quantity": -m.quantity}
        for m in moves
        if m.batch_id is not None and m.kind == "issue"
    ]  # fmt: skip
    if rows:
        await conn.execute(insert(shipment_line_batches), rows)


@dataclass
class Outstanding:
    """Per (order line, batch): its rows earliest shipment first, and their codes."""

    rows: dict[tuple[uuid.UUID, uuid.UUID], list[Row]] = field(default_factory=dict)
    codes: dict[uuid.UUID, str] = field(default_factory=dict)

    def out(self, order_line_id: uuid.UUID) -> dict[uuid.UUID, Decimal]:
        """What of each batch this order line shipped is still out."""
        return {
            batch_id: sum((r.quantity - r.returned_quantity for r in rows), Decimal(0))
            for (line_id, batch_id), rows in self.rows.items()
            if line_id == order_line_id
        }


async def _outstanding(conn: AsyncConnection, order_line_ids: list[uuid.UUID]) -> Outstanding:
    found = Outstanding()
    if not order_line_ids:
        return found
    query = (
        select(slb.c.id, slb.c.order_line_id, slb.c.batch_id, slb.c.quantity,
               slb.c.returned_quantity, batches.c.code)
        .join(batches, batches.c.id == slb.c.batch_id)
        .where(slb.c.order_line_id.in_(order_line_ids))
        .order_by(slb.c.shipment_date, slb.c.created_at, slb.c.id)
    )  # fmt: skip
    for row in await conn.execute(query):
        found.rows.setdefault((row.order_line_id, row.batch_id), []).append(row)
        found.codes[row.batch_id] = row.code
    return found


def _listed(out: dict[uuid.UUID, Decimal], codes: dict[uuid.UUID, str]) -> str:
    listed = sorted((codes[b], q) for b, q in out.items() if q > 0)
    return ", ".join(f"{code} ({common.fmt(q)})" for code, q in listed) or "none"


def _check_line(i: int, line: Row, quantity: Decimal, named: uuid.UUID | None,
                out: dict[uuid.UUID, Decimal], codes: dict) -> tuple[uuid.UUID | None, UserError | None]:  # fmt: skip
    """The batch line `i` goes back into, or the error that says why none fits."""
    still_out = {b: q for b, q in out.items() if q > 0}
    where = f"line {line.position + 1} still has out: {_listed(still_out, codes)}"
    if named is None:
        if len(still_out) > 1:
            return None, UserError(f"lines[{i}].batchId", "BATCH_REQUIRED",
                                   f"{where}; name the batch coming back")  # fmt: skip
        named = next(iter(still_out), None)
        if named is None:
            return None, None
    elif named not in out:
        return None, UserError(f"lines[{i}].batchId", "BATCH_NOT_SHIPPED",
                               f"line {line.position + 1} never shipped this batch; {where}")  # fmt: skip
    if quantity > out[named]:
        return None, UserError(f"lines[{i}].quantity", "OVER_RETURN",
                               f"{common.fmt(out[named])} of batch {codes[named]} is out on "
                               f"line {line.position + 1}")  # fmt: skip
    return named, None


async def return_batches(conn: AsyncConnection, plan: Sequence[tuple[Row, Decimal, Decimal]],
                         batch_ids: list) -> tuple[list[UserError], Outstanding]:  # fmt: skip
    """Fill in or check `batch_ids[i]` for each (order line, quantity, _) of `plan`.
    Lines that shipped no batch (a product not batch-tracked) are left to the stock
    rules."""
    outstanding = await _outstanding(conn, [row.id for row, _, _ in plan])
    outs = {row.id: outstanding.out(row.id) for row, _, _ in plan}
    errors: list[UserError] = []
    for i, (row, qty, _) in enumerate(plan):
        out = outs[row.id]  # less what earlier lines of this return took back
        if not out:
            continue
        batch_ids[i], problem = _check_line(i, row, qty, batch_ids[i], out, outstanding.codes)
        if problem is not None:
            errors.append(problem)
        elif batch_ids[i] is not None:
            out[batch_ids[i]] -= qty
    return errors, outstanding


async def take_back(conn: AsyncConnection, outstanding: Outstanding,
                    returned: Sequence[tuple[uuid.UUID, uuid.UUID | None, Decimal]]) -> None:  # fmt: skip
    """Take (order line, batch, quantity) off that line's rows of the batch, earliest
    shipment first (return_batches checked that enough is out)."""
    taken: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    for order_line_id, batch_id, qty in returned:
        left = qty
        for row in outstanding.rows.get((order_line_id, batch_id), []):
            take = min(left, row.quantity - row.returned_quantity - taken[row.id])
            if take > 0:
                taken[row.id] += take
                left -= take
    for row_id, qty in taken.items():
        await conn.execute(
            update(slb).where(slb.c.id == row_id)
            .values(returned_quantity=slb.c.returned_quantity + qty)
        )  # fmt: skip


async def shipped_by_line(conn: AsyncConnection,
                          line_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Row]]:  # fmt: skip
    """The batches each shipment line took, first expiring first: one statement."""
    grouped: dict[uuid.UUID, list[Row]] = defaultdict(list)
    if not line_ids:
        return grouped
    query = (
        select(slb.c.shipment_line_id, slb.c.batch_id, batches.c.code, batches.c.expires_on,
               slb.c.quantity, slb.c.returned_quantity)
        .join(batches, batches.c.id == slb.c.batch_id)
        .where(slb.c.shipment_line_id.in_(line_ids))
        .order_by(slb.c.shipment_line_id, batches.c.expiry_key, batches.c.code)
    )  # fmt: skip
    for row in await conn.execute(query):
        grouped[row.shipment_line_id].append(row)
    return grouped


def deliveries_query(who: Scoped, batch_id: uuid.UUID) -> Select:
    """Every shipment line that took `batch_id`, to customers `who` may see."""
    s = shipments.c
    return (
        select(slb.c.id, slb.c.shipment_id, slb.c.shipment_line_id, slb.c.order_line_id,
               slb.c.product_id, slb.c.batch_id, slb.c.shipment_date, slb.c.quantity,
               slb.c.returned_quantity, s.number.label("shipment_number"), s.order_id,
               s.customer_id, sales_orders.c.number.label("order_number"),
               customers.c.name.label("customer_name"))
        .select_from(slb.join(shipments, s.id == slb.c.shipment_id)
                     .join(sales_orders, sales_orders.c.id == s.order_id)
                     .join(customers, customers.c.id == s.customer_id))
        .where(slb.c.batch_id == batch_id, customer_visible(s.customer_id, who))
    )  # fmt: skip
