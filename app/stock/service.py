"""Stock: the service API. Sales orders, shipments, returns and purchase receipts (and
this capability's own mutations) change stock only through these functions.

Contract of every function:
- It runs in the caller's transaction (`conn`), inside a savepoint, and never
  commits. It does all it was asked or raises `StockError` (a `UserErrors`: each
  error names the input field at fault, e.g. `lines[2].quantity`, with a code such as
  INSUFFICIENT_STOCK, NOT_FOUND, BATCH_REQUIRED, INVALID) having written nothing, even
  if the caller catches it. A document that must succeed as a whole simply lets the
  error propagate: its transaction rolls back.
- Quantities are `Decimal` (ints and decimal strings are accepted; never floats): more
  than zero (adjust: not zero), at most 3 decimal places. Ids may be UUIDs or strings;
  a malformed or unknown one is NOT_FOUND on its field. At most 500 lines per call.
- Batch-tracked products always move with a batch, others never: receipts and returns
  name it (`batch_id`, or `batch_code`, created with `expires_on`/`produced_on` when
  new); issues and transfers may name it, else batches are picked first expiring first
  (never an expired one; batches without expiry last). What has expired is decided by
  `today`, the tenant's calendar day (app/api/context.tenant_today), never the
  server's or the database's: a batch expiring on the 24th is still good on the 24th
  in Shanghai while UTC is still on the 23rd, and no longer on the 25th.
- `who` (optional) is the principal whose data scope limits the warehouses a move
  may touch: one outside it is NOT_FOUND on its field, exactly as a missing one. The
  stock mutations pass it; documents with access rules of their own (shipments,
  returns, purchase receipts) leave it out.
- Goods never arrive in a consignment warehouse held at a deleted customer
  (CUSTOMER_DELETED on the warehouse's field); the customer is held FOR KEY SHARE
  until commit, so a concurrent deleteCustomer either sees the stock or is seen.
- `posting_id` (optional) is the operation's idempotency key: a repeated call with the
  same id and the same request returns the first call's moves (`replayed=True`) and
  writes nothing; the same id with another request is a CONFLICT.
- `source` names the document (`Source("shipment", id)`); moves record it, and
  reservations are keyed by (source type, source id, line id).
- Concurrency: balances change by conditional UPDATEs on rows locked in key order
  (app/stock/ledger.py), so concurrent callers never oversell, never over-reserve and
  never deadlock each other. Callers that make several calls in one transaction
  should make them in a consistent order (e.g. reserve before issue).

The functions (all keyword arguments after `conn`; `actor` is the audit actor):

    receive(conn, *, actor, warehouse_id, lines: [StockLine], source=None, reason=None,
            posting_id=None, who=None) -> Posting
        Goods in (a purchase receipt, an opening balance): kind `receipt`.
    return_in(conn, *, actor, warehouse_id, lines: [StockLine], source, reason=None,
              posting_id=None, who=None) -> Posting
        Goods coming back (a sales return): kind `return`; `source` required.
    issue(conn, *, actor, warehouse_id, lines: [StockLine], today, source=None,
          reason=None, posting_id=None, who=None) -> Posting
        Goods out of what is available (on hand - reserved): kind `issue`. Of a
        batch-tracked product, picked (or named) unexpired stock must also leave the
        reserved quantity covered by unexpired stock (reservations were granted
        against it); an expired batch named leaves regardless.
    transfer(conn, *, actor, from_warehouse_id, to_warehouse_id, lines: [StockLine],
             today, source=None, reason=None, posting_id=None, who=None) -> Posting
        A pair of `transfer` moves per batch: out of one warehouse (from available),
        into the other, the same batches on both sides.
    adjust(conn, *, actor, warehouse_id, lines: [StockLine] (signed quantities), reason,
           source=None, posting_id=None, who=None) -> Posting
        Corrections with a reason: kind `adjustment`; taking stock out may not touch
        reserved stock; batch-tracked products name the batch.
    reserve(conn, *, actor, source, lines: [ReserveLine], today) -> [reservation rows]
        All or nothing: each line (`line_id`: the document line) holds `quantity` of a
        product in a warehouse out of what is available; reserving a line again adds
        to it. Confirming a sales order. For batch-tracked products what is available
        leaves out the batches expired as of `today` (they can never ship): on hand
        in unexpired batches - reserved. Reservations are per product x warehouse,
        never per batch (a shipment picks or names the batch), so the check is on the
        sum: all open reservations must fit in the unexpired stock when one is made.
        (Batches that expire later may leave reservations uncovered: `available` then
        goes negative and the shipment fails; nothing re-checks old reservations.)
    release(conn, *, actor, source, lines: [ReleaseLine] | None = None) -> [rows]
        Let go of the open reservations of the document (all of them, or the lines
        named, fully or by a quantity). Releasing what is not open is a no-op.
        Cancelling an order, or reducing a line.
    issue_reserved(conn, *, actor, reserved_for, lines: [ShipLine], today, source=None,
                   reason=None, posting_id=None) -> Posting
        Ship reserved stock: each line consumes `quantity` of the reservation of
        (`reserved_for`, `line_id`) and issues it (kind `issue`, `source_line_id` =
        the reserving line), from the named batch or first expiring first. A line may
        ship less than reserved (a partial shipment keeps the rest reserved), never
        more (INSUFFICIENT_RESERVATION).
    availability(conn, product_ids, warehouse_ids=None, *, today) -> {product_id: Availability}
        On hand, reserved, expired and available per product (summed over the
        warehouses, or over the ones named), with the per-warehouse levels; available
        is what `reserve` would accept (on hand - expired - reserved).

Stock takes post through app/stock/takes.py with the same machinery (kind
`stock_take`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Uuid, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.ids import parse_uuid
from app.audit.service import Actor, record
from app.auth.principal import Scoped
from app.errors import UserError
from app.records import fingerprint, new_id
from app.stock import ledger, queries
from app.stock.ledger import (
    ZERO,
    BatchWanted,
    LevelKey,
    Planned,
    Posting,
    StockError,
    raise_if,
    stock_error,
)
from app.stock.rules import (
    MAX_LINES,
    Source,
    check_code,
    check_quantity,
    check_reason,
    fmt,
    quantity,
)
from app.stock.tables import QUANTITY, stock_levels, stock_reservations
from app.validation import clean

__all__ = [
    "Availability",
    "Posting",
    "ReleaseLine",
    "ReserveLine",
    "ShipLine",
    "Source",
    "StockError",
    "StockLine",
    "adjust",
    "availability",
    "issue",
    "issue_reserved",
    "receive",
    "release",
    "reserve",
    "return_in",
    "transfer",
]


@dataclass(frozen=True)
class StockLine:
    """A product and a quantity, with its batch where the product is batch-tracked:
    `batch_id`, or `batch_code` (inbound: created when new, with its dates)."""

    product_id: Any
    quantity: Any
    batch_id: Any = None
    batch_code: str | None = None
    expires_on: dt.date | None = None
    produced_on: dt.date | None = None


@dataclass(frozen=True)
class ReserveLine:
    line_id: Any  # the document line holding the reservation
    product_id: Any
    warehouse_id: Any
    quantity: Any


@dataclass(frozen=True)
class ReleaseLine:
    line_id: Any
    quantity: Any = None  # None: all that is open


@dataclass(frozen=True)
class ShipLine:
    line_id: Any  # the reserving document's line
    quantity: Any
    batch_id: Any = None


@dataclass
class Availability:
    product_id: uuid.UUID
    on_hand: Decimal = ZERO
    reserved: Decimal = ZERO
    expired: Decimal = ZERO
    available: Decimal = ZERO
    levels: list[Row] = field(default_factory=list)


# -- shared checks ---------------------------------------------------------------------


@dataclass
class _Line:
    field: str
    product_id: uuid.UUID | None
    quantity: Decimal | None
    batch_id: uuid.UUID | None = None
    batch_code: str | None = None
    expires_on: dt.date | None = None
    produced_on: dt.date | None = None
    given_batch_id: bool = False


def _check_lines_count(lines: Sequence[Any]) -> None:
    if not lines:
        raise stock_error([UserError("lines", "REQUIRED", "name at least one line")])
    if len(lines) > MAX_LINES:
        raise stock_error([UserError("lines", "TOO_MANY", f"at most {MAX_LINES} lines at once")])


def _parse(lines: Sequence[StockLine], *, signed: bool) -> tuple[list[_Line], list[UserError]]:
    _check_lines_count(lines)
    parsed, errors = [], []
    for i, line in enumerate(lines):
        f = f"lines[{i}]"
        product_id = parse_uuid(line.product_id) if line.product_id is not None else None
        if product_id is None:
            errors.append(UserError(f"{f}.productId", "NOT_FOUND", "no such product"))
        problem = check_quantity(f"{f}.quantity", line.quantity, signed=signed)
        if problem:
            errors.append(problem)
        batch_id = None
        if line.batch_id is not None:
            batch_id = parse_uuid(line.batch_id)
            if batch_id is None:
                errors.append(UserError(f"{f}.batchId", "NOT_FOUND", "no such batch"))
        code = clean(line.batch_code)
        if code is not None and (error := check_code(f"{f}.batchCode", code)):
            errors.append(error)
        if code is not None and line.batch_id is not None:
            errors.append(UserError(f"{f}.batchCode", "INVALID", "name the batch by id or by code"))
        parsed.append(_Line(
            f, product_id, None if problem else quantity(line.quantity), batch_id, code,
            line.expires_on, line.produced_on, line.batch_id is not None,
        ))  # fmt: skip
    return parsed, errors


async def _products_and_batches(
    conn: AsyncConnection,
    *,
    actor: Actor,
    lines: list[_Line],
    batch_required: Any,
    may_create: Any,
    inactive_refused: bool = False,
) -> tuple[dict[uuid.UUID, Row], list[UserError]]:
    """Check each line's product and batch against the batch rules, resolving batches
    (creating new ones where `may_create(line)`); fills `line.batch_id`."""
    errors: list[UserError] = []
    rows = await ledger.load_products(conn, (line.product_id for line in lines))
    wanted: list[tuple[_Line, BatchWanted]] = []
    for line in lines:
        product = rows.get(line.product_id) if line.product_id else None
        if line.product_id is not None and product is None:
            errors.append(UserError(f"{line.field}.productId", "NOT_FOUND", "no such product"))
        if product is None:
            continue
        if inactive_refused and not product.active:
            errors.append(UserError(f"{line.field}.productId", "PRODUCT_INACTIVE",
                                    f"{product.code} is inactive: it takes no new stock"))  # fmt: skip
        named = line.given_batch_id or line.batch_code is not None
        if not product.batch_tracked:
            for name, value in (("batchId", line.given_batch_id or None),
                                ("batchCode", line.batch_code), ("expiresOn", line.expires_on),
                                ("producedOn", line.produced_on)):  # fmt: skip
                if value:
                    errors.append(UserError(f"{line.field}.{name}", "BATCH_NOT_TRACKED",
                                            f"{product.code} is not batch-tracked"))  # fmt: skip
                    break
            continue
        if not named:
            if batch_required(line):
                errors.append(UserError(f"{line.field}.batchCode", "BATCH_REQUIRED",
                                        f"{product.code} is batch-tracked: name the batch"))  # fmt: skip
            elif line.expires_on or line.produced_on:
                errors.append(UserError(f"{line.field}.expiresOn", "INVALID",
                                        "dates describe a batch: name the batch"))  # fmt: skip
            continue
        if line.batch_id is None and line.given_batch_id:
            continue  # malformed, already reported
        wanted.append((line, BatchWanted(
            line.field, product.id, line.batch_id, line.batch_code, line.expires_on,
            line.produced_on, create=line.batch_code is not None and bool(may_create(line)),
        )))  # fmt: skip
    if errors:
        return rows, errors
    ids, problems = await ledger.resolve_batches(conn, actor=actor, wanted=[w for _, w in wanted])
    for (line, _), batch_id in zip(wanted, ids, strict=True):
        line.batch_id = batch_id
    return rows, problems


def _warehouse(
    rows: dict, field: str, raw: Any, *, inbound: bool
) -> tuple[uuid.UUID | None, list[UserError]]:
    warehouse_id = parse_uuid(raw) if raw is not None else None
    row = rows.get(warehouse_id)
    if row is None:
        return None, [UserError(field, "NOT_FOUND", "no such warehouse")]
    if inbound and not row.active:
        return None, [UserError(field, "WAREHOUSE_INACTIVE",
                                f"warehouse {row.code} is inactive: it takes no new stock")]  # fmt: skip
    return warehouse_id, []


def _payload(kind: str, lines: Sequence[_Line], **extra: Any) -> dict:
    return {
        "kind": kind,
        "lines": [
            [str(x.product_id), str(x.quantity), str(x.batch_id or ""), x.batch_code or "",
             str(x.expires_on or ""), str(x.produced_on or "")]
            for x in lines
        ],
        **{k: str(v) if v is not None else None for k, v in extra.items()},
    }  # fmt: skip


def _source(source: Source | None, *, required: bool = False) -> list[UserError]:
    if source is None:
        return [UserError("source", "REQUIRED", "name the source document")] if required else []
    error = source.check()
    return [error] if error else []


def _reason(reason: str | None, *, required: bool) -> tuple[str | None, list[UserError]]:
    reason = clean(reason)
    error = check_reason("reason", reason, required=required)
    return reason, [error] if error else []


async def _post(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped | None,
    kind: str,
    posting_id: Any,
    digest_of: dict,
    warehouse_ids: Sequence[Any],
    make: Any,
    reason: str | None,
    source: Source | None,
    today: dt.date | None = None,
) -> Posting:
    """The common frame: a savepoint, the idempotent posting row, the warehouses named
    (those outside `who`'s data scope left out: every move posted here is checked
    against it), `make(warehouse_rows)` (which checks and returns the planned moves
    and the product rows they need), the moves, the audit."""
    pid = new_id() if posting_id is None else parse_uuid(posting_id)
    if pid is None:
        raise stock_error([UserError("id", "INVALID", "an id is a UUID")])
    async with conn.begin_nested():
        posting = Posting(pid, kind)
        replay = await ledger.open_posting(
            conn, posting_id=pid, kind=kind, digest=fingerprint(digest_of), actor=actor
        )
        if replay is not None:
            return replay
        warehouse_rows = await ledger.load_warehouses(
            conn, [parse_uuid(w) for w in warehouse_ids if w is not None], who
        )
        planned, product_rows = await make(warehouse_rows)
        posting.moves = await ledger.apply(
            conn, actor=actor, posting=posting, planned=planned, product_rows=product_rows,
            warehouse_rows=warehouse_rows, reason=reason, source=source, today=today,
        )  # fmt: skip
        await ledger.audit_posting(
            conn, actor=actor, posting=posting, moves=posting.moves, reason=reason, source=source
        )
    return posting


# -- moves ------------------------------------------------------------------------------


async def _inbound(
    conn: AsyncConnection, *, actor: Actor, who: Scoped | None, kind: str, warehouse_id: Any,
    lines: Sequence[StockLine], source: Source | None, reason: str | None, posting_id: Any,
) -> Posting:  # fmt: skip
    parsed, errors = _parse(lines, signed=False)
    reason, problems = _reason(reason, required=False)
    errors += problems + _source(source, required=kind == "return")
    raise_if(errors)

    async def make(whs: dict):
        wid, problems = _warehouse(whs, "warehouseId", warehouse_id, inbound=True)
        rows, more = await _products_and_batches(
            conn, actor=actor, lines=parsed, batch_required=lambda _: True,
            may_create=lambda _: True, inactive_refused=kind == "receipt",
        )  # fmt: skip
        raise_if(problems + more)
        planned = [Planned(x.field, kind, x.product_id, wid, x.quantity, x.batch_id)
                   for x in parsed]  # fmt: skip
        return planned, rows

    return await _post(
        conn, actor=actor, who=who, kind=kind, posting_id=posting_id, make=make,
        reason=reason, source=source, warehouse_ids=[warehouse_id],
        digest_of=_payload(kind, parsed, warehouse=warehouse_id, reason=reason, source=source),
    )  # fmt: skip


async def receive(
    conn: AsyncConnection, *, actor: Actor, warehouse_id: Any, lines: Sequence[StockLine],
    source: Source | None = None, reason: str | None = None, posting_id: Any = None,
    who: Scoped | None = None,
) -> Posting:  # fmt: skip
    """Goods into a warehouse (kind `receipt`). Inactive warehouses and products take
    no new stock."""
    return await _inbound(
        conn, actor=actor, who=who, kind="receipt", warehouse_id=warehouse_id, lines=lines,
        source=source, reason=reason, posting_id=posting_id,
    )  # fmt: skip


async def return_in(
    conn: AsyncConnection, *, actor: Actor, warehouse_id: Any, lines: Sequence[StockLine],
    source: Source, reason: str | None = None, posting_id: Any = None,
    who: Scoped | None = None,
) -> Posting:  # fmt: skip
    """Goods coming back (kind `return`), e.g. a sales return; `source` is required."""
    return await _inbound(
        conn, actor=actor, who=who, kind="return", warehouse_id=warehouse_id, lines=lines,
        source=source, reason=reason, posting_id=posting_id,
    )  # fmt: skip


async def issue(
    conn: AsyncConnection, *, actor: Actor, warehouse_id: Any, lines: Sequence[StockLine],
    today: dt.date, source: Source | None = None, reason: str | None = None,
    posting_id: Any = None, who: Scoped | None = None,
) -> Posting:  # fmt: skip
    """Goods out of what is available (kind `issue`): never reserved stock."""
    parsed, errors = _parse(lines, signed=False)
    reason, problems = _reason(reason, required=False)
    raise_if(errors + problems + _source(source))

    async def make(whs: dict):
        wid, problems = _warehouse(whs, "warehouseId", warehouse_id, inbound=False)
        rows, more = await _products_and_batches(
            conn, actor=actor, lines=parsed, batch_required=lambda _: False,
            may_create=lambda _: False,
        )  # fmt: skip
        raise_if(problems + more)
        planned = [Planned(x.field, "issue", x.product_id, wid, -x.quantity, x.batch_id)
                   for x in parsed]  # fmt: skip
        return planned, rows

    return await _post(
        conn, actor=actor, who=who, kind="issue", posting_id=posting_id, make=make,
        reason=reason, source=source, warehouse_ids=[warehouse_id], today=today,
        digest_of=_payload("issue", parsed, warehouse=warehouse_id, reason=reason, source=source),
    )  # fmt: skip


async def transfer(
    conn: AsyncConnection, *, actor: Actor, from_warehouse_id: Any, to_warehouse_id: Any,
    lines: Sequence[StockLine], today: dt.date, source: Source | None = None,
    reason: str | None = None, posting_id: Any = None, who: Scoped | None = None,
) -> Posting:  # fmt: skip
    """Move stock between warehouses (kind `transfer`, a pair of moves per batch): out
    of what is available in one, into the other (which must be active)."""
    parsed, errors = _parse(lines, signed=False)
    reason, problems = _reason(reason, required=False)
    raise_if(errors + problems + _source(source))

    async def make(whs: dict):
        source_id, problems = _warehouse(whs, "fromWarehouseId", from_warehouse_id, inbound=False)
        target_id, more = _warehouse(whs, "toWarehouseId", to_warehouse_id, inbound=True)
        problems += more
        if source_id is not None and source_id == target_id:
            problems.append(UserError("toWarehouseId", "INVALID",
                                      "a transfer goes to another warehouse"))  # fmt: skip
        rows, more = await _products_and_batches(
            conn, actor=actor, lines=parsed, batch_required=lambda _: False,
            may_create=lambda _: False,
        )  # fmt: skip
        raise_if(problems + more)
        planned: list[Planned] = []
        for x in parsed:
            planned.append(Planned(x.field, "transfer", x.product_id, source_id, -x.quantity,
                                   x.batch_id))  # fmt: skip
            planned.append(Planned(x.field, "transfer", x.product_id, target_id, x.quantity,
                                   mirror=len(planned) - 1, warehouse_field="toWarehouseId"))  # fmt: skip
        return planned, rows

    return await _post(
        conn, actor=actor, who=who, kind="transfer", posting_id=posting_id, make=make,
        reason=reason, source=source, warehouse_ids=[from_warehouse_id, to_warehouse_id],
        today=today,
        digest_of=_payload("transfer", parsed, source_warehouse=from_warehouse_id,
                           target_warehouse=to_warehouse_id, reason=reason, source=source),
    )  # fmt: skip


async def adjust(
    conn: AsyncConnection, *, actor: Actor, warehouse_id: Any, lines: Sequence[StockLine],
    reason: str, source: Source | None = None, posting_id: Any = None,
    who: Scoped | None = None,
) -> Posting:  # fmt: skip
    """Corrections (kind `adjustment`): signed quantities with a required reason (damage,
    loss, found, expired, ...). Taking stock out never touches reserved stock;
    batch-tracked products name the batch (a new code is created for additions)."""
    parsed, errors = _parse(lines, signed=True)
    reason, problems = _reason(reason, required=True)
    raise_if(errors + problems + _source(source))

    async def make(whs: dict):
        wid, problems = _warehouse(whs, "warehouseId", warehouse_id, inbound=False)
        rows, more = await _products_and_batches(
            conn, actor=actor, lines=parsed, batch_required=lambda _: True,
            may_create=lambda x: x.quantity is not None and x.quantity > 0,
        )  # fmt: skip
        raise_if(problems + more)
        planned = [Planned(x.field, "adjustment", x.product_id, wid, x.quantity, x.batch_id)
                   for x in parsed]  # fmt: skip
        return planned, rows

    return await _post(
        conn, actor=actor, who=who, kind="adjustment", posting_id=posting_id, make=make,
        reason=reason, source=source, warehouse_ids=[warehouse_id],
        digest_of=_payload("adjustment", parsed, warehouse=warehouse_id, reason=reason,
                           source=source),
    )  # fmt: skip


# -- reservations -------------------------------------------------------------------------


def _line_ids(lines: Sequence[Any]) -> tuple[list[uuid.UUID | None], list[UserError]]:
    ids, errors, seen = [], [], set()
    for i, line in enumerate(lines):
        line_id = parse_uuid(line.line_id) if line.line_id is not None else None
        if line_id is None:
            errors.append(UserError(f"lines[{i}].lineId", "INVALID", "a line id is a UUID"))
        elif line_id in seen:
            errors.append(UserError(f"lines[{i}].lineId", "DUPLICATE", "this line is listed twice"))
        seen.add(line_id)
        ids.append(line_id)
    return ids, errors


async def _lock_reservations(
    conn: AsyncConnection, source: Source, line_ids: Sequence[uuid.UUID] | None
) -> dict[uuid.UUID, Row]:
    """The document's reservations (or those of the lines), locked in id order."""
    r = stock_reservations.c
    query = select(stock_reservations).where(r.source_type == source.type, r.source_id == source.id)
    if line_ids is not None:
        query = query.where(r.source_line_id.in_([i for i in line_ids if i is not None]))
    rows = await conn.execute(query.order_by(r.id).with_for_update())
    return {row.source_line_id: row for row in rows}


