"""GraphQL types, inputs and payloads of the pool (the API contract)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import Any

import strawberry
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.errors import UserErrorType
from app.api.ids import graphql_id
from app.customers.types import Customer
from app.pool.config import PoolSettings as Settings
from app.users.graphql import User
from app.users.queries import users_by_id

UNSET: Any = strawberry.UNSET


@strawberry.enum(description="How a customer's owner changed.")
class OwnershipChangeKind(enum.Enum):
    CREATE = "create"
    CLAIM = "claim"
    RELEASE = "release"
    TRANSFER = "transfer"
    RECLAIM = "reclaim"
    UPDATE = "update"


@strawberry.type(description="One change of a customer's owner (客户转移记录).")
class OwnershipChange:
    id: strawberry.ID
    customer_id: strawberry.ID
    kind: OwnershipChangeKind = strawberry.field(
        description="CREATE: created with an owner; CLAIM: taken from the pool; RELEASE: "
        "put back by a person; TRANSFER: moved by a manager; RECLAIM: returned to the pool "
        "automatically for lack of follow-up; UPDATE: ownerId set by updateCustomer."
    )
    from_owner_id: strawberry.ID | None = strawberry.field(description="null: from the pool.")
    to_owner_id: strawberry.ID | None = strawberry.field(description="null: to the pool.")
    reason: str | None
    changed_by_id: strawberry.ID | None = strawberry.field(
        description="The user who made the change; null for the system (RECLAIM)."
    )
    changed_at: dt.datetime
    from_owner: User | None = None
    to_owner: User | None = None
    changed_by: User | None = None

    @classmethod
    def from_row(cls, row: Row) -> OwnershipChange:
        return cls(
            id=strawberry.ID(str(row.id)),
            customer_id=strawberry.ID(str(row.customer_id)),
            kind=OwnershipChangeKind(row.kind),
            from_owner_id=graphql_id(row.from_owner_id),
            to_owner_id=graphql_id(row.to_owner_id),
            reason=row.reason,
            changed_by_id=graphql_id(row.changed_by),
            changed_at=row.changed_at,
        )


PEOPLE = {"fromOwner": "from_owner", "toOwner": "to_owner", "changedBy": "changed_by"}
COLUMNS = {"from_owner": "from_owner_id", "to_owner": "to_owner_id", "changed_by": "changed_by"}


async def build_changes(
    conn: AsyncConnection, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[OwnershipChange]:
    """Changes with the people selected below `prefix`: one statement for all of them."""
    nodes = [OwnershipChange.from_row(r) for r in rows]
    wanted = [attr for name, attr in PEOPLE.items() if f"{prefix}{name}" in selected]
    if not wanted or not rows:
        return nodes
    people = await users_by_id(conn, [getattr(r, COLUMNS[a]) for r in rows for a in wanted])
    for node, row in zip(nodes, rows, strict=True):
        for attr in wanted:
            person = people.get(getattr(row, COLUMNS[attr]))
            setattr(node, attr, User.from_row(person) if person else None)
    return nodes


@strawberry.type(name="PoolSettings", description="The tenant's public pool (公海) rules.")
class PoolSettingsType:
    claim_limit: int | None = strawberry.field(
        description="How many live customers one user may own after a claim; null: no "
        "limit. Transfers by managers may go beyond it."
    )
    reclaim_after_days: int | None = strawberry.field(
        description="Customers without follow-up (activity, or a new owner) for this many "
        "days go back to the pool automatically (checked hourly); null: never."
    )
    version: int = strawberry.field(description="Pass it back on update; a stale one conflicts.")
    updated_at: dt.datetime | None

    @classmethod
    def from_settings(cls, settings: Settings) -> PoolSettingsType:
        return cls(
            claim_limit=settings.claim_limit,
            reclaim_after_days=settings.reclaim_after_days,
            version=settings.version,
            updated_at=settings.updated_at,
        )


@strawberry.input
class UpdatePoolSettingsInput:
    version: int | None = strawberry.field(
        default=None, description="The version you loaded; stale ones conflict."
    )
    claim_limit: int | None = strawberry.field(default=UNSET, description="null: no limit.")
    reclaim_after_days: int | None = strawberry.field(default=UNSET, description="null: never.")


@strawberry.type
class UpdatePoolSettingsPayload:
    pool_settings: PoolSettingsType | None = None
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.enum(description="Why a customer was not claimed.")
class ClaimFailure(enum.Enum):
    ALREADY_OWNED = "ALREADY_OWNED"
    NOT_FOUND = "NOT_FOUND"


@strawberry.type(description="What became of one id of a claim.")
class ClaimResult:
    customer_id: strawberry.ID = strawberry.field(description="The id as sent.")
    claimed: bool
    reason: ClaimFailure | None = strawberry.field(
        description="Why not: ALREADY_OWNED (someone, maybe you, owns it: another rep may "
        "have claimed it first) or NOT_FOUND (no such customer you may see)."
    )
    customer: Customer | None = strawberry.field(
        description="The customer after the claim, or as it is when you may see it."
    )


@strawberry.type
class ClaimCustomersPayload:
    results: list[ClaimResult] = strawberry.field(
        default_factory=list, description="One per distinct id, in the order sent."
    )
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.input
class ReleaseCustomersInput:
    ids: list[strawberry.ID] = strawberry.field(description="At most 100.")
    reason: str | None = strawberry.field(default=None, description="Why (at most 500 characters).")


@strawberry.type
class ReleaseCustomersPayload:
    customers: list[Customer] = strawberry.field(default_factory=list)
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)


@strawberry.input
class TransferCustomersInput:
    ids: list[strawberry.ID] = strawberry.field(description="At most 100.")
    to_user_id: strawberry.ID = strawberry.field(
        description="An active user you may see, whose role sees customers by owner."
    )
    reason: str | None = strawberry.field(default=None, description="Why (at most 500 characters).")


@strawberry.type
class TransferCustomersPayload:
    customers: list[Customer] = strawberry.field(default_factory=list)
    user_errors: list[UserErrorType] = strawberry.field(default_factory=list)
