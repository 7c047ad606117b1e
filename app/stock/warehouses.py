"""Creating and changing warehouses (warehouses:manage). Warehouses are never deleted
(moves point at them): `active: false` retires one. An inactive warehouse takes no new
stock (receipts, returns, transfers in); what it holds can still be issued,
transferred out, adjusted and counted. A consignment warehouse (goods at a customer,
not yet settled: 中转仓) names that customer, a live one the caller may see."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor
from app.auth.principal import Scoped
from app.customers.queries import lock_referenced_customer
from app.errors import UserError, UserErrors
from app.records import apply_change, insert_once, lock_for_change
from app.stock.queries import visible_warehouses
from app.stock.rules import MAX_NAME, check_code
from app.stock.tables import WAREHOUSE_KINDS, warehouses
from app.validation import check_choice, check_required, clean

UNIQUE = {"uq_warehouses_code": UserError("code", "TAKEN", "another warehouse has this code")}
FIELDS = ("code", "name", "kind", "customer_id", "active")


def _normalise(values: dict[str, Any], *, creating: bool) -> list[UserError]:
    errors: list[UserError] = []
    for key in ("code", "name"):
        if key in values:
            values[key] = clean(values[key])
    if creating or "code" in values:
        if error := check_code("code", values.get("code")):
            errors.append(error)
    if creating or "name" in values:
        if error := check_required("name", values.get("name"), max_length=MAX_NAME):
            errors.append(error)
    if "kind" in values:
        if values["kind"] is None:
            errors.append(UserError("kind", "REQUIRED", "kind cannot be null"))
        elif error := check_choice("kind", values["kind"], WAREHOUSE_KINDS):
            errors.append(error)
    if "active" in values and values["active"] is None:
        errors.append(UserError("active", "REQUIRED", "active cannot be null"))
    return errors


async def _check_customer(
    conn: AsyncConnection, who: Scoped, kind: str, customer_id: uuid.UUID | None, changed: bool
) -> list[UserError]:
    if kind == "consignment" and customer_id is None:
        return [UserError("customerId", "REQUIRED",
                          "a consignment warehouse names the customer holding the goods")]  # fmt: skip
    if kind != "consignment" and customer_id is not None:
        return [UserError("customerId", "INVALID", "only a consignment warehouse names a customer")]
    if changed and customer_id is not None:
        if not await lock_referenced_customer(conn, who, customer_id):
            return [UserError("customerId", "NOT_FOUND", "no such customer")]
    return []


async def create_warehouse(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, warehouse_id: uuid.UUID | None,
    fields: dict[str, Any],
) -> Row:  # fmt: skip
    values = {k: v for k, v in fields.items() if k in FIELDS}
    values.setdefault("kind", "standard")
    if values.get("active") is None:
        values["active"] = True
    errors = _normalise(values, creating=True)
    if not errors:
        errors += await _check_customer(
            conn, who, values["kind"], values.get("customer_id"), changed=True
        )
    if errors:
        raise UserErrors(errors)
    values.setdefault("customer_id", None)
    row, _ = await insert_once(
        conn, warehouses, actor=actor, entity="warehouse", row_id=warehouse_id, values=values,
        unique=UNIQUE,
    )  # fmt: skip
    return row


async def update_warehouse(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, warehouse_id: uuid.UUID,
    version: int | None, fields: dict[str, Any],
) -> Row:  # fmt: skip
    # Out of the caller's data scope answers as no warehouse, whatever the version.
    current = await lock_for_change(
        conn, warehouses, warehouse_id, entity="warehouse", version=version,
        visible=visible_warehouses(who),
    )  # fmt: skip
    values = {k: v for k, v in fields.items() if k in FIELDS}
    errors = _normalise(values, creating=False)
    if not errors:
        kind = values.get("kind", current.kind)
        if "kind" in values and kind != "consignment" and "customer_id" not in values:
            values["customer_id"] = None  # a standard warehouse names no customer
        customer_id = values.get("customer_id", current.customer_id)
        changed = "customer_id" in values and customer_id != current.customer_id
        errors += await _check_customer(conn, who, kind, customer_id, changed)
    if errors:
        raise UserErrors(errors)
    return await apply_change(
        conn, warehouses, current, actor=actor, entity="warehouse", action="update",
        values=values, unique=UNIQUE,
    )  # fmt: skip