async def _audit_reservations(
    conn: AsyncConnection, *, actor: Actor, action: str, source: Source, amounts: dict
) -> None:
    await record(
        conn, actor=actor, action=f"stock.{action}", entity_type=source.type,
        entity_id=source.id,
        changes={"lines": {"from": None, "to": {str(k): str(v) for k, v in amounts.items()}}},
    )  # fmt: skip


async def reserve(
    conn: AsyncConnection, *, actor: Actor, source: Source, lines: Sequence[ReserveLine],
    today: dt.date,
) -> list[Row]:  # fmt: skip
    """Hold stock for the document's lines, all or nothing, out of what is available
    (not counting batches expired as of `today`); the reservation rows of those lines
    afterwards (in the order given)."""
    _check_lines_count(lines)
    line_ids, errors = _line_ids(lines)
    errors += _source(source, required=True)
    parsed: list[tuple[uuid.UUID | None, uuid.UUID | None, Decimal | None]] = []
    for i, line in enumerate(lines):
        product_id = parse_uuid(line.product_id) if line.product_id is not None else None
        warehouse_id = parse_uuid(line.warehouse_id) if line.warehouse_id is not None else None
        if product_id is None:
            errors.append(UserError(f"lines[{i}].productId", "NOT_FOUND", "no such product"))
        if warehouse_id is None:
            errors.append(UserError(f"lines[{i}].warehouseId", "NOT_FOUND", "no such warehouse"))
        problem = check_quantity(f"lines[{i}].quantity", line.quantity)
        if problem:
            errors.append(problem)
        parsed.append((product_id, warehouse_id, None if problem else quantity(line.quantity)))
    raise_if(errors)

    async with conn.begin_nested():
        existing = await _lock_reservations(conn, source, line_ids)
        wanted: dict[LevelKey, Decimal] = defaultdict(Decimal)
        for i, (line_id, (product_id, warehouse_id, q)) in enumerate(
            zip(line_ids, parsed, strict=True)
        ):
            held = existing.get(line_id)
            if held is not None and (held.product_id, held.warehouse_id) != (
                product_id,
                warehouse_id,
            ):
                errors.append(UserError(f"lines[{i}].lineId", "CONFLICT",
                                        "this line holds a reservation of another product or "
                                        "warehouse; release it first"))  # fmt: skip
            wanted[(product_id, warehouse_id)] += q
        raise_if(errors)
        levels = await ledger.lock_levels(conn, wanted)
        # Read under the level locks, which guard their batch balances (ledger.py, lock
        # step 6): nobody can change what this check sees before the update below.
        expired = await queries.expired_stock(conn, wanted, today)

        def free(key: LevelKey) -> Decimal:
            return (levels[key].available if key in levels else ZERO) - expired.get(key, ZERO)

        short = {k: q for k, q in wanted.items() if free(k) < q}
        if short:  # the common path never gets here: no lookups for messages
            products = await ledger.load_products(conn, (p for p, _, _ in parsed))
            whs = await ledger.load_warehouses(conn, (w for _, w, _ in parsed))
            for i, (product_id, warehouse_id, _) in enumerate(parsed):
                if product_id not in products:
                    errors.append(UserError(f"lines[{i}].productId", "NOT_FOUND",
                                            "no such product"))  # fmt: skip
                if warehouse_id not in whs:
                    errors.append(UserError(f"lines[{i}].warehouseId", "NOT_FOUND",
                                            "no such warehouse"))  # fmt: skip
            raise_if(errors)
            for i, key in enumerate((p, w) for p, w, _ in parsed):
                if key not in short:
                    continue
                product_id, warehouse_id = key
                available, gone = max(free(key), ZERO), expired.get(key, ZERO)
                message = (
                    f"{products[product_id].code} in {whs[warehouse_id].code}: "
                    f"{fmt(short[key])} needed, {fmt(available)} available"
                )
                if gone > 0:
                    message = (
                        f"{products[product_id].code} in {whs[warehouse_id].code}: "
                        f"{fmt(short[key])} needed, only {fmt(available)} "
                        f"available; {fmt(gone)} more are in expired batches"
                    )
                errors.append(UserError(f"lines[{i}].quantity", "INSUFFICIENT_STOCK", message))
        raise_if(errors)
        await ledger.update_levels(conn, {k: (ZERO, q) for k, q in wanted.items()})
        statement = insert(stock_reservations).values([
            {"id": new_id(), "source_type": source.type, "source_id": source.id,
             "source_line_id": line_id, "product_id": p, "warehouse_id": w, "quantity": q,
             "created_by": actor.id}
            for line_id, (p, w, q) in zip(line_ids, parsed, strict=True)
        ])  # fmt: skip
        r = stock_reservations.c
        statement = statement.on_conflict_do_update(
            constraint="uq_stock_reservations_source",
            set_={"quantity": r.quantity + statement.excluded.quantity,
                  "version": r.version + 1, "updated_at": func.now()},
        ).returning(stock_reservations)  # fmt: skip
        rows = {row.source_line_id: row for row in await conn.execute(statement)}
        await _audit_reservations(
            conn, actor=actor, action="reserve", source=source,
            amounts={line_id: q for line_id, (_, _, q) in zip(line_ids, parsed, strict=True)},
        )  # fmt: skip
    return [rows[i] for i in line_ids]


