"""Customer import jobs (CSV): upserts customers and their primary contact in chunks.

Each chunk re-reads the stored upload and continues at `state["next_row"]`; the chunk's
transaction commits its rows together with the cursor, so a retried chunk redoes
exactly the rows whose writes were rolled back. Matching (externalRef, then email,
then normalised name) makes a re-run of rows that did commit a no-op as well.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor
from app.auth.principal import Scoped
from app.customers import importer, service
from app.customers.queries import CUSTOMER_COLUMNS, contacts_by_customer, visible_customers
from app.customers.rules import normalise_name
from app.customers.tables import customers
from app.errors import UserError, UserErrors
from app.jobs.imports import import_file_chunk
from app.jobs.service import ChunkOutcome, handler

IMPORT_KIND = "customers.import"
OUTCOMES = ("created", "updated", "unchanged", "failed")


class RowRejected(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _conflicts(current: Any, new: Any, same=lambda a, b: a == b) -> bool:
    return current is not None and new is not None and not same(current, new)


def _same_email(a: str, b: str) -> bool:
    return a.lower() == b.lower()


async def _match(conn: AsyncConnection, who: Scoped, fields: dict[str, Any]) -> Row | None:
    """The live customer this row describes. A candidate found by a weaker key whose
    stronger key disagrees (another externalRef, another email) is someone else; that
    keeps a file with two same-named customers stable on re-import."""
    c = customers.c
    ref, email, key = (
        fields.get("external_ref"),
        fields.get("email"),
        normalise_name(fields["name"]),
    )
    keys = [c.name_key == key]
    if ref:
        keys.append(c.external_ref == ref)
    if email:
        keys.append(func.lower(c.email) == email.lower())
    candidates = (
        await conn.execute(
            select(*CUSTOMER_COLUMNS)
            .where(c.deleted_at.is_(None), visible_customers(who), or_(*keys))
            .order_by(c.created_at, c.id)
        )
    ).all()
    for found in candidates:
        if ref and found.external_ref == ref:
            return found
    for found in candidates:
        if email and found.email and _same_email(found.email, email):
            if not _conflicts(found.external_ref, ref):
                return found
    for found in candidates:
        if normalise_name(found.name) == key and not (
            _conflicts(found.external_ref, ref) or _conflicts(found.email, email, _same_email)
        ):
            return found
    return None


def _without_cosmetic(current: Row, fields: dict[str, Any]) -> dict[str, Any]:
    """A name or email that only differs in case or spacing is the same value: keep the
    spelling already stored rather than flip it on every import."""
    out = dict(fields)
    if "name" in out and normalise_name(out["name"]) == normalise_name(current.name):
        del out["name"]
    if "email" in out and current.email and _same_email(out["email"], current.email):
        del out["email"]
    return out


def _rejected(parsed: importer.ParsedFile, row: importer.ImportRow, record: str,
              error: UserErrors) -> RowRejected:  # fmt: skip
    return RowRejected(importer.row_errors(parsed, row, record, error.errors))


async def _save_customer(
    conn: AsyncConnection, who: Scoped, actor: Actor, parsed: importer.ParsedFile,
    row: importer.ImportRow,
) -> tuple[Row, Row | None]:  # fmt: skip
    """The customer after the write, and as it was (None if created)."""
    current = await _match(conn, who, row.customer)
    try:
        if current is None:
            created = await service.create_customer(
                conn, actor=actor, who=who, customer_id=None, fields=row.customer
            )
            return created, None
        saved = await service.update_customer(
            conn, actor=actor, who=who, customer_id=current.id, version=current.version,
            fields=_without_cosmetic(current, row.customer),
        )  # fmt: skip
        return saved, current
    except UserErrors as error:
        raise _rejected(parsed, row, "customer", error) from error


async def _save_contact(
    conn: AsyncConnection,
    who: Scoped,
    actor: Actor,
    parsed: importer.ParsedFile,
    row: importer.ImportRow,
    customer_id: Any,
    *,
    new_customer: bool,
) -> bool:
    """Update the customer's contact of that name (the primary one without a name
    column), or add it; it becomes primary only if the customer has none. Returns
    whether anything changed."""
    existing = (
        [] if new_customer else (await contacts_by_customer(conn, [customer_id]))[customer_id]
    )
    fields = row.contact
    if "name" in fields:
        key = normalise_name(fields["name"])
        target = next((c for c in existing if normalise_name(c.name) == key), None)
    else:
        target = next((c for c in existing if c.is_primary), None)
        if target is None:
            missing = UserError("name", "REQUIRED", "contactName is required to add a contact")
            raise _rejected(parsed, row, "contact", UserErrors([missing]))
    try:
        if target is None:
            primary = not any(c.is_primary for c in existing)
            await service.create_contact(
                conn, actor=actor, who=who, contact_id=None, customer_id=customer_id,
                fields={**fields, "is_primary": primary},
            )  # fmt: skip
            return True
        saved = await service.update_contact(
            conn, actor=actor, who=who, contact_id=target.id, version=target.version,
            fields=_without_cosmetic(target, fields),
        )  # fmt: skip
        return saved.version != target.version
    except UserErrors as error:
        raise _rejected(parsed, row, "contact", error) from error


async def import_row(
    conn: AsyncConnection, who: Scoped, actor: Actor, parsed: importer.ParsedFile,
    row: importer.ImportRow,
) -> tuple[str, list[dict[str, Any]]]:  # fmt: skip
    """One row in its own savepoint: a rejected row leaves no trace, the chunk goes on."""
    if row.errors:
        return "failed", row.errors
    try:
        async with conn.begin_nested():
            saved, before = await _save_customer(conn, who, actor, parsed, row)
            contact_changed = bool(row.contact) and await _save_contact(
                conn, who, actor, parsed, row, saved.id, new_customer=before is None
            )
    except RowRejected as rejected:
        return "failed", rejected.errors
    if before is None:
        return "created", []
    return ("updated" if contact_changed or saved.version != before.version else "unchanged"), []


@handler(IMPORT_KIND)
async def import_chunk(conn: AsyncConnection, job: Row, actor: Actor) -> ChunkOutcome:
    async def one(who: Scoped, parsed: Any, number: int, cells: list[str]):
        row = importer.read_row(parsed, number, cells)
        outcome, errors = await import_row(conn, who, actor, parsed, row)
        return [outcome], errors

    return await import_file_chunk(
        conn, job, parse=importer.parse, import_row=one, outcomes=OUTCOMES
    )
