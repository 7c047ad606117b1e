"""Tenant isolation of quotes and orders: another tenant cannot read, list, count,
change, confirm, accept or infer them, nor use this tenant's customers, products or
warehouses in its own documents; every attempt leaves this tenant's rows as they were."""

from __future__ import annotations

import uuid

import pytest
from helpers import make_tenant
from order_helpers import (
    CREATE_ORDER,
    CREATE_QUOTE,
    GET_ORDER,
    GET_QUOTE,
    LIST_ORDERS,
    LIST_QUOTES,
    create_order,
    create_quote,
    goods,
    order_action,
    order_state,
    payload,
    quote_action,
    quote_state,
    today,
)


@pytest.fixture(scope="module")
async def tenants(owner, services):
    return await make_tenant(owner, services, "oiso-a"), await make_tenant(
        owner, services, "oiso-b"
    )


@pytest.fixture(scope="module")
async def documents(api, tenants):
    a, _ = tenants
    admin = a.tokens["admin"]
    g = await goods(api, a, products=1, stock="50")
    order = await create_order(api, admin, g)
    confirmed = await create_order(api, admin, g)
    assert (await order_action(api, admin, "confirm", confirmed["id"]))["userErrors"] == []
    quote = await create_quote(api, admin, g)
    assert (await quote_action(api, admin, "send", quote["id"]))["userErrors"] == []
    return g, order, confirmed, quote


async def test_another_tenant_cannot_read_list_or_count(api, tenants, documents):
    _, b = tenants
    g, order, confirmed, quote = documents
    token = b.tokens["admin"]
    for query, name, doc in ((GET_ORDER, "salesOrder", order), (GET_ORDER, "salesOrder", confirmed),
                             (GET_QUOTE, "quote", quote)):  # fmt: skip
        assert (await api.gql(query, {"id": doc["id"]}, token=token))[name] is None
    for query, name in ((LIST_ORDERS, "salesOrders"), (LIST_QUOTES, "quotes")):
        everything = (await api.gql(query, {}, token=token))[name]
        assert everything["totalCount"] == 0 and everything["edges"] == []
        by_customer = (await api.gql(query, {"filter": {"customerId": {"eq": g.customer}}},
                                     token=token))[name]  # fmt: skip
        assert by_customer["totalCount"] == 0
    numbered = await api.gql(LIST_ORDERS, {"filter": {"number": {"eq": order["number"]}}},
                             token=token)  # fmt: skip
    assert numbered["salesOrders"]["totalCount"] == 0


async def test_another_tenant_cannot_change_anything(api, services, tenants, documents):
    a, b = tenants
    g, order, confirmed, quote = documents
    token = b.tokens["admin"]
    before = [await order_state(services, a, o["id"]) for o in (order, confirmed)]
    quote_before = await quote_state(services, a, quote["id"])
    for doc in (order, confirmed):
        for action, extra in (("confirm", {}), ("cancel", {}), ("close", {}),
                              ("update", {"notes": "x"})):  # fmt: skip
            result = await order_action(api, token, action, doc["id"], **extra)
            assert [(e["field"], e["code"]) for e in result["userErrors"]] == [("id", "NOT_FOUND")]
    for action, extra in (("send", {}), ("reject", {}), ("revise", {}), ("update", {"notes": "x"}),
                          ("accept", {"warehouseId": g.warehouse})):  # fmt: skip
        result = await quote_action(api, token, action, quote["id"], **extra)
        assert [(e["field"], e["code"]) for e in result["userErrors"]] == [("id", "NOT_FOUND")]
    assert [await order_state(services, a, o["id"]) for o in (order, confirmed)] == before
    assert await quote_state(services, a, quote["id"]) == quote_before


async def test_foreign_ids_are_unknown(api, tenants, documents):
    _, b = tenants
    g, *_ = documents
    token = b.tokens["admin"]
    own = await goods(api, b, products=1, stock="5")
    line = [{"productId": own.products[0], "quantity": "1"}]
    cases = [
        ({"customerId": g.customer, "warehouseId": own.warehouse, "lines": line},
         ("customerId", "NOT_FOUND")),
        ({"customerId": own.customer, "warehouseId": g.warehouse, "lines": line},
         ("warehouseId", "NOT_FOUND")),
        ({"customerId": own.customer, "warehouseId": own.warehouse,
          "lines": [{"productId": g.products[0], "quantity": "1"}]},
         ("lines[0].productId", "NOT_FOUND")),
    ]  # fmt: skip
    for input, expected in cases:
        result = await payload(api, CREATE_ORDER, "createSalesOrder", input, token)
        assert [(e["field"], e["code"]) for e in result["userErrors"]] == [expected]
    quote = await payload(api, CREATE_QUOTE, "createQuote", {
        "customerId": own.customer, "lines": [{"productId": g.products[0], "quantity": "1"}],
    }, token)  # fmt: skip
    assert [(e["field"], e["code"]) for e in quote["userErrors"]] == [
        ("lines[0].productId", "NOT_FOUND")
    ]
    mine = await create_quote(api, token, own)
    await quote_action(api, token, "send", mine["id"])
    accept = await quote_action(api, token, "accept", mine["id"], warehouseId=g.warehouse)
    assert [(e["field"], e["code"]) for e in accept["userErrors"]] == [("warehouseId", "NOT_FOUND")]


async def test_numbers_reveal_nothing_of_another_tenant(api, tenants, documents):
    """Each tenant counts its own documents: B's first order is number 1 however many
    A has made."""
    _, b = tenants
    fresh = await goods(api, b, products=1, stock="5")
    token = b.tokens["admin"]
    existing = (await api.gql(LIST_ORDERS, {}, token=token))["salesOrders"]["totalCount"]
    order = await create_order(api, token, fresh)
    assert order["number"] == f"SO-{today().year}-{existing + 1:06d}"
    assert uuid.UUID(order["id"])
