"""What the quote and order tests share (importable as `order_helpers`): the published
example operations, goods (products, a warehouse with stock, customers, price lists)
made through the API, and reading back what was (or was not) written."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from helpers import operation
from sqlalchemy import func, select

from app.audit.tables import audit_log
from app.auth.tokens import issue_access_token
from app.db import tenant_transaction
from app.orders.tables import quote_lines, quotes, sales_order_lines, sales_orders
from app.stock.tables import stock_levels, stock_reservations

ERRORS = "userErrors { field code message }"


CREATE_QUOTE = operation("createQuote")
UPDATE_QUOTE = operation("updateQuote")
SEND_QUOTE = operation("sendQuote")
REJECT_QUOTE = operation("rejectQuote")
REVISE_QUOTE = operation("reviseQuote")
ACCEPT_QUOTE = operation("acceptQuote")
GET_QUOTE = operation("quote")
LIST_QUOTES = operation("quotes")
CREATE_ORDER = operation("createSalesOrder")
UPDATE_ORDER = operation("updateSalesOrder")
CONFIRM_ORDER = operation("confirmSalesOrder")
CANCEL_ORDER = operation("cancelSalesOrder")
CLOSE_ORDER = operation("closeSalesOrder")
GET_ORDER = operation("salesOrder")
LIST_ORDERS = operation("salesOrders")

CREATE_PRODUCT = f"""mutation($input: CreateProductInput!) {{
  createProduct(input: $input) {{ product {{ id code }} {ERRORS} }} }}"""
CREATE_WAREHOUSE = f"""mutation($input: CreateWarehouseInput!) {{
  createWarehouse(input: $input) {{ warehouse {{ id code }} {ERRORS} }} }}"""
RECEIVE = f"""mutation($input: ReceiveStockInput!) {{
  receiveStock(input: $input) {{ postingId {ERRORS} }} }}"""
CREATE_CUSTOMER = f"""mutation($input: CreateCustomerInput!) {{
  createCustomer(input: $input) {{ customer {{ id version }} {ERRORS} }} }}"""
UPDATE_CUSTOMER = f"""mutation($input: UpdateCustomerInput!) {{
  updateCustomer(input: $input) {{ customer {{ id version }} {ERRORS} }} }}"""
CREATE_PRICE_LIST = f"""mutation($input: CreatePriceListInput!) {{
  createPriceList(input: $input) {{ priceList {{ id }} {ERRORS} }} }}"""
CREATE_USER = f"""mutation($input: CreateUserInput!) {{
  createUser(input: $input) {{ user {{ id }} {ERRORS} }} }}"""


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def today(zone: str = "Asia/Shanghai") -> dt.date:
    return dt.datetime.now(ZoneInfo(zone)).date()


async def ok(api, query: str, name: str, input: dict, token: str) -> dict:
    """The payload of a mutation that must succeed without userErrors."""
    result = (await api.gql(query, {"input": input}, token=token))[name]
    assert result["userErrors"] == [], result["userErrors"]
    return result


async def payload(api, query: str, name: str, input: dict, token: str) -> dict:
    return (await api.gql(query, {"input": input}, token=token))[name]


async def new_product(api, token: str, *, list_price: str = "100", tax_rate: str = "0.13",
                      **fields: Any) -> str:  # fmt: skip
    code = f"OP-{uuid.uuid4().hex[:10]}"
    values = {"code": code, "name": f"产品{code}", "unit": "件", "listPrice": list_price,
              "taxRate": tax_rate, **fields}  # fmt: skip
    return (await ok(api, CREATE_PRODUCT, "createProduct", values, token))["product"]["id"]


async def new_warehouse(api, token: str) -> str:
    code = f"WH-{uuid.uuid4().hex[:8]}"
    result = await ok(api, CREATE_WAREHOUSE, "createWarehouse", {"code": code, "name": code}, token)
    return result["warehouse"]["id"]


async def receive(api, token: str, warehouse: str, product: str, quantity: str) -> None:
    await ok(api, RECEIVE, "receiveStock",
             {"warehouseId": warehouse, "lines": [{"productId": product, "quantity": quantity}]},
             token)  # fmt: skip


async def new_customer(api, token: str, name: str | None = None, **fields: Any) -> str:
    values = {"name": name or f"客户{uuid.uuid4().hex[:8]}", **fields}
    return (await ok(api, CREATE_CUSTOMER, "createCustomer", values, token))["customer"]["id"]


async def new_price_list(api, token: str, items: list[tuple[str, str]], *,
                         tax_inclusive: bool, **fields: Any) -> str:  # fmt: skip
    values = {
        "name": f"价目表{uuid.uuid4().hex[:6]}", "currency": "CNY", "target": "ALL_CUSTOMERS",
        "taxInclusive": tax_inclusive,
        "items": [{"productId": p, "minQuantity": "1", "unitPrice": u} for p, u in items],
        **fields,
    }  # fmt: skip
    return (await ok(api, CREATE_PRICE_LIST, "createPriceList", values, token))["priceList"]["id"]


async def user_token(
    api, services, tenant, role: str, team_id: str | None = None
) -> tuple[str, str]:
    """A new user of `role` and their real signed token: (id, token)."""
    email = f"{role}-{uuid.uuid4().hex[:6]}@{tenant.slug}.cn"
    result = await ok(api, CREATE_USER, "createUser",
                      {"email": email, "role": role, "name": email, "teamId": team_id},
                      tenant.tokens["admin"])  # fmt: skip
    user_id = result["user"]["id"]
    token = await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=tenant.id,
        user_id=uuid.UUID(user_id), roles=[role],
    )  # fmt: skip
    return user_id, token


async def role_token(api, services, tenant, name: str, permissions: list[str],
                     scope: str = "ALL") -> str:  # fmt: skip
    """A token of a new user with a new custom role (`permissions`, data `scope`)."""
    role = await api.gql(
        """mutation($input: CreateRoleInput!) { createRole(input: $input) {
             userErrors { field code message } } }""",
        {"input": {"name": name, "dataScope": scope, "permissions": permissions}},
        token=tenant.tokens["admin"],
    )
    assert role["createRole"]["userErrors"] == [], role
    _, token = await user_token(api, services, tenant, name)
    return token


@dataclass
class Goods:
    """A warehouse with stock of a few products, and a customer: enough to order."""

    warehouse: str
    products: list[str]
    customer: str


async def goods(api, tenant, *, products: int = 2, stock: str = "100", **customer: Any) -> Goods:
    admin = tenant.tokens["admin"]
    warehouse = await new_warehouse(api, admin)
    made = []
    for _ in range(products):
        product = await new_product(api, admin)
        if stock != "0":
            await receive(api, admin, warehouse, product, stock)
        made.append(product)
    return Goods(warehouse, made, await new_customer(api, admin, **customer))


def lines(*pairs: tuple[str, str], **extra: Any) -> list[dict]:
    return [{"productId": p, "quantity": q, **extra} for p, q in pairs]


async def create_order(api, token: str, g: Goods, order_lines: list[dict] | None = None,
                       **fields: Any) -> dict:  # fmt: skip
    """A draft order (which must be made) of `order_lines` (1 of each product)."""
    values = {"customerId": g.customer, "warehouseId": g.warehouse,
              "lines": order_lines or lines(*((p, "1") for p in g.products)), **fields}  # fmt: skip
    return (await ok(api, CREATE_ORDER, "createSalesOrder", values, token))["salesOrder"]


async def create_quote(api, token: str, g: Goods, quote_lines_: list[dict] | None = None,
                       **fields: Any) -> dict:  # fmt: skip
    values = {"customerId": g.customer,
              "lines": quote_lines_ or lines(*((p, "1") for p in g.products)), **fields}  # fmt: skip
    return (await ok(api, CREATE_QUOTE, "createQuote", values, token))["quote"]


async def order_action(api, token: str, action: str, order_id: str, **fields: Any) -> dict:
    query, name = {
        "confirm": (CONFIRM_ORDER, "confirmSalesOrder"),
        "cancel": (CANCEL_ORDER, "cancelSalesOrder"),
        "close": (CLOSE_ORDER, "closeSalesOrder"),
        "update": (UPDATE_ORDER, "updateSalesOrder"),
    }[action]
    return await payload(api, query, name, {"id": order_id, **fields}, token)


async def quote_action(api, token: str, action: str, quote_id: str, **fields: Any) -> dict:
    query, name = {
        "send": (SEND_QUOTE, "sendQuote"),
        "reject": (REJECT_QUOTE, "rejectQuote"),
        "revise": (REVISE_QUOTE, "reviseQuote"),
        "accept": (ACCEPT_QUOTE, "acceptQuote"),
        "update": (UPDATE_QUOTE, "updateQuote"),
    }[action]
    return await payload(api, query, name, {"id": quote_id, **fields}, token)


# -- reading back -------------------------------------------------------------------------


async def order_state(services, tenant, order_id: str) -> dict:
    """Everything an order change could touch: the row, its lines, its reservations,
    the stock levels of its products, and its audit records."""
    oid = uuid.UUID(order_id)
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        row = (await conn.execute(select(sales_orders).where(sales_orders.c.id == oid))).one()
        order_lines = (
            await conn.execute(
                select(sales_order_lines).where(sales_order_lines.c.order_id == oid)
                .order_by(sales_order_lines.c.position)
            )
        ).all()  # fmt: skip
        reservations = (
            await conn.execute(
                select(stock_reservations).where(stock_reservations.c.source_id == oid)
                .order_by(stock_reservations.c.id)
            )
        ).all()  # fmt: skip
        products = [line.product_id for line in order_lines]
        levels = (
            await conn.execute(
                select(stock_levels).where(stock_levels.c.product_id.in_(products))
                .order_by(stock_levels.c.product_id, stock_levels.c.warehouse_id)
            )
        ).all()  # fmt: skip
        audits = await conn.scalar(
            select(func.count()).select_from(audit_log).where(audit_log.c.entity_id == oid)
        )
    return {"order": tuple(row), "lines": [tuple(x) for x in order_lines],
            "reservations": [tuple(r) for r in reservations], "levels": [tuple(x) for x in levels],
            "audits": audits}  # fmt: skip


async def quote_state(services, tenant, quote_id: str) -> dict:
    qid = uuid.UUID(quote_id)
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        row = (await conn.execute(select(quotes).where(quotes.c.id == qid))).one()
        found = (
            await conn.execute(
                select(quote_lines)
                .where(quote_lines.c.quote_id == qid)
                .order_by(quote_lines.c.position)
            )
        ).all()
        family = await conn.scalar(
            select(func.count()).select_from(quotes).where(quotes.c.family_id == row.family_id)
        )
        orders = await conn.scalar(
            select(func.count()).select_from(sales_orders).where(sales_orders.c.quote_id == qid)
        )
        audits = await conn.scalar(
            select(func.count()).select_from(audit_log).where(audit_log.c.entity_id == qid)
        )
    return {"quote": tuple(row), "lines": [tuple(x) for x in found], "family": family,
            "orders": orders, "audits": audits}  # fmt: skip


async def open_reserved(services, tenant, order_id: str) -> Decimal:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        value = await conn.scalar(
            select(func.coalesce(func.sum(stock_reservations.c.open_quantity), 0)).where(
                stock_reservations.c.source_id == uuid.UUID(order_id)
            )
        )
    return dec(value)


async def level(services, tenant, product: str, warehouse: str) -> tuple[Decimal, Decimal, Decimal]:
    """(on hand, reserved, available) of a product in a warehouse."""
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        row = (
            await conn.execute(
                select(stock_levels).where(
                    stock_levels.c.product_id == uuid.UUID(product),
                    stock_levels.c.warehouse_id == uuid.UUID(warehouse),
                )
            )
        ).first()
    if row is None:
        return (Decimal(0), Decimal(0), Decimal(0))
    return (row.on_hand, row.reserved, row.available)


async def count_rows(services, tenant, table) -> int:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        return await conn.scalar(select(func.count()).select_from(table))


async def race(engine, schema: str, calls: list) -> list:
    """Run each call in its own transaction on its own connection, all released at
    once (each has begun and holds its connection before any starts); each outcome is
    its result or the UserErrors it raised (its transaction then rolled back)."""
    from app.db import bind_tenant
    from app.errors import UserErrors

    waiting, all_ready, go = [len(calls)], asyncio.Event(), asyncio.Event()

    async def one(call):
        async with engine.connect() as raw:
            conn = await bind_tenant(raw, schema)
            transaction = await conn.begin()
            waiting[0] -= 1
            if waiting[0] == 0:
                all_ready.set()
            await go.wait()
            try:
                result = await call(conn)
            except UserErrors as error:
                await transaction.rollback()
                return error
            await transaction.commit()
            return result

    tasks = [asyncio.create_task(one(c)) for c in calls]
    await asyncio.wait_for(all_ready.wait(), 60)
    go.set()
    return await asyncio.gather(*tasks, return_exceptions=True)
