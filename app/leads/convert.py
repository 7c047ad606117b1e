"""Converting a lead (线索转化): in the caller's one transaction, the customer (linked
or created), the contact, optionally the opportunity, and the lead's links to them;
the activities and tasks on the lead move onto what it became (app/activities/service.py).

Every part goes through its capability's service (app/customers/service.py,
app/pipeline/service.py), so each is validated, scoped and audited as if made by hand;
any UserErrors roll the whole conversion back.

Concurrency: the lead row is locked first (FOR UPDATE), so of two conversions of one
lead the second waits, then finds it converted (ALREADY_CONVERTED): exactly one
customer, contact and opportunity come of it. Two conversions of different leads of
the same company take a transaction-level advisory lock on the company's normalised
name before looking for the customer, so the second links to the customer the first
created instead of making a duplicate.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.activities.service import link_converted_lead
from app.audit.service import Actor
from app.auth.principal import Scoped
from app.customers import service as customers_service
from app.customers.queries import (
    CUSTOMER_COLUMNS,
    contacts_by_customer,
    get_customer,
    visible_customers,
)
from app.customers.rules import normalise_name
from app.customers.tables import customers
from app.errors import UserError, UserErrors, fail
from app.leads.queries import visible_leads
from app.leads.service import check_version, refuse_converted
from app.leads.tables import leads
from app.pipeline import service as pipeline_service
from app.records import apply_change, lock_for_change
from app.users.tables import users

# Errors of the parts, renamed to the convertLead input (or lead) field they come from.
CUSTOMER_FIELDS = {"name": "company"}
OPPORTUNITY_FIELDS = {"name": "opportunityName", "stageId": "createOpportunity",
                      "pipelineId": "createOpportunity", "customerId": "customerId"}  # fmt: skip
NAME_LOCK = "kehu.lead_conversion.customer:"


@dataclass(frozen=True)
class Conversion:
    lead: Row
    customer: Row
    contact: Row
    opportunity: Row | None
    customer_created: bool
    contact_created: bool


def _renamed(error: UserErrors, names: dict[str, str]) -> UserErrors:
    return UserErrors(
        [UserError(names.get(e.field or "", e.field), e.code, e.message) for e in error.errors]
    )


def customer_key(lead: Row) -> str:
    """What a lead's customer is matched by: its company's normalised name (as the
    customers' `name_key`), or the person's name for a lead without a company."""
    return normalise_name(lead.company or lead.name)


async def _owner(conn: AsyncConnection, lead: Row, who: Scoped) -> uuid.UUID:
    """Who owns what the conversion creates: the lead's owner while active, else the
    user converting it."""
    if lead.owner_id is not None:
        active = await conn.scalar(select(users.c.active).where(users.c.id == lead.owner_id))
        if active:
            return lead.owner_id
    return who.user_id


async def _customer(
    conn: AsyncConnection, actor: Actor, who: Scoped, lead: Row,
    customer_id: uuid.UUID | None, owner: uuid.UUID,
) -> tuple[Row, bool]:  # fmt: skip
    """The customer named, else the live customer (visible to the caller) with the
    lead's company name, else a new one. Returns it and whether it was created."""
    if customer_id is not None:
        found = await get_customer(conn, who, customer_id)
        if found is None or found.deleted_at is not None:
            raise fail("customerId", "NOT_FOUND", "no such customer")
        return found, False
    key = customer_key(lead)
    await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(literal(NAME_LOCK + key)))))
    c = customers.c
    found = (
        await conn.execute(
            select(*CUSTOMER_COLUMNS)
            .where(c.name_key == key, c.deleted_at.is_(None), visible_customers(who))
            .order_by(c.created_at, c.id)
            .limit(1)
        )
    ).first()
    if found is not None:
        return found, False
    fields: dict[str, Any] = {
        "name": lead.company or lead.name, "region": lead.region, "source": lead.source,
        "owner_id": owner,
    }  # fmt: skip
    if not lead.company:  # the customer is the person: their phone and email are its own
        fields.update(phone=lead.phone, email=lead.email)
    try:
        created = await customers_service.create_customer(
            conn, actor=actor, who=who, customer_id=None, fields=fields
        )
    except UserErrors as error:
        raise _renamed(error, CUSTOMER_FIELDS) from error
    return created, True


