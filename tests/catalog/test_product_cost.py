"""The cost price is a protected field: without products:read_cost it is refused with
FORBIDDEN (never silently null), and it cannot be written, on create or update."""

from __future__ import annotations

import pytest
from catalog_helpers import CREATE_PRODUCT, UPDATE_PRODUCT, code, new_product, role_token

READ = "query($id: ID!) { product(id: $id) { name costPrice } }"
LIST = '{ products(first: 100, filter: {search: "成本"}) { edges { node { code costPrice } } } }'


@pytest.fixture(scope="module")
async def clerk(api, services, tenant_a):
    """Writes products but may not see costs."""
    return await role_token(
        api, services, tenant_a, "catalog-clerk", ["products:read", "products:write"]
    )


async def test_cost_is_exact_for_those_allowed(api, tenant_a):
    admin = tenant_a.tokens["admin"]
    product = await new_product(api, admin, name="成本可见", costPrice="7.1234")
    data = await api.gql(READ, {"id": product["id"]}, token=admin)
    assert data["product"] == {"name": "成本可见", "costPrice": "7.1234"}


@pytest.mark.parametrize("role", ["sales", "manager", "viewer", "clerk"])
async def test_cost_is_refused_not_hidden(api, tenant_a, clerk, role):
    token = clerk if role == "clerk" else tenant_a.tokens[role]
    product = await new_product(api, tenant_a.tokens["admin"], name="成本保密", costPrice="3")
    body = (await api.post(READ, {"id": product["id"]}, token=token)).json()
    assert body["data"]["product"] == {"name": "成本保密", "costPrice": None}
    assert body["errors"][0]["path"] == ["product", "costPrice"]
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    listed = (await api.post(LIST, token=token)).json()
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    nodes = [e["node"] for e in listed["data"]["products"]["edges"]]
    assert nodes and all(n["costPrice"] is None for n in nodes)


async def test_cost_cannot_be_written_without_permission(api, tenant_a, clerk):
    sku = code("COST")
    data = await api.gql(
        CREATE_PRODUCT,
        {"input": {"code": sku, "name": "偷偷定成本", "unit": "件", "listPrice": "5",
                   "costPrice": "1"}},
        token=clerk,
    )  # fmt: skip
    assert data["createProduct"] == {
        "product": None,
        "userErrors": [{"field": "costPrice", "code": "FORBIDDEN",
                        "message": "setting a cost price needs products:read_cost"}],
    }  # fmt: skip
    listed = await api.gql(LIST_CODE, {"code": sku}, token=tenant_a.tokens["admin"])
    assert listed["products"]["totalCount"] == 0
    product = await new_product(api, tenant_a.tokens["admin"], costPrice="2")
    for cost in ("9", None):  # neither setting nor clearing it
        changed = await api.gql(
            UPDATE_PRODUCT,
            {"input": {"id": product["id"], "version": 1, "name": "改了", "costPrice": cost}},
            token=clerk,
        )
        assert changed["updateProduct"]["userErrors"][0]["field"] == "costPrice"
    kept = await api.gql(READ, {"id": product["id"]}, token=tenant_a.tokens["admin"])
    assert kept["product"] == {"name": "产品", "costPrice": "2.0000"}
    # Without touching the cost, the clerk may change the product.
    fine = await api.gql(
        UPDATE_PRODUCT, {"input": {"id": product["id"], "version": 1, "name": "改了"}},
        token=clerk,
    )  # fmt: skip
    assert fine["updateProduct"]["userErrors"] == []


LIST_CODE = "query($code: String!) { products(filter: {code: {eq: $code}}) { totalCount } }"