async def release(
    conn: AsyncConnection, *, actor: Actor, source: Source,
    lines: Sequence[ReleaseLine] | None = None,
) -> list[Row]:  # fmt: skip
    """Let go of open reservations of the document: every line, or the lines named
    (all that is open, or `quantity` of it). The reservation rows afterwards."""
    errors = _source(source, required=True)
    line_ids: list[uuid.UUID | None] | None = None
    amounts: list[Decimal | None] = []
    if lines is not None:
        _check_lines_count(lines)
        line_ids, problems = _line_ids(lines)
        errors += problems
        for i, line in enumerate(lines):
            problem = None
            if line.quantity is not None:
                problem = check_quantity(f"lines[{i}].quantity", line.quantity)
            if problem:
                errors.append(problem)
            amounts.append(None if line.quantity is None or problem else quantity(line.quantity))
    raise_if(errors)

    async with conn.begin_nested():
        held = await _lock_reservations(conn, source, line_ids)
        take: dict[uuid.UUID, Decimal] = {}
        if line_ids is None:
            take = {k: r.open_quantity for k, r in held.items() if r.open_quantity > 0}
        else:
            for i, (line_id, amount) in enumerate(zip(line_ids, amounts, strict=True)):
                row = held.get(line_id)
                if row is None:
                    errors.append(UserError(f"lines[{i}].lineId", "NOT_FOUND",
                                            "this line holds no reservation"))  # fmt: skip
                    continue
                q = row.open_quantity if amount is None else amount
                if q > row.open_quantity:
                    errors.append(UserError(
                        f"lines[{i}].quantity", "INSUFFICIENT_RESERVATION",
                        f"only {fmt(row.open_quantity)} is reserved for this line",
                    ))  # fmt: skip
                elif q > 0:
                    take[line_id] = q
        raise_if(errors)
        if take:
            per_level: dict[LevelKey, Decimal] = defaultdict(Decimal)
            for line_id, q in take.items():
                per_level[(held[line_id].product_id, held[line_id].warehouse_id)] += q
            await ledger.lock_levels(conn, per_level)
            await ledger.update_levels(conn, {k: (ZERO, -q) for k, q in per_level.items()})
            await _change_reservations(conn, held, take, "released")
            await _audit_reservations(conn, actor=actor, action="release", source=source,
                                      amounts=take)  # fmt: skip
        rows = await _lock_reservations(conn, source, line_ids)
    if line_ids is None:
        return sorted(rows.values(), key=lambda r: (r.created_at, r.id))
    return [rows[i] for i in line_ids if i in rows]


