"""The published example operations (graphql/operations/) for quotes and orders, run
in the order a front end would: quote, send, revise, accept, confirm, read, close;
and an order made directly, then cancelled."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import make_tenant
from order_helpers import dec, goods, operation, today


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "oexample")


async def test_quote_to_order_walk_through(api, tenant):
    token = tenant.tokens["admin"]
    g = await goods(api, tenant, products=2, stock="20")

    async def run(name: str, variables: dict) -> dict:
        data = await api.gql(operation(name), variables, token=token)
        (result,) = data.values()
        if isinstance(result, dict) and "userErrors" in result:
            assert result["userErrors"] == [], result
        return result

    lines = [{"productId": g.products[0], "quantity": "3", "discountPercent": "10"},
             {"productId": g.products[1], "quantity": "1"}]  # fmt: skip
    quote = (await run("createQuote", {"input": {"customerId": g.customer, "lines": lines,
                                                 "notes": "首次报价"}}))["quote"]  # fmt: skip
    assert quote["number"].startswith(f"QT-{today().year}-")
    assert (dec(quote["grossTotal"]), quote["status"]) == (dec("418.10"), "DRAFT")
    sent = await run("sendQuote", {"input": {"id": quote["id"], "version": quote["version"]}})
    revised = await run("reviseQuote", {"input": {"id": quote["id"],
                                                  "version": sent["quote"]["version"]}})  # fmt: skip
    draft = revised["quote"]
    until = (today() + dt.timedelta(days=14)).isoformat()
    updated = await run("updateQuote", {"input": {"id": draft["id"], "version": draft["version"],
                                                  "validUntil": until,
                                                  "lines": [{**lines[0], "quantity": "5"}]}})  # fmt: skip
    resent = await run("sendQuote", {"input": {"id": draft["id"],
                                               "version": updated["quote"]["version"]}})  # fmt: skip
    accepted = await run("acceptQuote", {"input": {"id": draft["id"],
                                                   "version": resent["quote"]["version"],
                                                   "warehouseId": g.warehouse}})  # fmt: skip
    order = accepted["salesOrder"]
    assert (order["status"], order["quoteId"], dec(order["grossTotal"])) == (
        "DRAFT", draft["id"], dec("508.50"),
    )  # fmt: skip
    changed = await run("updateSalesOrder", {"input": {"id": order["id"],
                                                       "version": order["version"],
                                                       "notes": "加急"}})  # fmt: skip
    confirmed = await run("confirmSalesOrder", {"input": {"id": order["id"],
                                                          "version": changed["salesOrder"]["version"]}})  # fmt: skip
    assert [dec(x["reservedQuantity"]) for x in confirmed["salesOrder"]["lines"]] == [5]
    one = await run("salesOrder", {"id": order["id"]})
    assert (one["quote"]["revision"], one["warehouse"]["id"], one["lines"][0]["product"]["id"]) == (
        2, g.warehouse, g.products[0],
    )  # fmt: skip
    listed = await run("salesOrders", {"filter": {"status": {"eq": "CONFIRMED"}}})
    assert [e["node"]["id"] for e in listed["edges"]] == [order["id"]]
    quotes = await run("quotes", {"filter": {"familyId": {"eq": quote["id"]}},
                                  "orderBy": [{"field": "NUMBER"}]})  # fmt: skip
    assert [e["node"]["status"] for e in quotes["edges"]] == ["SUPERSEDED", "ACCEPTED"]
    assert (await run("quote", {"id": draft["id"]}))["salesOrder"]["id"] == order["id"]
    closed = await run("closeSalesOrder", {"input": {"id": order["id"]}})
    assert closed["salesOrder"]["status"] == "CLOSED"

    direct = await run("createSalesOrder", {"input": {"customerId": g.customer,
                                                      "warehouseId": g.warehouse,
                                                      "lines": lines}})  # fmt: skip
    cancelled = await run("cancelSalesOrder", {"input": {"id": direct["salesOrder"]["id"],
                                                         "reason": "客户改单"}})  # fmt: skip
    assert cancelled["salesOrder"]["cancelReason"] == "客户改单"
    other = await run("createQuote", {"input": {"customerId": g.customer, "lines": lines}})
    await run("sendQuote", {"input": {"id": other["quote"]["id"]}})
    rejected = await run("rejectQuote", {"input": {"id": other["quote"]["id"], "reason": "价格高"}})
    assert rejected["quote"]["status"] == "REJECTED"
