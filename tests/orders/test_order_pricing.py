"""Line prices and totals of quotes and orders: resolved from the price lists, rounded
per line by app/catalog/pricing.py (tax-exclusive 不含税 and tax-inclusive 含税
lists), one tax basis per document, manual prices only with prices:override, errors
naming the line's field, and idempotent creates."""

from __future__ import annotations

import uuid

import pytest
from helpers import make_tenant
from order_helpers import (
    CREATE_ORDER,
    CREATE_QUOTE,
    Goods,
    create_order,
    create_quote,
    dec,
    goods,
    new_customer,
    new_price_list,
    new_product,
    order_action,
    payload,
    user_token,
)
from sqlalchemy import func, select

from app.db import tenant_transaction
from app.orders.tables import quotes, sales_orders


@pytest.fixture(scope="module")
async def tenant(owner, services):
    return await make_tenant(owner, services, "oprice")


@pytest.fixture(scope="module")
async def stocked(api, tenant):
    return await goods(api, tenant, products=1, stock="100")


def amounts(line: dict) -> tuple:
    return tuple(dec(line[k]) for k in ("netAmount", "taxAmount", "grossAmount"))


def totals(doc: dict) -> tuple:
    return tuple(dec(doc[k]) for k in ("netTotal", "taxTotal", "grossTotal"))


async def _customer_list(api, tenant, items, *, tax_inclusive: bool) -> str:
    """A fresh customer with their own price list (no other test's lists apply)."""
    admin = tenant.tokens["admin"]
    customer = await new_customer(api, admin)
    await new_price_list(api, admin, items, tax_inclusive=tax_inclusive, target="CUSTOMER",
                         customerId=customer)  # fmt: skip
    return customer


async def test_tax_exclusive_lines_round_each_line_then_sum(api, tenant, stocked):
    admin = tenant.tokens["admin"]
    b = await new_product(api, admin, tax_rate="0.13")
    c = await new_product(api, admin, tax_rate="0.06")
    z = await new_product(api, admin, tax_rate="0")
    customer = await _customer_list(
        api, tenant, [(b, "33.3333"), (c, "19.99"), (z, "0.335")], tax_inclusive=False
    )
    order = await create_order(api, admin, Goods(stocked.warehouse, [], customer), [
        {"productId": b, "quantity": "3", "discountPercent": "10"},
        {"productId": c, "quantity": "7"},
        {"productId": z, "quantity": "1"}, {"productId": z, "quantity": "1"},
        {"productId": z, "quantity": "1"},
    ])  # fmt: skip
    assert order["pricesIncludeTax"] is False
    got = [amounts(x) for x in order["lines"]]
    # 33.3333 x 3 x 0.9 = 89.99991 -> 90.00, tax 11.70; 19.99 x 7 = 139.93, tax 8.3958 -> 8.40;
    # 0.335 -> 0.34 on each line, so three of them make 1.02 (not round(1.005) = 1.01).
    assert got == [
        (dec("90.00"), dec("11.70"), dec("101.70")),
        (dec("139.93"), dec("8.40"), dec("148.33")),
        *[(dec("0.34"), dec("0.00"), dec("0.34"))] * 3,
    ]
    assert totals(order) == (dec("230.95"), dec("20.10"), dec("251.05"))
    assert [x["priceSource"] for x in order["lines"]] == ["CUSTOMER_LIST"] * 5


async def test_tax_inclusive_lines_extract_the_tax(api, tenant, stocked):
    admin = tenant.tokens["admin"]
    b = await new_product(api, admin, tax_rate="0.13")
    c = await new_product(api, admin, tax_rate="0.06")
    customer = await _customer_list(api, tenant, [(b, "113.00"), (c, "9.99")], tax_inclusive=True)
    g = Goods(stocked.warehouse, [], customer)
    for make in (create_order, create_quote):
        doc = await make(api, admin, g, [{"productId": b, "quantity": "1"},
                                         {"productId": c, "quantity": "7"}])  # fmt: skip
        assert doc["pricesIncludeTax"] is True
        # 113.00 at 13 %: 100.00 + 13.00; 9.99 x 7 = 69.93 gross, 69.93 / 1.06 = 65.97 net.
        assert [amounts(x) for x in doc["lines"]] == [
            (dec("100.00"), dec("13.00"), dec("113.00")),
            (dec("65.97"), dec("3.96"), dec("69.93")),
        ]
        assert totals(doc) == (dec("165.97"), dec("16.96"), dec("182.93"))


