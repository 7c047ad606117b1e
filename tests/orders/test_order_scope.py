"""Data scope and permissions of quotes and orders: a document is visible exactly when
its customer is; a rep cannot make one for a customer they cannot see (NOT_FOUND, so
its existence is not revealed); the built-in roles get what app/auth/permissions.py
says."""

from __future__ import annotations

import pytest
from helpers import make_tenant
from order_helpers import (
    CREATE_ORDER,
    CREATE_QUOTE,
    GET_ORDER,
    GET_QUOTE,
    LIST_ORDERS,
    LIST_QUOTES,
    Goods,
    create_order,
    create_quote,
    goods,
    new_customer,
    order_action,
    payload,
    quote_action,
    role_token,
    user_token,
)


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "oscope")


@pytest.fixture(scope="module")
async def world(api, services, tenant):
    """Two reps, a customer of each, one in the pool; an order and a quote on each."""
    admin = tenant.tokens["admin"]
    rep1, token1 = await user_token(api, services, tenant, "sales")
    rep2, token2 = await user_token(api, services, tenant, "sales")
    g = await goods(api, tenant, products=1, stock="100")
    customers = {
        "mine": await new_customer(api, admin, ownerId=rep1),
        "theirs": await new_customer(api, admin, ownerId=rep2),
        "pool": g.customer,
    }
    docs = {}
    for key, customer in customers.items():
        doc_goods = Goods(g.warehouse, g.products, customer)
        docs[key] = (await create_order(api, admin, doc_goods),
                     await create_quote(api, admin, doc_goods))  # fmt: skip
    return {"g": g, "customers": customers, "docs": docs, "rep1": token1, "rep2": token2}


def ids(connection: dict) -> set[str]:
    return {e["node"]["id"] for e in connection["edges"]}


async def test_a_rep_sees_the_documents_of_customers_they_see(api, world):
    token, docs = world["rep1"], world["docs"]
    orders = (await api.gql(LIST_ORDERS, {"first": 100}, token=token))["salesOrders"]
    quotes = (await api.gql(LIST_QUOTES, {"first": 100}, token=token))["quotes"]
    assert ids(orders) == {docs["mine"][0]["id"], docs["pool"][0]["id"]}
    assert orders["totalCount"] == 2
    assert ids(quotes) == {docs["mine"][1]["id"], docs["pool"][1]["id"]}
    assert quotes["totalCount"] == 2
    order, quote = docs["theirs"]
    assert (await api.gql(GET_ORDER, {"id": order["id"]}, token=token))["salesOrder"] is None
    assert (await api.gql(GET_QUOTE, {"id": quote["id"]}, token=token))["quote"] is None
    by_customer = await api.gql(
        LIST_ORDERS, {"filter": {"customerId": {"eq": world["customers"]["theirs"]}}}, token=token
    )
    assert by_customer["salesOrders"]["totalCount"] == 0
    mine = (await api.gql(GET_ORDER, {"id": docs["mine"][0]["id"]}, token=token))["salesOrder"]
    assert mine["customer"]["id"] == world["customers"]["mine"]


async def test_a_rep_cannot_write_for_a_customer_they_cannot_see(api, world):
    token, g, theirs = world["rep1"], world["g"], world["customers"]["theirs"]
    line = [{"productId": g.products[0], "quantity": "1"}]
    order = await payload(api, CREATE_ORDER, "createSalesOrder",
                          {"customerId": theirs, "warehouseId": g.warehouse, "lines": line}, token)  # fmt: skip
    quote = await payload(api, CREATE_QUOTE, "createQuote", {"customerId": theirs, "lines": line},
                          token)  # fmt: skip
    for result in (order, quote):
        assert [(e["field"], e["code"]) for e in result["userErrors"]] == [
            ("customerId", "NOT_FOUND")
        ]
    their_order, their_quote = world["docs"]["theirs"]
    changed = await order_action(api, token, "update", their_order["id"], notes="x")
    assert [(e["field"], e["code"]) for e in changed["userErrors"]] == [("id", "NOT_FOUND")]
    sent = await quote_action(api, token, "send", their_quote["id"])
    assert [(e["field"], e["code"]) for e in sent["userErrors"]] == [("id", "NOT_FOUND")]
    # Their own customer works, and the pool's.
    made = await create_order(
        api, token, Goods(g.warehouse, g.products, world["customers"]["mine"])
    )
    assert made["status"] == "DRAFT"


async def _code(api, query: str, variables: dict, token: str) -> str:
    errors = await api.errors(query, variables, token=token)
    return errors[0]["extensions"]["code"]


async def test_permissions_of_the_built_in_roles(api, services, tenant, world):
    g, docs = world["g"], world["docs"]
    order, quote = docs["pool"]
    _, viewer = await user_token(api, services, tenant, "viewer")
    _, warehouse = await user_token(api, services, tenant, "warehouse")
    _, manager = await user_token(api, services, tenant, "manager")
    create = {"input": {"customerId": g.customer, "warehouseId": g.warehouse,
                        "lines": [{"productId": g.products[0], "quantity": "1"}]}}  # fmt: skip
    # viewer: reads, never writes.
    assert (await api.gql(GET_ORDER, {"id": order["id"]}, token=viewer))["salesOrder"]
    assert (await api.gql(GET_QUOTE, {"id": quote["id"]}, token=viewer))["quote"]
    assert await _code(api, CREATE_ORDER, create, viewer) == "FORBIDDEN"
    # sales: writes drafts, cannot confirm (a manager's call).
    confirm = """mutation($input: ConfirmSalesOrderInput!) {
      confirmSalesOrder(input: $input) { salesOrder { id } userErrors { code } } }"""
    assert await _code(api, confirm, {"input": {"id": order["id"]}}, world["rep1"]) == "FORBIDDEN"
    # warehouse: reads every order (to ship), no quotes.
    seen = (await api.gql(LIST_ORDERS, {"first": 100}, token=warehouse))["salesOrders"]
    assert {d[0]["id"] for d in docs.values()} <= ids(seen)
    assert await _code(api, LIST_QUOTES, {}, warehouse) == "FORBIDDEN"
    # manager: confirms.
    result = await order_action(api, manager, "confirm", order["id"])
    assert result["userErrors"] == [] and result["salesOrder"]["status"] == "CONFIRMED"


async def test_accepting_a_quote_needs_orders_write(api, services, tenant, world):
    token = await role_token(api, services, tenant, "quoter", ["quotes:read", "quotes:write"])
    g = world["g"]
    quote = await create_quote(api, token, g)
    assert (await quote_action(api, token, "send", quote["id"]))["userErrors"] == []
    accept = """mutation($input: AcceptQuoteInput!) {
      acceptQuote(input: $input) { quote { id } userErrors { code } } }"""
    variables = {"input": {"id": quote["id"], "warehouseId": g.warehouse}}
    assert await _code(api, accept, variables, token) == "FORBIDDEN"