async def _change_reservations(
    conn: AsyncConnection, held: dict[uuid.UUID, Row], amounts: dict[uuid.UUID, Decimal],
    column: str,
) -> None:  # fmt: skip
    """Add `amounts` to the `column` (consumed or released) of locked reservations,
    one conditional UPDATE: never more than is open."""
    changed = {held[line_id].id: q for line_id, q in amounts.items() if q > 0}
    if not changed:
        return
    v = ledger.values_of("amounts", [("id", Uuid), ("amount", QUANTITY)], sorted(changed.items()))
    r = stock_reservations.c
    result = await conn.execute(
        update(stock_reservations)
        .where(r.id == v.c.id, r.open_quantity >= v.c.amount)
        .values(
            {column: r[column] + v.c.amount, "version": r.version + 1, "updated_at": func.now()}
        )  # fmt: skip
        .returning(r.id)
    )
    if len(result.all()) != len(changed):
        raise stock_error([UserError(None, "CONFLICT", "reservations changed; try again")])


async def issue_reserved(
    conn: AsyncConnection, *, actor: Actor, reserved_for: Source, lines: Sequence[ShipLine],
    today: dt.date, source: Source | None = None, reason: str | None = None,
    posting_id: Any = None,
) -> Posting:  # fmt: skip
    """Ship reserved stock: each line consumes part or all of its line's reservation
    and issues it from the reserving warehouse (named batch, or first expiring first).
    The moves name `source` (the shipment; default `reserved_for`) and the line."""
    _check_lines_count(lines)
    line_ids, errors = _line_ids(lines)
    reason, problems = _reason(reason, required=False)
    errors += problems + _source(reserved_for, required=True) + _source(source)
    parsed: list[_Line] = []
    for i, line in enumerate(lines):
        problem = check_quantity(f"lines[{i}].quantity", line.quantity)
        batch_id = None
        if line.batch_id is not None and (batch_id := parse_uuid(line.batch_id)) is None:
            errors.append(UserError(f"lines[{i}].batchId", "NOT_FOUND", "no such batch"))
        if problem:
            errors.append(problem)
        parsed.append(_Line(f"lines[{i}]", None, None if problem else quantity(line.quantity),
                            batch_id, given_batch_id=line.batch_id is not None))  # fmt: skip
    raise_if(errors)
    moves_source = source or reserved_for
    pid = new_id() if posting_id is None else parse_uuid(posting_id)
    if pid is None:
        raise stock_error([UserError("id", "INVALID", "an id is a UUID")])
    digest = fingerprint({
        **_payload("issue", parsed, reason=reason, source=moves_source),
        "reserved_for": f"{reserved_for.type}:{reserved_for.id}",
        "line_ids": [str(i) for i in line_ids],
    })  # fmt: skip
    async with conn.begin_nested():
        posting = Posting(pid, "issue")
        replay = await ledger.open_posting(conn, posting_id=pid, kind="issue", digest=digest,
                                           actor=actor)  # fmt: skip
        if replay is not None:
            return replay
        held = await _lock_reservations(conn, reserved_for, line_ids)
        for line, line_id in zip(parsed, line_ids, strict=True):
            row = held.get(line_id)
            if row is None:
                errors.append(UserError(f"{line.field}.lineId", "NOT_RESERVED",
                                        "this line holds no reservation"))  # fmt: skip
                continue
            line.product_id = row.product_id
            if line.quantity > row.open_quantity:
                errors.append(UserError(
                    f"{line.field}.quantity", "INSUFFICIENT_RESERVATION",
                    f"only {fmt(row.open_quantity)} is reserved for this line",
                ))  # fmt: skip
        raise_if(errors)
        rows, problems = await _products_and_batches(
            conn, actor=actor, lines=parsed, batch_required=lambda _: False,
            may_create=lambda _: False,
        )  # fmt: skip
        raise_if(problems)
        whs = await ledger.load_warehouses(conn, (r.warehouse_id for r in held.values()))
        planned: list[Planned] = []
        reserved: dict[LevelKey, Decimal] = defaultdict(Decimal)
        for line, line_id in zip(parsed, line_ids, strict=True):
            row = held[line_id]
            planned.append(Planned(line.field, "issue", row.product_id, row.warehouse_id,
                                   -line.quantity, line.batch_id, source_line_id=line_id))  # fmt: skip
            reserved[(row.product_id, row.warehouse_id)] -= line.quantity
        posting.moves = await ledger.apply(
            conn, actor=actor, posting=posting, planned=planned, product_rows=rows,
            warehouse_rows=whs, reason=reason, source=moves_source, reserved=reserved,
            today=today,
        )  # fmt: skip
        await _change_reservations(
            conn, held, {i: x.quantity for i, x in zip(line_ids, parsed, strict=True)},
            "consumed",
        )  # fmt: skip
        await ledger.audit_posting(
            conn, actor=actor, posting=posting, moves=posting.moves, reason=reason,
            source=moves_source,
            extra={"reserved_for": f"{reserved_for.type}:{reserved_for.id}"},
        )  # fmt: skip
    return posting


