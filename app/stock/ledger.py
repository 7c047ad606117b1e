"""The ledger's engine: posting moves and changing the balances they explain, in the
caller's transaction. `app/stock/service.py` is the API; this is how it works.

Lock protocol (every writer follows it, so concurrent writers queue instead of
deadlocking):
1. the posting row (a new id; only a retry of the same operation waits here);
2. batches created by name, in (product, code) order;
3. reservation rows, in id order;
4. the customers holding consignment warehouses that take stock, FOR KEY SHARE, in id
   order (a customer's delete, FOR UPDATE, counts the stock there: it either sees this
   posting or this posting sees the customer gone);
5. stock level rows (product x warehouse), in (product, warehouse) order: first the
   missing rows an inbound move needs are inserted (sorted), then every level the
   operation touches is locked with one SELECT ... ORDER BY ... FOR UPDATE;
6. batch level rows of those levels. A level row's lock is the mutex of its batches:
   nobody changes a batch balance without holding its level, so step 6 never waits.
The checks run on the locked rows (exact, and they name the line at fault); the writes
are then conditional UPDATEs (on hand - reserved >= what is taken, ...) that must
touch every row they name, and CHECK constraints back them: a bug can fail a
transaction, never leave a negative or over-reserved balance.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Uuid, column, func, select, tuple_, update, values
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, record
from app.auth.principal import Scoped
from app.catalog.tables import products
from app.customers.queries import lock_live_customers
from app.errors import UserError, UserErrors
from app.records import new_id
from app.stock.queries import visible_warehouses
from app.stock.rules import BatchStock, Source, fmt, pick_fefo
from app.stock.tables import (
    QUANTITY,
    batches,
    stock_batch_levels,
    stock_levels,
    stock_moves,
    stock_postings,
    warehouses,
)

LevelKey = tuple[uuid.UUID, uuid.UUID]  # (product_id, warehouse_id)
ZERO = Decimal("0.000")


class StockError(UserErrors):
    """A stock change that cannot be made as asked (not enough stock, an unknown
    product or batch, a bad quantity, ...). Each error names the input field at fault.
    Nothing the call wrote remains: the call ran in a savepoint, rolled back."""


def stock_error(errors: list[UserError]) -> StockError:
    return StockError(errors)


def raise_if(errors: list[UserError]) -> None:
    if errors:
        raise StockError(errors)


@dataclass
class Planned:
    """One move to make. `field` names the input line (`lines[2]`) for errors. A
    batch-tracked product's outbound move without `batch_id` is picked first expiring
    first; `mirror` (an index into the plan) makes an inbound move copy the batch
    split of that outbound move (a transfer's two halves). `warehouse_field` names the
    input that chose the warehouse, for errors about the warehouse itself."""

    field: str
    kind: str
    product_id: uuid.UUID
    warehouse_id: uuid.UUID
    quantity: Decimal
    batch_id: uuid.UUID | None = None
    mirror: int | None = None
    source_line_id: uuid.UUID | None = None
    warehouse_field: str = "warehouseId"


@dataclass
class Posting:
    """What one operation wrote: its id (the idempotency key), kind and moves in order.
    `replayed`: a repeated call with the same id and request; nothing new was written."""

    id: uuid.UUID
    kind: str
    moves: list[Row] = field(default_factory=list)
    replayed: bool = False


async def moves_of(conn: AsyncConnection, posting_id: uuid.UUID) -> list[Row]:
    m = stock_moves.c
    return list(
        await conn.execute(select(stock_moves).where(m.posting_id == posting_id).order_by(m.line))
    )


async def open_posting(
    conn: AsyncConnection, *, posting_id: uuid.UUID, kind: str, digest: str, actor: Actor
) -> Posting | None:
    """Claim the posting id. None: a new posting, go on. A Posting: this exact request
    was already posted (a retry), here is what it wrote. Another request under the same
    id is a CONFLICT."""
    created = (
        await conn.execute(
            insert(stock_postings)
            .values(id=posting_id, kind=kind, fingerprint=digest, created_by=actor.id)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(stock_postings.c.id)
        )
    ).first()
    if created is not None:
        return None
    existing = (
        await conn.execute(select(stock_postings).where(stock_postings.c.id == posting_id))
    ).one()
    if existing.kind != kind or existing.fingerprint != digest:
        raise stock_error(
            [UserError("id", "CONFLICT", "another stock posting already has this id")]
        )
    return Posting(existing.id, existing.kind, await moves_of(conn, existing.id), replayed=True)


async def load_products(conn: AsyncConnection, ids: Iterable[uuid.UUID | None]) -> dict:
    wanted = [i for i in dict.fromkeys(ids) if i is not None]
    if not wanted:
        return {}
    p = products.c
    # FOR KEY SHARE: the product's batch_tracked flag cannot change (app/catalog takes
    # the row FOR UPDATE to change it) while this posting relies on it.
    rows = await conn.execute(
        select(p.id, p.code, p.name, p.unit, p.batch_tracked, p.active)
        .where(p.id.in_(wanted))
        .order_by(p.id)
        .with_for_update(read=True, key_share=True)
    )
    return {r.id: r for r in rows}


async def load_warehouses(
    conn: AsyncConnection, ids: Iterable[uuid.UUID | None], who: Scoped | None = None
) -> dict:
    """By id; with `who`, a warehouse outside its data scope is simply absent, so a
    write naming it fails exactly as for a warehouse that does not exist."""
    wanted = [i for i in dict.fromkeys(ids) if i is not None]
    if not wanted:
        return {}
    w = warehouses.c
    query = select(w.id, w.code, w.name, w.kind, w.active, w.customer_id).where(w.id.in_(wanted))
    if who is not None:
        query = query.where(visible_warehouses(who))
    return {r.id: r for r in await conn.execute(query)}


@dataclass(frozen=True)
class BatchWanted:
    """A line's batch: by id, or by code (made when `create` and missing)."""

    field: str  # the line, e.g. lines[2]
    product_id: uuid.UUID
    batch_id: uuid.UUID | None = None
    code: str | None = None
    expires_on: dt.date | None = None
    produced_on: dt.date | None = None
    create: bool = False


async def resolve_batches(
    conn: AsyncConnection, *, actor: Actor, wanted: Sequence[BatchWanted]
) -> tuple[list[uuid.UUID | None], list[UserError]]:
    """The batch id of each wanted batch (None where there is an error), creating the
    ones named by a new code when allowed; errors name the line's field."""
    errors: list[UserError] = []
    b = batches.c
    by_id: dict[uuid.UUID, Row] = {}
    ids = [w.batch_id for w in wanted if w.batch_id is not None]
    if ids:
        by_id = {r.id: r for r in await conn.execute(select(batches).where(b.id.in_(ids)))}
    to_create: dict[tuple[uuid.UUID, str], BatchWanted] = {}
    codes: set[tuple[uuid.UUID, str]] = set()
    for w in wanted:
        if w.batch_id is None and w.code is not None:
            codes.add((w.product_id, w.code))
            if w.create and (w.product_id, w.code) not in to_create:
                if w.produced_on and w.expires_on and w.produced_on > w.expires_on:
                    errors.append(UserError(f"{w.field}.producedOn", "INVALID",
                                            "producedOn must not be after expiresOn"))  # fmt: skip
                    continue
                to_create[(w.product_id, w.code)] = w
    if to_create and not errors:
        # Sorted, so two receipts creating the same new batches queue, never deadlock.
        rows = [
            {"id": new_id(), "product_id": p, "code": c, "expires_on": w.expires_on,
             "produced_on": w.produced_on, "created_by": actor.id}
            for (p, c), w in sorted(to_create.items(), key=lambda item: (item[0][0], item[0][1]))
        ]  # fmt: skip
        created = (
            await conn.execute(
                insert(batches)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["product_id", "code"])
                .returning(b.id, b.product_id, b.code, b.expires_on)
            )
        ).all()
        for row in created:
            await record(
                conn, actor=actor, action="batch.create", entity_type="batch", entity_id=row.id,
                changes={"product_id": {"from": None, "to": str(row.product_id)},
                         "code": {"from": None, "to": row.code}},
            )  # fmt: skip
    by_code: dict[tuple[uuid.UUID, str], Row] = {}
    if codes:
        rows = await conn.execute(select(batches).where(tuple_(b.product_id, b.code).in_(codes)))
        by_code = {(r.product_id, r.code): r for r in rows}
    out: list[uuid.UUID | None] = []
    for w in wanted:
        row = (
            by_id.get(w.batch_id) if w.batch_id is not None else by_code.get((w.product_id, w.code))
        )
        if w.batch_id is None and w.code is None:
            out.append(None)
            continue
        if row is None or row.product_id != w.product_id:
            name = "batchId" if w.batch_id is not None else "batchCode"
            errors.append(
                UserError(f"{w.field}.{name}", "NOT_FOUND", "no such batch of this product")
            )
            out.append(None)
            continue
        for key, value in (("expiresOn", w.expires_on), ("producedOn", w.produced_on)):
            stored = row.expires_on if key == "expiresOn" else row.produced_on
            if value is not None and value != stored:
                errors.append(UserError(
                    f"{w.field}.{key}", "BATCH_MISMATCH",
                    f"batch {row.code} has {key} {stored.isoformat() if stored else 'unset'}",
                ))  # fmt: skip
        out.append(row.id)
    return out, errors


