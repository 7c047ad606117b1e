"""Short-closing (结案) a partially received purchase order: a reason is required, the
close is recorded (who, when, why) and audited, nothing more can be received, and the
written-off remainder is no longer on order for suggestedPurchases. Only
purchasing:write closes; another tenant cannot; a refused close changes nothing."""

from __future__ import annotations

import importlib.util

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from helpers import operation
from purchasing_helpers import codes, dec, role_token
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tenants.migrations import MIGRATIONS_DIR

AUDIT = """query($filter: AuditLogFilter) { auditLog(first: 20, filter: $filter) {
  edges { node { action actorId at changes } } } }"""
ME = "{ me { user { id } } }"


async def _partly_received(buy, setup, ordered: str = "10", received: str = "4") -> dict:
    admin = setup["admin"]
    order = await buy.send(admin, await buy.order(
        admin, setup["supplier"], setup["warehouse"],
        [{"productId": setup["product"], "quantity": ordered, "unitCost": "2"},
         {"productId": setup["lot"], "quantity": "5", "unitCost": "3"}],
    ))  # fmt: skip
    received_lines = [{"orderLineId": order["lines"][0]["id"], "quantity": received},
                      {"orderLineId": order["lines"][1]["id"], "quantity": "5",
                       "batchCode": "L1"}]  # fmt: skip
    assert (await buy.receive(admin, order["id"], received_lines))["userErrors"] == []
    found = await buy.get(admin, order["id"])
    assert found["status"] == "PARTIALLY_RECEIVED"
    return found


async def _close(api, order: dict, token: str, **input) -> dict:
    variables = {"input": {"id": order["id"], "version": order["version"], **input}}
    return (await api.gql(operation("closePurchaseOrder"), variables, token=token))[
        "closePurchaseOrder"
    ]


async def test_closing_records_who_when_why_and_stops_receipts(api, buy, setup):
    admin = setup["admin"]
    order = await _partly_received(buy, setup)
    closed = await _close(api, order, admin, reason="  供应商停产，余量不再发货 ")
    assert closed["userErrors"] == []
    me = (await api.gql(ME, token=admin))["me"]["user"]["id"]
    po = closed["purchaseOrder"]
    assert po["status"] == "CLOSED" and po["version"] == order["version"] + 1
    assert po["closedAt"] and po["closedById"] == me
    assert po["closeReason"] == "供应商停产，余量不再发货"
    first, second = po["lines"]
    assert [dec(first[k]) for k in ("quantity", "receivedQuantity", "openQuantity",
                                    "shortClosedQuantity")] == [10, 4, 0, 6]  # fmt: skip
    assert dec(second["shortClosedQuantity"]) == 0 and dec(second["openQuantity"]) == 0

    stock_before = await buy.on_hand(admin, setup["product"], setup["warehouse"])
    refused = await buy.receive(admin, order["id"], [{"orderLineId": first["id"], "quantity": "1"}])
    assert codes(refused) == [("status", "INVALID_TRANSITION")]
    assert "a closed purchase order cannot receive goods" in refused["userErrors"][0]["message"]
    assert await buy.on_hand(admin, setup["product"], setup["warehouse"]) == stock_before
    after = await buy.get(admin, order["id"])
    assert after["status"] == "CLOSED" and len(after["receipts"]) == 1

    audit = await api.gql(
        AUDIT, {"filter": {"entityType": "purchase_order", "entityId": {"eq": order["id"]}}},
        token=admin,
    )  # fmt: skip
    newest = audit["auditLog"]["edges"][0]["node"]
    assert newest["action"] == "purchase_order.close" and newest["actorId"] == me
    assert newest["at"]
    assert newest["changes"]["status"] == {"from": "partially_received", "to": "closed"}
    assert newest["changes"]["close_reason"]["to"] == "供应商停产，余量不再发货"
    assert newest["changes"]["written_off"]["to"] == [[first["id"], "6.000"]]


