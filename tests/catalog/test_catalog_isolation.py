"""Tenant isolation: a token of tenant B can never read, list, count, change, price or
infer tenant A's products, categories, price lists, prices or settings, by any id,
filter or mutation, resolvePrices included; ids and codes taken in A are free in B."""

from __future__ import annotations

import uuid

import pytest
from catalog_helpers import (
    CREATE_CATEGORY,
    CREATE_LIST,
    CREATE_PRODUCT,
    DELETE_CATEGORY,
    GET_LIST,
    GET_PRODUCT,
    LIST_LISTS,
    LIST_PRODUCTS,
    RESOLVE,
    SET_ITEMS,
    TREE,
    UPDATE_CATEGORY,
    UPDATE_LIST,
    UPDATE_PRODUCT,
    new_category,
    new_customer,
    new_price_list,
    new_product,
)
from helpers import make_tenant


@pytest.fixture(scope="module")
async def a_records(api, tenant_a):
    marker = f"Secret{uuid.uuid4().hex[:6]}"
    admin = tenant_a.tokens["admin"]
    category = await new_category(api, admin, f"{marker} 类目")
    child = await new_category(api, admin, f"{marker} 子类", category["id"])
    product = await new_product(
        api, admin, code=f"{marker}-SKU", name=f"{marker} 机密产品", categoryId=child["id"],
        listPrice="777.77", batchTracked=True,
    )  # fmt: skip
    customer = await new_customer(api, admin, f"{marker} 客户", tier="A")
    item = [{"productId": product["id"], "unitPrice": "555.55"}]
    own = await new_price_list(
        api, admin, name=f"{marker} 专享", target="CUSTOMER", customerId=customer, items=item
    )
    tier = await new_price_list(api, admin, name=f"{marker} A 级", target="TIER", tier="A",
                                currency="JPY", items=item)  # fmt: skip
    return {"marker": marker, "category": category, "child": child, "product": product,
            "customer": customer, "own": own, "tier": tier}  # fmt: skip


async def test_b_cannot_read_by_id(api, tenant_b, a_records):
    token = tenant_b.tokens["admin"]
    a = a_records
    assert (await api.gql(GET_PRODUCT, {"id": a["product"]["id"]}, token=token))["product"] is None
    for price_list in (a["own"], a["tier"]):
        got = await api.gql(GET_LIST, {"id": price_list["id"]}, token=token)
        assert got["priceList"] is None
    got = await api.gql(
        "query($id: ID!) { productCategory(id: $id) { id } }", {"id": a["category"]["id"]},
        token=token,
    )  # fmt: skip
    assert got["productCategory"] is None
    children = await api.gql(TREE, {"parentId": a["category"]["id"], "descendants": True},
                             token=token)  # fmt: skip
    assert children["productCategories"] == []
    whole = await api.gql(TREE, {"descendants": True}, token=token)
    ids = {c["id"] for c in whole["productCategories"]}
    assert not ids & {a["category"]["id"], a["child"]["id"]}
    assert not any(a["marker"] in c["name"] for c in whole["productCategories"])


def _product_filters(a) -> list[dict]:
    return [
        {"search": a["marker"]},
        {"search": "机密产品"},
        {"code": {"eq": a["product"]["code"]}},
        {"code": {"in": [a["product"]["code"]]}},
        {"code": {"startsWith": a["marker"]}},
        {"categoryId": {"eq": a["child"]["id"]}},
        {"underCategory": a["category"]["id"]},
        {"batchTracked": True, "search": a["marker"]},
    ]


@pytest.mark.parametrize("case", range(8))
async def test_b_cannot_list_or_count_products(api, tenant_a, tenant_b, a_records, case):
    filter_ = _product_filters(a_records)[case]
    data = await api.gql(LIST_PRODUCTS, {"filter": filter_}, token=tenant_b.tokens["admin"])
    assert data["products"]["totalCount"] == 0 and data["products"]["edges"] == []
    mine = await api.gql(LIST_PRODUCTS, {"filter": filter_}, token=tenant_a.tokens["admin"])
    assert mine["products"]["totalCount"] == 1  # the same filter works in A


async def test_b_cannot_list_or_count_price_lists(api, tenant_a, tenant_b, a_records):
    token = tenant_b.tokens["admin"]
    by_customer = {"customerId": {"eq": a_records["customer"]}}
    data = await api.gql(LIST_LISTS, {"filter": by_customer}, token=token)
    assert data["priceLists"] == {"totalCount": 0, "edges": []}
    everything = await api.gql(LIST_LISTS, token=token)
    ids = {e["node"]["id"] for e in everything["priceLists"]["edges"]}
    assert not ids & {a_records["own"]["id"], a_records["tier"]["id"]}
    assert not any(a_records["marker"] in e["node"]["name"]
                   for e in everything["priceLists"]["edges"])  # fmt: skip
    mine = await api.gql(LIST_LISTS, {"filter": by_customer}, token=tenant_a.tokens["admin"])
    assert mine["priceLists"]["totalCount"] == 1


