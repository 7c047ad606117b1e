"""Claiming, releasing and transferring customers.

Each function runs in the caller's transaction, writes one history row and one audit
record per customer whose owner changes, and raises UserErrors (so nothing at all is
written) for anything the user can fix.

Concurrency:
- Customer rows are locked in id order (a sub-select ... ORDER BY id FOR UPDATE), so
  bulk operations on overlapping sets wait for each other instead of deadlocking.
- A claim changes only customers still in the pool when their lock is granted
  (`owner_id IS NULL` is re-checked on the row version the winner committed): of two
  reps claiming the same customer at once exactly one gets it.
- Claims by one user are serialised on that user's row (FOR NO KEY UPDATE, which does
  not block the foreign-key checks of rows referring to the user), so the count of
  what they own, taken after the claim, is exact: the claim limit holds even for
  concurrent requests of the same rep.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.ids import parse_uuid
from app.audit.service import Actor
from app.auth.principal import Scoped
from app.auth.roles import resolve_role
from app.auth.scope import owner_visible, people_visible
from app.customers.queries import CUSTOMER_COLUMNS, visible_customers
from app.customers.tables import customers
from app.errors import UserError, UserErrors, fail
from app.pool.history import OwnerChange, record_changes
from app.pool.limit import enforce_claim_limit, serialise_claims
from app.users.tables import users
from app.validation import check_length, clean

MAX_IDS = 100
MAX_REASON = 500

ALREADY_OWNED = "ALREADY_OWNED"
NOT_FOUND = "NOT_FOUND"


@dataclass(frozen=True)
class ClaimOutcome:
    id: str  # as the client sent it
    claimed: bool
    reason: str | None  # ALREADY_OWNED or NOT_FOUND when not claimed
    row: Row | None  # the customer, when the caller may see it


def _requested(ids: Sequence[object]) -> dict[str, uuid.UUID | None]:
    """The ids as sent (without repeats) and what each parses to (None: malformed)."""
    wanted: dict[str, uuid.UUID | None] = {}
    seen: set[uuid.UUID] = set()
    for raw in ids:
        key = str(raw)
        parsed = parse_uuid(key)
        if key in wanted or (parsed is not None and parsed in seen):
            continue
        wanted[key] = parsed
        if parsed is not None:
            seen.add(parsed)
    if not wanted:
        raise fail("ids", "REQUIRED", "name at least one customer")
    if len(wanted) > MAX_IDS:
        raise fail("ids", "TOO_MANY", f"at most {MAX_IDS} customers at once")
    return wanted


def _reason(value: str | None) -> str | None:
    value = clean(value)
    error = check_length("reason", value, max_length=MAX_REASON)
    if error:
        raise UserErrors([error])
    return value


async def _lock_visible(
    conn: AsyncConnection, who: Scoped, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Row]:
    """The live customers among `ids` the caller may see, locked in id order."""
    c = customers.c
    rows = await conn.execute(
        select(*CUSTOMER_COLUMNS)
        .where(c.id.in_(ids), c.deleted_at.is_(None), visible_customers(who))
        .order_by(c.id)
        .with_for_update()
    )
    return {r.id: r for r in rows}


async def _set_owner(
    conn: AsyncConnection, ids: Sequence[uuid.UUID], owner_id: uuid.UUID | None
) -> dict[uuid.UUID, Row]:
    """Give locked customers a new owner (a new version: a client holding the old one
    gets a conflict, as after any change)."""
    if not ids:
        return {}
    c = customers.c
    rows = await conn.execute(
        update(customers)
        .where(c.id.in_(ids))
        .values(owner_id=owner_id, version=c.version + 1, updated_at=func.now())
        .returning(*CUSTOMER_COLUMNS)
    )
    return {r.id: r for r in rows}


def _not_found(missing: Sequence[str]) -> UserError:
    return UserError("ids", "NOT_FOUND", f"no such customer: {', '.join(missing)}")


async def claim_customers(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, ids: Sequence[object]
) -> list[ClaimOutcome]:
    """Take customers from the pool. Each id is claimed, or ALREADY_OWNED (it has an
    owner, possibly the caller), or NOT_FOUND (no such live customer the caller may
    see). If the caller would own more live customers than the claim limit, nothing
    is claimed: a LIMIT user error naming `ids` (all or nothing)."""
    wanted = _requested(ids)
    valid = [u for u in wanted.values() if u is not None]
    me = who.user_id
    await serialise_claims(conn, me)
    pick = customers.alias("pick")
    p, c = pick.c, customers.c
    in_pool = (
        select(p.id)
        .where(
            p.id.in_(valid),
            p.owner_id.is_(None),
            p.deleted_at.is_(None),
            owner_visible(who, p.owner_id, assigned=p.partner_id),
        )
        .order_by(p.id)
        .with_for_update()
    )
    claimed = {
        r.id: r
        for r in await conn.execute(
            update(customers)
            .where(c.id.in_(in_pool.scalar_subquery()), c.owner_id.is_(None))
            .values(owner_id=me, version=c.version + 1, updated_at=func.now())
            .returning(*CUSTOMER_COLUMNS)
        )
    }
    if claimed:
        await enforce_claim_limit(conn, me, gained=len(claimed), field="ids")
        await record_changes(
            conn, actor=actor, kind="claim",
            changes=[OwnerChange(i, None, me) for i in claimed],
        )  # fmt: skip
    others = [u for u in valid if u not in claimed]
    found: dict[uuid.UUID, Row] = {}
    if others:
        rows = await conn.execute(
            select(*CUSTOMER_COLUMNS, visible_customers(who).label("visible")).where(
                c.id.in_(others), c.deleted_at.is_(None)
            )
        )
        found = {r.id: r for r in rows}
    outcomes = []
    for raw, parsed in wanted.items():
        if parsed in claimed:
            outcomes.append(ClaimOutcome(raw, True, None, claimed[parsed]))
            continue
        row = found.get(parsed) if parsed is not None else None
        if row is not None and row.owner_id is not None:
            # Owned: said even when the owner's records are outside the caller's
            # scope (a rep who lost a race must learn why); who owns it, and the
            # customer itself, stay hidden unless visible.
            outcomes.append(ClaimOutcome(raw, False, ALREADY_OWNED, row if row.visible else None))
        else:
            outcomes.append(ClaimOutcome(raw, False, NOT_FOUND, None))
    return outcomes


async def release_customers(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    ids: Sequence[object],
    reason: str | None,
    may_release_others: bool,
) -> list[Row]:
    """Put customers back in the pool: the caller's own, or (with customers:transfer)
    anyone's within their scope. All or nothing; customers already in the pool are
    left as they are (a repeated release is a no-op). Returns them in the order asked."""
    wanted = _requested(ids)
    reason = _reason(reason)
    valid = [u for u in wanted.values() if u is not None]
    rows = await _lock_visible(conn, who, valid)
    missing = [raw for raw, u in wanted.items() if u not in rows]
    if missing:
        raise UserErrors([_not_found(missing)])
    owned = [r for r in rows.values() if r.owner_id is not None]
    if not may_release_others:
        others = [str(r.id) for r in owned if r.owner_id != who.user_id]
        if others:
            raise fail(
                "ids",
                "NOT_OWNER",
                "only the owner, or someone with customers:transfer, may release: "
                + ", ".join(others),
            )
    changed = await _set_owner(conn, [r.id for r in owned], None)
    await record_changes(
        conn, actor=actor, kind="release", reason=reason,
        changes=[OwnerChange(r.id, r.owner_id, None) for r in owned],
    )  # fmt: skip
    return [changed.get(u, rows[u]) for u in wanted.values() if u is not None]


async def _check_target(
    conn: AsyncConnection, who: Scoped, to_user_id: uuid.UUID | None
) -> UserError | None:
    """The new owner: an active user the caller may see, whose role sees customers by
    owner (a partner's assigned scope would not see what it owns)."""
    row = None
    if to_user_id is not None:
        row = (
            await conn.execute(
                select(users.c.active, users.c.role).where(
                    users.c.id == to_user_id, people_visible(who, users.c.id)
                )
            )
        ).first()
    if row is None or not row.active:
        return UserError("toUserId", "NOT_FOUND", "no active user with this id")
    role = await resolve_role(conn, row.role)
    if role is None or role.data_scope == "assigned":
        return UserError("toUserId", "INVALID", "this user's role does not see customers by owner")
    return None


async def transfer_customers(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    ids: Sequence[object],
    to_user_id: uuid.UUID | None,
    reason: str | None,
) -> list[Row]:
    """Move customers within the caller's scope (pool customers included: that
    assigns them) to another user. All or nothing. The target's claim limit does not
    apply: it brakes self-service claims, not a manager's deliberate allocation."""
    wanted = _requested(ids)
    reason = _reason(reason)
    errors = []
    if (target_error := await _check_target(conn, who, to_user_id)) is not None:
        errors.append(target_error)
    valid = [u for u in wanted.values() if u is not None]
    rows = await _lock_visible(conn, who, valid)
    missing = [raw for raw, u in wanted.items() if u not in rows]
    if missing:
        errors.append(_not_found(missing))
    if errors:
        raise UserErrors(errors)
    moving = [r for r in rows.values() if r.owner_id != to_user_id]
    changed = await _set_owner(conn, [r.id for r in moving], to_user_id)
    await record_changes(
        conn, actor=actor, kind="transfer", reason=reason,
        changes=[OwnerChange(r.id, r.owner_id, to_user_id) for r in moving],
    )  # fmt: skip
    return [changed.get(u, rows[u]) for u in wanted.values() if u is not None]
