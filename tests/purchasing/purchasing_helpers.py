"""What the purchasing tests share: the GraphQL operations, and a `Buying` helper that
makes products, warehouses, suppliers and purchase orders through the API and reads
stock back through the stock queries."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from app.auth.tokens import issue_access_token

ERRORS = "userErrors { field code message }"
LINE = (
    "id position productId quantity unitCost taxRate netAmount taxAmount grossAmount "
    "receivedQuantity openQuantity shortClosedQuantity"
)
ORDER = f"""id number status supplierId warehouseId currency orderDate expectedDate
  pricesIncludeTax netTotal taxTotal grossTotal notes sentAt receivedAt cancelledAt
  cancelReason closedAt closedById closeReason version lines {{ {LINE} }}
  receipts {{ id number lines {{ orderLineId quantity batchId }} }}"""
SUPPLIER = (
    "id code name contactName email phone address paymentTermsDays currency notes active version"
)

CREATE_PRODUCT = f"""mutation($input: CreateProductInput!) {{
  createProduct(input: $input) {{ product {{ id code batchTracked }} {ERRORS} }} }}"""
UPDATE_PRODUCT = f"""mutation($input: UpdateProductInput!) {{
  updateProduct(input: $input) {{ product {{ id active }} {ERRORS} }} }}"""
CREATE_WAREHOUSE = f"""mutation($input: CreateWarehouseInput!) {{
  createWarehouse(input: $input) {{ warehouse {{ id code }} {ERRORS} }} }}"""
SET_RULE = f"""mutation($input: SetReorderRuleInput!) {{
  setReorderRule(input: $input) {{ reorderRule {{ id }} {ERRORS} }} }}"""
RECEIVE_STOCK = f"""mutation($input: ReceiveStockInput!) {{
  receiveStock(input: $input) {{ postingId {ERRORS} }} }}"""
CREATE_SUPPLIER = f"""mutation($input: CreateSupplierInput!) {{
  createSupplier(input: $input) {{ supplier {{ {SUPPLIER} }} {ERRORS} }} }}"""
UPDATE_SUPPLIER = f"""mutation($input: UpdateSupplierInput!) {{
  updateSupplier(input: $input) {{ supplier {{ {SUPPLIER} }} {ERRORS} }} }}"""
SUPPLIER_BY_ID = f"query($id: ID!) {{ supplier(id: $id) {{ {SUPPLIER} }} }}"
SUPPLIERS = f"""query($filter: SupplierFilter, $orderBy: [SupplierOrder!], $first: Int,
                     $after: String) {{
  suppliers(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {SUPPLIER} }} }} }} }}"""
CREATE_PO = f"""mutation($input: CreatePurchaseOrderInput!) {{
  createPurchaseOrder(input: $input) {{ purchaseOrder {{ {ORDER} }} {ERRORS} }} }}"""
UPDATE_PO = f"""mutation($input: UpdatePurchaseOrderInput!) {{
  updatePurchaseOrder(input: $input) {{ purchaseOrder {{ {ORDER} }} {ERRORS} }} }}"""
SEND_PO = f"""mutation($input: SendPurchaseOrderInput!) {{
  sendPurchaseOrder(input: $input) {{ purchaseOrder {{ {ORDER} }} {ERRORS} }} }}"""
CANCEL_PO = f"""mutation($input: CancelPurchaseOrderInput!) {{
  cancelPurchaseOrder(input: $input) {{ purchaseOrder {{ {ORDER} }} {ERRORS} }} }}"""
CLOSE_PO = f"""mutation($input: ClosePurchaseOrderInput!) {{
  closePurchaseOrder(input: $input) {{ purchaseOrder {{ {ORDER} }} {ERRORS} }} }}"""
RECEIVE_PO = f"""mutation($input: ReceivePurchaseOrderInput!) {{
  receivePurchaseOrder(input: $input) {{ replayed
    receipt {{ id number orderId warehouseId receivedOn note postingId
      lines {{ id orderLineId productId quantity batchId moveId batch {{ code expiresOn }} }} }}
    purchaseOrder {{ {ORDER} }} {ERRORS} }} }}"""
PO_BY_ID = f"query($id: ID!) {{ purchaseOrder(id: $id) {{ {ORDER} }} }}"
PURCHASE_ORDERS = f"""query($filter: PurchaseOrderFilter, $orderBy: [PurchaseOrderOrder!],
                           $first: Int, $after: String) {{
  purchaseOrders(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {ORDER} }} }} }} }}"""
RECEIPT_BY_ID = """query($id: ID!) { goodsReceipt(id: $id) { id number orderId
  lines { orderLineId quantity } } }"""
SUGGESTED = """query($warehouseId: ID!) { suggestedPurchases(warehouseId: $warehouseId) {
  productId warehouseId minQuantity maxQuantity onHand reserved expiredQuantity available onOrder
  expectedDemand projected suggestedQuantity supplierId lastUnitCost lastCurrency
  lastOrderId product { code } supplier { code } } }"""
LEVEL = """query($filter: StockLevelFilter) { stockLevels(filter: $filter) {
  edges { node { productId warehouseId onHand reserved available
    batches { onHand batch { code expiresOn } } } } } }"""
MOVES = """query($filter: StockMoveFilter) { stockMoves(filter: $filter, first: 100) {
  totalCount edges { node { kind productId warehouseId batchId quantity sourceType sourceId
    postingId } } } }"""


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def codes(payload: dict) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["userErrors"]]


class Buying:
    """The purchasing and stock API as the tests use it. `payload` returns a mutation's
    payload (asserting only that the request went through); `ok` also asserts it has no
    userErrors."""

    def __init__(self, api) -> None:
        self.api = api

    async def payload(self, query: str, name: str, input: dict, token: str) -> dict:
        return (await self.api.gql(query, {"input": input}, token=token))[name]

    async def ok(self, query: str, name: str, input: dict, token: str) -> dict:
        payload = await self.payload(query, name, input, token)
        assert payload["userErrors"] == [], payload["userErrors"]
        return payload

    async def product(self, token: str, *, batch_tracked: bool = False, tax_rate: str = "0.13",
                      code: str | None = None) -> str:  # fmt: skip
        code = code or f"P-{uuid.uuid4().hex[:10]}"
        payload = await self.ok(
            CREATE_PRODUCT, "createProduct",
            {"code": code, "name": f"产品 {code}", "unit": "件", "listPrice": "10.00",
             "taxRate": tax_rate, "batchTracked": batch_tracked},
            token,
        )  # fmt: skip
        return payload["product"]["id"]

    async def deactivate_product(self, token: str, product: str) -> None:
        await self.ok(
            UPDATE_PRODUCT, "updateProduct", {"id": product, "version": 1, "active": False}, token
        )

    async def warehouse(self, token: str, **fields: Any) -> str:
        fields.setdefault("code", f"WH-{uuid.uuid4().hex[:8]}")
        fields.setdefault("name", f"仓库 {fields['code']}")
        return (await self.ok(CREATE_WAREHOUSE, "createWarehouse", fields, token))["warehouse"][
            "id"
        ]

    async def rule(self, token: str, product: str, warehouse: str, low: str, high: str) -> None:
        await self.ok(
            SET_RULE, "setReorderRule",
            {"productId": product, "warehouseId": warehouse, "minQuantity": low,
             "maxQuantity": high},
            token,
        )  # fmt: skip

    async def stock_in(self, token: str, warehouse: str, product: str, quantity: str) -> None:
        await self.ok(
            RECEIVE_STOCK, "receiveStock",
            {"warehouseId": warehouse, "lines": [{"productId": product, "quantity": quantity}]},
            token,
        )  # fmt: skip

    async def supplier(self, token: str, **fields: Any) -> dict:
        fields.setdefault("code", f"S-{uuid.uuid4().hex[:8]}")
        fields.setdefault("name", f"供应商 {fields['code']}")
        return (await self.ok(CREATE_SUPPLIER, "createSupplier", fields, token))["supplier"]

    async def order(self, token: str, supplier: str, warehouse: str, lines: list[dict],
                    **fields: Any) -> dict:  # fmt: skip
        fields.setdefault("expectedDate", "2027-03-01")
        payload = await self.ok(
            CREATE_PO, "createPurchaseOrder",
            {"supplierId": supplier, "warehouseId": warehouse, "lines": lines, **fields}, token,
        )  # fmt: skip
        return payload["purchaseOrder"]

    async def send(self, token: str, order: dict | str) -> dict:
        order_id = order if isinstance(order, str) else order["id"]
        payload = await self.ok(SEND_PO, "sendPurchaseOrder", {"id": order_id}, token)
        return payload["purchaseOrder"]

    async def receive(self, token: str, order_id: str, lines: list[dict], **extra) -> dict:
        return await self.payload(
            RECEIVE_PO, "receivePurchaseOrder", {"orderId": order_id, "lines": lines, **extra},
            token,
        )  # fmt: skip

    async def get(self, token: str, order_id: str) -> dict | None:
        return (await self.api.gql(PO_BY_ID, {"id": order_id}, token=token))["purchaseOrder"]

    async def level(self, token: str, product: str, warehouse: str) -> dict | None:
        data = await self.api.gql(
            LEVEL, {"filter": {"productId": {"eq": product}, "warehouseId": {"eq": warehouse}}},
            token=token,
        )  # fmt: skip
        edges = data["stockLevels"]["edges"]
        return edges[0]["node"] if edges else None

    async def on_hand(self, token: str, product: str, warehouse: str) -> Decimal:
        found = await self.level(token, product, warehouse)
        return dec(found["onHand"]) if found else Decimal(0)

    async def moves(self, token: str, filter: dict) -> list[dict]:
        data = await self.api.gql(MOVES, {"filter": filter}, token=token)
        return [e["node"] for e in data["stockMoves"]["edges"]]

    async def suggested(self, token: str, warehouse: str) -> dict[str, dict]:
        data = await self.api.gql(SUGGESTED, {"warehouseId": warehouse}, token=token)
        return {x["productId"]: x for x in data["suggestedPurchases"]}


async def role_token(services, tenant, role: str) -> str:
    """A token of a new user of the tenant with a built-in role the shared fixtures
    do not make (warehouse, partner)."""
    from app.audit.service import SYSTEM
    from app.db import tenant_transaction
    from app.users import service as users

    async with tenant_transaction(services.engine, tenant.schema) as conn:
        user = await users.create_user(
            conn, actor=SYSTEM, tenant_id=tenant.id,
            email=f"{role}-{uuid.uuid4().hex[:6]}@{tenant.slug}.example.com", role=role,
            name=role,
        )  # fmt: skip
    return await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=tenant.id,
        user_id=user.id, roles=[role],
    )  # fmt: skip


async def custom_role_token(api, services, tenant, permissions: list[str]) -> str:
    """A token of a new user with a new custom role holding `permissions`."""
    name = f"buyer-{uuid.uuid4().hex[:6]}"
    created = await api.gql(
        """mutation($input: CreateRoleInput!) { createRole(input: $input) {
             userErrors { field code message } } }""",
        {"input": {"name": name, "dataScope": "ALL", "permissions": permissions}},
        token=tenant.tokens["admin"],
    )  # fmt: skip
    assert created["createRole"]["userErrors"] == [], created
    return await role_token(services, tenant, name)


async def client_token(client, owner, tenant, scopes: list[str], run_as: str = "admin") -> str:
    """An access token of a new API client (client credentials) limited to `scopes`,
    acting as the tenant's `run_as` user."""
    from sqlalchemy.dialects.postgresql import insert

    from app.oauth.secrets import hash_secret, new_secret
    from app.oauth.tables import oauth_clients

    client_id, secret = f"kehu_{uuid.uuid4().hex[:12]}", new_secret()
    async with owner.begin() as conn:
        await conn.execute(
            insert(oauth_clients).values(
                client_id=client_id, tenant_id=tenant.id, kind="api", name="ERP",
                secret_hash=hash_secret(secret), scopes=scopes,
                run_as_user_id=tenant.user_ids[run_as],
            )
        )  # fmt: skip
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]