async def test_one_tax_basis_per_document(api, tenant, stocked):
    """A line priced on the other basis is converted: here the list price (tax-exclusive
    100) on a tax-inclusive order is 113.0000."""
    admin = tenant.tokens["admin"]
    b = await new_product(api, admin, tax_rate="0.13")
    d = await new_product(api, admin, tax_rate="0.13", list_price="100")
    customer = await _customer_list(api, tenant, [(b, "113.00")], tax_inclusive=True)
    g = Goods(stocked.warehouse, [], customer)
    two = [{"productId": b, "quantity": "1"}, {"productId": d, "quantity": "1"}]
    order = await create_order(api, admin, g, two)
    assert order["pricesIncludeTax"] is True
    assert [(dec(x["unitPrice"]), x["priceSource"]) for x in order["lines"]] == [
        (dec("113.00"), "CUSTOMER_LIST"), (dec("113.0000"), "LIST_PRICE"),
    ]  # fmt: skip
    assert [amounts(x) for x in order["lines"]] == [
        (dec("100.00"), dec("13.00"), dec("113.00"))
    ] * 2
    exclusive = await create_order(api, admin, g, two, pricesIncludeTax=False)
    assert [(dec(x["unitPrice"]), x["priceSource"]) for x in exclusive["lines"]] == [
        (dec("100.0000"), "CUSTOMER_LIST"), (dec("100.0000"), "LIST_PRICE"),
    ]  # fmt: skip
    assert totals(exclusive) == totals(order) == (dec("200.00"), dec("26.00"), dec("226.00"))


async def test_a_hand_typed_price_needs_prices_override(api, services, tenant, stocked):
    _, sales = await user_token(api, services, tenant, "sales")
    _, manager = await user_token(api, services, tenant, "manager")
    line = [{"productId": stocked.products[0], "quantity": "2", "unitPrice": "88.8"}]
    before = await _count(services, tenant, sales_orders)
    for query, name in ((CREATE_ORDER, "createSalesOrder"), (CREATE_QUOTE, "createQuote")):
        refused = await payload(api, query, name, {"customerId": stocked.customer,
                                                   "warehouseId": stocked.warehouse,
                                                   "lines": line}
                                if name == "createSalesOrder"
                                else {"customerId": stocked.customer, "lines": line}, sales)  # fmt: skip
        assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
            ("lines[0].unitPrice", "FORBIDDEN")
        ]
    assert await _count(services, tenant, sales_orders) == before
    order = await create_order(api, manager, stocked, line)
    (made,) = order["lines"]
    assert (dec(made["unitPrice"]), made["priceSource"]) == (dec("88.8"), "MANUAL")
    assert amounts(made) == (dec("177.60"), dec("23.09"), dec("200.69"))  # list price basis
    # Without a price the same rep's line is priced from the list price.
    plain = await create_order(api, sales, stocked, [{"productId": stocked.products[0],
                                                      "quantity": "2"}])  # fmt: skip
    assert plain["lines"][0]["priceSource"] == "LIST_PRICE"


async def _count(services, tenant, table) -> int:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return await conn.scalar(select(func.count()).select_from(table))


async def test_errors_name_the_line_and_leave_nothing(api, services, tenant, stocked):
    admin = tenant.tokens["admin"]
    product = stocked.products[0]
    inactive = await new_product(api, admin, active=False)
    base = {"customerId": stocked.customer, "warehouseId": stocked.warehouse}
    cases = [
        ([{"productId": product, "quantity": "1"}, {"productId": product, "quantity": "0"},
          {"productId": product, "quantity": "1.0001"}, {"productId": "abc", "quantity": "1"},
          {"productId": product, "quantity": "1", "discountPercent": "101"}],
         {}, [("lines[1].quantity", "INVALID"), ("lines[2].quantity", "INVALID"),
              ("lines[3].productId", "NOT_FOUND"), ("lines[4].discountPercent", "INVALID")]),
        ([{"productId": str(uuid.uuid4()), "quantity": "1"}, {"productId": inactive, "quantity": "1"}],
         {}, [("lines[0].productId", "NOT_FOUND"), ("lines[1].productId", "INACTIVE")]),
        ([{"productId": product, "quantity": "1"}], {"currency": "USD"}, [("lines[0]", "NO_PRICE")]),
        ([{"productId": product, "quantity": "1"}], {"currency": "XYZ"}, [("currency", "INVALID")]),
        ([], {}, [("lines", "REQUIRED")]),
        ([{"productId": product, "quantity": "1"}], {"warehouseId": str(uuid.uuid4())},
         [("warehouseId", "NOT_FOUND")]),
        ([{"productId": product, "quantity": "1"}], {"customerId": str(uuid.uuid4())},
         [("customerId", "NOT_FOUND")]),
        ([{"productId": product, "quantity": "1"}], {"requestedDate": "2001-01-01"},
         [("requestedDate", "INVALID")]),
    ]  # fmt: skip
    before = (await _count(services, tenant, sales_orders), await _count(services, tenant, quotes))
    for lines, extra, expected in cases:
        result = await payload(api, CREATE_ORDER, "createSalesOrder",
                               {**base, "lines": lines, **extra}, admin)  # fmt: skip
        assert [(e["field"], e["code"]) for e in result["userErrors"]] == expected, result
        assert result["salesOrder"] is None
        if "warehouseId" in extra or "requestedDate" in extra:
            continue
        quote = {k: v for k, v in extra.items() if k != "warehouseId"}
        result = await payload(api, CREATE_QUOTE, "createQuote",
                               {"customerId": base["customerId"], "lines": lines, **quote}, admin)  # fmt: skip
        assert [(e["field"], e["code"]) for e in result["userErrors"]] == expected, result
    assert (
        await _count(services, tenant, sales_orders),
        await _count(services, tenant, quotes),
    ) == before


