"""The published example operations (graphql/operations/) in the order a front end
would use them: the base currency, a category tree, products, price lists with
quantity breaks, and the prices a customer's order lines get."""

from __future__ import annotations

import uuid

from catalog_helpers import new_customer
from helpers import make_tenant, operation


async def test_example_operations_run_in_order(api, owner, services):
    tenant = await make_tenant(owner, services, "catexample")
    token = tenant.tokens["admin"]

    async def run(name: str, variables: dict | None = None) -> dict:
        return await api.gql(operation(name), variables, token=token)

    settings = await run("updateCompanySettings", {"input": {"baseCurrency": "CNY"}})
    assert settings["updateCompanySettings"]["companySettings"]["baseCurrency"] == "CNY"
    assert (await run("companySettings"))["companySettings"]["baseCurrency"] == "CNY"
    root = (await run("createProductCategory", {"input": {"name": "五金"}}))[
        "createProductCategory"
    ]["category"]
    child = (
        await run("createProductCategory", {"input": {"name": "螺丝", "parentId": root["id"]}})
    )["createProductCategory"]["category"]
    spare = (await run("createProductCategory", {"input": {"name": "临时"}}))[
        "createProductCategory"
    ]["category"]
    moved = await run(
        "updateProductCategory",
        {"input": {"id": spare["id"], "version": 1, "parentId": root["id"]}},
    )
    assert moved["updateProductCategory"]["category"]["parentId"] == root["id"]
    deleted = await run("deleteProductCategory", {"input": {"id": spare["id"]}})
    assert deleted["deleteProductCategory"]["deletedId"] == spare["id"]
    tree = (await run("productCategories"))["productCategories"]
    assert [(c["name"], c["depth"]) for c in tree] == [("五金", 0), ("螺丝", 1)]
    product_id = str(uuid.uuid4())
    created = await run(
        "createProduct",
        {"input": {"id": product_id, "code": "M6-20", "name": "十字螺丝 M6×20", "unit": "盒",
                   "listPrice": "25.00", "taxRate": "0.13", "categoryId": child["id"]}},
    )  # fmt: skip
    assert created["createProduct"]["product"]["category"]["name"] == "螺丝"
    changed = await run(
        "updateProduct", {"input": {"id": product_id, "version": 1, "listPrice": "26.00"}}
    )
    assert changed["updateProduct"]["product"]["listPrice"] == "26.0000"
    listed = await run("products", {"filter": {"underCategory": root["id"], "search": "螺丝"}})
    assert listed["products"]["totalCount"] == 1
    assert (await run("product", {"id": product_id}))["product"]["code"] == "M6-20"
    customer = await new_customer(api, token, "示例五金店", tier="B")
    price_list = (await run(
        "createPriceList",
        {"input": {"name": "B 级客户价", "currency": "CNY", "target": "TIER", "tier": "B",
                   "validFrom": "2027-01-01",
                   "items": [{"productId": product_id, "unitPrice": "28.25"}]}},
    ))["createPriceList"]["priceList"]  # fmt: skip
    assert price_list["taxInclusive"] is True
    items = await run(
        "setPriceListItems",
        {"input": {"priceListId": price_list["id"], "version": 1, "items": [
            {"productId": product_id, "unitPrice": "28.25"},
            {"productId": product_id, "minQuantity": "100", "unitPrice": "26.55"}]}},
    )  # fmt: skip
    assert len(items["setPriceListItems"]["priceList"]["items"]) == 2
    renamed = await run(
        "updatePriceList", {"input": {"id": price_list["id"], "version": 2, "name": "B 级价"}}
    )
    assert renamed["updatePriceList"]["priceList"]["version"] == 3
    lists = await run("priceLists", {"filter": {"tier": "B"}})
    assert lists["priceLists"]["totalCount"] == 1
    priced = await run(
        "resolvePrices",
        {"input": {"customerId": customer, "date": "2027-06-01", "lines": [
            {"productId": product_id, "quantity": "10"},
            {"productId": product_id, "quantity": "120"}]}},
    )  # fmt: skip
    small, large = priced["resolvePrices"]["lines"]
    assert (small["unitPrice"], small["source"]) == ("28.2500", "TIER_LIST")
    assert small["amounts"] == {"net": "250.00", "tax": "32.50", "gross": "282.50"}
    assert (large["unitPrice"], large["minQuantity"]) == ("26.5500", "100.0000")
    before = await run(
        "resolvePrices",
        {"input": {"customerId": customer, "date": "2026-12-31",
                   "lines": [{"productId": product_id, "quantity": "1"}]}},
    )  # fmt: skip
    assert before["resolvePrices"]["lines"][0]["source"] == "LIST_PRICE"