def _conflicts(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lower() != b.lower()


async def _contact(
    conn: AsyncConnection, actor: Actor, who: Scoped, lead: Row, customer_id: uuid.UUID,
    *, new_customer: bool,
) -> tuple[Row, bool]:  # fmt: skip
    """The lead's person as a contact of the customer: an existing live contact of the
    same (normalised) name whose email does not differ, else a new one, primary if the
    customer has no primary contact yet."""
    existing = (
        [] if new_customer else (await contacts_by_customer(conn, [customer_id]))[customer_id]
    )
    key = normalise_name(lead.name)
    for contact in existing:
        if normalise_name(contact.name) == key and not _conflicts(contact.email, lead.email):
            return contact, False
    fields = {
        "name": lead.name, "title": lead.title, "phone": lead.phone, "email": lead.email,
        "is_primary": not any(c.is_primary for c in existing),
    }  # fmt: skip
    created = await customers_service.create_contact(
        conn, actor=actor, who=who, contact_id=None, customer_id=customer_id, fields=fields
    )
    return created, True


async def _opportunity(
    conn: AsyncConnection, actor: Actor, who: Scoped, lead: Row, customer_id: uuid.UUID,
    owner: uuid.UUID, fields: dict[str, Any],
) -> Row:  # fmt: skip
    """In the default pipeline's first stage (app/pipeline/service.py decides)."""
    values = dict(fields)
    if values.get("name") is None:
        values["name"] = lead.company or lead.name
    values["owner_id"] = owner
    try:
        return await pipeline_service.create_opportunity(
            conn, actor=actor, who=who, opportunity_id=None, customer_id=customer_id,
            pipeline_id=None, stage_id=None, fields=values,
        )  # fmt: skip
    except UserErrors as error:
        raise _renamed(error, OPPORTUNITY_FIELDS) from error


async def convert_lead(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    lead_id: uuid.UUID,
    version: int | None,
    customer_id: uuid.UUID | None,
    opportunity: dict[str, Any] | None,
) -> Conversion:
    """Convert the lead; `opportunity` holds the new opportunity's fields (name,
    amount, currency, expected_close_date), or is None for no opportunity."""
    current = await lock_for_change(
        conn, leads, lead_id, entity="lead", version=None, visible=visible_leads(who)
    )
    refuse_converted(current)
    check_version(current, version)
    if current.status == "disqualified":
        raise fail("id", "DISQUALIFIED", "this lead is disqualified; requalify it first")
    owner = await _owner(conn, current, who)
    customer, customer_created = await _customer(conn, actor, who, current, customer_id, owner)
    contact, contact_created = await _contact(
        conn, actor, who, current, customer.id, new_customer=customer_created
    )
    opp = None
    if opportunity is not None:
        opp = await _opportunity(conn, actor, who, current, customer.id, owner, opportunity)
    await link_converted_lead(
        conn, actor=actor, lead_id=current.id, customer_id=customer.id, contact_id=contact.id,
        opportunity_id=opp.id if opp is not None else None,
    )  # fmt: skip
    lead = await apply_change(
        conn, leads, current, actor=actor, entity="lead", action="convert",
        values={
            "status": "qualified", "disqualified_reason": None,
            "converted_at": dt.datetime.now(dt.UTC), "converted_customer_id": customer.id,
            "converted_contact_id": contact.id,
            "converted_opportunity_id": opp.id if opp is not None else None,
            "owner_id": current.owner_id or owner,
        },
    )  # fmt: skip
    return Conversion(lead, customer, contact, opp, customer_created, contact_created)
