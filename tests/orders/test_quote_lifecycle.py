"""The quote state machine (app/orders/lifecycle.py): every allowed transition works,
every other is refused with a user error naming `status` and changes nothing;
expiry is read at accept time; revisions form a family; accepting makes exactly one
sales order, also when many accept at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from helpers import make_tenant
from order_helpers import (
    GET_QUOTE,
    LIST_QUOTES,
    create_quote,
    dec,
    goods,
    quote_action,
    quote_state,
    today,
)
from sqlalchemy import func, select, update

from app.db import tenant_transaction
from app.orders.lifecycle import QUOTE_TRANSITIONS
from app.orders.tables import quotes, sales_order_lines, sales_orders

STATUSES = ("draft", "sent", "expired", "accepted", "rejected", "superseded")
ACTIONS = ("send", "accept", "reject", "revise", "update")
ALLOWED = {
    ("draft", "send"): "SENT",
    ("draft", "update"): "DRAFT",
    ("sent", "accept"): "ACCEPTED",
    ("sent", "reject"): "REJECTED",
    ("sent", "revise"): "SUPERSEDED",
    ("expired", "revise"): "SUPERSEDED",
    ("rejected", "revise"): "SUPERSEDED",
}


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "qlife")


@pytest.fixture(scope="module")
async def stocked(api, tenant):
    return await goods(api, tenant, products=2, stock="100")


async def expire(services, tenant, quote_id: str) -> None:
    """A day passes for this quote: its validity ended yesterday."""
    day = today()
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        await conn.execute(
            update(quotes)
            .where(quotes.c.id == uuid.UUID(quote_id))
            .values(quote_date=day - dt.timedelta(days=10), valid_until=day - dt.timedelta(days=1))
        )


async def quote_in(api, services, tenant, g, status: str) -> dict:
    admin = tenant.tokens["admin"]
    quote = await create_quote(api, admin, g, [
        {"productId": g.products[0], "quantity": "3", "discountPercent": "5"},
        {"productId": g.products[1], "quantity": "2"},
    ])  # fmt: skip
    if status == "draft":
        return quote
    assert (await quote_action(api, admin, "send", quote["id"]))["userErrors"] == []
    if status == "expired":
        await expire(services, tenant, quote["id"])
    elif status in ("accepted", "rejected", "superseded"):
        action = {"accepted": "accept", "rejected": "reject", "superseded": "revise"}[status]
        extra = {"warehouseId": g.warehouse} if action == "accept" else {}
        assert (await quote_action(api, admin, action, quote["id"], **extra))["userErrors"] == []
    return quote


def fields_for(action: str, g) -> dict:
    return {"accept": {"warehouseId": g.warehouse}, "update": {"notes": "改"},
            "reject": {"reason": "太贵"}}.get(action, {})  # fmt: skip


def test_the_table_is_what_the_tests_cover():
    table = {(s, a) for s, actions in QUOTE_TRANSITIONS.items() for a in actions}
    assert table == {k for k in ALLOWED if k[1] != "update"}


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", ACTIONS)
async def test_transition(api, services, tenant, stocked, status, action):
    admin = tenant.tokens["admin"]
    quote = await quote_in(api, services, tenant, stocked, status)
    before = await quote_state(services, tenant, quote["id"])
    result = await quote_action(api, admin, action, quote["id"], **fields_for(action, stocked))
    expected = ALLOWED.get((status, action))
    if expected is None:
        code = "NOT_EDITABLE" if action == "update" else "INVALID_TRANSITION"
        assert [(e["field"], e["code"]) for e in result["userErrors"]] == [("status", code)]
        assert status in result["userErrors"][0]["message"]
        assert await quote_state(services, tenant, quote["id"]) == before
        return
    assert result["userErrors"] == [], result
    if action == "revise":
        assert result["previous"]["status"] == "SUPERSEDED"
        new = result["quote"]
        assert (new["revision"], new["status"], new["number"]) == (2, "DRAFT", quote["number"])
        assert new["familyId"] == quote["id"] and new["id"] != quote["id"]
        assert new["quoteDate"] == today().isoformat()
        assert dt.date.fromisoformat(new["validUntil"]) >= today()
        assert dec(new["grossTotal"]) == dec(quote["grossTotal"])
        return
    assert result["quote"]["status"] == expected
    if action == "accept":
        order = result["salesOrder"]
        assert (order["status"], order["quoteId"]) == ("DRAFT", quote["id"])
        assert dec(order["grossTotal"]) == dec(quote["grossTotal"])
        assert [(x["productId"], dec(x["quantity"]), dec(x["unitPrice"]), x["priceSource"],
                 dec(x["grossAmount"])) for x in order["lines"]] == [
            (x["productId"], dec(x["quantity"]), dec(x["unitPrice"]), x["priceSource"],
             dec(x["grossAmount"])) for x in quote["lines"]
        ]  # fmt: skip


async def test_an_expired_quote_reads_expired_and_cannot_be_accepted(api, services, tenant,
                                                                     stocked):  # fmt: skip
    admin = tenant.tokens["admin"]
    quote = await quote_in(api, services, tenant, stocked, "expired")
    one = (await api.gql(GET_QUOTE, {"id": quote["id"]}, token=admin))["quote"]
    assert one["status"] == "EXPIRED"
    expired = await api.gql(LIST_QUOTES, {"filter": {"status": {"eq": "EXPIRED"}}}, token=admin)
    sent = await api.gql(LIST_QUOTES, {"filter": {"status": {"in": ["SENT"]}}}, token=admin)
    assert quote["id"] in [e["node"]["id"] for e in expired["quotes"]["edges"]]
    assert quote["id"] not in [e["node"]["id"] for e in sent["quotes"]["edges"]]
    result = await quote_action(api, admin, "accept", quote["id"], warehouseId=stocked.warehouse)
    (error,) = result["userErrors"]
    assert (error["field"], error["code"]) == ("status", "INVALID_TRANSITION")
    assert "expired" in error["message"] and "revise" in error["message"]


async def test_a_draft_past_its_validity_cannot_be_sent(api, services, tenant, stocked):
    admin = tenant.tokens["admin"]
    past = today() - dt.timedelta(days=3)
    quote = await create_quote(api, admin, stocked, quoteDate=(past - dt.timedelta(days=5)).isoformat(),
                               validUntil=past.isoformat())  # fmt: skip
    result = await quote_action(api, admin, "send", quote["id"])
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [("validUntil", "INVALID")]
    fixed = await quote_action(api, admin, "update", quote["id"],
                               validUntil=(today() + dt.timedelta(days=7)).isoformat())  # fmt: skip
    assert fixed["userErrors"] == []
    assert (await quote_action(api, admin, "send", quote["id"]))["quote"]["status"] == "SENT"


async def test_revisions_then_accept_the_latest(api, services, tenant, stocked):
    admin = tenant.tokens["admin"]
    first = await quote_in(api, services, tenant, stocked, "sent")
    revised = await quote_action(api, admin, "revise", first["id"])
    second = revised["quote"]
    changed = await quote_action(api, admin, "update", second["id"], lines=[
        {"productId": stocked.products[0], "quantity": "10"},
    ])  # fmt: skip
    assert changed["userErrors"] == []
    assert [dec(x["quantity"]) for x in changed["quote"]["lines"]] == [10]
    assert (await quote_action(api, admin, "send", second["id"]))["userErrors"] == []
    # The superseded first version can no longer be accepted; the second can.
    old = await quote_action(api, admin, "accept", first["id"], warehouseId=stocked.warehouse)
    assert [e["code"] for e in old["userErrors"]] == ["INVALID_TRANSITION"]
    accepted = await quote_action(api, admin, "accept", second["id"],
                                  warehouseId=stocked.warehouse)  # fmt: skip
    assert accepted["userErrors"] == []
    assert [dec(x["quantity"]) for x in accepted["salesOrder"]["lines"]] == [10]
    family = await api.gql(LIST_QUOTES, {"filter": {"familyId": {"eq": first["id"]}},
                                         "orderBy": [{"field": "NUMBER"}]}, token=admin)  # fmt: skip
    assert [(e["node"]["revision"], e["node"]["status"]) for e in family["quotes"]["edges"]] == [
        (1, "SUPERSEDED"), (2, "ACCEPTED"),
    ]  # fmt: skip
    one = (await api.gql(GET_QUOTE, {"id": second["id"]}, token=admin))["quote"]
    assert one["salesOrder"]["id"] == accepted["salesOrder"]["id"]


async def _orders_of(services, tenant, quote_id: str) -> int:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return await conn.scalar(
            select(func.count()).select_from(sales_orders)
            .where(sales_orders.c.quote_id == uuid.UUID(quote_id))
        )  # fmt: skip


async def test_accept_twice_makes_one_order(api, services, tenant, stocked):
    admin = tenant.tokens["admin"]
    quote = await quote_in(api, services, tenant, stocked, "sent")
    first = await quote_action(api, admin, "accept", quote["id"], warehouseId=stocked.warehouse)
    again = await quote_action(api, admin, "accept", quote["id"], warehouseId=stocked.warehouse)
    assert first["userErrors"] == []
    assert [(e["field"], e["code"]) for e in again["userErrors"]] == [
        ("status", "INVALID_TRANSITION")
    ]
    assert await _orders_of(services, tenant, quote["id"]) == 1


async def test_concurrent_accepts_make_one_order(api, services, tenant, stocked):
    admin = tenant.tokens["admin"]
    quote = await quote_in(api, services, tenant, stocked, "sent")
    results = await asyncio.gather(*(
        quote_action(api, admin, "accept", quote["id"], warehouseId=stocked.warehouse)
        for _ in range(12)
    ))  # fmt: skip
    made = [r for r in results if r["userErrors"] == []]
    refused = [r for r in results if r["userErrors"]]
    assert len(made) == 1 and len(refused) == 11
    assert {e["code"] for r in refused for e in r["userErrors"]} == {"INVALID_TRANSITION"}
    assert await _orders_of(services, tenant, quote["id"]) == 1
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        lines = await conn.scalar(
            select(func.count()).select_from(sales_order_lines)
            .where(sales_order_lines.c.order_id == uuid.UUID(made[0]["salesOrder"]["id"]))
        )  # fmt: skip
    assert lines == 2
