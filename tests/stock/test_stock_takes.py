"""Stock takes (盘点): the snapshot, counting, posting the differences as STOCK_TAKE
moves in one transaction, and the state machine: every allowed transition works,
every forbidden one is refused with a clear error and changes nothing."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from stock_helpers import (
    CANCEL_TAKE,
    COUNT_TAKE,
    CREATE_TAKE,
    POST_TAKE,
    assert_consistent,
    dec,
    read_ledger,
    today,
)

from app.audit.service import Actor
from app.db import tenant_transaction
from app.stock import service
from app.stock.service import ReserveLine, Source
from app.stock.tables import stock_moves, stock_take_lines, stock_takes

LINES = """query($id: ID!, $filter: StockTakeLineFilter) {
  stockTakeLines(stockTakeId: $id, first: 100, filter: $filter) { totalCount edges { node {
    id productId batchId expected counted difference product { code } batch { code } } } } }"""
MOVES = """query($id: ID!) { stockMoves(first: 50, filter: {source: {type: "stock_take", id: $id}})
  { edges { node { kind productId batchId quantity reason sourceType sourceId } } } }"""


@pytest.fixture
async def counted(stock, tenant_a):
    """A warehouse with a plain product (10), a batch-tracked one (two batches, 4 and
    6), and a product with stock elsewhere only."""
    admin = tenant_a.tokens["admin"]
    plain, lot, elsewhere = (await stock.product(admin), await stock.product(admin, batch_tracked=True),
                             await stock.product(admin))  # fmt: skip
    w, other = await stock.warehouse(admin), await stock.warehouse(admin)
    received = await stock.receive(admin, w, [
        {"productId": plain, "quantity": "10"},
        {"productId": lot, "quantity": "4", "batchCode": "K1", "expiresOn": "2035-01-01"},
        {"productId": lot, "quantity": "6", "batchCode": "K2", "expiresOn": "2036-01-01"},
    ])  # fmt: skip
    await stock.receive(admin, other, [{"productId": elsewhere, "quantity": "1"}])
    return {"admin": admin, "plain": plain, "lot": lot, "w": w, "other": other,
            "k1": received["moves"][1]["batchId"], "k2": received["moves"][2]["batchId"]}  # fmt: skip


async def _create(stock, token, warehouse, **extra) -> dict:
    return await stock.payload(CREATE_TAKE, "createStockTake", {"warehouseId": warehouse, **extra},
                               token)  # fmt: skip


async def _lines(stock, token, take_id, **filter) -> list[dict]:
    data = await stock.api.gql(LINES, {"id": take_id, "filter": filter or None}, token=token)
    return [e["node"] for e in data["stockTakeLines"]["edges"]]


async def _state(services, tenant, take_id) -> tuple:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        sheet = (await conn.execute(select(stock_takes).where(
            stock_takes.c.id == uuid.UUID(take_id)))).one()  # fmt: skip
        lines = (await conn.execute(select(stock_take_lines.c.counted).where(
            stock_take_lines.c.stock_take_id == sheet.id).order_by(stock_take_lines.c.id))).all()  # fmt: skip
        moves = await conn.scalar(select(func.count()).select_from(stock_moves))
    return sheet.status, sheet.version, sheet.posting_id, [r.counted for r in lines], moves


async def test_count_and_post(stock, services, tenant_a, counted):
    c, admin = counted, counted["admin"]
    created = await _create(stock, admin, c["w"], note="年终盘点")
    assert created["userErrors"] == []
    take = created["stockTake"]
    assert (take["status"], take["partial"], take["lineCount"], take["countedCount"]) == (
        "DRAFT", False, 3, 0)  # fmt: skip
    assert take["number"].startswith("ST-")
    lines = await _lines(stock, admin, take["id"])
    assert sorted((dec(x["expected"]), x["batch"]["code"] if x["batch"] else None)
                  for x in lines) == [(4, "K1"), (6, "K2"), (10, None)]  # fmt: skip

    # Stock moves after the snapshot stay counted once: differences are against it.
    await stock.issue(admin, c["w"], [{"productId": c["plain"], "quantity": "3"}])
    result = await stock.payload(COUNT_TAKE, "countStockTake", {"id": take["id"], "lines": [
        {"productId": c["plain"], "counted": "9"},            # one lost: -1
        {"productId": c["lot"], "batchId": c["k1"], "counted": "4"},   # as expected
        {"productId": c["lot"], "batchCode": "K3", "expiresOn": "2037-01-01",
         "counted": "2"},                                        # found a new batch: +2
    ]}, admin)  # fmt: skip
    assert result["userErrors"] == []
    assert (result["stockTake"]["countedCount"], result["stockTake"]["differenceCount"]) == (3, 2)
    recount = await stock.payload(COUNT_TAKE, "countStockTake", {"id": take["id"], "lines": [
        {"productId": c["plain"], "counted": "8.5"}]}, admin)  # fmt: skip
    assert recount["stockTake"]["lineCount"] == 4
    uncounted = await _lines(stock, admin, take["id"], counted=False)
    assert [x["batchId"] for x in uncounted] == [c["k2"]]  # left as it is when posting

    posted = await stock.payload(POST_TAKE, "postStockTake", {"id": take["id"]}, admin)
    assert posted["userErrors"] == []
    assert posted["stockTake"]["status"] == "POSTED" and posted["stockTake"]["postingId"]
    moves = (await stock.api.gql(MOVES, {"id": take["id"]}, token=admin))["stockMoves"]["edges"]
    assert sorted((m["node"]["productId"], dec(m["node"]["quantity"])) for m in moves) == sorted(
        [(c["plain"], dec("-1.5")), (c["lot"], dec(2))])  # fmt: skip
    assert {m["node"]["kind"] for m in moves} == {"STOCK_TAKE"}
    assert moves[0]["node"]["reason"] == f"stock take {take['number']}"
    plain = await stock.level(admin, c["plain"], c["w"])
    assert dec(plain["onHand"]) == dec("5.5")  # 10 - 3 issued after the snapshot - 1.5
    lot = await stock.level(admin, c["lot"], c["w"])
    assert sorted((b["batch"]["code"], dec(b["onHand"])) for b in lot["batches"]) == [
        ("K1", 4), ("K2", 6), ("K3", 2)]  # fmt: skip
    assert_consistent(await read_ledger(services, tenant_a))


async def test_every_allowed_transition(stock, services, tenant_a, counted):
    c, admin = counted, counted["admin"]
    draft = (await _create(stock, admin, c["w"]))["stockTake"]
    cancelled = await stock.payload(CANCEL_TAKE, "cancelStockTake",
                                    {"id": draft["id"], "version": draft["version"]}, admin)  # fmt: skip
    assert cancelled["userErrors"] == [] and cancelled["stockTake"]["status"] == "CANCELLED"
    other = (await _create(stock, admin, c["w"]))["stockTake"]
    posted = await stock.payload(POST_TAKE, "postStockTake", {"id": other["id"]}, admin)
    assert posted["stockTake"]["status"] == "POSTED"
    assert posted["stockTake"]["postingId"] is None  # nothing was counted: no moves


FORBIDDEN = [
    ("posted", POST_TAKE, "postStockTake", "a posted stock take cannot be posted"),
    ("posted", CANCEL_TAKE, "cancelStockTake", "a posted stock take cannot be cancelled"),
    ("posted", COUNT_TAKE, "countStockTake", "a posted stock take cannot be counted"),
    ("cancelled", POST_TAKE, "postStockTake", "a cancelled stock take cannot be posted"),
    ("cancelled", CANCEL_TAKE, "cancelStockTake", "a cancelled stock take cannot be cancelled"),
    ("cancelled", COUNT_TAKE, "countStockTake", "a cancelled stock take cannot be counted"),
]


@pytest.mark.parametrize(("state", "query", "name", "message"), FORBIDDEN,
                         ids=[f"{s}-{n}" for s, _, n, _ in FORBIDDEN])  # fmt: skip
async def test_every_forbidden_transition_is_refused(stock, services, tenant_a, counted, state,
                                                     query, name, message):  # fmt: skip
    c, admin = counted, counted["admin"]
    take = (await _create(stock, admin, c["w"]))["stockTake"]
    await stock.ok(COUNT_TAKE, "countStockTake", {"id": take["id"], "lines": [
        {"productId": c["plain"], "counted": "7"}]}, admin)  # fmt: skip
    finish = POST_TAKE if state == "posted" else CANCEL_TAKE
    await stock.ok(finish, "postStockTake" if state == "posted" else "cancelStockTake",
                   {"id": take["id"]}, admin)  # fmt: skip
    before = await _state(services, tenant_a, take["id"])
    level_before = await stock.level(admin, c["plain"], c["w"])
    input = {"id": take["id"]}
    if name == "countStockTake":
        input["lines"] = [{"productId": c["plain"], "counted": "1"}]
    result = await stock.payload(query, name, input, admin)
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [("id", "INVALID_TRANSITION")]
    assert message in result["userErrors"][0]["message"]
    assert result["stockTake"] is None
    assert await _state(services, tenant_a, take["id"]) == before
    assert await stock.level(admin, c["plain"], c["w"]) == level_before


async def test_a_sheet_posts_once_even_when_asked_twice_at_once(stock, services, tenant_a,
                                                                counted):  # fmt: skip
    import asyncio

    c, admin = counted, counted["admin"]
    take = (await _create(stock, admin, c["w"]))["stockTake"]
    await stock.ok(COUNT_TAKE, "countStockTake", {"id": take["id"], "lines": [
        {"productId": c["plain"], "counted": "12"}]}, admin)  # fmt: skip
    results = await asyncio.gather(*(
        stock.payload(POST_TAKE, "postStockTake", {"id": take["id"]}, admin) for _ in range(3)))  # fmt: skip
    assert sorted(bool(r["userErrors"]) for r in results) == [False, True, True]
    assert dec((await stock.level(admin, c["plain"], c["w"]))["onHand"]) == 12


async def test_counting_and_posting_errors(stock, services, tenant_a, counted):
    c, admin = counted, counted["admin"]
    partial = await _create(stock, admin, c["w"], productIds=[c["plain"]])
    take = partial["stockTake"]
    assert (take["partial"], take["lineCount"]) == (True, 1)
    cases = [
        ([{"productId": c["lot"], "batchId": c["k1"], "counted": "1"}],
         ("lines[0].productId", "NOT_ON_SHEET")),
        ([{"productId": c["plain"], "counted": "-1"}], ("lines[0].counted", "INVALID")),
        ([{"productId": c["plain"], "counted": "1", "batchCode": "Z"}],
         ("lines[0].batchId", "BATCH_NOT_TRACKED")),
        ([{"productId": c["plain"], "counted": "1"}, {"productId": c["plain"], "counted": "2"}],
         ("lines[1].productId", "DUPLICATE")),
        ([{"productId": str(uuid.uuid4()), "counted": "1"}], ("lines[0].productId", "NOT_FOUND")),
    ]  # fmt: skip
    for lines, expected in cases:
        result = await stock.payload(COUNT_TAKE, "countStockTake", {"id": take["id"],
                                                                    "lines": lines}, admin)  # fmt: skip
        assert [(e["field"], e["code"]) for e in result["userErrors"]] == [expected], lines
    stale = await stock.payload(COUNT_TAKE, "countStockTake", {
        "id": take["id"], "version": take["version"] + 5,
        "lines": [{"productId": c["plain"], "counted": "1"}]}, admin)  # fmt: skip
    assert [(e["field"], e["code"]) for e in stale["userErrors"]] == [("version", "CONFLICT")]
    assert (await _state(services, tenant_a, take["id"]))[3] == [None]

    full = (await _create(stock, admin, c["w"]))["stockTake"]
    missing = await stock.payload(COUNT_TAKE, "countStockTake", {"id": full["id"], "lines": [
        {"productId": c["lot"], "counted": "1"}]}, admin)  # fmt: skip
    assert missing["userErrors"][0]["code"] == "BATCH_REQUIRED"
    bad = await _create(stock, admin, str(uuid.uuid4()))
    assert [(e["field"], e["code"]) for e in bad["userErrors"]] == [("warehouseId", "NOT_FOUND")]
    bad = await _create(stock, admin, c["w"], productIds=[str(uuid.uuid4())])
    assert [(e["field"], e["code"]) for e in bad["userErrors"]] == [("productIds", "NOT_FOUND")]
    unknown = await stock.payload(POST_TAKE, "postStockTake", {"id": str(uuid.uuid4())}, admin)
    assert [(e["field"], e["code"]) for e in unknown["userErrors"]] == [("id", "NOT_FOUND")]

    # A difference that would leave less than is reserved is refused; nothing posts.
    actor = Actor("user", tenant_a.user_ids["admin"])
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        await service.reserve(conn, actor=actor, source=Source("sales_order", uuid.uuid4()),
                              lines=[ReserveLine(uuid.uuid4(), c["plain"], c["w"], "8")],
                              today=today())  # fmt: skip
    await stock.ok(COUNT_TAKE, "countStockTake", {"id": full["id"], "lines": [
        {"productId": c["plain"], "counted": "5"}]}, admin)  # fmt: skip
    before = await _state(services, tenant_a, full["id"])
    refused = await stock.payload(POST_TAKE, "postStockTake", {"id": full["id"]}, admin)
    assert refused["userErrors"][0]["code"] == "INSUFFICIENT_STOCK"
    assert refused["userErrors"][0]["field"].startswith("lines[")
    assert "8 reserved" in refused["userErrors"][0]["message"]
    assert await _state(services, tenant_a, full["id"]) == before


async def test_a_repeated_create_is_the_same_sheet(stock, counted):
    c, admin = counted, counted["admin"]
    take_id = str(uuid.uuid4())
    first = await _create(stock, admin, c["w"], id=take_id)
    again = await _create(stock, admin, c["w"], id=take_id)
    assert first["stockTake"]["number"] == again["stockTake"]["number"]
    clash = await _create(stock, admin, c["other"], id=take_id)
    assert [(e["field"], e["code"]) for e in clash["userErrors"]] == [("id", "CONFLICT")]
