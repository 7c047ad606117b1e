"""What the stock tests share: the GraphQL operations, products made through
createProduct (and, for the big fixtures, inserted in bulk in one place: `bulk_products`),
warehouses, and reading the ledger back to check it."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from helpers import make_tenant
from sqlalchemy import func, select, text, update

from app.audit.service import SYSTEM
from app.auth.tokens import issue_access_token
from app.db import tenant_transaction
from app.stock.tables import (
    stock_batch_levels,
    stock_levels,
    stock_moves,
    stock_reservations,
)
from app.users import service as users_service
from tenants.catalog import tenants

ERRORS = "userErrors { field code message }"
MOVES = "postingId replayed moves { id kind productId warehouseId batchId quantity reason }"

CREATE_PRODUCT = f"""mutation($input: CreateProductInput!) {{
  createProduct(input: $input) {{ product {{ id code batchTracked }} {ERRORS} }} }}"""
CREATE_WAREHOUSE = f"""mutation($input: CreateWarehouseInput!) {{
  createWarehouse(input: $input) {{ warehouse {{ id code name kind customerId active version
    customer {{ id name }} }} {ERRORS} }} }}"""
UPDATE_WAREHOUSE = f"""mutation($input: UpdateWarehouseInput!) {{
  updateWarehouse(input: $input) {{ warehouse {{ id code name kind customerId active version }}
    {ERRORS} }} }}"""
RECEIVE = f"""mutation($input: ReceiveStockInput!) {{
  receiveStock(input: $input) {{ {MOVES} {ERRORS} }} }}"""
ISSUE = f"""mutation($input: IssueStockInput!) {{
  issueStock(input: $input) {{ {MOVES} {ERRORS} }} }}"""
TRANSFER = f"""mutation($input: TransferStockInput!) {{
  transferStock(input: $input) {{ {MOVES} {ERRORS} }} }}"""
ADJUST = f"""mutation($input: AdjustStockInput!) {{
  adjustStock(input: $input) {{ {MOVES} {ERRORS} }} }}"""
TAKE = "stockTake { id number status partial version lineCount countedCount differenceCount postingId }"
CREATE_TAKE = f"""mutation($input: CreateStockTakeInput!) {{
  createStockTake(input: $input) {{ {TAKE} {ERRORS} }} }}"""
COUNT_TAKE = f"""mutation($input: CountStockTakeInput!) {{
  countStockTake(input: $input) {{ {TAKE} {ERRORS} }} }}"""
POST_TAKE = f"""mutation($input: PostStockTakeInput!) {{
  postStockTake(input: $input) {{ {TAKE} {ERRORS} }} }}"""
CANCEL_TAKE = f"""mutation($input: CancelStockTakeInput!) {{
  cancelStockTake(input: $input) {{ {TAKE} {ERRORS} }} }}"""
SET_RULE = f"""mutation($input: SetReorderRuleInput!) {{
  setReorderRule(input: $input) {{ reorderRule {{ id productId warehouseId minQuantity
    maxQuantity lowSince version }} {ERRORS} }} }}"""
REMOVE_RULE = f"""mutation($input: RemoveReorderRuleInput!) {{
  removeReorderRule(input: $input) {{ reorderRule {{ id }} {ERRORS} }} }}"""
LEVELS = """query($filter: StockLevelFilter, $orderBy: [StockLevelOrder!], $first: Int,
                 $after: String) {
  stockLevels(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { productId warehouseId onHand reserved available minQuantity belowMin
      batches { batchId onHand batch { code expiresOn } } } } } }"""


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def today(zone: str = "Asia/Shanghai") -> dt.date:
    """The calendar day of a tenant in `zone` (tenants are made in Asia/Shanghai)."""
    return dt.datetime.now(ZoneInfo(zone)).date()


def zone_off_utc() -> str:
    """A zone whose day is not UTC's now: UTC-12 before 10:00 UTC (still yesterday
    there), UTC+14 from 10:00 UTC (already tomorrow there)."""
    return "Etc/GMT+12" if dt.datetime.now(dt.UTC).hour < 10 else "Etc/GMT-14"


async def tenant_off_utc(owner, services, name: str):
    """A new tenant whose calendar day differs from UTC's right now (`.zone` set), so
    a test can tell the tenant's day from the database's whenever it runs."""
    handle = await make_tenant(owner, services, name)
    zone = zone_off_utc()
    async with owner.begin() as conn:
        await conn.execute(update(tenants).where(tenants.c.id == handle.id).values(time_zone=zone))
    handle.zone = zone
    assert today(zone) != dt.datetime.now(dt.UTC).date()
    return handle


class Stock:
    """The stock API as the tests use it: each call returns the payload, asserting only
    that the request itself went through (userErrors are for the test to check)."""

    def __init__(self, api) -> None:
        self.api = api

    async def payload(self, query: str, name: str, input: dict, token: str) -> dict:
        return (await self.api.gql(query, {"input": input}, token=token))[name]

    async def ok(self, query: str, name: str, input: dict, token: str) -> dict:
        payload = await self.payload(query, name, input, token)
        assert payload["userErrors"] == [], payload["userErrors"]
        return payload

    async def product(self, token: str, *, batch_tracked: bool = False, code: str | None = None,
                      active: bool = True) -> str:  # fmt: skip
        code = code or f"SKU-{uuid.uuid4().hex[:10]}"
        payload = await self.ok(
            CREATE_PRODUCT, "createProduct",
            {"code": code, "name": f"产品 {code}", "unit": "件", "listPrice": "10.00",
             "batchTracked": batch_tracked, "active": active},
            token,
        )  # fmt: skip
        return payload["product"]["id"]

    async def warehouse(self, token: str, **fields: Any) -> str:
        fields.setdefault("code", f"WH-{uuid.uuid4().hex[:8]}")
        fields.setdefault("name", f"仓库 {fields['code']}")
        payload = await self.ok(CREATE_WAREHOUSE, "createWarehouse", fields, token)
        return payload["warehouse"]["id"]

    async def receive(self, token: str, warehouse: str, lines: list[dict], **extra) -> dict:
        return await self.payload(
            RECEIVE, "receiveStock", {"warehouseId": warehouse, "lines": lines, **extra}, token
        )

    async def issue(self, token: str, warehouse: str, lines: list[dict], **extra) -> dict:
        return await self.payload(
            ISSUE, "issueStock", {"warehouseId": warehouse, "lines": lines, **extra}, token
        )

    async def transfer(self, token: str, source: str, target: str, lines: list[dict],
                       **extra) -> dict:  # fmt: skip
        return await self.payload(
            TRANSFER, "transferStock",
            {"fromWarehouseId": source, "toWarehouseId": target, "lines": lines, **extra}, token,
        )  # fmt: skip

    async def adjust(self, token: str, warehouse: str, lines: list[dict], reason: str = "盘亏",
                     **extra) -> dict:  # fmt: skip
        return await self.payload(
            ADJUST, "adjustStock",
            {"warehouseId": warehouse, "lines": lines, "reason": reason, **extra}, token,
        )  # fmt: skip

    async def levels(self, token: str, filter: dict | None = None, **variables) -> list[dict]:
        data = await self.api.gql(LEVELS, {"filter": filter or {}, **variables}, token=token)
        return [e["node"] for e in data["stockLevels"]["edges"]]

    async def level(self, token: str, product: str, warehouse: str) -> dict | None:
        found = await self.levels(
            token, {"productId": {"eq": product}, "warehouseId": {"eq": warehouse}}
        )
        return found[0] if found else None


async def add_user(services, tenant, role: str, *, active: bool = True) -> uuid.UUID:
    """Another user of the tenant with a built-in (or the tenant's own) role."""
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        user = await users_service.create_user(
            conn, actor=SYSTEM, tenant_id=tenant.id,
            email=f"{role}-{uuid.uuid4().hex[:6]}@{tenant.slug}.example.com", role=role,
            name=role,
        )  # fmt: skip
        if not active:
            await conn.execute(
                text(f'UPDATE "{tenant.schema}".users SET active = false WHERE id = :id'),
                {"id": user.id},
            )
    return user.id


CREATE_ROLE = f"""mutation($input: CreateRoleInput!) {{
  createRole(input: $input) {{ {ERRORS} }} }}"""
CREATE_CUSTOMER = f"""mutation($input: CreateCustomerInput!) {{
  createCustomer(input: $input) {{ customer {{ id }} {ERRORS} }} }}"""
CREATE_USER = f"""mutation($input: CreateUserInput!) {{
  createUser(input: $input) {{ user {{ id }} {ERRORS} }} }}"""


async def add_role(api, admin: str, name: str, data_scope: str, permissions: list[str]) -> None:
    """A tenant-defined role, made through createRole."""
    made = await api.gql(CREATE_ROLE, {"input": {
        "name": name, "dataScope": data_scope, "permissions": permissions}}, token=admin)  # fmt: skip
    assert made["createRole"]["userErrors"] == [], made


async def add_distributor(api, admin: str) -> str:
    """A customer that is a distributor (partner users work for one)."""
    made = await api.gql(CREATE_CUSTOMER, {"input": {
        "name": f"经销商{uuid.uuid4().hex[:6]}", "isDistributor": True}}, token=admin)  # fmt: skip
    assert made["createCustomer"]["userErrors"] == [], made
    return made["createCustomer"]["customer"]["id"]


async def add_distributor_user(api, services, tenant, role: str,
                               distributor: str) -> tuple[str, str]:  # fmt: skip
    """A user of `role` (data scope assigned) working for `distributor`, made through
    createUser: their id and a real signed token."""
    made = await api.gql(CREATE_USER, {"input": {
        "email": f"clerk-{uuid.uuid4().hex[:6]}@{tenant.slug}.cn", "name": "寄售仓管",
        "role": role, "distributorId": distributor}}, token=tenant.tokens["admin"])  # fmt: skip
    assert made["createUser"]["userErrors"] == [], made
    user_id = made["createUser"]["user"]["id"]
    token = await issue_access_token(
        keyring=services.keyring, settings=services.settings, tenant_id=tenant.id,
        user_id=uuid.UUID(user_id), roles=[role],
    )  # fmt: skip
    return user_id, token


async def bulk_products(owner, tenant, count: int, *, prefix: str = "BULK",
                        batch_tracked_every: int = 0) -> list[uuid.UUID]:  # fmt: skip
    """Many products at once, inserted in SQL as the owner (the big fixtures only: the
    index tests and the bench); everything else uses createProduct. The one place that
    writes product rows directly, so a change to the catalogue's table changes here."""
    schema = tenant.schema
    tracked = (
        f"(g % {batch_tracked_every} = 0)" if batch_tracked_every else "false"
    )  # every n-th product is batch-tracked
    async with owner.begin() as conn:
        rows = await conn.execute(
            text(
                f'INSERT INTO "{schema}".products (id, code, name, unit, list_price, batch_tracked) '
                f"SELECT gen_random_uuid(), '{prefix}-' || lpad(g::text, 6, '0'), "
                f"'产品' || g, '件', 10, {tracked} FROM generate_series(1, :n) g RETURNING id"
            ),
            {"n": count},
        )
        return [r.id for r in rows]


@dataclass
class Ledger:
    """Balances as stored and as the ledger and reservations add them up."""

    levels: dict
    batch_levels: dict
    moves: dict
    batch_moves: dict
    reservations: dict
    batch_sums: dict


async def read_ledger(services, tenant) -> Ledger:
    async with tenant_transaction(services.engine, tenant.schema) as conn:
        s, bl, m, r = stock_levels.c, stock_batch_levels.c, stock_moves.c, stock_reservations.c
        levels = {
            (x.product_id, x.warehouse_id): (x.on_hand, x.reserved, x.available)
            for x in await conn.execute(select(stock_levels))
        }
        batch_levels = {
            (x.product_id, x.warehouse_id, x.batch_id): x.on_hand
            for x in await conn.execute(select(stock_batch_levels))
        }
        moves = {
            (x.product_id, x.warehouse_id): x.total
            for x in await conn.execute(
                select(m.product_id, m.warehouse_id, func.sum(m.quantity).label("total")).group_by(
                    m.product_id, m.warehouse_id
                )
            )
        }
        batch_moves = {
            (x.product_id, x.warehouse_id, x.batch_id): x.total
            for x in await conn.execute(
                select(
                    m.product_id, m.warehouse_id, m.batch_id, func.sum(m.quantity).label("total")
                )  # fmt: skip
                .where(m.batch_id.is_not(None))
                .group_by(m.product_id, m.warehouse_id, m.batch_id)
            )
        }
        reservations = {
            (x.product_id, x.warehouse_id): x.total
            for x in await conn.execute(
                select(
                    r.product_id, r.warehouse_id, func.sum(r.open_quantity).label("total")
                ).group_by(r.product_id, r.warehouse_id)
            )
        }
        batch_sums = {
            (x.product_id, x.warehouse_id): x.total
            for x in await conn.execute(
                select(
                    bl.product_id, bl.warehouse_id, func.sum(bl.on_hand).label("total")
                ).group_by(bl.product_id, bl.warehouse_id)
            )
        }
    _ = s
    return Ledger(levels, batch_levels, moves, batch_moves, reservations, batch_sums)


def assert_consistent(ledger: Ledger) -> None:
    """on hand = the moves' sum, per level and per batch; reserved = the open
    reservations' sum; available = on hand - reserved; batch-tracked levels = the sum
    of their batches; nothing negative, nothing over-reserved."""
    zero = Decimal(0)
    for key, (on_hand, reserved, available) in ledger.levels.items():
        assert on_hand == ledger.moves.get(key, zero), (key, on_hand, ledger.moves.get(key))
        assert reserved == ledger.reservations.get(key, zero), key
        assert available == on_hand - reserved, key
        assert on_hand >= 0 and reserved >= 0 and reserved <= on_hand, key
        if key in ledger.batch_sums:
            assert on_hand == ledger.batch_sums[key], key
    for key in ledger.moves:
        assert key in ledger.levels, key
    for key, on_hand in ledger.batch_levels.items():
        assert on_hand == ledger.batch_moves.get(key, zero), key
        assert on_hand >= 0, key
    for key, total in ledger.batch_moves.items():
        assert ledger.batch_levels.get(key, zero) == total, key
