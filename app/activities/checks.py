"""Checks the writes share: the people a record is given to, the customer, contact,
lead and opportunity it links to, and whether the acting user may change a record
tied to a person."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, Uuid, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import True_

from app.activities.rules import api_name
from app.auth.principal import Scoped
from app.auth.scope import people_visible
from app.customers.queries import (
    live,
    lock_referenced_customer,
    visible_contacts,
)
from app.customers.tables import contacts
from app.errors import UserError, fail
from app.leads.queries import visible_leads
from app.leads.tables import leads
from app.pipeline.queries import visible_opportunities
from app.pipeline.tables import opportunities
from app.users.tables import users


async def check_person(
    conn: AsyncConnection, who: Scoped, fields: dict[str, Any], key: str
) -> list[UserError]:
    """A record goes to an active user the acting user may see: a rep with own scope
    keeps their work, a manager hands it to their team."""
    person = fields.get(key)
    if person is None or person == who.user_id:
        return []
    active = await conn.scalar(
        select(users.c.active).where(users.c.id == person, people_visible(who, users.c.id))
    )
    if not active:
        return [UserError(api_name(key), "NOT_FOUND", "no active user with this id")]
    return []


LINKS = ("customer_id", "contact_id", "lead_id", "opportunity_id")


async def _linked(
    conn: AsyncConnection, table: Table, visible: ColumnElement[bool], row_id: uuid.UUID,
    *, setting: bool,
) -> Row | None:  # fmt: skip
    """The linked lead or opportunity, FOR KEY SHARE: a conversion (FOR UPDATE) of a
    lead waits for this write, or this write waits for the conversion and then sees it
    converted. One being linked must be live and in the caller's scope (`visible`; a
    lead's follows its owner)."""
    query = select(table).where(table.c.id == row_id)
    if setting:
        query = query.where(live(table), visible)
    return (await conn.execute(query.with_for_update(read=True, key_share=True))).first()


def _unconverted(fields: dict[str, Any], current: Row | None) -> list[UserError]:
    """A record on a lead that is not converted has no customer, contact or
    opportunity: links sent with it are errors, those it had are dropped."""
    errors = []
    for key, what in (("customer_id", "customer"), ("contact_id", "contact"),
                      ("opportunity_id", "opportunity")):  # fmt: skip
        if fields.get(key) is not None:
            errors.append(
                UserError(
                    api_name(key), "LEAD_NOT_CONVERTED",
                    f"the lead is not converted yet: a record on it has no {what}",
                )
            )  # fmt: skip
        elif getattr(current, key, None) is not None:
            fields[key] = None
    return errors


async def check_links(
    conn: AsyncConnection,
    who: Scoped,
    fields: dict[str, Any],
    current: Row | None = None,
    *,
    customer_or_lead: bool = False,
) -> list[UserError]:
    """The one place the links of activities, tasks and appointments are decided.

    Only links being set are checked (against the caller's scope); `fields` is
    completed in place with the links they imply:
    - a linked lead must be live and visible; while it is not converted the record has
      no customer, contact or opportunity; once converted, it takes the customer the
      lead became (and, newly linked, its opportunity, if none is given);
    - a linked opportunity must be live and visible; the record takes its customer;
    - a linked contact must be live, visible and belong to the customer; a contact
      given without a customer links its customer;
    - a linked customer must be live and visible (held FOR KEY SHARE, see
      `lock_referenced_customer`).
    `customer_or_lead`: the record needs one of them (activities)."""

    def final(key: str) -> Any:
        return fields[key] if key in fields else getattr(current, key, None)

    if not any(key in fields for key in LINKS):
        return [_REQUIRED] if customer_or_lead and current is None else []
    errors: list[UserError] = []
    implied: uuid.UUID | None = None  # the customer the lead or opportunity decides
    source = ""  # which of them decides it
    lead_id = final("lead_id")
    if lead_id is not None:
        lead = await _linked(conn, leads, visible_leads(who), lead_id, setting="lead_id" in fields)
        if lead is None:
            return [UserError("leadId", "NOT_FOUND", "no such lead")]
        if lead.converted_at is None:
            return _unconverted(fields, current)
        implied, source = lead.converted_customer_id, "leadId"
        if "lead_id" in fields and final("opportunity_id") is None:
            fields["opportunity_id"] = lead.converted_opportunity_id
    opportunity_id = final("opportunity_id")
    if opportunity_id is not None:
        setting = "opportunity_id" in fields
        opportunity = await _linked(
            conn, opportunities, visible_opportunities(who), opportunity_id, setting=setting
        )
        if opportunity is None:
            return [UserError("opportunityId", "NOT_FOUND", "no such opportunity")]
        if implied is not None and opportunity.customer_id != implied:
            return [
                UserError(
                    "opportunityId", "MISMATCH",
                    "the opportunity belongs to another customer than the lead became",
                )
            ]  # fmt: skip
        implied, source = opportunity.customer_id, "opportunityId"
    if implied is not None:
        if "customer_id" in fields and fields["customer_id"] != implied:
            what = "the opportunity's" if source == "opportunityId" else "the lead's"
            errors.append(
                UserError(
                    "customerId", "MISMATCH",
                    f"{what} customer is another one; change or clear {source} too",
                )
            )  # fmt: skip
            return errors
        if implied != getattr(current, "customer_id", None):
            fields["customer_id"] = implied
    customer_id = final("customer_id")
    contact_id = final("contact_id")
    if contact_id is not None and ("contact_id" in fields or "customer_id" in fields):
        owner_of_contact = await conn.scalar(
            select(contacts.c.customer_id).where(
                contacts.c.id == contact_id, live(contacts), visible_contacts(who)
            )
        )
        if owner_of_contact is None:
            errors.append(UserError("contactId", "NOT_FOUND", "no such contact"))
        elif customer_id is None:
            fields["customer_id"] = customer_id = owner_of_contact
        elif owner_of_contact != customer_id:
            errors.append(
                UserError("contactId", "MISMATCH", "the contact belongs to another customer")
            )
    if customer_id is not None and "customer_id" in fields:
        if not await lock_referenced_customer(conn, who, customer_id):
            errors.append(_unavailable_customer(source if implied == customer_id else ""))
    if customer_or_lead and customer_id is None and lead_id is None and not errors:
        errors.append(_REQUIRED)
    return errors


_REQUIRED = UserError(
    "customerId", "REQUIRED",
    "an activity is on a customer or a lead: give customerId, contactId, opportunityId or leadId",
)  # fmt: skip


def _unavailable_customer(source: str) -> UserError:
    """A customer that is gone or out of scope; named by the link it came from."""
    if not source:
        return UserError("customerId", "NOT_FOUND", "no such customer")
    what = {"opportunityId": "the opportunity's customer", "leadId": "the lead's customer"}
    return UserError(source, "FORBIDDEN", f"{what[source]} is deleted or outside your data scope")


async def ensure_may_change(
    conn: AsyncConnection, who: Scoped, person: uuid.UUID, entity: str
) -> None:
    """Changing a record tied to a person needs that person in the acting user's scope
    (seeing it through a shared customer is not enough to rewrite a colleague's log)."""
    if person == who.user_id:
        return
    condition = people_visible(who, literal(person, Uuid))
    if not isinstance(condition, True_) and not await conn.scalar(select(condition)):
        raise fail(
            "id",
            "FORBIDDEN",
            f"only its owner, or someone whose scope includes them, may change this {entity}",
        )
