"""Price lists: create with items, change, deactivate, set items (per product or the
whole set); validation names the field and writes nothing; versions conflict."""

from __future__ import annotations

import uuid

import pytest
from catalog_helpers import (
    CREATE_LIST,
    GET_LIST,
    LIST_LISTS,
    SET_ITEMS,
    UPDATE_LIST,
    new_customer,
    new_price_list,
    new_product,
)
from sqlalchemy import func, select

from app.audit.tables import audit_log
from app.catalog.tables import price_list_items, price_lists
from app.db import tenant_transaction


@pytest.fixture(scope="module")
async def goods(api, tenant_a):
    admin = tenant_a.tokens["admin"]
    return [await new_product(api, admin, name=f"商品{i}") for i in range(3)]


def _items(price_list: dict) -> list[tuple[str, str, str]]:
    return [(i["productId"], i["minQuantity"], i["unitPrice"]) for i in price_list["items"]]


async def test_create_with_items_and_read(api, tenant_a, goods):
    admin = tenant_a.tokens["admin"]
    list_id = str(uuid.uuid4())
    values = {
        "id": list_id, "name": " 2027 年经销价 ", "currency": "usd", "taxInclusive": False,
        "validFrom": "2027-01-01", "validTo": "2027-12-31", "target": "TIER", "tier": "A",
        "items": [
            {"productId": goods[0]["id"], "unitPrice": "10"},
            {"productId": goods[0]["id"], "minQuantity": "100", "unitPrice": "9.5"},
        ],
    }  # fmt: skip
    data = await api.gql(CREATE_LIST, {"input": values}, token=admin)
    created = data["createPriceList"]["priceList"]
    assert data["createPriceList"]["userErrors"] == []
    assert {k: created[k] for k in ("name", "currency", "taxInclusive", "target", "tier",
                                    "customerId", "active", "version")} == {
        "name": "2027 年经销价", "currency": "USD", "taxInclusive": False, "target": "TIER",
        "tier": "A", "customerId": None, "active": True, "version": 1,
    }  # fmt: skip
    assert _items(created) == [
        (goods[0]["id"], "0.0000", "10.0000"), (goods[0]["id"], "100.0000", "9.5000")
    ]  # fmt: skip
    again = await api.gql(CREATE_LIST, {"input": values}, token=admin)
    assert again["createPriceList"]["priceList"] == created  # idempotent: no second set
    clash = await api.gql(CREATE_LIST, {"input": {**values, "name": "另一个"}}, token=admin)
    assert clash["createPriceList"]["userErrors"][0]["code"] == "CONFLICT"
    viewer = await api.gql(GET_LIST, {"id": list_id}, token=tenant_a.tokens["viewer"])
    assert viewer["priceList"] == created


