"""Lead import jobs (CSV): creates or updates leads in chunks, through the jobs' chunk
protocol (app/jobs/service.py) exactly as the customer import does.

Each chunk re-reads the stored upload and continues at `state["next_row"]`; the
chunk's transaction commits its rows together with the cursor, so a retried chunk
redoes exactly the rows whose writes were rolled back. Matching (email, then phone,
then the same name and company when a row has neither) makes a re-run of rows that
did commit a no-op as well. New leads go through the assignment rules.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor
from app.auth.principal import Scoped
from app.customers.importer import ParsedFile
from app.errors import UserErrors
from app.jobs.imports import import_file_chunk
from app.jobs.service import ChunkOutcome, handler
from app.leads import importer, service
from app.leads.queries import LEAD_COLUMNS, visible_leads
from app.leads.tables import leads

IMPORT_KIND = "leads.import"
OUTCOMES = ("created", "updated", "unchanged", "failed", "assigned")


class RowRejected(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _same_email(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lower() == b.lower()


def _conflicts(current: str | None, new: str | None, same=lambda a, b: a == b) -> bool:
    return current is not None and new is not None and not same(current, new)


async def _match(conn: AsyncConnection, who: Scoped, fields: dict[str, Any]) -> Row | None:
    """The live lead this row describes: same email (case-insensitive); else same
    phone, unless the emails differ; else, for a row with neither, the same name and
    company. Candidates are the leads the importer may see, and those they created
    (which the assignment rules may have given to someone outside their scope)."""
    c = leads.c
    email, phone = fields.get("email"), fields.get("phone")
    keys = []
    if email:
        keys.append(func.lower(c.email) == email.lower())
    if phone:
        keys.append(c.phone == phone)
    if not keys:
        company = fields.get("company")
        keys.append(
            and_(
                c.name == fields["name"],
                c.company == company if company else c.company.is_(None),
                c.email.is_(None),
                c.phone.is_(None),
            )
        )
    candidates = (
        await conn.execute(
            select(*LEAD_COLUMNS, visible_leads(who).label("visible"))
            .where(
                c.deleted_at.is_(None),
                or_(visible_leads(who), c.created_by == who.user_id),
                or_(*keys),
            )
            .order_by(c.created_at, c.id)
        )
    ).all()
    for found in candidates:
        if email and _same_email(found.email, email):
            return found
    for found in candidates:
        if phone and found.phone == phone and not _conflicts(found.email, email, _same_email):
            return found
    if not email and not phone and candidates:
        return candidates[0]
    return None


def _without_cosmetic(current: Row, fields: dict[str, Any]) -> dict[str, Any]:
    """An email differing only in case is the same value: keep the stored spelling."""
    out = dict(fields)
    if "email" in out and _same_email(out["email"], current.email):
        del out["email"]
    return out


async def import_row(
    conn: AsyncConnection, who: Scoped, actor: Actor, parsed: ParsedFile, row: importer.LeadRow
) -> tuple[str, bool, list[dict[str, Any]]]:
    """One row in its own savepoint: a rejected row leaves no trace, the chunk goes
    on. Returns the outcome, whether the rules assigned a new lead, and errors."""
    if row.errors:
        return "failed", False, row.errors
    try:
        async with conn.begin_nested():
            current = await _match(conn, who, row.fields)
            if current is None:
                fields = {"source": importer.DEFAULT_SOURCE, **row.fields}
                created = await service.create_lead(
                    conn, actor=actor, who=who, lead_id=None, fields=fields
                )
                return "created", created.owner_id is not None, []
            if not current.visible or current.converted_at is not None:
                # Handed on by the rules to someone outside the importer's scope, or
                # converted (final): the import leaves it as it is.
                return "unchanged", False, []
            saved = await service.update_lead(
                conn, actor=actor, who=who, lead_id=current.id, version=current.version,
                fields=_without_cosmetic(current, row.fields),
            )  # fmt: skip
    except UserErrors as error:
        return "failed", False, importer.row_errors(parsed, row.number, error.errors)
    return ("updated" if saved.version != current.version else "unchanged"), False, []


@handler(IMPORT_KIND)
async def import_chunk(conn: AsyncConnection, job: Row, actor: Actor) -> ChunkOutcome:
    async def one(who: Scoped, parsed: Any, number: int, cells: list[str]):
        row = importer.read_row(parsed, number, cells)
        outcome, assigned, errors = await import_row(conn, who, actor, parsed, row)
        return [outcome, "assigned"] if assigned else [outcome], errors

    return await import_file_chunk(
        conn, job, parse=importer.parse_file, import_row=one, outcomes=OUTCOMES
    )
