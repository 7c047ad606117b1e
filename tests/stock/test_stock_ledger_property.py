"""The ledger invariant, property-based: after any sequence of receipts, issues,
transfers, adjustments, reservations, releases and shipments of reserved stock, the
stored on hand / reserved / available equal what the moves and open reservations add
up to (per level and per batch), and each operation succeeded exactly when a simple
model of the stock said it should."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from stock_helpers import assert_consistent, read_ledger, today

from app.audit.service import Actor
from app.db import tenant_transaction
from app.stock import service, warehouses
from app.stock.service import ReleaseLine, ReserveLine, ShipLine, Source, StockError, StockLine
from app.stock.tables import batches

BATCHES = {"A": "2040-03-01", "B": "2040-01-01", "C": None}
QUANTITY = st.sampled_from([Decimal(x) for x in ("0.5", "1", "2", "3", "5.125", "8")])
PRODUCT = st.sampled_from(["plain", "lot"])
WAREHOUSE = st.sampled_from([0, 1])
LINE = st.integers(min_value=0, max_value=3)  # reservation lines of the example's order

OPERATIONS = st.one_of(
    st.tuples(st.just("receive"), PRODUCT, WAREHOUSE, QUANTITY, st.sampled_from(list(BATCHES))),
    st.tuples(st.just("issue"), PRODUCT, WAREHOUSE, QUANTITY),
    st.tuples(st.just("transfer"), PRODUCT, WAREHOUSE, QUANTITY),
    st.tuples(
        st.just("adjust"),
        PRODUCT,
        WAREHOUSE,
        QUANTITY,
        st.booleans(),
        st.sampled_from(list(BATCHES)),
    ),  # fmt: skip
    st.tuples(st.just("reserve"), PRODUCT, WAREHOUSE, QUANTITY, LINE),
    st.tuples(st.just("release"), LINE, st.one_of(st.none(), QUANTITY)),
    st.tuples(st.just("ship"), LINE, QUANTITY),
)


@pytest.fixture(scope="module")
async def catalogue(api, tenant_a):
    from stock_helpers import Stock

    stock = Stock(api)
    admin = tenant_a.tokens["admin"]
    return {
        "plain": uuid.UUID(await stock.product(admin)),
        "lot": uuid.UUID(await stock.product(admin, batch_tracked=True)),
    }


class Model:
    """What the stock should be: on hand and reserved per level, open per line."""

    def __init__(self) -> None:
        self.on_hand: dict = {}
        self.batch: dict = {}
        self.reserved: dict = {}
        self.lines: dict = {}  # line -> [product, warehouse, open]

    def available(self, key) -> Decimal:
        return self.on_hand.get(key, Decimal(0)) - self.reserved.get(key, Decimal(0))

    def add(self, key, q, batch=None) -> None:
        self.on_hand[key] = self.on_hand.get(key, Decimal(0)) + q
        if batch is not None:
            self.batch[(*key, batch)] = self.batch.get((*key, batch), Decimal(0)) + q


def expected(op, ctx, model: Model) -> bool:
    """Whether the model lets `op` through."""
    products, whs, line_ids = ctx["products"], ctx["whs"], ctx["lines"]
    kind = op[0]
    if kind == "receive":
        return True
    if kind in ("issue", "transfer", "adjust", "reserve"):
        key, q = (products[op[1]], whs[op[2]]), op[3]
    if kind in ("issue", "transfer"):
        return model.available(key) >= q
    if kind == "adjust":
        return op[4] or (model.available(key) >= q and (
            op[1] != "lot" or model.batch.get((*key, op[5]), Decimal(0)) >= q))  # fmt: skip
    if kind == "reserve":
        held = model.lines.get(line_ids[op[4]])
        return model.available(key) >= q and (held is None or held[:2] == list(key))
    held = model.lines.get(line_ids[op[1]])
    if kind == "release":
        return held is not None and (op[2] is None or op[2] <= held[2])
    return held is not None and op[2] <= held[2]


async def run(conn, op, ctx, model: Model) -> None:
    """Run one operation through the service and, as it succeeded, follow it in the
    model."""
    actor, products, whs, order, line_ids = (ctx[k] for k in
                                             ("actor", "products", "whs", "order", "lines"))  # fmt: skip
    kind = op[0]
    if kind in ("receive", "issue", "transfer", "adjust", "reserve"):
        product, w, q = products[op[1]], whs[op[2]], op[3]
        key, tracked = (product, w), op[1] == "lot"
    if kind == "receive":
        code = op[4] if tracked else None
        line = StockLine(product, q, batch_code=code,
                         expires_on=_date(BATCHES[code]) if code else None)  # fmt: skip
        await service.receive(conn, actor=actor, warehouse_id=w, lines=[line])
        model.add(key, q, code)
    elif kind == "issue":
        await service.issue(
            conn, actor=actor, warehouse_id=w, lines=[StockLine(product, q)], today=today()
        )
        model.add(key, -q)
        _fefo(model, key, q, tracked)
    elif kind == "transfer":
        other = whs[1 - op[2]]
        await service.transfer(conn, actor=actor, from_warehouse_id=w, to_warehouse_id=other,
                               lines=[StockLine(product, q)], today=today())  # fmt: skip
        model.add(key, -q)
        model.add((product, other), q)
        for batch, taken in _fefo(model, key, q, tracked):
            model.batch[(product, other, batch)] = (
                model.batch.get((product, other, batch), Decimal(0)) + taken)  # fmt: skip
    elif kind == "adjust":
        signed, batch = (q if op[4] else -q), (op[5] if tracked else None)
        await service.adjust(conn, actor=actor, warehouse_id=w, reason="property",
                             lines=[StockLine(product, signed, batch_code=batch)])  # fmt: skip
        model.add(key, signed, batch)
    elif kind == "reserve":
        line_id = line_ids[op[4]]
        await service.reserve(conn, actor=actor, source=order,
                              lines=[ReserveLine(line_id, product, w, q)], today=today())  # fmt: skip
        model.reserved[key] = model.reserved.get(key, Decimal(0)) + q
        model.lines.setdefault(line_id, [product, w, Decimal(0)])[2] += q
    elif kind == "release":
        line_id, q = line_ids[op[1]], op[2]
        await service.release(conn, actor=actor, source=order, lines=[ReleaseLine(line_id, q)])
        held = model.lines[line_id]
        q = held[2] if q is None else q
        held[2] -= q
        model.reserved[tuple(held[:2])] -= q
    else:
        line_id, q = line_ids[op[1]], op[2]
        await service.issue_reserved(conn, actor=actor, reserved_for=order,
                                     lines=[ShipLine(line_id, q)], today=today())  # fmt: skip
        held = model.lines[line_id]
        key = tuple(held[:2])
        held[2] -= q
        model.reserved[key] -= q
        model.add(key, -q)
        _fefo(model, key, q, key[0] == products["lot"])


def _date(value):
    import datetime as dt

    return dt.date.fromisoformat(value) if value else None


def _fefo(model: Model, key, q: Decimal, tracked: bool) -> list:
    """Take q from the model's batches first expiring first (B, A, then undated C)."""
    if not tracked:
        return []
    picks = []
    for code in ("B", "A", "C"):
        have = model.batch.get((*key, code), Decimal(0))
        take = min(have, q)
        if take > 0:
            model.batch[(*key, code)] = have - take
            picks.append((code, take))
            q -= take
    assert q == 0, "the model's batches cannot cover what its levels allowed"
    return picks


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(operations=st.lists(OPERATIONS, min_size=1, max_size=14))
async def test_balances_are_what_the_ledger_says(services, tenant_a, catalogue, operations):
    actor = Actor("user", tenant_a.user_ids["admin"])
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        whs = []
        for _ in range(2):
            row = await warehouses.create_warehouse(
                conn, actor=actor, who=_Everyone(), warehouse_id=None,
                fields={"code": f"P-{uuid.uuid4().hex[:10]}", "name": "property"},
            )  # fmt: skip
            whs.append(row.id)
    ctx = {"actor": actor, "products": catalogue, "whs": whs,
           "order": Source("sales_order", uuid.uuid4()),
           "lines": [uuid.uuid4() for _ in range(4)]}  # fmt: skip
    model = Model()
    for op in operations:
        allowed = expected(op, ctx, model)
        try:
            async with tenant_transaction(services.engine, tenant_a.schema) as conn:
                await run(conn, op, ctx, model)
        except StockError as error:
            assert not allowed, f"{op} was refused: {error}"
        else:
            assert allowed, f"{op} went through; the model says it should not have"
    ledger = await read_ledger(services, tenant_a)
    assert_consistent(ledger)
    zero = Decimal(0)
    for key, on_hand in model.on_hand.items():
        stored = ledger.levels.get(key, (zero, zero, zero))
        reserved = model.reserved.get(key, zero)
        assert stored == (on_hand, reserved, on_hand - reserved), key
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        codes = dict((await conn.execute(
            select(batches.c.code, batches.c.id).where(batches.c.product_id == catalogue["lot"])
        )).all())  # fmt: skip
    for (product, w, code), on_hand in model.batch.items():
        assert ledger.batch_levels.get((product, w, codes[code]), zero) == on_hand, code


class _Everyone:
    user_id = uuid.uuid4()
    data_scope = "all"
    team_path = None