async def lock_levels(
    conn: AsyncConnection, keys: Iterable[LevelKey], *, create: Iterable[LevelKey] = ()
) -> dict[LevelKey, Row]:
    """Lock the levels of `keys` in key order; `create` the missing ones first (zero
    stock, for inbound moves). Missing levels not created are absent from the result."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    missing = sorted(set(create))
    if missing:
        await conn.execute(
            insert(stock_levels)
            .values([{"product_id": p, "warehouse_id": w} for p, w in missing])
            .on_conflict_do_nothing(index_elements=["product_id", "warehouse_id"])
        )
    s = stock_levels.c
    rows = await conn.execute(
        select(stock_levels)
        .where(tuple_(s.product_id, s.warehouse_id).in_(wanted))
        .order_by(s.product_id, s.warehouse_id)
        .with_for_update()
    )
    return {(r.product_id, r.warehouse_id): r for r in rows}


async def locked_batches(
    conn: AsyncConnection, keys: Sequence[LevelKey]
) -> tuple[dict[LevelKey, dict[uuid.UUID, BatchStock]], dict[uuid.UUID, str]]:
    """The batch balances of levels whose row the caller holds (so nobody else changes
    them), with what FEFO needs; also the codes of those batches."""
    out: dict[LevelKey, dict[uuid.UUID, BatchStock]] = defaultdict(dict)
    codes: dict[uuid.UUID, str] = {}
    if not keys:
        return out, codes
    bl, b = stock_batch_levels.c, batches.c
    rows = await conn.execute(
        select(
            bl.product_id,
            bl.warehouse_id,
            bl.batch_id,
            bl.on_hand,
            b.code,
            b.expires_on,
            b.produced_on,
        )  # fmt: skip
        .join_from(stock_batch_levels, batches, b.id == bl.batch_id)
        .where(tuple_(bl.product_id, bl.warehouse_id).in_(sorted(set(keys))))
        .order_by(bl.product_id, bl.warehouse_id, bl.batch_id)
        .with_for_update(of=stock_batch_levels)
    )
    for r in rows:
        out[(r.product_id, r.warehouse_id)][r.batch_id] = BatchStock(
            r.batch_id, r.on_hand, r.code, r.expires_on, r.produced_on
        )
        codes[r.batch_id] = r.code
    return out, codes


async def hold_receiving_customers(
    conn: AsyncConnection, planned: Sequence[Planned], warehouse_rows: dict[uuid.UUID, Row]
) -> list[UserError]:
    """Lock step 4: the customers at which consignment warehouses taking stock here are
    held. Goods must never arrive at a customer deleted meanwhile (its delete refuses
    only while stock is there), so such a warehouse takes nothing."""
    fields: dict[uuid.UUID, str] = {}
    for p in planned:
        row = warehouse_rows[p.warehouse_id]
        if p.quantity > 0 and row.kind == "consignment" and row.customer_id is not None:
            fields.setdefault(p.warehouse_id, p.warehouse_field)
    if not fields:
        return []
    live = await lock_live_customers(conn, (warehouse_rows[w].customer_id for w in fields))
    return [
        UserError(field, "CUSTOMER_DELETED",
                  f"warehouse {warehouse_rows[w].code} is held at a deleted customer: it takes "
                  "no new stock")
        for w, field in fields.items()
        if warehouse_rows[w].customer_id not in live
    ]  # fmt: skip


def values_of(name: str, columns: list[tuple[str, Any]], rows: list[tuple]) -> Any:
    """A VALUES list with typed columns, to UPDATE ... FROM."""
    return values(*(column(n, t) for n, t in columns), name=name).data(rows)


async def update_levels(
    conn: AsyncConnection, deltas: dict[LevelKey, tuple[Decimal, Decimal]]
) -> None:
    """Apply (on hand, reserved) deltas to locked levels with one conditional UPDATE;
    every level must take its delta (the checks ran on the locked rows)."""
    changed = {k: d for k, d in deltas.items() if d != (0, 0)}
    if not changed:
        return
    v = values_of(
        "deltas",
        [("product_id", Uuid), ("warehouse_id", Uuid), ("d_on_hand", QUANTITY),
         ("d_reserved", QUANTITY)],
        [(p, w, d, r) for (p, w), (d, r) in sorted(changed.items())],
    )  # fmt: skip
    s = stock_levels.c
    new_on_hand = s.on_hand + v.c.d_on_hand
    new_reserved = s.reserved + v.c.d_reserved
    result = await conn.execute(
        update(stock_levels)
        .where(
            s.product_id == v.c.product_id,
            s.warehouse_id == v.c.warehouse_id,
            new_on_hand >= 0,
            new_reserved >= 0,
            new_on_hand - new_reserved >= 0,
        )
        .values(on_hand=new_on_hand, reserved=new_reserved, updated_at=func.now())
        .returning(s.product_id)
    )
    if len(result.all()) != len(changed):
        raise stock_error([UserError(None, "CONFLICT", "stock changed meanwhile; try again")])


async def update_batch_levels(
    conn: AsyncConnection, deltas: dict[tuple[uuid.UUID, uuid.UUID, uuid.UUID], Decimal]
) -> None:
    """Apply on-hand deltas to batch balances: takings by one conditional UPDATE,
    additions by one upsert (creating the balances receipts start); every one must
    take its delta. (An upsert cannot take stock out: a proposed row with a negative
    balance fails its CHECK before the conflict is even looked at.)"""
    taking = {k: d for k, d in deltas.items() if d < 0}
    adding = {k: d for k, d in deltas.items() if d > 0}
    bl = stock_batch_levels
    done = 0
    if taking:
        v = values_of(
            "deltas",
            [("product_id", Uuid), ("warehouse_id", Uuid), ("batch_id", Uuid),
             ("delta", QUANTITY)],
            [(p, w, b, d) for (p, w, b), d in sorted(taking.items())],
        )  # fmt: skip
        result = await conn.execute(
            update(bl)
            .where(
                bl.c.product_id == v.c.product_id,
                bl.c.warehouse_id == v.c.warehouse_id,
                bl.c.batch_id == v.c.batch_id,
                bl.c.on_hand + v.c.delta >= 0,
            )
            .values(on_hand=bl.c.on_hand + v.c.delta, updated_at=func.now())
            .returning(bl.c.batch_id)
        )
        done += len(result.all())
    if adding:
        statement = insert(bl).values(
            [{"product_id": p, "warehouse_id": w, "batch_id": b, "on_hand": d}
             for (p, w, b), d in sorted(adding.items())]
        )  # fmt: skip
        statement = statement.on_conflict_do_update(
            index_elements=["product_id", "warehouse_id", "batch_id"],
            set_={"on_hand": bl.c.on_hand + statement.excluded.on_hand, "updated_at": func.now()},
        ).returning(bl.c.batch_id)
        done += len((await conn.execute(statement)).all())
    if done != len(taking) + len(adding):
        raise stock_error([UserError(None, "CONFLICT", "stock changed meanwhile; try again")])


async def apply(
    conn: AsyncConnection,
    *,
    actor: Actor,
    posting: Posting,
    planned: Sequence[Planned],
    product_rows: dict[uuid.UUID, Row],
    warehouse_rows: dict[uuid.UUID, Row],
    reason: str | None = None,
    source: Source | None = None,
    reserved: dict[LevelKey, Decimal] | None = None,
    today: dt.date | None = None,
) -> list[Row]:
    """Make the planned moves (and the reserved-quantity changes, for issues of
    reserved stock): lock, check, pick batches, write balances and moves. Raises a
    StockError naming every line that cannot be served; the caller's savepoint then
    rolls everything back. `today` is the tenant's calendar day, which decides what
    has expired: required when an outbound line leaves its batch to be picked."""
    reserved = reserved or {}
    raise_if(await hold_receiving_customers(conn, planned, warehouse_rows))
    on_hand: dict[LevelKey, Decimal] = defaultdict(Decimal)
    taking: dict[LevelKey, list[Planned]] = defaultdict(list)
    inbound: set[LevelKey] = set()
    for p in planned:
        key = (p.product_id, p.warehouse_id)
        on_hand[key] += p.quantity
        if p.quantity < 0:
            taking[key].append(p)
        else:
            inbound.add(key)
    keys = sorted(set(on_hand) | set(reserved))
    levels = await lock_levels(conn, keys, create=inbound)

    errors: list[UserError] = []
    for key in keys:
        row = levels.get(key)
        have, held = (row.on_hand, row.reserved) if row else (ZERO, ZERO)
        new_on_hand, new_reserved = have + on_hand[key], held + reserved.get(key, ZERO)
        if new_on_hand >= 0 and new_reserved >= 0 and new_reserved <= new_on_hand:
            continue
        needed = -sum((p.quantity for p in taking[key]), ZERO)
        product, warehouse = product_rows[key[0]], warehouse_rows[key[1]]
        message = (
            f"{product.code} in {warehouse.code}: {fmt(needed)} needed, "
            f"{fmt(have - held)} available ({fmt(have)} on hand, {fmt(held)} reserved)"
        )
        for p in taking[key]:
            errors.append(UserError(f"{p.field}.quantity", "INSUFFICIENT_STOCK", message))
    raise_if(errors)

    tracked = sorted({k for k in on_hand if product_rows[k[0]].batch_tracked})
    stock, codes = await locked_batches(conn, tracked)
    left: dict[LevelKey, dict[uuid.UUID, Decimal]] = {
        k: {b: s.on_hand for b, s in stock[k].items()} for k in tracked
    }
    made: list[tuple[int, uuid.UUID | None, Decimal]] = []  # (plan index, batch, quantity)
    # Named batches first, then first-expiring-first picks from what is left.
    for i, p in enumerate(planned):
        key = (p.product_id, p.warehouse_id)
        if p.mirror is not None or key not in left:
            if p.mirror is None:
                made.append((i, None, p.quantity))
            continue
        if p.batch_id is None:
            if p.quantity > 0:  # never silently: a tracked product's stock is per batch
                errors.append(UserError(f"{p.field}.batchCode", "BATCH_REQUIRED",
                                        f"{product_rows[p.product_id].code} is batch-tracked"))  # fmt: skip
            continue
        now = left[key].get(p.batch_id, ZERO) + p.quantity
        if now < 0:
            code = codes.get(p.batch_id, str(p.batch_id))
            errors.append(UserError(
                f"{p.field}.quantity", "INSUFFICIENT_STOCK",
                f"batch {code} of {product_rows[p.product_id].code} has "
                f"{fmt(now - p.quantity)} in {warehouse_rows[p.warehouse_id].code}",
            ))  # fmt: skip
        left[key][p.batch_id] = now
        made.append((i, p.batch_id, p.quantity))
    for i, p in enumerate(planned):
        key = (p.product_id, p.warehouse_id)
        if p.mirror is not None or key not in left or p.batch_id is not None:
            continue
        candidates = [
            BatchStock(b, max(q, ZERO), stock[key][b].code, stock[key][b].expires_on,
                       stock[key][b].produced_on)
            for b, q in left[key].items()
        ]  # fmt: skip
        if today is None:
            raise ValueError("first-expiring-first picks need the tenant's today")
        picks, short = pick_fefo(candidates, -p.quantity, today=today)
        if short > 0:
            errors.append(UserError(
                f"{p.field}.quantity", "INSUFFICIENT_STOCK",
                f"{product_rows[p.product_id].code} in {warehouse_rows[p.warehouse_id].code}: "
                f"{fmt(-p.quantity)} needed, {fmt(-p.quantity - short)} in unexpired batches",
            ))  # fmt: skip
            continue
        for batch_id, q in picks:
            left[key][batch_id] -= q
            made.append((i, batch_id, -q))
    raise_if(errors)
    if today is not None:
        raise_if(_unexpired_kept_for_reservations(
            taking, stock, left, levels, reserved, today, product_rows, warehouse_rows
        ))  # fmt: skip
    by_plan: dict[int, list[tuple[uuid.UUID | None, Decimal]]] = defaultdict(list)
    for j, b, q in made:
        by_plan[j].append((b, q))
    for i, p in enumerate(planned):
        if p.mirror is not None:
            made += [(i, b, -q) for b, q in by_plan[p.mirror]]
    made.sort(key=lambda m: m[0])  # plan order; picks of one line stay in FEFO order

    await update_levels(conn, {k: (on_hand.get(k, ZERO), reserved.get(k, ZERO)) for k in keys})
    batch_deltas: dict[tuple[uuid.UUID, uuid.UUID, uuid.UUID], Decimal] = defaultdict(Decimal)
    for i, batch_id, q in made:
        if batch_id is not None:
            p = planned[i]
            batch_deltas[(p.product_id, p.warehouse_id, batch_id)] += q
    await update_batch_levels(conn, batch_deltas)

    rows = [
        {
            "id": new_id(), "posting_id": posting.id, "line": n, "kind": planned[i].kind,
            "product_id": planned[i].product_id, "warehouse_id": planned[i].warehouse_id,
            "batch_id": batch_id, "quantity": q, "reason": reason,
            "source_type": source.type if source else None,
            "source_id": source.id if source else None,
            "source_line_id": planned[i].source_line_id, "created_by": actor.id,
        }
        for n, (i, batch_id, q) in enumerate(made, start=1)
        if q != 0
    ]  # fmt: skip
    if not rows:
        return []
    written = (await conn.execute(insert(stock_moves).values(rows).returning(stock_moves))).all()
    return sorted(written, key=lambda r: r.line)


def _unexpired_kept_for_reservations(
    taking: dict[LevelKey, list[Planned]],
    stock: dict[LevelKey, dict[uuid.UUID, BatchStock]],
    left: dict[LevelKey, dict[uuid.UUID, Decimal]],
    levels: dict[LevelKey, Row],
    reserved: dict[LevelKey, Decimal],
    today: dt.date,
    product_rows: dict[uuid.UUID, Row],
    warehouse_rows: dict[uuid.UUID, Row],
) -> list[UserError]:
    """Reservations were granted against unexpired stock (service.reserve), so stock
    taken out unreserved (an issue, a transfer) may not eat into it: of a tracked
    level's unexpired stock, only what exceeds the reserved quantity is available, plus
    what this operation ships of its own reservations. Expired stock named by batch
    always leaves. (Adjustments and stock takes record facts and know no `today`: they
    are held only to on hand - reserved.)"""
    errors: list[UserError] = []
    for key, batches_here in stock.items():
        if not taking.get(key):
            continue

        def good(batch_id: uuid.UUID, batches_here=batches_here) -> bool:
            found = batches_here.get(batch_id)
            return found is None or found.expires_on is None or found.expires_on >= today

        before = sum((b.on_hand for b in batches_here.values() if good(b.batch_id)), ZERO)
        after = sum((q for b, q in left[key].items() if good(b)), ZERO)
        held = levels[key].reserved if key in levels else ZERO
        shipped = max(-reserved.get(key, ZERO), ZERO)
        allowed = max(before - held, ZERO) + shipped
        if before - after <= allowed:
            continue
        expired = sum(b.on_hand for b in batches_here.values()) - before
        message = (
            f"{product_rows[key[0]].code} in {warehouse_rows[key[1]].code}: "
            f"{fmt(before - after)} needed, only {fmt(allowed)} available "
            f"({fmt(held)} reserved)"
        )
        if expired > 0:
            message += f"; {fmt(expired)} more are in expired batches"
        errors += [UserError(f"{p.field}.quantity", "INSUFFICIENT_STOCK", message)
                   for p in taking[key]]  # fmt: skip
    return errors


async def audit_posting(
    conn: AsyncConnection,
    *,
    actor: Actor,
    posting: Posting,
    moves: Sequence[Row],
    reason: str | None,
    source: Source | None,
    extra: dict[str, Any] | None = None,
) -> None:
    changes: dict[str, Any] = {"moves": {"from": None, "to": len(moves)}}
    if reason is not None:
        changes["reason"] = {"from": None, "to": reason}
    if source is not None:
        changes["source"] = {"from": None, "to": f"{source.type}:{source.id}"}
    for key, value in (extra or {}).items():
        changes[key] = {"from": None, "to": value}
    await record(
        conn, actor=actor, action=f"stock.{posting.kind}", entity_type="stock_posting",
        entity_id=posting.id, changes=changes,
    )  # fmt: skip


def level_condition(keys: Iterable[LevelKey]) -> Any:
    s = stock_levels.c
    return tuple_(s.product_id, s.warehouse_id).in_(sorted(set(keys)))
