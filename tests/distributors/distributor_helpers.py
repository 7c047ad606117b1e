"""What the distributor tests share (importable as `distributor_helpers`): a tenant with
two distributors, their consignment warehouses and partner users, an internal
warehouse, stock, reorder rules and count sheets, all made through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from helpers import TenantHandle, make_tenant

from app.auth.tokens import issue_access_token

ERRORS = "userErrors { field code message }"
CREATE_CUSTOMER = f"""mutation($input: CreateCustomerInput!) {{
  createCustomer(input: $input) {{ customer {{ id version isDistributor }} {ERRORS} }} }}"""
UPDATE_CUSTOMER = f"""mutation($input: UpdateCustomerInput!) {{
  updateCustomer(input: $input) {{ customer {{ id version isDistributor }} {ERRORS} }} }}"""
CREATE_USER = f"""mutation($input: CreateUserInput!) {{
  createUser(input: $input) {{ user {{ id role distributorId }} {ERRORS} }} }}"""
UPDATE_USER = f"""mutation($input: UpdateUserInput!) {{
  updateUser(input: $input) {{ user {{ id role distributorId }} {ERRORS} }} }}"""
CREATE_PRODUCT = f"""mutation($input: CreateProductInput!) {{
  createProduct(input: $input) {{ product {{ id }} {ERRORS} }} }}"""
CREATE_WAREHOUSE = f"""mutation($input: CreateWarehouseInput!) {{
  createWarehouse(input: $input) {{ warehouse {{ id }} {ERRORS} }} }}"""
RECEIVE = f"""mutation($input: ReceiveStockInput!) {{
  receiveStock(input: $input) {{ postingId {ERRORS} }} }}"""
TRANSFER = f"""mutation($input: TransferStockInput!) {{
  transferStock(input: $input) {{ postingId {ERRORS} }} }}"""
SET_RULE = f"""mutation($input: SetReorderRuleInput!) {{
  setReorderRule(input: $input) {{ reorderRule {{ id }} {ERRORS} }} }}"""
CREATE_TAKE = f"""mutation($input: CreateStockTakeInput!) {{
  createStockTake(input: $input) {{ stockTake {{ id }} {ERRORS} }} }}"""
CREATE_ORDER = f"""mutation($input: CreateSalesOrderInput!) {{
  createSalesOrder(input: $input) {{ salesOrder {{ id status customerId warehouseId }}
    {ERRORS} }} }}"""
CREATE_QUOTE = f"""mutation($input: CreateQuoteInput!) {{
  createQuote(input: $input) {{ quote {{ id }} {ERRORS} }} }}"""


async def ok(api, query: str, name: str, input: dict, token: str) -> dict:
    result = (await api.gql(query, {"input": input}, token=token))[name]
    assert result["userErrors"] == [], result["userErrors"]
    return result


async def payload(api, query: str, name: str, input: dict, token: str) -> dict:
    return (await api.gql(query, {"input": input}, token=token))[name]


async def token_for(services, tenant: TenantHandle, user_id: str, role: str) -> str:
    return await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=tenant.id,
        user_id=uuid.UUID(user_id), roles=[role],
    )  # fmt: skip


async def new_user(api, services, tenant: TenantHandle, role: str, **fields: Any):
    """A user made by the admin, and their real token: (id, token)."""
    email = f"{role}-{uuid.uuid4().hex[:6]}@{tenant.slug}.cn"
    result = await ok(api, CREATE_USER, "createUser",
                      {"email": email, "role": role, "name": email, **fields},
                      tenant.tokens["admin"])  # fmt: skip
    user_id = result["user"]["id"]
    return user_id, await token_for(services, tenant, user_id, role)


@dataclass
class World:
    tenant: TenantHandle
    d: str  # distributor D
    e: str  # distributor E
    x: str  # an ordinary customer
    assigned: str  # a customer assigned to P by partnerId
    w_i: str  # internal (standard) warehouse
    w_d: str  # D's consignment warehouse
    w_e: str  # E's consignment warehouse
    p1: str  # a product
    p2: str  # a batch-tracked product
    batch_in_d: str = ""  # a batch held in W_D (and W_I)
    batch_hq: str = ""  # a batch held only in W_I
    p: str = ""  # partner user of D
    q: str = ""  # partner user of E
    tokens: dict[str, str] = field(default_factory=dict)
    takes: dict[str, str] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)
    quotes: dict[str, str] = field(default_factory=dict)


async def _customer(api, admin: str, name: str, **fields: Any) -> str:
    result = await ok(api, CREATE_CUSTOMER, "createCustomer", {"name": name, **fields}, admin)
    return result["customer"]["id"]


async def _product(api, admin: str, **fields: Any) -> str:
    code = f"DP-{uuid.uuid4().hex[:8]}"
    values = {"code": code, "name": f"产品{code}", "unit": "件", "listPrice": "100",
              "costPrice": "40", **fields}  # fmt: skip
    return (await ok(api, CREATE_PRODUCT, "createProduct", values, admin))["product"]["id"]


async def _warehouse(api, admin: str, **fields: Any) -> str:
    code = f"WH-{uuid.uuid4().hex[:8]}"
    values = {"code": code, "name": code, **fields}
    return (await ok(api, CREATE_WAREHOUSE, "createWarehouse", values, admin))["warehouse"]["id"]


BATCHES = """query($p: ID!) { batches(filter: {productId: {eq: $p}}) {
  edges { node { id code } } } }"""


async def make_world(api, owner, services, prefix: str) -> World:
    tenant = await make_tenant(owner, services, prefix)
    admin = tenant.tokens["admin"]
    manager = str(tenant.user_ids["manager"])
    d = await _customer(api, admin, "经销商甲", isDistributor=True, ownerId=manager)
    e = await _customer(api, admin, "经销商乙", isDistributor=True, ownerId=manager)
    x = await _customer(api, admin, "普通客户", ownerId=manager)
    w_i = await _warehouse(api, admin)
    w_d = await _warehouse(api, admin, kind="CONSIGNMENT", customerId=d)
    w_e = await _warehouse(api, admin, kind="CONSIGNMENT", customerId=e)
    p1 = await _product(api, admin)
    p2 = await _product(api, admin, batchTracked=True)
    await ok(api, RECEIVE, "receiveStock", {"warehouseId": w_i, "lines": [
        {"productId": p1, "quantity": "100"},
        {"productId": p2, "quantity": "20", "batchCode": "B-SENT"},
        {"productId": p2, "quantity": "20", "batchCode": "B-HQ"},
    ]}, admin)  # fmt: skip
    world = World(tenant, d, e, x, "", w_i, w_d, w_e, p1, p2)
    batches = (await api.gql(BATCHES, {"p": p2}, token=admin))["batches"]["edges"]
    by_code = {b["node"]["code"]: b["node"]["id"] for b in batches}
    world.batch_in_d, world.batch_hq = by_code["B-SENT"], by_code["B-HQ"]
    # Goods sent to the distributors' consignment warehouses (中转仓).
    for target, quantity in ((w_d, "10"), (w_e, "7")):
        await ok(api, TRANSFER, "transferStock", {
            "fromWarehouseId": w_i, "toWarehouseId": target,
            "lines": [{"productId": p1, "quantity": quantity},
                      {"productId": p2, "quantity": "5", "batchId": world.batch_in_d}],
        }, admin)  # fmt: skip
    for warehouse, minimum in ((w_i, "1000"), (w_d, "50"), (w_e, "50")):
        await ok(api, SET_RULE, "setReorderRule", {
            "productId": p1, "warehouseId": warehouse, "minQuantity": minimum,
            "maxQuantity": "2000"}, admin)  # fmt: skip
    for name, warehouse in (("i", w_i), ("d", w_d), ("e", w_e)):
        result = await ok(api, CREATE_TAKE, "createStockTake", {"warehouseId": warehouse}, admin)
        world.takes[name] = result["stockTake"]["id"]
    world.p, world.tokens["p"] = await new_user(api, services, tenant, "partner", distributorId=d)
    world.q, world.tokens["q"] = await new_user(api, services, tenant, "partner", distributorId=e)
    _, world.tokens["r"] = await new_user(api, services, tenant, "partner")  # no distributor
    world.assigned = await _customer(api, admin, "代理客户", partnerId=world.p, ownerId=manager)
    # Documents of every customer, made by staff.
    for name, customer, warehouse in (("d", d, w_i), ("e", e, w_e), ("x", x, w_i)):
        result = await ok(api, CREATE_ORDER, "createSalesOrder", {
            "customerId": customer, "warehouseId": warehouse,
            "lines": [{"productId": p1, "quantity": "1"}]}, admin)  # fmt: skip
        world.orders[name] = result["salesOrder"]["id"]
        result = await ok(api, CREATE_QUOTE, "createQuote", {
            "customerId": customer, "lines": [{"productId": p1, "quantity": "1"}]}, admin)  # fmt: skip
        world.quotes[name] = result["quote"]["id"]
    return world