INVALID = [
    ({"name": ""}, "name", "REQUIRED"),
    ({"currency": "XYZ"}, "currency", "INVALID"),
    ({"currency": "RMB"}, "currency", "INVALID"),
    ({"currency": "US"}, "currency", "INVALID"),
    ({"target": "TIER"}, "tier", "REQUIRED"),
    ({"target": "CUSTOMER"}, "customerId", "REQUIRED"),
    ({"target": "CUSTOMER", "customerId": "00000000-0000-0000-0000-000000000001"},
     "customerId", "NOT_FOUND"),
    ({"target": "CUSTOMER", "customerId": "bad"}, "customerId", "NOT_FOUND"),
    ({"tier": "B"}, "tier", "INVALID"),
    ({"validFrom": "2027-02-01", "validTo": "2027-01-31"}, "validTo", "INVALID"),
    ({"validTo": "3000-01-01"}, "validTo", "INVALID"),
    ({"items": [{"productId": "P0", "unitPrice": "0"}]}, "items.0.unitPrice", "INVALID"),
    ({"items": [{"productId": "P0", "unitPrice": "-1"}]}, "items.0.unitPrice", "INVALID"),
    ({"items": [{"productId": "P0", "unitPrice": "1.00001"}]}, "items.0.unitPrice", "INVALID"),
    ({"items": [{"productId": "P0", "unitPrice": "1", "minQuantity": "-1"}]},
     "items.0.minQuantity", "INVALID"),
    ({"items": [{"productId": "P0", "unitPrice": "1", "minQuantity": "5"},
                {"productId": "P0", "unitPrice": "2", "minQuantity": "5.00"}]},
     "items.1.minQuantity", "DUPLICATE"),
    ({"items": [{"productId": str(uuid.uuid4()), "unitPrice": "1"}]},
     "items.0.productId", "NOT_FOUND"),
    ({"items": [{"productId": "nope", "unitPrice": "1"}]}, "items.0.productId", "NOT_FOUND"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field", "code"), INVALID, ids=lambda v: str(v)[:50])
async def test_invalid_create_names_the_field_and_writes_nothing(
    api, services, tenant_a, goods, change, field, code
):
    name = f"坏价目表{uuid.uuid4().hex[:6]}"
    items = [
        {**i, "productId": goods[0]["id"] if i["productId"] == "P0" else i["productId"]}
        for i in change.get("items", [])
    ]
    values = {"name": name, "currency": "CNY", "target": "ALL_CUSTOMERS", **change}
    if items:
        values["items"] = items
    if change.get("name") == "":
        name = ""
    data = await api.gql(CREATE_LIST, {"input": values}, token=tenant_a.tokens["admin"])
    assert data["createPriceList"]["priceList"] is None
    assert [(e["field"], e["code"]) for e in data["createPriceList"]["userErrors"]] == [
        (field, code)
    ]
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        assert await conn.scalar(select(func.count()).where(price_lists.c.name == name)) == 0


async def test_update_target_validity_and_deactivation(api, tenant_a, goods):
    admin = tenant_a.tokens["admin"]
    customer = await new_customer(api, admin)
    made = await new_price_list(api, admin, target="TIER", tier="B")
    to_customer = await api.gql(
        UPDATE_LIST,
        {"input": {"id": made["id"], "version": 1, "target": "CUSTOMER", "customerId": customer}},
        token=admin,
    )
    changed = to_customer["updatePriceList"]["priceList"]
    assert (changed["target"], changed["tier"], changed["customerId"], changed["version"]) == (
        "CUSTOMER", None, customer, 2
    )  # fmt: skip
    tier_on_customer_list = await api.gql(
        UPDATE_LIST, {"input": {"id": made["id"], "version": 2, "tier": "A"}}, token=admin
    )
    assert tier_on_customer_list["updatePriceList"]["userErrors"] == [
        {"field": "tier", "code": "INVALID", "message": "only a TIER list takes tier"}
    ]
    backwards = await api.gql(
        UPDATE_LIST,
        {"input": {"id": made["id"], "version": 2, "validFrom": "2027-05-01",
                   "validTo": "2027-04-30"}},
        token=admin,
    )  # fmt: skip
    assert backwards["updatePriceList"]["userErrors"][0]["field"] == "validTo"
    stale = await api.gql(
        UPDATE_LIST, {"input": {"id": made["id"], "version": 1, "name": "旧"}}, token=admin
    )
    assert stale["updatePriceList"]["userErrors"][0]["code"] == "CONFLICT"
    off = await api.gql(
        UPDATE_LIST, {"input": {"id": made["id"], "version": 2, "active": False}}, token=admin
    )
    assert off["updatePriceList"]["priceList"]["active"] is False
    listed = await api.gql(
        LIST_LISTS, {"filter": {"active": False, "customerId": {"eq": customer}}}, token=admin
    )
    assert [e["node"]["id"] for e in listed["priceLists"]["edges"]] == [made["id"]]
    to_all = await api.gql(
        UPDATE_LIST, {"input": {"id": made["id"], "version": 3, "target": "ALL_CUSTOMERS"}},
        token=admin,
    )  # fmt: skip
    assert to_all["updatePriceList"]["priceList"]["customerId"] is None
    missing = await api.gql(
        UPDATE_LIST, {"input": {"id": str(uuid.uuid4()), "version": 1, "name": "x"}}, token=admin
    )
    assert missing["updatePriceList"]["userErrors"][0] == {
        "field": "id", "code": "NOT_FOUND", "message": "no such price list"
    }  # fmt: skip


async def test_set_items_per_product_and_whole(api, services, tenant_a, goods):
    admin = tenant_a.tokens["admin"]
    a, b, c = (g["id"] for g in goods)
    made = await new_price_list(
        api, admin,
        items=[{"productId": a, "unitPrice": "10"}, {"productId": b, "unitPrice": "20"},
               {"productId": b, "minQuantity": "10", "unitPrice": "18"}],
    )  # fmt: skip

    async def set_items(version: int, **input_) -> dict:
        data = await api.gql(
            SET_ITEMS, {"input": {"priceListId": made["id"], "version": version, **input_}},
            token=admin,
        )  # fmt: skip
        return data["setPriceListItems"]

    # b gets exactly its new breaks, c is added, a stays.
    first = await set_items(
        1, items=[{"productId": b, "unitPrice": "19"}, {"productId": c, "unitPrice": "30"}]
    )
    assert first["userErrors"] == []
    assert sorted(_items(first["priceList"])) == sorted(
        [(a, "0.0000", "10.0000"), (b, "0.0000", "19.0000"), (c, "0.0000", "30.0000")]
    )
    assert first["priceList"]["version"] == 2
    removed = await set_items(2, items=[], removeProductIds=[a])
    assert {i[0] for i in _items(removed["priceList"])} == {b, c}
    stale = await set_items(2, items=[{"productId": a, "unitPrice": "1"}])
    assert stale["userErrors"][0]["field"] == "version"
    assert stale["userErrors"][0]["code"] == "CONFLICT"
    whole = await set_items(
        3, replaceAll=True, items=[{"productId": a, "minQuantity": "0.5", "unitPrice": "8.8"}]
    )
    assert _items(whole["priceList"]) == [(a, "0.5000", "8.8000")]
    bad = await set_items(
        4,
        items=[{"productId": b, "unitPrice": "5"}, {"productId": c, "unitPrice": "0"}],
        replaceAll=True,
    )
    assert [(e["field"], e["code"]) for e in bad["userErrors"]] == [
        ("items.1.unitPrice", "INVALID")
    ]
    unknown = await set_items(4, items=[], removeProductIds=[str(uuid.uuid4())])
    assert unknown["userErrors"][0]["field"] == "removeProductIds.0"
    same = await set_items(4, items=[], removeProductIds=[c])  # c has no price: nothing changes
    assert same["priceList"]["version"] == 4
    too_many = await set_items(
        4, items=[{"productId": a, "minQuantity": str(n), "unitPrice": "1"} for n in range(1001)]
    )
    assert too_many["userErrors"][0] == {
        "field": "items", "code": "TOO_MANY", "message": "at most 1000 items at once"
    }  # fmt: skip
    nowhere = await api.gql(
        SET_ITEMS, {"input": {"priceListId": str(uuid.uuid4()), "version": 1, "items": []}},
        token=admin,
    )  # fmt: skip
    assert nowhere["setPriceListItems"]["userErrors"][0]["field"] == "priceListId"
    got = await api.gql(GET_LIST, {"id": made["id"]}, token=admin)
    assert _items(got["priceList"]) == [(a, "0.5000", "8.8000")]
    async with tenant_transaction(services.engine, tenant_a.schema) as conn:
        count = await conn.scalar(
            select(func.count()).where(price_list_items.c.price_list_id == uuid.UUID(made["id"]))
        )
        actions = (
            await conn.scalars(
                select(audit_log.c.action).where(audit_log.c.entity_id == uuid.UUID(made["id"]))
            )
        ).all()
    assert count == 1
    assert sorted(actions) == ["price_list.create", *["price_list.items"] * 3]


async def test_filters(api, tenant_a):
    admin = tenant_a.tokens["admin"]
    marker = uuid.uuid4().hex[:4]
    customer = await new_customer(api, admin)
    jpy = await new_price_list(api, admin, name=f"日元{marker}", currency="JPY",
                               validFrom="2030-01-01", validTo="2030-06-30")  # fmt: skip
    mine = await new_price_list(api, admin, target="CUSTOMER", customerId=customer)
    tier_c = await new_price_list(api, admin, target="TIER", tier="C", currency="JPY")

    async def ids(filter_: dict) -> set[str]:
        data = await api.gql(LIST_LISTS, {"filter": filter_}, token=admin)
        return {e["node"]["id"] for e in data["priceLists"]["edges"]}

    assert jpy["id"] in await ids({"currency": "jpy"})
    assert mine["id"] not in await ids({"currency": "JPY"})
    assert await ids({"customerId": {"eq": customer}}) == {mine["id"]}
    assert tier_c["id"] in await ids({"tier": "C"})
    assert jpy["id"] not in await ids({"target": {"eq": "TIER"}})
    assert jpy["id"] in await ids({"validOn": "2030-06-30"})
    assert jpy["id"] not in await ids({"validOn": "2030-07-01"})
    assert jpy["id"] not in await ids({"validOn": "2029-12-31"})


async def test_managing_prices_needs_prices_manage(api, services, tenant_a):
    from catalog_helpers import role_token

    writer = await role_token(
        api, services, tenant_a, "product-writer", ["products:read", "products:write"]
    )
    for token in (writer, tenant_a.tokens["manager"]):
        errors = await api.errors(
            CREATE_LIST,
            {"input": {"name": "x", "currency": "CNY", "target": "ALL_CUSTOMERS"}},
            token=token,
        )
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_currency_and_tax_flag_are_fixed_while_the_list_has_prices(api, tenant_a, goods):
    admin = tenant_a.tokens["admin"]
    made = await new_price_list(api, admin, items=[{"productId": goods[1]["id"], "unitPrice": "9"}])
    data = await api.gql(
        UPDATE_LIST,
        {"input": {"id": made["id"], "version": 1, "currency": "USD", "taxInclusive": False}},
        token=admin,
    )
    assert data["updatePriceList"]["userErrors"] == [
        {"field": "currency", "code": "IN_USE",
         "message": "the list's prices are in CNY; create another list, or remove its prices first"},
        {"field": "taxInclusive", "code": "IN_USE",
         "message": "the list's prices are tax-inclusive; create another list, or remove its "
                    "prices first"},
    ]  # fmt: skip
    emptied = await api.gql(
        SET_ITEMS,
        {"input": {"priceListId": made["id"], "version": 1, "items": [], "replaceAll": True}},
        token=admin,
    )
    assert emptied["setPriceListItems"]["priceList"]["items"] == []
    data = await api.gql(
        UPDATE_LIST, {"input": {"id": made["id"], "version": 2, "currency": "USD"}}, token=admin
    )
    assert data["updatePriceList"]["priceList"]["currency"] == "USD"
