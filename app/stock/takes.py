"""Stock takes (盘点): count sheets whose differences post as `stock_take` moves.

- create: a draft sheet for a warehouse (numbered ST-2026-000001) with a snapshot, in
  one statement, of the expected quantities: every product (per batch for
  batch-tracked ones) with stock on hand there, or only the products named (a cycle
  count: named products without stock get a line expecting 0).
- count: counted quantities per product (and batch), on a draft; counting a line
  again replaces its count. Items not on the sheet may be added (expected 0: they had
  no stock at the snapshot); on a partial sheet only for its products. A batch-tracked
  product is counted per batch (a new batch code is created, with its dates).
- post: once, from draft. Each counted line's difference (counted - expected) posts as
  an adjustment move of kind `stock_take`, all in one transaction; uncounted lines
  are left as they are (nothing is assumed to be zero).
- cancel: from draft. Posted and cancelled sheets are final.

Moves after the snapshot: the difference is taken against the snapshot (the book
quantity frozen when the sheet was made, as ERP count documents do), not against the
stock at posting time, so receipts and issues that happen while the sheet is open
stay counted exactly once, on the assumption that the count was made at the snapshot
(print and count promptly). Comparing with on-hand at posting time instead would undo
every move made between the count and the posting (a receipt after the count would
vanish); refusing to post whenever stock moved would make counting a busy warehouse
impossible without closing it. A difference that would take stock below zero or below
what is reserved is refused, naming the line (release the reservation, or recount).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, and_, func, literal, select, union_all, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.ids import parse_uuid
from app.audit.service import Actor, record
from app.auth.principal import Scoped
from app.catalog.tables import products
from app.errors import UserError, UserErrors, fail
from app.numbering.service import DocumentType, next_number
from app.records import fingerprint, lock_for_change, new_id
from app.stock import ledger
from app.stock.ledger import BatchWanted, Planned, Posting, raise_if
from app.stock.queries import visible_takes
from app.stock.rules import (
    MAX_LINES,
    Source,
    check_quantity,
    check_reason,
    ensure_draft,
    quantity,
    stock_take_transition,
)
from app.stock.tables import (
    stock_batch_levels,
    stock_levels,
    stock_take_lines,
    stock_takes,
)
from app.validation import clean

MAX_PRODUCTS = 1000


@dataclass(frozen=True)
class CountLine:
    product_id: Any
    counted: Any
    batch_id: Any = None
    batch_code: str | None = None
    expires_on: dt.date | None = None
    produced_on: dt.date | None = None


async def lock_sheet(
    conn: AsyncConnection, who: Scoped, take_id: uuid.UUID, version: int | None
) -> Row:
    """The sheet, if `who` may see its warehouse (else NOT_FOUND, as for no sheet)."""
    return await lock_for_change(
        conn, stock_takes, take_id, entity="stock take", version=version,
        visible=visible_takes(who),
    )  # fmt: skip


def _snapshot(take_id: uuid.UUID, warehouse_id: uuid.UUID, product_ids: list | None) -> Any:
    """One INSERT ... SELECT: expected quantities of the sheet, read in one snapshot."""
    s, bl, p = stock_levels.c, stock_batch_levels.c, products.c
    if product_ids is None:  # the warehouse's levels with stock: its index range
        plain = (
            select(s.product_id, literal(None).label("batch_id"), s.on_hand.label("expected"))
            .join_from(stock_levels, products, p.id == s.product_id)
            .where(s.warehouse_id == warehouse_id, s.on_hand > 0, p.batch_tracked.is_(False))
        )
    else:  # the products named, with or without stock
        plain = (
            select(
                p.id.label("product_id"),
                literal(None).label("batch_id"),
                func.coalesce(s.on_hand, 0).label("expected"),
            )  # fmt: skip
            .select_from(
                products.outerjoin(
                    stock_levels, and_(s.product_id == p.id, s.warehouse_id == warehouse_id)
                )
            )  # fmt: skip
            .where(p.batch_tracked.is_(False), p.id.in_(product_ids))
        )
    batched = (
        select(bl.product_id, bl.batch_id, bl.on_hand.label("expected"))
        .join_from(stock_batch_levels, products, p.id == bl.product_id)
        .where(bl.warehouse_id == warehouse_id, bl.on_hand > 0, p.batch_tracked.is_(True))
    )
    if product_ids is not None:
        batched = batched.where(bl.product_id.in_(product_ids))
    items = union_all(plain, batched).subquery("items")
    return insert(stock_take_lines).from_select(
        ["id", "stock_take_id", "product_id", "batch_id", "expected"],
        select(
            func.gen_random_uuid(),
            literal(take_id),
            items.c.product_id,
            items.c.batch_id,
            items.c.expected,
        ),  # fmt: skip
    )


async def create_stock_take(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, take_id: uuid.UUID | None,
    warehouse_id: Any, today: dt.date, product_ids: Sequence[Any] | None = None,
    note: str | None = None,
) -> Row:  # fmt: skip
    """A draft sheet with its snapshot, numbered in the year of `today` (the tenant's
    calendar). A repeated create with the same id and request returns the sheet; the
    same id with another request is a CONFLICT."""
    errors: list[UserError] = []
    note = clean(note)
    if error := check_reason("note", note, required=False):
        errors.append(error)
    wid = parse_uuid(warehouse_id) if warehouse_id is not None else None
    found = await ledger.load_warehouses(conn, [wid], who)
    if wid not in found:
        errors.append(UserError("warehouseId", "NOT_FOUND", "no such warehouse"))
    ids: list[uuid.UUID] | None = None
    if product_ids is not None:
        parsed = [parse_uuid(p) for p in product_ids]
        ids = [p for p in dict.fromkeys(parsed) if p is not None]
        known = await ledger.load_products(conn, ids)
        if not ids:
            errors.append(UserError("productIds", "REQUIRED", "name at least one product"))
        elif len(ids) > MAX_PRODUCTS:
            errors.append(UserError("productIds", "TOO_MANY", f"at most {MAX_PRODUCTS} products"))
        elif None in parsed or len(known) != len(ids):
            errors.append(UserError("productIds", "NOT_FOUND", "no such product: " + ", ".join(
                str(raw) for raw, p in zip(product_ids, parsed, strict=True)
                if p is None or p not in known)))  # fmt: skip
    if errors:
        raise UserErrors(errors)
    take_id = take_id or new_id()
    values = {"warehouse_id": wid, "partial": ids is not None, "note": note}
    async with conn.begin_nested():
        number = await next_number(conn, DocumentType.STOCK_TAKE, today)
        created = (
            await conn.execute(
                insert(stock_takes)
                .values(id=take_id, number=number, created_by=actor.id, **values)
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(stock_takes)
            )
        ).first()
        if created is None:
            existing = (
                await conn.execute(select(stock_takes).where(stock_takes.c.id == take_id))
            ).one()
            if any(getattr(existing, k) != v for k, v in values.items()):
                raise fail("id", "CONFLICT", "another stock take already has this id")
            return existing
        lines = await conn.execute(_snapshot(take_id, wid, ids))
        await record(
            conn, actor=actor, action="stock_take.create", entity_type="stock_take",
            entity_id=take_id,
            changes={"number": {"from": None, "to": number},
                     "warehouse_id": {"from": None, "to": str(wid)},
                     "lines": {"from": None, "to": lines.rowcount}},
        )  # fmt: skip
    return created


async def _bump(conn: AsyncConnection, take_id: uuid.UUID, **values: Any) -> Row:
    t = stock_takes.c
    return (
        await conn.execute(
            update(stock_takes)
            .where(t.id == take_id)
            .values(version=t.version + 1, updated_at=func.now(), **values)
            .returning(stock_takes)
        )
    ).one()


async def count_stock_take(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, take_id: uuid.UUID,
    version: int | None, lines: Sequence[CountLine],
) -> Row:  # fmt: skip
    """Enter counted quantities on a draft sheet (all or nothing)."""
    if not lines:
        raise fail("lines", "REQUIRED", "name at least one line")
    if len(lines) > MAX_LINES:
        raise fail("lines", "TOO_MANY", f"at most {MAX_LINES} lines at once")
    async with conn.begin_nested():
        sheet = await lock_sheet(conn, who, take_id, version)
        ensure_draft(sheet.status)
        errors: list[UserError] = []
        parsed = []
        for i, line in enumerate(lines):
            f = f"lines[{i}]"
            product_id = parse_uuid(line.product_id) if line.product_id is not None else None
            if product_id is None:
                errors.append(UserError(f"{f}.productId", "NOT_FOUND", "no such product"))
            if error := check_quantity(f"{f}.counted", line.counted, positive=False):
                errors.append(error)
            batch_id = parse_uuid(line.batch_id) if line.batch_id is not None else None
            if line.batch_id is not None and batch_id is None:
                errors.append(UserError(f"{f}.batchId", "NOT_FOUND", "no such batch"))
            parsed.append((f, product_id, batch_id, clean(line.batch_code), line))
        raise_if(errors)
        rows = await ledger.load_products(conn, (p for _, p, _, _, _ in parsed))
        on_sheet: set[uuid.UUID] = set()
        if sheet.partial:
            l = stock_take_lines.c  # noqa: E741
            on_sheet = set(
                (
                    await conn.execute(
                        select(l.product_id).where(l.stock_take_id == take_id).distinct()
                    )
                ).scalars()
            )
        wanted: list[tuple[int, BatchWanted]] = []
        for i, (f, product_id, batch_id, code, line) in enumerate(parsed):
            product = rows.get(product_id)
            if product is None:
                errors.append(UserError(f"{f}.productId", "NOT_FOUND", "no such product"))
                continue
            if sheet.partial and product_id not in on_sheet:
                errors.append(UserError(f"{f}.productId", "NOT_ON_SHEET",
                                        f"{product.code} is not on this partial stock take"))  # fmt: skip
                continue
            named = line.batch_id is not None or code is not None
            if not product.batch_tracked:
                if named or line.expires_on or line.produced_on:
                    errors.append(UserError(f"{f}.batchId", "BATCH_NOT_TRACKED",
                                            f"{product.code} is not batch-tracked"))  # fmt: skip
                continue
            if not named:
                errors.append(UserError(f"{f}.batchCode", "BATCH_REQUIRED",
                                        f"{product.code} is batch-tracked: count per batch"))  # fmt: skip
                continue
            wanted.append((i, BatchWanted(f, product_id, batch_id, code, line.expires_on,
                                          line.produced_on, create=code is not None)))  # fmt: skip
        raise_if(errors)
        batch_ids, problems = await ledger.resolve_batches(
            conn, actor=actor, wanted=[w for _, w in wanted]
        )
        raise_if(problems)
        resolved = {i: b for (i, _), b in zip(wanted, batch_ids, strict=True)}
        values, seen = [], {}
        for i, (f, product_id, _, _, line) in enumerate(parsed):
            key = (product_id, resolved.get(i))
            if key in seen:
                errors.append(UserError(f"{f}.productId", "DUPLICATE",
                                        f"the same item as lines[{seen[key]}]"))  # fmt: skip
                continue
            seen[key] = i
            values.append({"id": new_id(), "stock_take_id": take_id, "product_id": product_id,
                           "batch_id": key[1], "expected": 0,
                           "counted": quantity(line.counted), "counted_at": func.now(),
                           "counted_by": actor.id})  # fmt: skip
        raise_if(errors)
        statement = insert(stock_take_lines).values(values)
        await conn.execute(
            statement.on_conflict_do_update(
                constraint="uq_stock_take_lines_item",
                set_={
                    "counted": statement.excluded.counted,
                    "counted_at": func.now(),
                    "counted_by": statement.excluded.counted_by,
                },
            )  # fmt: skip
        )
        changed = await _bump(conn, take_id)
        await record(
            conn, actor=actor, action="stock_take.count", entity_type="stock_take",
            entity_id=take_id, changes={"counted": {"from": None, "to": len(values)}},
        )  # fmt: skip
    return changed


async def post_stock_take(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, take_id: uuid.UUID, version: int | None
) -> Row:
    """Post the counted differences as `stock_take` moves (one posting), once."""
    async with conn.begin_nested():
        sheet = await lock_sheet(conn, who, take_id, version)
        stock_take_transition(sheet.status, "posted")
        l = stock_take_lines.c  # noqa: E741
        lines = (
            await conn.execute(
                select(stock_take_lines)
                .where(l.stock_take_id == take_id, l.counted.is_not(None), l.difference != 0)
                .order_by(l.product_id, l.id)
            )
        ).all()
        posting_id = None
        if lines:
            source = Source("stock_take", take_id)
            reason = f"stock take {sheet.number}"
            posting = Posting(new_id(), "stock_take")
            await ledger.open_posting(
                conn, posting_id=posting.id, kind="stock_take",
                digest=fingerprint({"stock_take": str(take_id)}), actor=actor,
            )  # fmt: skip
            planned = [
                Planned(
                    f"lines[{x.id}]",
                    "stock_take",
                    x.product_id,
                    sheet.warehouse_id,
                    x.difference,
                    x.batch_id,
                    warehouse_field="id",
                )  # fmt: skip
                for x in lines
            ]
            product_rows = await ledger.load_products(conn, (x.product_id for x in lines))
            warehouse_rows = await ledger.load_warehouses(conn, [sheet.warehouse_id])
            posting.moves = await ledger.apply(
                conn, actor=actor, posting=posting, planned=planned, product_rows=product_rows,
                warehouse_rows=warehouse_rows, reason=reason, source=source,
            )  # fmt: skip
            await ledger.audit_posting(
                conn, actor=actor, posting=posting, moves=posting.moves, reason=reason,
                source=source,
            )  # fmt: skip
            posting_id = posting.id
        posted = await _bump(
            conn, take_id, status="posted", posted_at=func.now(), posted_by=actor.id,
            posting_id=posting_id,
        )  # fmt: skip
        await record(
            conn, actor=actor, action="stock_take.post", entity_type="stock_take",
            entity_id=take_id,
            changes={"status": {"from": sheet.status, "to": "posted"},
                     "differences": {"from": None, "to": len(lines)}},
        )  # fmt: skip
    return posted


async def cancel_stock_take(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, take_id: uuid.UUID, version: int | None
) -> Row:
    async with conn.begin_nested():
        sheet = await lock_sheet(conn, who, take_id, version)
        stock_take_transition(sheet.status, "cancelled")
        cancelled = await _bump(conn, take_id, status="cancelled", cancelled_at=func.now())
        await record(
            conn, actor=actor, action="stock_take.cancel", entity_type="stock_take",
            entity_id=take_id, changes={"status": {"from": sheet.status, "to": "cancelled"}},
        )  # fmt: skip
    return cancelled