async def test_a_repeated_create_is_a_no_op(api, services, tenant, stocked):
    admin = tenant.tokens["admin"]
    order_id = str(uuid.uuid4())
    line = [{"productId": stocked.products[0], "quantity": "4", "discountPercent": "2.5"}]
    first = await create_order(api, admin, stocked, line, id=order_id, notes="离线")
    before = await _count(services, tenant, sales_orders)
    again = await create_order(api, admin, stocked, line, id=order_id, notes="离线")
    assert (again["id"], again["number"], again["version"]) == (
        first["id"], first["number"], first["version"],
    )  # fmt: skip
    assert await _count(services, tenant, sales_orders) == before
    other = await payload(api, CREATE_ORDER, "createSalesOrder", {
        "id": order_id, "customerId": stocked.customer, "warehouseId": stocked.warehouse,
        "lines": [{"productId": stocked.products[0], "quantity": "5"}],
    }, admin)  # fmt: skip
    assert [(e["field"], e["code"]) for e in other["userErrors"]] == [("id", "CONFLICT")]
    quote_id = str(uuid.uuid4())
    q1 = await create_quote(api, admin, stocked, line, id=quote_id)
    q2 = await create_quote(api, admin, stocked, line, id=quote_id)
    assert (q1["number"], q1["version"]) == (q2["number"], q2["version"])
    other = await payload(api, CREATE_QUOTE, "createQuote", {
        "id": quote_id, "customerId": stocked.customer,
        "lines": [{"productId": stocked.products[0], "quantity": "5"}],
    }, admin)  # fmt: skip
    assert [(e["field"], e["code"]) for e in other["userErrors"]] == [("id", "CONFLICT")]
    # A typed price is part of the request: the same one replays, another conflicts.
    manual = [{"productId": stocked.products[0], "quantity": "1", "unitPrice": "8.50"}]
    repriced = [{**manual[0], "unitPrice": "8.60"}]
    for create, mutation, field, extra in (
        (create_order, CREATE_ORDER, "createSalesOrder", {"warehouseId": stocked.warehouse}),
        (create_quote, CREATE_QUOTE, "createQuote", {}),
    ):
        kept = str(uuid.uuid4())
        first = await create(api, admin, stocked, manual, id=kept)
        assert (await create(api, admin, stocked, manual, id=kept))["number"] == first["number"]
        again = await payload(api, mutation, field, {
            "id": kept, "customerId": stocked.customer, "lines": repriced, **extra,
        }, admin)  # fmt: skip
        assert [(e["field"], e["code"]) for e in again["userErrors"]] == [("id", "CONFLICT")]


async def test_replacing_lines_reprices_a_draft(api, services, tenant, stocked):
    admin = tenant.tokens["admin"]
    order = await create_order(api, admin, stocked, [{"productId": stocked.products[0],
                                                      "quantity": "1"}])  # fmt: skip
    assert totals(order) == (dec("100.00"), dec("13.00"), dec("113.00"))
    changed = await order_action(api, admin, "update", order["id"], version=order["version"],
                                 lines=[{"productId": stocked.products[0], "quantity": "3"},
                                        {"productId": stocked.products[0], "quantity": "0.5"}])  # fmt: skip
    assert changed["userErrors"] == []
    made = changed["salesOrder"]
    assert made["version"] == order["version"] + 1
    assert [(x["position"], dec(x["quantity"])) for x in made["lines"]] == [(0, 3), (1, dec("0.5"))]
    assert dec(made["grossTotal"]) == dec("395.50")
