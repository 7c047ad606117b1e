"""Concurrent receipts against one purchase order line never receive more than was
ordered: through the API (gathered requests) and on separate connections released at
the same instant; the stock received equals the order's received quantity."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from purchasing_helpers import dec

from app.audit.service import Actor
from app.db import bind_tenant, create_engine
from app.errors import UserErrors
from app.purchasing import receipts
from app.purchasing.rules import ReceiptLine

CALLERS = 20


async def test_gathered_receipts_cannot_over_receive(buy, setup):
    admin, warehouse, product = setup["admin"], setup["warehouse"], setup["product"]
    order = await buy.send(admin, await buy.order(
        admin, setup["supplier"], warehouse,
        [{"productId": product, "quantity": "5", "unitCost": "1"}],
    ))  # fmt: skip
    line = order["lines"][0]["id"]
    results = await asyncio.gather(*(
        buy.receive(admin, order["id"], [{"orderLineId": line, "quantity": "1"}])
        for _ in range(12)
    ))  # fmt: skip
    succeeded = [r for r in results if not r["userErrors"]]
    refused = [r for r in results if r["userErrors"]]
    assert len(succeeded) == 5 and len(refused) == 7
    for r in refused:
        assert r["userErrors"][0]["code"] in ("OVER_RECEIPT", "INVALID_TRANSITION"), r
    after = await buy.get(admin, order["id"])
    assert after["status"] == "RECEIVED" and dec(after["lines"][0]["receivedQuantity"]) == 5
    assert len(after["receipts"]) == 5
    assert await buy.on_hand(admin, product, warehouse) == 5
    assert len({r["receipt"]["number"] for r in succeeded}) == 5


@pytest.fixture
async def engine(settings, database):
    engine = create_engine(settings, pool_size=CALLERS // 2 + 1)
    yield engine
    await engine.dispose()


async def test_simultaneous_transactions_cannot_over_receive(engine, buy, setup, tenant_a):
    """Each caller in its own transaction on its own connection, all released at once,
    each receiving 2 of a line of 15 (and the same retried receipt id twice)."""
    admin, warehouse, product = setup["admin"], setup["warehouse"], setup["product"]
    order = await buy.send(admin, await buy.order(
        admin, setup["supplier"], warehouse,
        [{"productId": product, "quantity": "15", "unitCost": "1"}],
    ))  # fmt: skip
    line = order["lines"][0]["id"]
    retried = uuid.uuid4()
    ids = [retried, retried] + [uuid.uuid4() for _ in range(CALLERS - 2)]
    waiting, all_ready, go = [len(ids)], asyncio.Event(), asyncio.Event()
    actor = Actor("user", tenant_a.user_ids["admin"])

    async def one(receipt_id):
        async with engine.connect() as raw:
            conn = await bind_tenant(raw, tenant_a.schema)
            async with conn.begin():
                waiting[0] -= 1
                if waiting[0] == 0:
                    all_ready.set()
                await go.wait()
                try:
                    return await receipts.receive_purchase_order(
                        conn, actor=actor, receipt_id=receipt_id,
                        order_id=uuid.UUID(order["id"]),
                        lines=[ReceiptLine(line, Decimal(2))], received_on=None, note=None,
                        today=dt.date(2027, 1, 1),
                    )  # fmt: skip
                except UserErrors as error:
                    return error

    tasks = [asyncio.create_task(one(i)) for i in ids]
    await asyncio.wait_for(all_ready.wait(), 60)
    go.set()
    results = await asyncio.gather(*tasks)
    made = [r for r in results if not isinstance(r, UserErrors) and not r[1]]
    replays = [r for r in results if not isinstance(r, UserErrors) and r[1]]
    refused = [r for r in results if isinstance(r, UserErrors)]
    assert len(made) == 7  # 7 x 2 = 14 of 15; an eighth would be 16
    assert len(made) + len(replays) + len(refused) == CALLERS
    assert all(e.errors[0].code in ("OVER_RECEIPT",) for e in refused), refused
    after = await buy.get(admin, order["id"])
    assert dec(after["lines"][0]["receivedQuantity"]) == 14
    assert after["status"] == "PARTIALLY_RECEIVED"
    assert await buy.on_hand(admin, product, warehouse) == 14
