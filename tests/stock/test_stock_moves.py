"""Every move kind through the API; errors name the field and write nothing; batch
rules; first-expiring-first picking; transfers are all or nothing; idempotent retries;
permissions."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select
from stock_helpers import ISSUE, assert_consistent, dec, read_ledger

from app.audit.tables import audit_log
from app.db import tenant_transaction
from app.stock.tables import batches, stock_moves, stock_postings


@pytest.fixture
async def setup(stock, tenant_a):
    admin = tenant_a.tokens["admin"]
    return {
        "admin": admin,
        "plain": await stock.product(admin),
        "lot": await stock.product(admin, batch_tracked=True),
        "w1": await stock.warehouse(admin),
        "w2": await stock.warehouse(admin),
    }


async def _counts(services, tenant) -> tuple[int, int, int, int]:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return (
            await conn.scalar(select(func.count()).select_from(stock_moves)),
            await conn.scalar(select(func.count()).select_from(stock_postings)),
            await conn.scalar(select(func.count()).select_from(batches)),
            await conn.scalar(select(func.count()).select_from(audit_log)),
        )


async def test_receipt_issue_transfer_adjustment(stock, services, tenant_a, setup):
    s, admin = setup, setup["admin"]
    received = await stock.receive(admin, s["w1"], [
        {"productId": s["plain"], "quantity": "10.5"},
        {"productId": s["lot"], "quantity": "4", "batchCode": "L-A", "expiresOn": "2031-01-01"},
    ], reason="采购入库")  # fmt: skip
    assert received["userErrors"] == []
    assert [(m["kind"], m["quantity"]) for m in received["moves"]] == [
        ("RECEIPT", "10.500"), ("RECEIPT", "4.000")]  # fmt: skip
    assert received["moves"][1]["batchId"] and received["moves"][0]["batchId"] is None

    issued = await stock.issue(admin, s["w1"], [{"productId": s["plain"], "quantity": "0.5"}])
    assert [(m["kind"], m["quantity"]) for m in issued["moves"]] == [("ISSUE", "-0.500")]

    moved = await stock.transfer(admin, s["w1"], s["w2"], [
        {"productId": s["plain"], "quantity": "3"}, {"productId": s["lot"], "quantity": "1"}])  # fmt: skip
    assert moved["userErrors"] == []
    pairs = [(m["kind"], m["warehouseId"], m["quantity"]) for m in moved["moves"]]
    assert pairs == [
        ("TRANSFER", s["w1"], "-3.000"), ("TRANSFER", s["w2"], "3.000"),
        ("TRANSFER", s["w1"], "-1.000"), ("TRANSFER", s["w2"], "1.000"),
    ]  # fmt: skip
    assert moved["moves"][2]["batchId"] == moved["moves"][3]["batchId"]  # the same batch

    adjusted = await stock.adjust(admin, s["w2"], [{"productId": s["plain"], "quantity": "-1"}],
                                  reason="破损")  # fmt: skip
    assert [(m["kind"], m["quantity"], m["reason"]) for m in adjusted["moves"]] == [
        ("ADJUSTMENT", "-1.000", "破损")]  # fmt: skip
    found = await stock.adjust(admin, s["w2"], [{"productId": s["lot"], "quantity": "2",
                                                 "batchCode": "L-FOUND"}], reason="盘盈")  # fmt: skip
    assert found["userErrors"] == []

    level = await stock.level(admin, s["plain"], s["w1"])
    assert (dec(level["onHand"]), dec(level["available"])) == (dec(7), dec(7))
    assert dec((await stock.level(admin, s["plain"], s["w2"]))["onHand"]) == 2
    lot2 = await stock.level(admin, s["lot"], s["w2"])
    assert dec(lot2["onHand"]) == 3
    assert sorted((b["batch"]["code"], dec(b["onHand"])) for b in lot2["batches"]) == [
        ("L-A", 1), ("L-FOUND", 2)]  # fmt: skip
    assert_consistent(await read_ledger(services, tenant_a))


async def test_a_return_comes_in_through_the_service(stock, services, tenant_a, setup):
    from app.audit.service import Actor
    from app.stock import service

    s = setup
    order_return = service.Source("sales_return", uuid.uuid4())
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        posting = await service.return_in(
            conn, actor=Actor("user", tenant_a.user_ids["admin"]), warehouse_id=s["w1"],
            lines=[service.StockLine(s["plain"], "2")], source=order_return, reason="退货",
        )  # fmt: skip
    (move,) = posting.moves
    assert (move.kind, move.quantity, move.source_type, move.source_id) == (
        "return", dec(2), "sales_return", order_return.id)  # fmt: skip
    with pytest.raises(service.StockError) as raised:
        async with tenant_transaction(services.engine, tenant_a.schema) as conn:
            await service.return_in(
                conn, actor=Actor("user", None), warehouse_id=s["w1"],
                lines=[service.StockLine(s["plain"], "2")], source=None,
            )  # fmt: skip
    assert raised.value.errors[0].field == "source"


BAD_LINES = [
    ({"quantity": "0"}, "lines[0].quantity", "INVALID"),
    ({"quantity": "-1"}, "lines[0].quantity", "INVALID"),
    ({"quantity": "1.0001"}, "lines[0].quantity", "INVALID"),
    ({"quantity": "1e20"}, "lines[0].quantity", "INVALID"),
    ({"productId": "nope"}, "lines[0].productId", "NOT_FOUND"),
    ({"productId": str(uuid.uuid4())}, "lines[0].productId", "NOT_FOUND"),
    ({"batchCode": "X"}, "lines[0].batchCode", "BATCH_NOT_TRACKED"),
    ({"expiresOn": "2030-01-01"}, "lines[0].expiresOn", "BATCH_NOT_TRACKED"),
]


@pytest.mark.parametrize(("change", "field", "code"), BAD_LINES, ids=lambda v: str(v))
async def test_bad_lines_name_the_field_and_write_nothing(stock, services, tenant_a, setup,
                                                          change, field, code):  # fmt: skip
    s, admin = setup, setup["admin"]
    before = await _counts(services, tenant_a)
    good = {"productId": s["plain"], "quantity": "1"}
    result = await stock.receive(admin, s["w1"], [good, {**good, **change}][::-1])
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [(field, code)]
    assert result["moves"] == [] and result["postingId"] is None
    assert await _counts(services, tenant_a) == before
    assert await stock.level(admin, s["plain"], s["w1"]) is None


async def test_insufficient_stock_names_every_line_and_writes_nothing(
    stock, services, tenant_a, setup
):
    s, admin = setup, setup["admin"]
    await stock.receive(admin, s["w1"], [{"productId": s["plain"], "quantity": "5"}])
    before = await _counts(services, tenant_a)
    result = await stock.issue(admin, s["w1"], [
        {"productId": s["plain"], "quantity": "3"}, {"productId": s["plain"], "quantity": "3"}])  # fmt: skip
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [
        ("lines[0].quantity", "INSUFFICIENT_STOCK"), ("lines[1].quantity", "INSUFFICIENT_STOCK")]  # fmt: skip
    assert "6 needed, 5 available" in result["userErrors"][0]["message"]
    assert await _counts(services, tenant_a) == before
    nothing = await stock.issue(admin, s["w2"], [{"productId": s["plain"], "quantity": "1"}])
    assert nothing["userErrors"][0]["code"] == "INSUFFICIENT_STOCK"
    unknown = await stock.issue(
        admin, str(uuid.uuid4()), [{"productId": s["plain"], "quantity": "1"}]
    )
    assert [(e["field"], e["code"]) for e in unknown["userErrors"]] == [
        ("warehouseId", "NOT_FOUND")
    ]
    no_reason = await stock.adjust(admin, s["w1"], [{"productId": s["plain"], "quantity": "1"}],
                                   reason=" ")  # fmt: skip
    assert [(e["field"], e["code"]) for e in no_reason["userErrors"]] == [("reason", "REQUIRED")]
    zero = await stock.adjust(admin, s["w1"], [{"productId": s["plain"], "quantity": "0"}])
    assert zero["userErrors"][0]["field"] == "lines[0].quantity"
    assert await _counts(services, tenant_a) == before
    assert dec((await stock.level(admin, s["plain"], s["w1"]))["onHand"]) == 5


async def test_batch_rules(stock, tenant_a, setup):
    s, admin = setup, setup["admin"]
    missing = await stock.receive(admin, s["w1"], [{"productId": s["lot"], "quantity": "1"}])
    assert [(e["field"], e["code"]) for e in missing["userErrors"]] == [
        ("lines[0].batchCode", "BATCH_REQUIRED")]  # fmt: skip
    ok = await stock.receive(admin, s["w1"], [
        {"productId": s["lot"], "quantity": "5", "batchCode": "B1", "expiresOn": "2030-05-01",
         "producedOn": "2029-05-01"}])  # fmt: skip
    batch_id = ok["moves"][0]["batchId"]
    # The same code again is the same batch; other dates for it are a mismatch.
    again = await stock.receive(admin, s["w1"], [{"productId": s["lot"], "quantity": "1",
                                                  "batchCode": "B1"}])  # fmt: skip
    assert again["moves"][0]["batchId"] == batch_id
    clash = await stock.receive(admin, s["w1"], [{"productId": s["lot"], "quantity": "1",
                                                  "batchCode": "B1", "expiresOn": "2030-06-01"}])  # fmt: skip
    assert [(e["field"], e["code"]) for e in clash["userErrors"]] == [
        ("lines[0].expiresOn", "BATCH_MISMATCH")]  # fmt: skip
    backwards = await stock.receive(admin, s["w1"], [{
        "productId": s["lot"], "quantity": "1", "batchCode": "B9", "expiresOn": "2030-01-01",
        "producedOn": "2031-01-01"}])  # fmt: skip
    assert backwards["userErrors"][0]["field"] == "lines[0].producedOn"
    # A batch of another product is no batch of this one.
    other = await stock.product(admin, batch_tracked=True)
    foreign = await stock.receive(admin, s["w1"], [{"productId": other, "quantity": "1",
                                                    "batchId": batch_id}])  # fmt: skip
    assert [(e["field"], e["code"]) for e in foreign["userErrors"]] == [
        ("lines[0].batchId", "NOT_FOUND")]  # fmt: skip
    # Not batch-tracked: never with a batch.
    plain = await stock.issue(admin, s["w1"], [{"productId": s["plain"], "quantity": "1",
                                                "batchId": batch_id}])  # fmt: skip
    assert plain["userErrors"][0]["code"] == "BATCH_NOT_TRACKED"
    # Adjusting a batch-tracked product names the batch.
    unnamed = await stock.adjust(admin, s["w1"], [{"productId": s["lot"], "quantity": "-1"}])
    assert unnamed["userErrors"][0]["code"] == "BATCH_REQUIRED"
    unknown = await stock.issue(admin, s["w1"], [{"productId": s["lot"], "quantity": "1",
                                                  "batchCode": "NOPE"}])  # fmt: skip
    assert [(e["field"], e["code"]) for e in unknown["userErrors"]] == [
        ("lines[0].batchCode", "NOT_FOUND")]  # fmt: skip


async def test_issues_pick_the_first_expiring_batch_first(stock, services, tenant_a, setup):
    s, admin = setup, setup["admin"]
    today = dt.date.today()
    lots = {
        "LATE": today + dt.timedelta(days=300),
        "SOON": today + dt.timedelta(days=10),
        "MID": today + dt.timedelta(days=100),
        "EXPIRED": today - dt.timedelta(days=1),
    }
    received = await stock.receive(admin, s["w1"], [
        *({"productId": s["lot"], "quantity": "3", "batchCode": code,
           "expiresOn": day.isoformat()} for code, day in lots.items()),
        {"productId": s["lot"], "quantity": "3", "batchCode": "UNDATED"},
    ])  # fmt: skip
    ids = {code: m["batchId"] for code, m in zip([*lots, "UNDATED"], received["moves"],
                                                 strict=True)}  # fmt: skip
    by_id = {v: k for k, v in ids.items()}

    picked = await stock.issue(admin, s["w1"], [{"productId": s["lot"], "quantity": "7"}])
    assert [(by_id[m["batchId"]], m["quantity"]) for m in picked["moves"]] == [
        ("SOON", "-3.000"), ("MID", "-3.000"), ("LATE", "-1.000")]  # fmt: skip
    rest = await stock.issue(admin, s["w1"], [{"productId": s["lot"], "quantity": "5"}])
    assert [(by_id[m["batchId"]], m["quantity"]) for m in rest["moves"]] == [
        ("LATE", "-2.000"), ("UNDATED", "-3.000")]  # fmt: skip
    # Only the expired batch is left: never picked by itself, though it is on hand.
    stuck = await stock.issue(admin, s["w1"], [{"productId": s["lot"], "quantity": "1"}])
    assert stuck["userErrors"][0]["code"] == "INSUFFICIENT_STOCK"
    assert "0 in unexpired batches" in stuck["userErrors"][0]["message"]
    named = await stock.issue(admin, s["w1"], [{"productId": s["lot"], "quantity": "3",
                                                "batchId": ids["EXPIRED"]}])  # fmt: skip
    assert named["userErrors"] == [] and named["moves"][0]["batchId"] == ids["EXPIRED"]
    too_much = await stock.issue(admin, s["w1"], [{"productId": s["lot"], "quantity": "1",
                                                   "batchId": ids["SOON"]}])  # fmt: skip
    assert too_much["userErrors"][0]["code"] == "INSUFFICIENT_STOCK"
    assert_consistent(await read_ledger(services, tenant_a))


async def test_a_transfer_moves_everything_or_nothing(stock, services, tenant_a, setup):
    s, admin = setup, setup["admin"]
    await stock.receive(admin, s["w1"], [
        {"productId": s["plain"], "quantity": "5"},
        {"productId": s["lot"], "quantity": "2", "batchCode": "T1", "expiresOn": "2032-01-01"}])  # fmt: skip
    before = await _counts(services, tenant_a)
    failed = await stock.transfer(admin, s["w1"], s["w2"], [
        {"productId": s["plain"], "quantity": "5"}, {"productId": s["lot"], "quantity": "3"}])  # fmt: skip
    assert [(e["field"], e["code"]) for e in failed["userErrors"]] == [
        ("lines[1].quantity", "INSUFFICIENT_STOCK")]  # fmt: skip
    assert await _counts(services, tenant_a) == before
    assert dec((await stock.level(admin, s["plain"], s["w1"]))["onHand"]) == 5
    assert await stock.level(admin, s["plain"], s["w2"]) is None
    same = await stock.transfer(
        admin, s["w1"], s["w1"], [{"productId": s["plain"], "quantity": "1"}]
    )
    assert [(e["field"], e["code"]) for e in same["userErrors"]] == [("toWarehouseId", "INVALID")]
    # An inactive warehouse takes no new stock, but gives what it has.
    await stock.api.gql(
        "mutation($i: UpdateWarehouseInput!) { updateWarehouse(input: $i) { userErrors { code } } }",
        {"i": {"id": s["w2"], "active": False}}, token=admin,
    )  # fmt: skip
    closed = await stock.transfer(
        admin, s["w1"], s["w2"], [{"productId": s["plain"], "quantity": "1"}]
    )
    assert [(e["field"], e["code"]) for e in closed["userErrors"]] == [
        ("toWarehouseId", "WAREHOUSE_INACTIVE")]  # fmt: skip
    closed = await stock.receive(admin, s["w2"], [{"productId": s["plain"], "quantity": "1"}])
    assert closed["userErrors"][0]["code"] == "WAREHOUSE_INACTIVE"
    ok = await stock.transfer(
        admin, s["w1"], s["w2"], [{"productId": s["plain"], "quantity": "0.001"}]
    )
    assert ok["userErrors"][0]["code"] == "WAREHOUSE_INACTIVE"
    assert (await _counts(services, tenant_a))[:3] == before[:3]  # the update was audited


async def test_a_retry_with_the_same_id_posts_once(stock, services, tenant_a, setup):
    s, admin = setup, setup["admin"]
    posting_id = str(uuid.uuid4())
    lines = [{"productId": s["plain"], "quantity": "2"}]
    first = await stock.receive(admin, s["w1"], lines, id=posting_id)
    second = await stock.receive(admin, s["w1"], lines, id=posting_id)
    assert (first["replayed"], second["replayed"]) == (False, True)
    assert [m["id"] for m in first["moves"]] == [m["id"] for m in second["moves"]]
    assert first["postingId"] == second["postingId"] == posting_id
    assert dec((await stock.level(admin, s["plain"], s["w1"]))["onHand"]) == 2
    other = await stock.receive(admin, s["w1"], [{"productId": s["plain"], "quantity": "3"}],
                                id=posting_id)  # fmt: skip
    assert [(e["field"], e["code"]) for e in other["userErrors"]] == [("id", "CONFLICT")]
    reused = await stock.issue(admin, s["w1"], lines, id=posting_id)
    assert reused["userErrors"][0]["code"] == "CONFLICT"
    assert dec((await stock.level(admin, s["plain"], s["w1"]))["onHand"]) == 2
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        audited = await conn.scalar(
            select(func.count())
            .select_from(audit_log)
            .where(audit_log.c.entity_id == uuid.UUID(posting_id))
        )
    assert audited == 1


async def test_inactive_products_take_no_new_stock(stock, tenant_a, setup):
    s, admin = setup, setup["admin"]
    retired = await stock.product(admin, active=False)
    result = await stock.receive(admin, s["w1"], [{"productId": retired, "quantity": "1"}])
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [
        ("lines[0].productId", "PRODUCT_INACTIVE")]  # fmt: skip


async def test_who_may_move_stock(stock, api, tenant_a, setup):
    s = setup
    lines = [{"productId": s["plain"], "quantity": "1"}]
    for role in ("sales", "viewer", "manager"):
        errors = await api.errors(ISSUE, {"input": {"warehouseId": s["w1"], "lines": lines}},
                                  token=tenant_a.tokens[role])  # fmt: skip
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    # Reading is part of the read permissions every internal role has.
    assert await stock.levels(tenant_a.tokens["sales"], {"warehouseId": {"eq": s["w1"]}}) == []


async def test_partners_see_no_stock(api, services, tenant_a, setup):
    """A partner user working for no distributor sees no warehouse and no stock (those
    of a distributor see its consignment warehouses: tests/distributors)."""
    from stock_helpers import LEVELS, add_user

    from app.auth.tokens import issue_access_token

    partner = await add_user(services, tenant_a, "partner")
    token = await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=tenant_a.id,
        user_id=partner, roles=["partner"],
    )  # fmt: skip
    for query, name in ((LEVELS, "stockLevels"),
                        ("{ warehouses(first: 5) { totalCount } }", "warehouses"),
                        ("{ stockMoves(first: 5) { totalCount } }", "stockMoves"),
                        ("{ lowStock { totalCount } }", "lowStock")):  # fmt: skip
        assert (await api.gql(query, token=token))[name]["totalCount"] == 0, name
