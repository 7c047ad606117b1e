"""Merging one customer into another (客户合并), in the caller's transaction.

Order of work, all in one transaction (a failure at any step rolls back every step):
1. Lock both customers FOR UPDATE in one statement, in id order: two merges of the
   same pair (A into B and B into A at once) queue on the first row instead of
   deadlocking, and the second one sees what the first committed.
2. Check: both visible (else NOT_FOUND, as for a customer of another tenant), live
   (a deleted one is NOT_FOUND, an already merged one MERGED), and at the versions
   the client loaded (else CONFLICT). So the loser of a race gets a clean user error
   and no chain can become a cycle: a merged customer is never live again.
3. Re-point every row that refers to the merged customer (`MOVED`: contacts,
   activities, tasks, appointments, opportunities, ownership history, leads'
   converted_customer_id, sales orders, quotes), deleted rows included, so nothing
   is left behind; rows with a version get a new one. The survivor's primary contact stays primary; the
   merged customer's primary becomes an ordinary contact when the survivor has one.
4. Soft-delete the merged customer with `merged_into_id` = the survivor (first, so
   the survivor can take its externalRef), then fill the survivor's empty fields
   (app/merge/rules.py) and give it a new version; an owner taken from the merged
   customer is written to the ownership history.
5. One audit record `customer.merge` on each, with before/after of what changed,
   the other customer's id and the number of rows moved per kind.

Known gap: writers that check "customer is live" with a plain SELECT before linking a
row (logActivity, createOpportunity, ...) can, in a race with a merge, still link a
row to the merged customer after it committed; `customerMergedInto` leads from it to
the survivor. Closing it belongs in those checks (FOR KEY SHARE, then re-check).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Row, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, diff, record
from app.auth.principal import Scoped
from app.customers.queries import visible_customers
from app.customers.tables import contacts, customers
from app.errors import UserError, UserErrors, fail
from app.merge.rules import filled_values
from app.merge.tables import MOVED
from app.pool.history import OwnerChange, record_changes

HIDDEN = (
    "search_tokens", "name_key", "match_name", "match_region", "match_phone", "match_email",
)  # fmt: skip


def _columns() -> list:
    """Every column a client or the audit record may want (not the derived keys)."""
    return [c for c in customers.c if c.key not in HIDDEN]


@dataclass(frozen=True)
class MergeResult:
    survivor: Row
    merged: Row
    moved: dict[str, int]


def _problems(row: Row | None, version: int, field: str, version_field: str) -> list[UserError]:
    if row is None or (row.deleted_at is not None and row.merged_into_id is None):
        return [UserError(field, "NOT_FOUND", "no such customer")]
    if row.merged_into_id is not None:
        return [UserError(field, "MERGED", "this customer was already merged into another one")]
    if row.version != version:
        return [
            UserError(
                version_field,
                "CONFLICT",
                f"this customer was changed by someone else (it is now at version "
                f"{row.version}); reload it and try again",
            )
        ]
    return []


async def _lock_pair(
    conn: AsyncConnection, who: Scoped, survivor_id: uuid.UUID, merged_id: uuid.UUID
) -> dict[uuid.UUID, Row]:
    c = customers.c
    rows = await conn.execute(
        select(*_columns())
        .where(c.id.in_([survivor_id, merged_id]), visible_customers(who))
        .order_by(c.id)
        .with_for_update()
    )
    return {row.id: row for row in rows}


async def _move_rows(
    conn: AsyncConnection, survivor_id: uuid.UUID, merged_id: uuid.UUID
) -> dict[str, int]:
    moved: dict[str, int] = {}
    for name, column in MOVED.items():
        table = column.table
        values: dict = {column.key: survivor_id}
        if "version" in table.c:
            values.update(version=table.c.version + 1, updated_at=func.now())
        if table is contacts:
            other = contacts.alias("survivor_primary")
            survivor_has_primary = exists().where(
                other.c.customer_id == survivor_id,
                other.c.is_primary,
                other.c.deleted_at.is_(None),
            )
            values["is_primary"] = contacts.c.is_primary & ~survivor_has_primary
        result = await conn.execute(update(table).where(column == merged_id).values(values))
        moved[name] = result.rowcount
    return moved


async def merge_customers(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    survivor_id: uuid.UUID,
    merged_id: uuid.UUID,
    survivor_version: int,
    merged_version: int,
    fill_credit: bool = False,
) -> MergeResult:
    """Merge `merged_id` into `survivor_id`; raises UserErrors (nothing written) for
    anything the user can fix. `fill_credit`: may the survivor take the merged
    customer's credit limit (the caller holds customers:write_credit)."""
    if survivor_id == merged_id:
        raise fail("mergedId", "SAME_CUSTOMER", "a customer cannot be merged into itself")
    locked = await _lock_pair(conn, who, survivor_id, merged_id)
    survivor, merged = locked.get(survivor_id), locked.get(merged_id)
    errors = _problems(survivor, survivor_version, "survivorId", "survivorVersion")
    errors += _problems(merged, merged_version, "mergedId", "mergedVersion")
    if errors:
        raise UserErrors(errors)
    assert survivor is not None and merged is not None

    moved = await _move_rows(conn, survivor_id, merged_id)
    c = customers.c
    merged_after = (
        await conn.execute(
            update(customers)
            .where(c.id == merged_id)
            .values(
                deleted_at=func.now(),
                merged_into_id=survivor_id,
                version=c.version + 1,
                updated_at=func.now(),
            )  # fmt: skip
            .returning(*_columns())
        )
    ).one()
    values = filled_values(survivor, merged, with_credit=fill_credit)
    survivor_after = (
        await conn.execute(
            update(customers)
            .where(c.id == survivor_id)
            .values(**values, version=c.version + 1, updated_at=func.now())
            .returning(*_columns())
        )
    ).one()
    if "owner_id" in values:
        await record_changes(
            conn, actor=actor, kind="update", audit=False, reason="customer merge",
            changes=[OwnerChange(survivor_id, None, values["owner_id"])],
        )  # fmt: skip

    counts = {"from": None, "to": moved}
    await record(
        conn, actor=actor, action="customer.merge", entity_type="customer",
        entity_id=survivor_id,
        changes={
            **diff({k: getattr(survivor, k) for k in values}, values),
            "version": {"from": survivor.version, "to": survivor_after.version},
            "merged_customer_id": {"from": None, "to": str(merged_id)},
            "moved": counts,
        },
    )  # fmt: skip
    await record(
        conn, actor=actor, action="customer.merge", entity_type="customer", entity_id=merged_id,
        changes={
            **diff(
                {"deleted_at": None, "merged_into_id": None},
                {"deleted_at": merged_after.deleted_at, "merged_into_id": survivor_id},
            ),
            "version": {"from": merged.version, "to": merged_after.version},
            "moved": counts,
        },
    )  # fmt: skip
    return MergeResult(survivor=survivor_after, merged=merged_after, moved=moved)
