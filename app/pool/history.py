"""Writing ownership changes: a history row per customer (and, for the pool's own
actions, the audit record), in the caller's transaction, one statement per table.

Kept free of imports from app.customers.service, which calls `record_changes` when
createCustomer or updateCustomer sets an owner (those already audit the change).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor
from app.audit.tables import audit_log
from app.pool.tables import OWNERSHIP_KINDS, customer_ownership_changes


@dataclass(frozen=True)
class OwnerChange:
    customer_id: uuid.UUID
    from_owner_id: uuid.UUID | None
    to_owner_id: uuid.UUID | None


def _str(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def audit_changes(change: OwnerChange, reason: str | None) -> dict:
    """The audit record's `changes`, in the audit log's {field: {from, to}} shape."""
    changes: dict = {
        "owner_id": {"from": _str(change.from_owner_id), "to": _str(change.to_owner_id)}
    }
    if reason is not None:
        changes["reason"] = {"from": None, "to": reason}
    return changes


async def record_changes(
    conn: AsyncConnection,
    *,
    actor: Actor,
    kind: str,
    changes: Sequence[OwnerChange],
    reason: str | None = None,
    audit: bool = True,
) -> None:
    """History rows for `changes` (those that really change the owner), and with
    `audit` one audit record each (`customer.<kind>`)."""
    assert kind in OWNERSHIP_KINDS, kind
    real = [c for c in changes if c.from_owner_id != c.to_owner_id]
    if not real:
        return
    await conn.execute(
        insert(customer_ownership_changes),
        [
            {
                "customer_id": c.customer_id,
                "from_owner_id": c.from_owner_id,
                "to_owner_id": c.to_owner_id,
                "kind": kind,
                "reason": reason,
                "changed_by": actor.id,
            }
            for c in real
        ],
    )
    if audit:
        await conn.execute(
            insert(audit_log),
            [
                {
                    "actor_id": actor.id,
                    "actor_kind": actor.kind,
                    "action": f"customer.{kind}",
                    "entity_type": "customer",
                    "entity_id": c.customer_id,
                    "changes": audit_changes(c, reason),
                }
                for c in real
            ],
        )
