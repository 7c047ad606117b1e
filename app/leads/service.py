"""Writes to leads. Every function runs inside the caller's transaction, writes its
audit record there (app/records.py) and raises UserErrors for anything the user can
fix, so nothing at all is written then.

Status changes happen in one place each: `update_lead` (NEW <-> WORKING, and back from
QUALIFIED or DISQUALIFIED to them), `qualify_lead`, `disqualify_lead`, and conversion
(app/leads/convert.py); the allowed transitions are app/leads/rules.TRANSITIONS. A
converted lead changes no more (ALREADY_CONVERTED).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.ids import parse_uuid
from app.audit.service import Actor
from app.auth.principal import Scoped
from app.custom_fields import service as custom
from app.errors import UserError, UserErrors, fail
from app.leads import assignment
from app.leads.queries import LEAD_COLUMNS, visible_leads
from app.leads.rules import check_reason, check_transition, normalise_lead
from app.leads.tables import leads
from app.records import apply_change, insert_once, lock_for_change

MAX_IDS = 100
ALREADY_CONVERTED = "ALREADY_CONVERTED"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def refuse_converted(row: Row, field: str = "id") -> None:
    if row.converted_at is not None:
        raise fail(field, ALREADY_CONVERTED, "this lead was converted; it changes no more")


async def _validated(
    conn: AsyncConnection,
    fields: dict[str, Any],
    who: Scoped,
    *,
    creating: bool,
    custom_fields: list[tuple[str, Any]] | None = None,
) -> tuple[dict[str, Any], custom.PreparedValues | None]:
    """The columns and the custom field values (app/custom_fields), all checked before
    anything is written; `custom_fields` None (not given, as by imports) skips the
    required custom fields."""
    values = dict(fields)
    errors = normalise_lead(values, creating=creating)
    if values.get("owner_id") is not None:
        errors += await assignment.check_owner(conn, values["owner_id"], who)
    prepared, custom_errors = await custom.prepare(conn, "lead", custom_fields, creating=creating)
    errors += custom_errors
    if errors:
        raise UserErrors(errors)
    return values, prepared


def _same_create(existing: Row, values: dict[str, Any], *, owner_given: bool) -> bool:
    """A repeated create: the same content (the owner only if the client chose one;
    otherwise the rules chose it the first time)."""
    return all(
        getattr(existing, k) == v for k, v in values.items() if owner_given or k != "owner_id"
    )


async def create_lead(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    lead_id: uuid.UUID | None,
    fields: dict[str, Any],
    custom_fields: list[tuple[str, Any]] | None = None,
) -> Row:
    """A new lead; without an owner, the assignment rules pick one (or none). A
    repeated create with the same id and content returns the lead unchanged (its
    custom values are not written again)."""
    values, prepared = await _validated(
        conn, fields, who, creating=True, custom_fields=custom_fields
    )
    owner_given = values.get("owner_id") is not None
    if lead_id is not None:
        existing = (await conn.execute(select(leads).where(leads.c.id == lead_id))).first()
        if existing is not None:
            if not _same_create(existing, values, owner_given=owner_given):
                raise fail("id", "CONFLICT", "another lead already has this id")
            return existing
    if not owner_given:
        values["owner_id"] = await assignment.pick_owner(conn, values.get("region"))
    # Two concurrent repeats of one create may both get here; the loser's insert_once
    # compares with the winner's row and, if the rules gave them different owners,
    # answers CONFLICT (its transaction, cursor move included, rolls back).
    row, created = await insert_once(
        conn, leads, actor=actor, entity="lead", row_id=lead_id, values=values
    )
    if created:  # custom values, audited as lead.custom_fields in this transaction
        await custom.write(conn, prepared, actor=actor, entity_id=row.id)
    return row


async def _locked(
    conn: AsyncConnection, who: Scoped, lead_id: uuid.UUID, version: int | None,
    *, deleted: bool = False,
) -> Row:  # fmt: skip
    """The lead, locked; converted ones are refused before a stale version is."""
    current = await lock_for_change(
        conn, leads, lead_id, entity="lead", version=None, deleted=deleted,
        visible=visible_leads(who),
    )  # fmt: skip
    refuse_converted(current)
    check_version(current, version)
    return current


def check_version(current: Row, version: int | None) -> None:
    if version is not None and version != current.version:
        raise fail(
            "version",
            "CONFLICT",
            f"this lead was changed by someone else (it is now at version {current.version}); "
            "reload it and try again",
        )


def _status_values(current: Row, status: str, reason: str | None = None) -> dict[str, Any]:
    if error := check_transition(current.status, status):
        raise UserErrors([error])
    return {"status": status, "disqualified_reason": reason if status == "disqualified" else None}


async def update_lead(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    lead_id: uuid.UUID,
    version: int | None,
    fields: dict[str, Any],
    custom_fields: list[tuple[str, Any]] | None = None,
) -> Row:
    current = await _locked(conn, who, lead_id, version)
    values = dict(fields)
    if "owner_id" in values and values["owner_id"] == current.owner_id:
        del values["owner_id"]  # unchanged: no need for the owner to be visible or eligible
    values, prepared = await _validated(
        conn, values, who, creating=False, custom_fields=custom_fields
    )
    if "status" in values:
        values.update(_status_values(current, values["status"]))
    row = await apply_change(
        conn, leads, current, actor=actor, entity="lead", action="update", values=values
    )
    return await custom.write_on_update(
        conn, prepared, actor=actor, table=leads, current=current, row=row
    )


async def qualify_lead(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, lead_id: uuid.UUID, version: int | None
) -> Row:
    current = await _locked(conn, who, lead_id, version)
    return await apply_change(
        conn, leads, current, actor=actor, entity="lead", action="qualify",
        values=_status_values(current, "qualified"),
    )  # fmt: skip


async def disqualify_lead(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    lead_id: uuid.UUID,
    version: int | None,
    reason: str | None,
) -> Row:
    reason, error = check_reason(reason)
    if error:
        raise UserErrors([error])
    current = await _locked(conn, who, lead_id, version)
    return await apply_change(
        conn, leads, current, actor=actor, entity="lead", action="disqualify",
        values=_status_values(current, "disqualified", reason),
    )  # fmt: skip


async def delete_lead(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, lead_id: uuid.UUID, version: int | None
) -> Row:
    current = await lock_for_change(
        conn, leads, lead_id, entity="lead", version=version, visible=visible_leads(who)
    )
    return await apply_change(
        conn, leads, current, actor=actor, entity="lead", action="delete",
        values={"deleted_at": _now()},
    )  # fmt: skip


async def restore_lead(
    conn: AsyncConnection, *, actor: Actor, who: Scoped, lead_id: uuid.UUID, version: int | None
) -> Row:
    current = await lock_for_change(
        conn, leads, lead_id, entity="lead", version=version, deleted=True,
        visible=visible_leads(who),
    )  # fmt: skip
    return await apply_change(
        conn, leads, current, actor=actor, entity="lead", action="restore",
        values={"deleted_at": None},
    )  # fmt: skip


def _requested(ids: Sequence[object]) -> dict[str, uuid.UUID | None]:
    """The ids as sent, without repeats, and what each parses to (None: malformed)."""
    wanted: dict[str, uuid.UUID | None] = {}
    for raw in ids:
        wanted.setdefault(str(raw), parse_uuid(raw))
    if not wanted:
        raise fail("ids", "REQUIRED", "name at least one lead")
    if len(wanted) > MAX_IDS:
        raise fail("ids", "TOO_MANY", f"at most {MAX_IDS} leads at once")
    return wanted


async def assign_leads(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    ids: Sequence[object],
    owner_id: uuid.UUID | None,
) -> list[Row]:
    """Give leads the caller may see to `owner_id` (None: unassign them). All or
    nothing; the leads are locked in id order, so overlapping assignments wait for
    each other instead of deadlocking. Returns the leads in the order asked."""
    wanted = _requested(ids)
    errors: list[UserError] = []
    if owner_id is not None:
        errors += await assignment.check_owner(conn, owner_id, who)
    valid = list(dict.fromkeys(u for u in wanted.values() if u is not None))
    rows = await conn.execute(
        select(*LEAD_COLUMNS)
        .where(leads.c.id.in_(valid), leads.c.deleted_at.is_(None), visible_leads(who))
        .order_by(leads.c.id)
        .with_for_update()
    )
    found = {r.id: r for r in rows}
    missing = [raw for raw, parsed in wanted.items() if parsed not in found]
    if missing:
        errors.append(UserError("ids", "NOT_FOUND", f"no such lead: {', '.join(missing)}"))
    converted = [raw for raw, parsed in wanted.items() if parsed in found
                 and found[parsed].converted_at is not None]  # fmt: skip
    if converted:
        errors.append(
            UserError(
                "ids", ALREADY_CONVERTED, f"converted leads change no more: {', '.join(converted)}"
            )
        )
    if errors:
        raise UserErrors(errors)
    changed = {}
    for lead_id in sorted(found):
        changed[lead_id] = await apply_change(
            conn, leads, found[lead_id], actor=actor, entity="lead", action="assign",
            values={"owner_id": owner_id},
        )  # fmt: skip
    return [changed[u] for u in valid]