async def test_b_cannot_price_with_a_products_or_customers(api, tenant_a, tenant_b, a_records):
    token = tenant_b.tokens["admin"]
    line = {"productId": a_records["product"]["id"], "quantity": "1"}
    data = await api.gql(RESOLVE, {"input": {"lines": [line]}}, token=token)
    (priced,) = data["resolvePrices"]["lines"]
    assert priced["unitPrice"] is None and priced["priceListId"] is None
    assert priced["error"]["code"] == "NOT_FOUND"
    for currency in ("CNY", "JPY"):
        errors = await api.errors(
            RESOLVE,
            {"input": {"customerId": a_records["customer"], "currency": currency, "lines": []}},
            token=token,
        )
        assert errors[0]["extensions"]["code"] == "NOT_FOUND"
        assert a_records["customer"] not in str(errors)
    # The same request in A prices it from the customer's own list.
    mine = await api.gql(
        RESOLVE, {"input": {"customerId": a_records["customer"], "lines": [line]}},
        token=tenant_a.tokens["admin"],
    )  # fmt: skip
    assert mine["resolvePrices"]["lines"][0]["unitPrice"] == "555.5500"


async def test_b_cannot_change_a(api, tenant_a, tenant_b, a_records):
    token = tenant_b.tokens["admin"]
    a = a_records
    for query, name, variables, field in (
        (UPDATE_PRODUCT, "updateProduct", {"id": a["product"]["id"], "version": 1,
                                           "active": False}, "id"),
        (UPDATE_CATEGORY, "updateProductCategory", {"id": a["category"]["id"], "version": 1,
                                                    "name": "pwned"}, "id"),
        (DELETE_CATEGORY, "deleteProductCategory", {"id": a["child"]["id"]}, "id"),
        (UPDATE_LIST, "updatePriceList", {"id": a["own"]["id"], "version": 1, "active": False},
         "id"),
        (SET_ITEMS, "setPriceListItems", {"priceListId": a["tier"]["id"], "version": 1,
                                          "items": [], "replaceAll": True}, "priceListId"),
    ):  # fmt: skip
        data = await api.gql(query, {"input": variables}, token=token)
        assert [(e["field"], e["code"]) for e in data[name]["userErrors"]] == [
            (field, "NOT_FOUND")
        ], name
    b_product = await new_product(api, token)
    for query, name, input_, field in (
        (CREATE_PRODUCT, "createProduct", {"code": f"B-{uuid.uuid4().hex[:6]}", "name": "b",
                                           "unit": "件", "listPrice": "1",
                                           "categoryId": a["category"]["id"]}, "categoryId"),
        (CREATE_CATEGORY, "createProductCategory", {"name": "b", "parentId": a["category"]["id"]},
         "parentId"),
        (UPDATE_PRODUCT, "updateProduct", {"id": b_product["id"], "version": 1,
                                           "categoryId": a["child"]["id"]}, "categoryId"),
        (CREATE_LIST, "createPriceList", {"name": "b", "currency": "CNY", "target": "CUSTOMER",
                                          "customerId": a["customer"]}, "customerId"),
        (CREATE_LIST, "createPriceList", {"name": "b", "currency": "CNY",
                                          "target": "ALL_CUSTOMERS",
                                          "items": [{"productId": a["product"]["id"],
                                                     "unitPrice": "1"}]}, "items.0.productId"),
    ):  # fmt: skip
        data = await api.gql(query, {"input": input_}, token=token)
        assert [(e["field"], e["code"]) for e in data[name]["userErrors"]] == [
            (field, "NOT_FOUND")
        ], name
    admin = tenant_a.tokens["admin"]
    still = await api.gql(GET_PRODUCT, {"id": a["product"]["id"]}, token=admin)
    assert still["product"]["active"] is True and still["product"]["version"] == 1
    lists = [(await api.gql(GET_LIST, {"id": a[k]["id"]}, token=admin))["priceList"]
             for k in ("own", "tier")]  # fmt: skip
    assert [(pl["active"], pl["version"], len(pl["items"])) for pl in lists] == [
        (True, 1, 1), (True, 1, 1)
    ]  # fmt: skip
    tree = await api.gql(TREE, {"parentId": a["category"]["id"]}, token=admin)
    assert [c["id"] for c in tree["productCategories"]] == [a["child"]["id"]]


async def test_b_reusing_a_ids_and_codes_reveals_nothing(api, tenant_b, a_records):
    """Ids and SKU codes taken in tenant A are free in tenant B: no CONFLICT or TAKEN
    that would leak them."""
    token = tenant_b.tokens["admin"]
    a = a_records
    product = await new_product(api, token, id=a["product"]["id"], code=a["product"]["code"])
    assert product["id"] == a["product"]["id"]
    data = await api.gql(
        CREATE_CATEGORY, {"input": {"id": a["category"]["id"], "name": "b 的类目"}}, token=token
    )
    assert data["createProductCategory"]["userErrors"] == []
    price_list = await new_price_list(api, token, id=a["own"]["id"])
    assert price_list["id"] == a["own"]["id"]


async def test_settings_are_per_tenant(api, owner, services, tenant_a, tenant_b):
    other = await make_tenant(owner, services, "settings")
    changed = await api.gql(
        """mutation { updateCompanySettings(input: {baseCurrency: "EUR"}) {
             companySettings { baseCurrency } userErrors { code } } }""",
        token=other.tokens["admin"],
    )
    assert changed["updateCompanySettings"]["companySettings"]["baseCurrency"] == "EUR"
    for tenant in (tenant_a, tenant_b):
        data = await api.gql("{ companySettings { baseCurrency } }", token=tenant.tokens["admin"])
        assert data["companySettings"]["baseCurrency"] == "CNY"