@pytest.mark.parametrize(
    ("reason", "code"),
    [("", "REQUIRED"), ("   ", "REQUIRED"), ("长" * 501, "TOO_LONG")],
)
async def test_a_reason_is_required_and_a_refusal_changes_nothing(api, buy, setup, reason, code):
    order = await _partly_received(buy, setup)
    payload = await _close(api, order, setup["admin"], reason=reason)
    assert payload["purchaseOrder"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [("reason", code)]
    assert await buy.get(setup["admin"], order["id"]) == order


async def test_a_stale_version_conflicts(api, buy, setup):
    order = await _partly_received(buy, setup)
    payload = await _close(api, {**order, "version": order["version"] - 1}, setup["admin"],
                           reason="晚了")  # fmt: skip
    assert [e["code"] for e in payload["userErrors"]] == ["CONFLICT"]
    assert await buy.get(setup["admin"], order["id"]) == order


async def test_the_written_off_remainder_is_no_longer_on_order(api, buy, setup):
    admin, warehouse, product = setup["admin"], setup["warehouse"], setup["product"]
    await buy.rule(admin, product, warehouse, "10", "30")
    order = await _partly_received(buy, setup, ordered="10", received="4")
    # 4 on hand + 6 on order = 10: not below the minimum, nothing to buy.
    assert product not in await buy.suggested(admin, warehouse)
    assert (await _close(api, order, admin, reason="不再到货"))["userErrors"] == []
    suggestion = (await buy.suggested(admin, warehouse))[product]
    assert dec(suggestion["onOrder"]) == 0 and dec(suggestion["projected"]) == 4
    assert dec(suggestion["suggestedQuantity"]) == 26
    # Its cost still counts as the product's last purchase price.
    assert suggestion["lastOrderId"] == order["id"] and dec(suggestion["lastUnitCost"]) == 2


@pytest.mark.parametrize("role", ["warehouse", "manager", "sales"])
async def test_only_purchasing_write_closes(api, buy, services, tenant_a, setup, role):
    token = (
        await role_token(services, tenant_a, role) if role == "warehouse"
        else tenant_a.tokens[role]
    )  # fmt: skip
    order = await _partly_received(buy, setup)
    response = await api.post(
        operation("closePurchaseOrder"),
        {"input": {"id": order["id"], "reason": "越权"}}, token=token,
    )  # fmt: skip
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await buy.get(setup["admin"], order["id"]) == order


async def test_another_tenant_cannot_close_or_see_it(api, buy, setup, tenant_b):
    order = await _partly_received(buy, setup)
    other = tenant_b.tokens["admin"]
    payload = await _close(api, order, other, reason="别家的单")
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [("id", "NOT_FOUND")]
    assert await buy.get(setup["admin"], order["id"]) == order
    # Closing its own order reveals nothing of tenant A's (numbers are per tenant).
    assert await buy.get(other, order["id"]) is None


def _migration():
    path = MIGRATIONS_DIR / "tenant" / "versions" / "0022_purchasing_short_close.py"
    spec = importlib.util.spec_from_file_location("migration_0022", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _columns_and_status(conn, order_id: str) -> tuple[set, str]:
    columns = set(
        (await conn.execute(text(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = 'purchase_orders'"
        ))).scalars()
    )  # fmt: skip
    status = await conn.scalar(
        text("SELECT status FROM purchase_orders WHERE id = :id"), {"id": order_id}
    )
    return columns, status


async def test_the_migration_goes_down_and_up_again(api, buy, owner, setup, tenant_a):
    """Down: a closed order goes back to partially received (its only way in) and the
    close columns go; the old status check is back. Up again: all of it returns.
    (In a transaction rolled back at the end: the shared tenant stays as it was.)"""
    order = await _partly_received(buy, setup)
    assert (await _close(api, order, setup["admin"], reason="试迁移"))["userErrors"] == []
    close_columns = {"closed_at", "closed_by", "close_reason"}
    migration = _migration()
    async with owner.connect() as conn:
        transaction = await conn.begin()
        await conn.exec_driver_sql(f'SET LOCAL search_path TO "{tenant_a.schema}"')

        def run(sync, step) -> None:
            with Operations.context(MigrationContext.configure(sync)):
                step()

        await conn.run_sync(run, migration.downgrade)
        columns, status = await _columns_and_status(conn, order["id"])
        assert not columns & close_columns and status == "partially_received"
        savepoint = await conn.begin_nested()
        with pytest.raises(IntegrityError):
            await conn.execute(text("UPDATE purchase_orders SET status = 'closed'"))
        await savepoint.rollback()
        await conn.run_sync(run, migration.upgrade)
        columns, status = await _columns_and_status(conn, order["id"])
        assert columns >= close_columns and status == "partially_received"
        await transaction.rollback()
    assert (await buy.get(setup["admin"], order["id"]))["status"] == "CLOSED"