# -- reads --------------------------------------------------------------------------------


async def availability(
    conn: AsyncConnection, product_ids: Sequence[Any], warehouse_ids: Sequence[Any] | None = None,
    *, today: dt.date, visible: Any = None,
) -> dict[uuid.UUID, Availability]:  # fmt: skip
    """On hand, reserved, expired (as of `today`) and available per product: one
    statement. Available is what `reserve` would accept: on hand - expired - reserved.
    Products without stock (or unknown ids) get zeros; malformed ids are left out.
    `visible`: a condition on stock_levels limiting the warehouses summed (the
    reader's scope)."""
    ids = [i for i in dict.fromkeys(parse_uuid(p) for p in product_ids) if i is not None]
    out = {i: Availability(i) for i in ids}
    if not ids:
        return out
    s = stock_levels.c
    expired = queries.expired_in_level(today).label("expired")
    query = select(stock_levels, expired).where(s.product_id.in_(ids))
    if visible is not None:
        query = query.where(visible)
    if warehouse_ids is not None:
        wanted = [w for w in (parse_uuid(x) for x in warehouse_ids) if w is not None]
        query = query.where(s.warehouse_id.in_(wanted))
    for row in await conn.execute(query.order_by(s.product_id, s.warehouse_id)):
        item = out[row.product_id]
        item.on_hand += row.on_hand
        item.reserved += row.reserved
        item.expired += row.expired
        item.available += row.available - row.expired
        item.levels.append(row)
    return out
