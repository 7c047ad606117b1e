"""Checks the writes share: the people a record is given to, the customer and contact
it links to, and whether the acting user may change a record tied to a person."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, Uuid, literal, select
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


async def check_links(
    conn: AsyncConnection, who: Scoped, fields: dict[str, Any], current: Row | None = None
) -> list[UserError]:
    """A linked customer must be live and visible; a linked contact must be live,
    visible and belong to that customer. A contact given without a customer links
    its customer too. Only links being set are checked; `fields` is completed in place."""
    customer_id = fields.get("customer_id", getattr(current, "customer_id", None))
    contact_id = fields.get("contact_id", getattr(current, "contact_id", None))
    errors: list[UserError] = []
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
            errors.append(UserError("customerId", "NOT_FOUND", "no such customer"))
    return errors


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
