"""Writes to customers and contacts. Every function runs inside the caller's
transaction and raises UserErrors for anything the user can fix."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor
from app.auth.principal import Scoped
from app.auth.roles import resolve_role
from app.auth.scope import people_visible
from app.custom_fields import service as custom
from app.customers.open_business import open_business
from app.customers.queries import visible_contacts, visible_customers
from app.customers.rules import normalise_contact, normalise_customer
from app.customers.tables import contacts, customers
from app.errors import UserError, UserErrors, fail
from app.pool.history import OwnerChange, record_changes
from app.pool.limit import enforce_claim_limit, serialise_claims
from app.records import apply_change, insert_once, lock_for_change
from app.users.tables import users

CUSTOMER_UNIQUE = {
    "uq_customers_external_ref": UserError(
        "externalRef", "TAKEN", "another customer already has this externalRef"
    )
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _check_owner(
    conn: AsyncConnection, fields: dict[str, Any], who: Scoped
) -> list[UserError]:
    """An owner must be an active user the acting user may see: a rep with own scope
    can take a customer or leave it in the pool, not hand it to someone else."""
    owner_id = fields.get("owner_id")
    if owner_id is None:
        return []
    active = await conn.scalar(
        select(users.c.active).where(users.c.id == owner_id, people_visible(who, users.c.id))
    )
    if not active:
        return [UserError("ownerId", "NOT_FOUND", "no active user with this id")]
    return []


NOT_A_USER = UserError("partnerId", "INVALID", "no active user with this id")
NOT_A_PARTNER = UserError(
    "partnerId",
    "INVALID",
    "this user cannot be a customer's partner: only users whose role has the assigned "
    "data scope (such as partner) can",
)


async def _check_partner(conn: AsyncConnection, fields: dict[str, Any]) -> list[UserError]:
    """A partner must be an active user of this tenant whose role sees by assignment:
    for anyone else being assigned means nothing. Unlike an owner, the partner need not
    be in the writer's own scope: distributors belong to no department, so a rep could
    otherwise assign none."""
    partner_id = fields.get("partner_id")
    if partner_id is None:
        return []
    user = (
        await conn.execute(select(users.c.active, users.c.role).where(users.c.id == partner_id))
    ).first()
    if user is None or not user.active:
        return [NOT_A_USER]
    role = await resolve_role(conn, user.role)
    if role is None or role.data_scope != "assigned":
        return [NOT_A_PARTNER]
    return []


async def _check_unmark(conn: AsyncConnection, customer_id: uuid.UUID) -> None:
    """A distributor some users work for stays one (the customer row is locked, and
    linking a user holds it FOR KEY SHARE, so no link slips in meanwhile)."""
    linked = await conn.scalar(
        select(func.count()).select_from(users).where(users.c.distributor_id == customer_id)
    )
    if linked:
        raise fail(
            "isDistributor", "IN_USE",
            f"{linked} user(s) work for this distributor: change their distributorId first",
        )  # fmt: skip


async def _validated_customer(
    conn: AsyncConnection,
    fields: dict[str, Any],
    who: Scoped,
    *,
    creating: bool,
    custom_fields: list[tuple[str, Any]] | None = None,
) -> tuple[dict[str, Any], custom.PreparedValues | None]:
    """The columns to write and the custom field values (app/custom_fields), all
    checked before anything is written. `custom_fields` None means "not given": the
    required custom fields are enforced only when a caller passes a list (the API
    does, always on create)."""
    fields = dict(fields)
    errors = normalise_customer(fields, creating=creating)
    errors += await _check_owner(conn, fields, who)
    errors += await _check_partner(conn, fields)
    prepared, custom_errors = await custom.prepare(
        conn, "customer", custom_fields, creating=creating
    )
    errors += custom_errors
    if errors:
        raise UserErrors(errors)
    return fields, prepared


async def create_customer(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    customer_id: uuid.UUID | None,
    fields: dict[str, Any],
    custom_fields: list[tuple[str, Any]] | None = None,
) -> Row:
    values, prepared = await _validated_customer(
        conn, fields, who, creating=True, custom_fields=custom_fields
    )
    row, created = await insert_once(
        conn, customers, actor=actor, entity="customer", row_id=customer_id, values=values,
        unique=CUSTOMER_UNIQUE,
    )  # fmt: skip
    if created:  # custom values, audited as customer.custom_fields in this transaction
        await custom.write(conn, prepared, actor=actor, entity_id=row.id)
    if created and row.owner_id is not None:  # ownership history (app/pool); audited above
        await record_changes(
            conn, actor=actor, kind="create", audit=False,
            changes=[OwnerChange(row.id, None, row.owner_id)],
        )  # fmt: skip
    return row


async def update_customer(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    customer_id: uuid.UUID,
    version: int | None,
    fields: dict[str, Any],
    custom_fields: list[tuple[str, Any]] | None = None,
) -> Row:
    taking = fields.get("owner_id") == who.user_id
    if taking:  # before the customer's lock, in the same order as claimCustomers
        await serialise_claims(conn, who.user_id)
    current = await lock_for_change(
        conn, customers, customer_id, entity="customer", version=version,
        visible=visible_customers(who),
    )  # fmt: skip
    values, prepared = await _validated_customer(
        conn, fields, who, creating=False, custom_fields=custom_fields
    )
    if values.get("is_distributor") is False and current.is_distributor:
        await _check_unmark(conn, customer_id)
    row = await apply_change(
        conn, customers, current, actor=actor, entity="customer", action="update",
        values=values, unique=CUSTOMER_UNIQUE,
    )  # fmt: skip
    if taking and current.owner_id is None:
        # Taking a pool customer by editing it is a claim: the same limit applies.
        await enforce_claim_limit(conn, who.user_id, gained=1, field="ownerId")
    row = await custom.write_on_update(
        conn, prepared, actor=actor, table=customers, current=current, row=row
    )
    # Ownership history (app/pool); the change itself is audited above.
    await record_changes(
        conn, actor=actor, kind="update", audit=False,
        changes=[OwnerChange(row.id, current.owner_id, row.owner_id)],
    )  # fmt: skip
    return row


async def delete_customer(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    customer_id: uuid.UUID,
    version: int | None,
    today: dt.date | None = None,
) -> Row:
    """Soft delete, refused (OPEN_BUSINESS on id) while the customer has open business
    (app/customers/open_business.py), counted under the row lock: a writer attaching a
    document holds the customer FOR KEY SHARE and re-checks deleted_at, so it either
    committed before this count or finds the customer gone. `today`: the tenant's
    calendar day, for quote validity (the API passes it; UTC's when left out)."""
    current = await lock_for_change(
        conn, customers, customer_id, entity="customer", version=version,
        visible=visible_customers(who),
    )  # fmt: skip
    if still_open := await open_business(conn, customer_id, today or _now().date()):
        raise fail(
            "id", "OPEN_BUSINESS",
            f"this customer has open business: {', '.join(still_open)}; "
            "finish, close or cancel it before deleting the customer",
        )  # fmt: skip
    return await apply_change(
        conn, customers, current, actor=actor, entity="customer", action="delete",
        values={"deleted_at": _now()},
    )  # fmt: skip


async def restore_customer(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    customer_id: uuid.UUID,
    version: int | None,
) -> Row:
    current = await lock_for_change(
        conn, customers, customer_id, entity="customer", version=version, deleted=True,
        visible=visible_customers(who),
    )  # fmt: skip
    # A merged customer lives on in its survivor (app/merge); restoring it would
    # bring back a duplicate whose records have moved.
    if current._mapping.get("merged_into_id") is not None:
        raise fail("id", "MERGED", "this customer was merged into another and cannot be restored")
    return await apply_change(
        conn, customers, current, actor=actor, entity="customer", action="restore",
        values={"deleted_at": None}, unique=CUSTOMER_UNIQUE,
    )  # fmt: skip


async def _live_customer(conn: AsyncConnection, customer_id: uuid.UUID, who: Scoped) -> None:
    found = await conn.scalar(
        select(customers.c.id)
        .where(
            customers.c.id == customer_id,
            customers.c.deleted_at.is_(None),
            visible_customers(who),
        )
        .with_for_update()
    )
    if found is None:
        raise fail("customerId", "NOT_FOUND", "no such customer")


async def _demote_other_primaries(
    conn: AsyncConnection, customer_id: uuid.UUID, keep: uuid.UUID | None
) -> None:
    """A customer has one primary contact: making one primary demotes the others."""
    statement = update(contacts).where(
        contacts.c.customer_id == customer_id,
        contacts.c.is_primary,
        contacts.c.deleted_at.is_(None),
    )
    if keep is not None:
        statement = statement.where(contacts.c.id != keep)
    await conn.execute(
        statement.values(is_primary=False, version=contacts.c.version + 1, updated_at=_now())
    )


async def _validated_contact(
    conn: AsyncConnection,
    fields: dict[str, Any],
    *,
    creating: bool,
    custom_fields: list[tuple[str, Any]] | None = None,
) -> tuple[dict[str, Any], custom.PreparedValues | None]:
    """The columns and the custom field values, all checked before anything is
    written; `custom_fields` None (not given) skips the required custom fields."""
    fields = dict(fields)
    errors = normalise_contact(fields, creating=creating)
    prepared, custom_errors = await custom.prepare(
        conn, "contact", custom_fields, creating=creating
    )
    errors += custom_errors
    if errors:
        raise UserErrors(errors)
    return fields, prepared


async def create_contact(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    contact_id: uuid.UUID | None,
    customer_id: uuid.UUID,
    fields: dict[str, Any],
    custom_fields: list[tuple[str, Any]] | None = None,
) -> Row:
    values, prepared = await _validated_contact(
        conn, fields, creating=True, custom_fields=custom_fields
    )
    await _live_customer(conn, customer_id, who)
    values["customer_id"] = customer_id
    if values["is_primary"]:
        existing = contact_id and await conn.scalar(
            select(contacts.c.id).where(contacts.c.id == contact_id)
        )
        if not existing:
            await _demote_other_primaries(conn, customer_id, keep=None)
    row, created = await insert_once(
        conn, contacts, actor=actor, entity="contact", row_id=contact_id, values=values
    )
    if created:  # custom values, audited as contact.custom_fields in this transaction
        await custom.write(conn, prepared, actor=actor, entity_id=row.id)
    return row


async def update_contact(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    contact_id: uuid.UUID,
    version: int | None,
    fields: dict[str, Any],
    custom_fields: list[tuple[str, Any]] | None = None,
) -> Row:
    current = await lock_for_change(
        conn, contacts, contact_id, entity="contact", version=version,
        visible=visible_contacts(who),
    )  # fmt: skip
    values, prepared = await _validated_contact(
        conn, fields, creating=False, custom_fields=custom_fields
    )
    if values.get("is_primary") and not current.is_primary:
        await _demote_other_primaries(conn, current.customer_id, keep=current.id)
    row = await apply_change(
        conn, contacts, current, actor=actor, entity="contact", action="update", values=values
    )
    return await custom.write_on_update(
        conn, prepared, actor=actor, table=contacts, current=current, row=row
    )


async def delete_contact(
    conn: AsyncConnection,
    *,
    actor: Actor,
    who: Scoped,
    contact_id: uuid.UUID,
    version: int | None,
) -> Row:
    current = await lock_for_change(
        conn, contacts, contact_id, entity="contact", version=version,
        visible=visible_contacts(who),
    )  # fmt: skip
    return await apply_change(
        conn, contacts, current, actor=actor, entity="contact", action="delete",
        values={"deleted_at": _now(), "is_primary": False},
    )  # fmt: skip
