"""GraphQL types of leads and their assignment rules, built as plain objects for a
whole page: the owner and what a lead became are fetched per page by looking ahead at
the selection (one statement per kind), never per row."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import strawberry
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.context import Info
from app.api.ids import graphql_id
from app.api.pagination import Connection
from app.api.permissions import requires
from app.auth.principal import Scoped
from app.custom_fields.types import VALUES_DESCRIPTION, CustomFieldValue, attach_values
from app.customers.types import Contact, Customer, attach_customers, build_contacts
from app.leads import queries
from app.pipeline.types import Opportunity, build_opportunities
from app.teams.graphql import Team
from app.teams.tables import teams
from app.users.graphql import User
from app.users.queries import users_by_id

if TYPE_CHECKING:
    from app.activities.graphql import ActivityFilter, ActivityOrder
    from app.activities.types import Activity


@strawberry.enum
class LeadStatus(enum.Enum):
    NEW = "new"
    WORKING = "working"
    QUALIFIED = "qualified"
    DISQUALIFIED = "disqualified"


@strawberry.enum
class LeadSource(enum.Enum):
    CAMPAIGN = "campaign"
    TRADE_SHOW = "trade_show"
    WEB_FORM = "web_form"
    IMPORT = "import"
    REFERRAL = "referral"
    OTHER = "other"


@strawberry.enum
class LeadAssignmentRuleKind(enum.Enum):
    ROUND_ROBIN = "round_robin"
    REGION = "region"


@strawberry.type
class Lead:
    id: strawberry.ID
    name: str = strawberry.field(description="The person.")
    company: str | None
    title: str | None
    phone: str | None
    email: str | None
    region: str | None
    source: LeadSource
    status: LeadStatus
    disqualified_reason: str | None
    score: int = strawberry.field(description="0 to 100.")
    owner_id: strawberry.ID | None = strawberry.field(
        description="The responsible user; null means unassigned (reps see those as a pool)."
    )
    notes: str | None
    converted_at: dt.datetime | None
    converted_customer_id: strawberry.ID | None
    converted_contact_id: strawberry.ID | None
    converted_opportunity_id: strawberry.ID | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int = strawberry.field(description="Pass it back on change; a stale one conflicts.")
    deleted_at: dt.datetime | None
    owner: User | None = None
    converted_customer: Customer | None = strawberry.field(
        default=None,
        extensions=requires("customers:read"),
        description="The customer it became or was linked to; null when outside your data "
        "scope. FORBIDDEN without customers:read.",
    )
    converted_contact: Contact | None = strawberry.field(
        default=None,
        extensions=requires("contacts:read"),
        description="The contact it became; null when outside your data scope.",
    )
    converted_opportunity: Opportunity | None = strawberry.field(
        default=None,
        extensions=requires("opportunities:read"),
        description="The opportunity it became, if one was created; null when outside "
        "your data scope.",
    )
    custom_fields: list[CustomFieldValue] = strawberry.field(
        default_factory=list, description=VALUES_DESCRIPTION
    )

    @strawberry.field(
        extensions=requires("activities:read"),
        description="Activities on this lead you can see: the `activities` list with "
        "leadId set to it. FORBIDDEN without activities:read.",
    )
    async def activities(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: Annotated[ActivityFilter, strawberry.lazy("app.activities.graphql")] | None = None,
        order_by: list[Annotated[ActivityOrder, strawberry.lazy("app.activities.graphql")]]
        | None = None,
    ) -> Connection[Annotated[Activity, strawberry.lazy("app.activities.types")]] | None:
        # Lazy: activities depend on this capability, not the other way round.
        from app.activities.graphql import linked_activities

        return await linked_activities(
            info, "lead_id", self.id, first=first, after=after, filter=filter, order_by=order_by
        )

    @classmethod
    def from_row(cls, row: Row) -> Lead:
        return cls(
            id=strawberry.ID(str(row.id)), name=row.name, company=row.company, title=row.title,
            phone=row.phone, email=row.email, region=row.region, source=LeadSource(row.source),
            status=LeadStatus(row.status), disqualified_reason=row.disqualified_reason,
            score=row.score, owner_id=graphql_id(row.owner_id), notes=row.notes,
            converted_at=row.converted_at,
            converted_customer_id=graphql_id(row.converted_customer_id),
            converted_contact_id=graphql_id(row.converted_contact_id),
            converted_opportunity_id=graphql_id(row.converted_opportunity_id),
            created_at=row.created_at, updated_at=row.updated_at, version=row.version,
            deleted_at=row.deleted_at,
        )  # fmt: skip


async def build_leads(
    conn: AsyncConnection, who: Scoped, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[Lead]:
    """Leads with the children the query selected below `prefix`: at most one
    statement each for owners, customers, contacts and opportunities (and their own
    children), whatever the page size."""
    nodes = [Lead.from_row(r) for r in rows]
    if not rows:
        return nodes

    def wants(path: str) -> bool:
        return f"{prefix}{path}" in selected

    if wants("customFields"):
        await attach_values(conn, "lead", nodes, [r.id for r in rows])
    if wants("owner"):
        people = await users_by_id(conn, [r.owner_id for r in rows])
        for node, row in zip(nodes, rows, strict=True):
            person = people.get(row.owner_id)
            node.owner = User.from_row(person) if person else None
    await attach_customers(
        conn, who, nodes, rows, selected, prefix, field="convertedCustomer",
        attribute="converted_customer", column="converted_customer_id",
    )  # fmt: skip
    if wants("convertedContact"):
        found = await queries.contacts_by_id(conn, who, [r.converted_contact_id for r in rows])
        built = await build_contacts(
            conn, who, list(found.values()), selected, f"{prefix}convertedContact."
        )
        by_id = dict(zip(found, built, strict=True))
        for node, row in zip(nodes, rows, strict=True):
            node.converted_contact = by_id.get(row.converted_contact_id)
    if wants("convertedOpportunity"):
        found = await queries.opportunities_by_id(
            conn, who, [r.converted_opportunity_id for r in rows]
        )
        built = await build_opportunities(
            conn, who, list(found.values()), selected, f"{prefix}convertedOpportunity."
        )
        by_id = dict(zip(found, built, strict=True))
        for node, row in zip(nodes, rows, strict=True):
            node.converted_opportunity = by_id.get(row.converted_opportunity_id)
    return nodes


@strawberry.type
class LeadAssignmentRule:
    id: strawberry.ID
    kind: LeadAssignmentRuleKind
    team_id: strawberry.ID
    region: str | None = strawberry.field(description="REGION rules only.")
    position: int = strawberry.field(description="Rules are tried in this order, 0 first.")
    assigned_count: int = strawberry.field(description="Leads this rule has assigned.")
    last_assigned_user_id: strawberry.ID | None = strawberry.field(
        description="The member who got this rule's last lead (its round-robin cursor)."
    )
    team: Team | None = None
    last_assigned_user: User | None = None

    @classmethod
    def from_row(cls, row: Row) -> LeadAssignmentRule:
        return cls(
            id=strawberry.ID(str(row.id)), kind=LeadAssignmentRuleKind(row.kind),
            team_id=strawberry.ID(str(row.team_id)), region=row.region, position=row.position,
            assigned_count=row.assigned_count, last_assigned_user_id=graphql_id(row.last_user_id),
        )  # fmt: skip


async def build_rules(
    conn: AsyncConnection, rows: Sequence[Row], selected: set[str], prefix: str = ""
) -> list[LeadAssignmentRule]:
    nodes = [LeadAssignmentRule.from_row(r) for r in rows]
    if f"{prefix}team" in selected and rows:
        found = await conn.execute(select(teams).where(teams.c.id.in_({r.team_id for r in rows})))
        by_id = {t.id: Team.from_row(t) for t in found}
        for node, row in zip(nodes, rows, strict=True):
            node.team = by_id.get(row.team_id)
    if f"{prefix}lastAssignedUser" in selected and rows:
        people = await users_by_id(conn, [r.last_user_id for r in rows])
        for node, row in zip(nodes, rows, strict=True):
            person = people.get(row.last_user_id)
            node.last_assigned_user = User.from_row(person) if person else None
    return nodes
