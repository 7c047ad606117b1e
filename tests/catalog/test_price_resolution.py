"""Price resolution (app/catalog/prices.py): customer list, then tier list, then an
all-customers list, then the list price in the base currency; the highest quantity
break not above the line's quantity; validity days inclusive; currencies never mixed;
ties between lists of one level by latest start, then latest created; per-line errors
instead of guesses; one statement for any number of lines."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from catalog_helpers import (
    RESOLVE,
    UPDATE_LIST,
    UPDATE_PRODUCT,
    new_customer,
    new_price_list,
    new_product,
)
from helpers import make_tenant

from app.catalog.prices import PriceLine, resolve_prices
from app.db import tenant_transaction

DAY = "2027-02-15"


@pytest.fixture(scope="module")
async def world(api, owner, services):
    tenant = await make_tenant(owner, services, "prices")
    admin = tenant.tokens["admin"]
    p = await new_product(api, admin, code="P", listPrice="100", taxRate="0.13")
    q = await new_product(api, admin, code="Q", listPrice="50", taxRate="0.09")
    r = await new_product(api, admin, code="R", listPrice="1")
    t = await new_product(api, admin, code="T", listPrice="1")
    await api.gql(UPDATE_PRODUCT, {"input": {"id": r["id"], "version": 1, "active": False}},
                  token=admin)  # fmt: skip
    x = await new_customer(api, admin, "甲客户", tier="A")
    y = await new_customer(api, admin, "乙客户", tier="B")
    z = await new_customer(api, admin, "丙客户")

    def item(product, price, minimum="0"):
        return {"productId": product["id"], "unitPrice": price, "minQuantity": minimum}

    lists = {
        "all": await new_price_list(api, admin, name="标准价", items=[
            item(p, "113"), item(p, "110", "10"), item(r, "5")]),
        "tier_a": await new_price_list(api, admin, name="A 级价", target="TIER", tier="A",
                                       items=[item(p, "105"), item(p, "80", "50")]),
        "x": await new_price_list(api, admin, name="甲专享", target="CUSTOMER", customerId=x,
                                  taxInclusive=False, items=[item(p, "90", "20")]),
        "x_usd": await new_price_list(api, admin, name="甲美元", target="CUSTOMER", customerId=x,
                                      currency="USD", items=[item(q, "7")]),
        "usd": await new_price_list(api, admin, name="美元价", currency="USD",
                                    items=[item(p, "15")]),
        "promo": await new_price_list(api, admin, name="三月促销", validFrom="2027-03-01",
                                      validTo="2027-03-31", items=[item(p, "99")]),
        "off": await new_price_list(api, admin, name="停用", target="TIER", tier="A",
                                    items=[item(p, "1")]),
        "t_old": await new_price_list(api, admin, name="T 旧", items=[item(t, "10")]),
        "t_new": await new_price_list(api, admin, name="T 新", items=[item(t, "12")]),
        "t_started": await new_price_list(api, admin, name="T 有起始日", validFrom="2020-01-01",
                                          items=[item(t, "11")], target="TIER", tier="B"),
    }  # fmt: skip
    off = lists["off"]
    await api.gql(UPDATE_LIST, {"input": {"id": off["id"], "version": 1, "active": False}},
                  token=admin)  # fmt: skip
    return {
        "tenant": tenant, "token": admin, "lists": {k: v["id"] for k, v in lists.items()},
        "products": {"P": p["id"], "Q": q["id"], "R": r["id"], "T": t["id"]},
        "customers": {"X": x, "Y": y, "Z": z},
    }  # fmt: skip


async def _resolve(api, world, lines, customer=None, currency="CNY", date=DAY, token=None):
    input_ = {
        "customerId": world["customers"].get(customer, customer), "currency": currency,
        "date": date,
        "lines": [{"productId": world["products"].get(p, p), "quantity": q} for p, q in lines],
    }  # fmt: skip
    data = await api.gql(RESOLVE, {"input": input_}, token=token or world["token"])
    return data["resolvePrices"]


def _price(line: dict) -> tuple:
    return (line["unitPrice"], line["source"], line["minQuantity"])


CASES = [
    # customer list (from 20 only), else tier A, else all
    ("X", "P", "25", ("90.0000", "CUSTOMER_LIST", "20.0000"), "x"),
    ("X", "P", "20", ("90.0000", "CUSTOMER_LIST", "20.0000"), "x"),
    ("X", "P", "19.9999", ("105.0000", "TIER_LIST", "0.0000"), "tier_a"),
    # the customer's own list wins even where the tier's break is cheaper
    ("X", "P", "60", ("90.0000", "CUSTOMER_LIST", "20.0000"), "x"),
    ("X", "P", "5", ("105.0000", "TIER_LIST", "0.0000"), "tier_a"),
    ("X", "P", "50", ("90.0000", "CUSTOMER_LIST", "20.0000"), "x"),
    # tier B has no list for P: all customers; quantity breaks 0 and 10
    ("Y", "P", "9.9999", ("113.0000", "ALL_CUSTOMERS_LIST", "0.0000"), "all"),
    ("Y", "P", "10", ("110.0000", "ALL_CUSTOMERS_LIST", "10.0000"), "all"),
    ("Y", "P", "12", ("110.0000", "ALL_CUSTOMERS_LIST", "10.0000"), "all"),
    ("Z", "P", "1", ("113.0000", "ALL_CUSTOMERS_LIST", "0.0000"), "all"),
    (None, "P", "0.0001", ("113.0000", "ALL_CUSTOMERS_LIST", "0.0000"), "all"),
    # no list has Q in CNY: the list price (base currency, tax-exclusive)
    ("Y", "Q", "3", ("50.0000", "LIST_PRICE", None), None),
    ("X", "Q", "3", ("50.0000", "LIST_PRICE", None), None),
    # T: two all-customer lists with open starts, the later created wins; for tier B
    # its own list wins whatever its start
    (None, "T", "1", ("12.0000", "ALL_CUSTOMERS_LIST", "0.0000"), "t_new"),
    ("Y", "T", "1", ("11.0000", "TIER_LIST", "0.0000"), "t_started"),
]


@pytest.mark.parametrize(("customer", "product", "quantity", "expected", "source"), CASES)
async def test_resolution_order(api, world, customer, product, quantity, expected, source):
    result = await _resolve(api, world, [(product, quantity)], customer)
    (line,) = result["lines"]
    assert line["error"] is None, line
    assert _price(line) == expected
    assert line["priceListId"] == (world["lists"][source] if source else None)


async def test_tax_flags_and_amounts(api, world):
    inclusive, list_price = (await _resolve(api, world, [("P", "1"), ("Q", "3")], "Z"))["lines"]
    (exclusive,) = (await _resolve(api, world, [("P", "25")], "X"))["lines"]
    # 含税 113.00 at 13 %: net 100.00, tax 13.00
    assert (inclusive["taxInclusive"], inclusive["taxRate"]) == (True, "0.1300")
    assert inclusive["amounts"] == {"net": "100.00", "tax": "13.00", "gross": "113.00"}
    assert exclusive["taxInclusive"] is False
    assert exclusive["amounts"] == {"net": "2250.00", "tax": "292.50", "gross": "2542.50"}
    assert list_price["taxInclusive"] is False
    assert list_price["amounts"] == {"net": "150.00", "tax": "13.50", "gross": "163.50"}


@pytest.mark.parametrize(
    ("date", "price"),
    [("2027-02-28", "113.0000"), ("2027-03-01", "99.0000"), ("2027-03-31", "99.0000"),
     ("2027-04-01", "113.0000")],
)  # fmt: skip
async def test_validity_days_are_inclusive_and_the_later_start_wins(api, world, date, price):
    result = await _resolve(api, world, [("P", "1")], "Y", date=date)
    assert result["lines"][0]["unitPrice"] == price
    assert result["date"] == date


async def test_currencies_are_never_mixed(api, world):
    usd = await _resolve(api, world, [("P", "1"), ("Q", "2")], "X", currency="usd")
    assert usd["currency"] == "USD"
    assert [_price(line) for line in usd["lines"]] == [
        ("15.0000", "ALL_CUSTOMERS_LIST", "0.0000"), ("7.0000", "CUSTOMER_LIST", "0.0000")
    ]  # fmt: skip
    # Y has no USD list for Q, and the list price is in CNY: no price, not a conversion.
    (line,) = (await _resolve(api, world, [("Q", "2")], "Y", currency="USD"))["lines"]
    assert line["unitPrice"] is None and line["source"] is None
    assert (line["error"]["field"], line["error"]["code"]) == ("lines.0", "NO_PRICE")
    assert "USD" in line["error"]["message"]
    eur = await _resolve(api, world, [("P", "1")], currency="EUR")
    assert eur["lines"][0]["error"]["code"] == "NO_PRICE"


async def test_per_line_errors_never_guess(api, world):
    result = await _resolve(
        api, world,
        [("P", "1"), ("R", "1"), (str(uuid.uuid4()), "1"), ("bad-id", "1"), ("P", "0"),
         ("P", "-1"), ("P", "1.00001"), ("Q", "1")],
        "Y",
    )  # fmt: skip
    errors = [(line["error"] or {}).get("code") for line in result["lines"]]
    assert errors == [None, "INACTIVE", "NOT_FOUND", "NOT_FOUND", "INVALID", "INVALID",
                      "INVALID", None]  # fmt: skip
    fields = [(line["error"] or {}).get("field") for line in result["lines"]]
    assert fields[1:7] == [
        "lines.1.productId", "lines.2.productId", "lines.3.productId", "lines.4.quantity",
        "lines.5.quantity", "lines.6.quantity",
    ]  # fmt: skip
    assert all(line["unitPrice"] is None for line in result["lines"][1:7])
    assert result["lines"][3]["productId"] is None


async def test_deactivated_lists_and_tier_changes(api, world):
    token = world["token"]
    # Y becomes tier A: the A list applies at once.
    customer = await api.gql(
        "query($id: ID!) { customer(id: $id) { version } }", {"id": world["customers"]["Y"]},
        token=token,
    )  # fmt: skip
    changed = await api.gql(
        """mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
             userErrors { field } } }""",
        {"input": {"id": world["customers"]["Y"], "version": customer["customer"]["version"],
                   "tier": "A"}},
        token=token,
    )  # fmt: skip
    assert changed["updateCustomer"]["userErrors"] == []
    try:
        (line,) = (await _resolve(api, world, [("P", "1")], "Y"))["lines"]
        assert _price(line) == ("105.0000", "TIER_LIST", "0.0000")
        assert line["priceListId"] != world["lists"]["off"]
    finally:
        await api.gql(
            """mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) {
                 userErrors { field } } }""",
            {"input": {"id": world["customers"]["Y"],
                       "version": customer["customer"]["version"] + 1, "tier": "B"}},
            token=token,
        )  # fmt: skip


async def test_whole_request_errors(api, world):
    token = world["token"]
    for customer in (str(uuid.uuid4()), "bad"):
        errors = await api.errors(
            RESOLVE, {"input": {"customerId": customer, "lines": []}}, token=token
        )
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"
        assert errors[0]["message"] == "no such customer"
    errors = await api.errors(RESOLVE, {"input": {"currency": "ABC", "lines": []}}, token=token)
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    errors = await api.errors(
        RESOLVE,
        {"input": {"lines": [{"productId": world["products"]["P"], "quantity": "1"}] * 501}},
        token=token,
    )
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    # Defaults: the base currency and today.
    data = await api.gql(
        RESOLVE, {"input": {"lines": [{"productId": world["products"]["Q"], "quantity": "1"}]}},
        token=token,
    )  # fmt: skip
    assert data["resolvePrices"]["currency"] == "CNY"
    assert data["resolvePrices"]["lines"][0]["unitPrice"] == "50.0000"


async def test_a_deleted_customer_gets_no_prices(api, world):
    token = world["token"]
    gone = await new_customer(api, token, tier="A")
    await api.gql(
        """mutation($input: DeleteCustomerInput!) { deleteCustomer(input: $input) {
             userErrors { field } } }""",
        {"input": {"id": gone}},
        token=token,
    )
    errors = await api.errors(RESOLVE, {"input": {"customerId": gone, "lines": []}}, token=token)
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_many_lines_one_statement(services, world, sql_counter):
    """The service orders and quotes call: 300 lines, one statement, results in order."""
    ids = world["products"]
    lines = [PriceLine(uuid.UUID(ids["P"]), Decimal(n % 30 + 1)) for n in range(299)]
    lines.append(PriceLine(uuid.UUID(ids["R"]), Decimal(1)))
    async with tenant_transaction(services.engine, world["tenant"].schema) as conn:
        sql_counter.statements.clear()
        resolved = await resolve_prices(
            conn, customer_id=uuid.UUID(world["customers"]["X"]), currency="CNY",
            on_date=dt.date(2027, 2, 15), lines=lines,
        )  # fmt: skip
        assert sql_counter.count == 1
    assert [r.index for r in resolved] == list(range(300))
    by_quantity = {r.quantity: r for r in resolved[:-1]}
    assert by_quantity[Decimal(19)].source == "tier"
    assert by_quantity[Decimal(20)].source == "customer"
    assert by_quantity[Decimal(20)].unit_price == Decimal("90.0000")
    assert resolved[-1].error.code == "INACTIVE"
