"""Operations and helpers the catalogue tests share (importable as `catalog_helpers`)."""

from __future__ import annotations

import uuid

from app.auth.tokens import issue_access_token

PRODUCT = """id code name categoryId unit listPrice taxRate batchTracked active version"""
CREATE_PRODUCT = f"""mutation($input: CreateProductInput!) {{
  createProduct(input: $input) {{ product {{ {PRODUCT} }} userErrors {{ field code message }} }} }}"""
UPDATE_PRODUCT = f"""mutation($input: UpdateProductInput!) {{
  updateProduct(input: $input) {{ product {{ {PRODUCT} }} userErrors {{ field code message }} }} }}"""
GET_PRODUCT = f"query($id: ID!) {{ product(id: $id) {{ {PRODUCT} category {{ id name }} }} }}"
LIST_PRODUCTS = """query($filter: ProductFilter, $orderBy: [ProductOrder!], $first: Int, $after: String) {
  products(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id code name listPrice } } } }"""

CATEGORY = "id parentId name version"
CREATE_CATEGORY = f"""mutation($input: CreateProductCategoryInput!) {{
  createProductCategory(input: $input) {{ category {{ {CATEGORY} }} userErrors {{ field code message }} }} }}"""
UPDATE_CATEGORY = f"""mutation($input: UpdateProductCategoryInput!) {{
  updateProductCategory(input: $input) {{ category {{ {CATEGORY} }} userErrors {{ field code message }} }} }}"""
DELETE_CATEGORY = """mutation($input: DeleteProductCategoryInput!) {
  deleteProductCategory(input: $input) { deletedId userErrors { field code message } } }"""
TREE = f"""query($parentId: ID, $descendants: Boolean) {{
  productCategories(parentId: $parentId, descendants: $descendants) {{ {CATEGORY} depth }} }}"""

PRICE_LIST = """id name currency taxInclusive validFrom validTo target tier customerId active version
  items { productId minQuantity unitPrice }"""
CREATE_LIST = f"""mutation($input: CreatePriceListInput!) {{
  createPriceList(input: $input) {{ priceList {{ {PRICE_LIST} }} userErrors {{ field code message }} }} }}"""
UPDATE_LIST = f"""mutation($input: UpdatePriceListInput!) {{
  updatePriceList(input: $input) {{ priceList {{ {PRICE_LIST} }} userErrors {{ field code message }} }} }}"""
SET_ITEMS = f"""mutation($input: SetPriceListItemsInput!) {{
  setPriceListItems(input: $input) {{ priceList {{ {PRICE_LIST} }} userErrors {{ field code message }} }} }}"""
GET_LIST = f"query($id: ID!) {{ priceList(id: $id) {{ {PRICE_LIST} }} }}"
LIST_LISTS = """query($filter: PriceListFilter) {
  priceLists(first: 100, filter: $filter) { totalCount edges { node { id name customerId } } } }"""
RESOLVE = """query($input: ResolvePricesInput!) {
  resolvePrices(input: $input) {
    currency date
    lines { productId quantity unitPrice taxInclusive taxRate source priceListId minQuantity
            amounts { net tax gross } error { field code message } } } }"""
CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { field code message } } }"""


def code(prefix: str = "SKU") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


async def new_product(api, token: str, **fields) -> dict:
    values = {"code": code(), "name": "产品", "unit": "件", "listPrice": "100", **fields}
    data = await api.gql(CREATE_PRODUCT, {"input": values}, token=token)
    payload = data["createProduct"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["product"]


async def new_category(api, token: str, name: str | None = None, parent: str | None = None) -> dict:
    data = await api.gql(
        CREATE_CATEGORY,
        {"input": {"name": name or f"类目{uuid.uuid4().hex[:6]}", "parentId": parent}},
        token=token,
    )
    payload = data["createProductCategory"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["category"]


async def new_price_list(api, token: str, **fields) -> dict:
    values = {"name": f"价目表{uuid.uuid4().hex[:6]}", "currency": "CNY",
              "target": "ALL_CUSTOMERS", **fields}  # fmt: skip
    data = await api.gql(CREATE_LIST, {"input": values}, token=token)
    payload = data["createPriceList"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload["priceList"]


async def new_customer(api, token: str, name: str | None = None, **fields) -> str:
    data = await api.gql(
        CREATE_CUSTOMER,
        {"input": {"name": name or f"客户{uuid.uuid4().hex[:6]}", **fields}},
        token=token,
    )
    assert data["createCustomer"]["userErrors"] == [], data
    return data["createCustomer"]["customer"]["id"]


async def user_token(
    api, services, tenant, name: str, role: str, team_id: str | None = None
) -> tuple[str, str]:
    """A new user of `role` (in `team_id`) and their real signed token: (id, token)."""
    user = await api.gql(
        """mutation($input: CreateUserInput!) { createUser(input: $input) {
             user { id } userErrors { field code message } } }""",
        {"input": {"email": f"{name}@{tenant.slug}.cn", "role": role, "name": name,
                   "teamId": team_id}},
        token=tenant.tokens["admin"],
    )  # fmt: skip
    assert user["createUser"]["userErrors"] == [], user
    user_id = user["createUser"]["user"]["id"]
    token = await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=tenant.id,
        user_id=uuid.UUID(user_id), roles=[role],
    )  # fmt: skip
    return user_id, token


async def new_role(api, tenant, name: str, permissions: list[str], scope: str = "ALL") -> None:
    role = await api.gql(
        """mutation($input: CreateRoleInput!) { createRole(input: $input) {
             userErrors { field code message } } }""",
        {"input": {"name": name, "dataScope": scope, "permissions": permissions}},
        token=tenant.tokens["admin"],
    )
    assert role["createRole"]["userErrors"] == [], role


async def role_token(
    api, services, tenant, name: str, permissions: list[str], scope: str = "ALL"
) -> str:
    """A token of a new user with a new custom role (`permissions`, data `scope`)."""
    await new_role(api, tenant, name, permissions, scope)
    _, token = await user_token(api, services, tenant, name, name)
    return token
