"""Lead mutations (leads:write; assignment rules leads:manage): each one transaction,
audited, with userErrors naming the input field at fault."""

from __future__ import annotations

from typing import Any

import strawberry

from app.api.context import Info
from app.api.errors import run_mutation
from app.api.ids import optional_uuid, parse_uuid, provided, require_uuid
from app.api.permissions import requires
from app.api.selection import selected_paths
from app.custom_fields.types import input_items
from app.customers.types import build_contacts, build_customers
from app.errors import UserError, UserErrors, fail
from app.leads import assignment, service
from app.leads.convert import convert_lead
from app.leads.inputs import (
    AssignLeadsPayload,
    ConvertLeadInput,
    ConvertLeadPayload,
    CreateLeadInput,
    CreateLeadPayload,
    DeleteLeadInput,
    DeleteLeadPayload,
    DisqualifyLeadInput,
    DisqualifyLeadPayload,
    QualifyLeadInput,
    QualifyLeadPayload,
    RestoreLeadInput,
    RestoreLeadPayload,
    SetLeadAssignmentRulesInput,
    SetLeadAssignmentRulesPayload,
    UpdateLeadInput,
    UpdateLeadPayload,
)
from app.leads.types import build_leads, build_rules
from app.pipeline.types import build_opportunities

UNSET: Any = strawberry.UNSET
LEAD_FIELDS = (
    "name", "company", "title", "phone", "email", "region", "source", "status", "score",
    "owner_id", "notes",
)  # fmt: skip
OPPORTUNITY_FIELDS = {"amount": "amount", "currency": "currency",
                      "expected_close_date": "expected_close_date"}  # fmt: skip


async def _lead_mutation(info: Info, payload: type, change) -> Any:
    """Run `change(conn, actor, who)`; answer with the lead as the client selected it."""

    async def write(conn) -> dict:
        principal = info.context.principal
        row = await change(conn, info.context.actor, principal)
        (node,) = await build_leads(conn, principal, [row], selected_paths(info), "lead.")
        return {"lead": node}

    return await run_mutation(info, payload, write)


def _conversion_rights(info: Info, input: ConvertLeadInput) -> None:
    """Conversion writes customers, contacts and opportunities: the caller needs the
    rights to write what this conversion writes (the built-in roles that write leads
    have them all)."""
    principal = info.context.principal
    missing: list[UserError] = []
    if input.customer_id is None and not principal.can("customers:write"):
        missing.append(
            UserError("customerId", "FORBIDDEN", "creating the customer needs customers:write; "
                      "link an existing customer instead")
        )  # fmt: skip
    if not principal.can("contacts:write"):
        missing.append(UserError(None, "FORBIDDEN", "converting a lead needs contacts:write"))
    if input.create_opportunity and not principal.can("opportunities:write"):
        missing.append(
            UserError("createOpportunity", "FORBIDDEN", "an opportunity needs opportunities:write")
        )
    if missing:
        raise UserErrors(missing)


@strawberry.type
class LeadMutations:
    @strawberry.mutation(extensions=requires("leads:write"))
    async def create_lead(self, info: Info, input: CreateLeadInput) -> CreateLeadPayload:
        async def change(conn, actor, who):
            return await service.create_lead(
                conn, actor=actor, who=who, lead_id=optional_uuid(input.id, "id", "lead"),
                fields=provided(input, LEAD_FIELDS),
                custom_fields=input_items(input.custom_fields) or [],
            )  # fmt: skip

        return await _lead_mutation(info, CreateLeadPayload, change)

    @strawberry.mutation(extensions=requires("leads:write"))
    async def update_lead(self, info: Info, input: UpdateLeadInput) -> UpdateLeadPayload:
        async def change(conn, actor, who):
            return await service.update_lead(
                conn, actor=actor, who=who, lead_id=require_uuid(input.id, "id", "lead"),
                version=input.version, fields=provided(input, LEAD_FIELDS),
                custom_fields=input_items(input.custom_fields),
            )  # fmt: skip

        return await _lead_mutation(info, UpdateLeadPayload, change)

    @strawberry.mutation(extensions=requires("leads:write"))
    async def qualify_lead(self, info: Info, input: QualifyLeadInput) -> QualifyLeadPayload:
        async def change(conn, actor, who):
            return await service.qualify_lead(
                conn, actor=actor, who=who, lead_id=require_uuid(input.id, "id", "lead"),
                version=input.version,
            )  # fmt: skip

        return await _lead_mutation(info, QualifyLeadPayload, change)

    @strawberry.mutation(extensions=requires("leads:write"))
    async def disqualify_lead(
        self, info: Info, input: DisqualifyLeadInput
    ) -> DisqualifyLeadPayload:
        async def change(conn, actor, who):
            return await service.disqualify_lead(
                conn, actor=actor, who=who, lead_id=require_uuid(input.id, "id", "lead"),
                version=input.version, reason=input.reason,
            )  # fmt: skip

        return await _lead_mutation(info, DisqualifyLeadPayload, change)

    @strawberry.mutation(extensions=requires("leads:write"))
    async def delete_lead(self, info: Info, input: DeleteLeadInput) -> DeleteLeadPayload:
        async def change(conn, actor, who):
            return await service.delete_lead(
                conn, actor=actor, who=who, lead_id=require_uuid(input.id, "id", "lead"),
                version=input.version,
            )  # fmt: skip

        return await _lead_mutation(info, DeleteLeadPayload, change)

    @strawberry.mutation(extensions=requires("leads:write"))
    async def restore_lead(self, info: Info, input: RestoreLeadInput) -> RestoreLeadPayload:
        async def change(conn, actor, who):
            return await service.restore_lead(
                conn, actor=actor, who=who, lead_id=require_uuid(input.id, "id", "lead"),
                version=input.version,
            )  # fmt: skip

        return await _lead_mutation(info, RestoreLeadPayload, change)

    @strawberry.mutation(
        extensions=requires("leads:write"),
        description="Give leads you may see (at most 100) to a user you may see whose role "
        "writes leads; ownerId null unassigns them. All or nothing.",
    )
    async def assign_leads(
        self, info: Info, ids: list[strawberry.ID], owner_id: strawberry.ID | None
    ) -> AssignLeadsPayload:
        principal = info.context.principal

        async def write(conn) -> dict:
            owner = None
            if owner_id is not None:
                owner = parse_uuid(owner_id)
                if owner is None:
                    raise fail("ownerId", "NOT_FOUND", "no active user with this id")
            rows = await service.assign_leads(
                conn, actor=info.context.actor, who=principal, ids=ids, owner_id=owner
            )
            nodes = await build_leads(conn, principal, rows, selected_paths(info), "leads.")
            return {"leads": nodes}

        return await run_mutation(info, AssignLeadsPayload, write)

    @strawberry.mutation(
        extensions=requires("leads:write"),
        description="In one transaction: link or create the customer, create the contact "
        "and (unless createOpportunity is false) an opportunity in the default pipeline's "
        "first stage; the lead becomes QUALIFIED with links to them. A lead converts once "
        "(ALREADY_CONVERTED).",
    )
    async def convert_lead(self, info: Info, input: ConvertLeadInput) -> ConvertLeadPayload:
        principal = info.context.principal

        async def write(conn) -> dict:
            _conversion_rights(info, input)
            opportunity = None
            if input.create_opportunity:
                opportunity = {"name": input.opportunity_name}
                for name in OPPORTUNITY_FIELDS:
                    if (value := getattr(input, name)) is not UNSET:
                        opportunity[name] = value
            done = await convert_lead(
                conn, actor=info.context.actor, who=principal,
                lead_id=require_uuid(input.id, "id", "lead"), version=input.version,
                customer_id=optional_uuid(input.customer_id, "customerId", "customer"),
                opportunity=opportunity,
            )  # fmt: skip
            selected = selected_paths(info)
            (lead,) = await build_leads(conn, principal, [done.lead], selected, "lead.")
            (customer,) = await build_customers(
                conn, principal, [done.customer], selected, "customer."
            )
            (contact,) = await build_contacts(conn, principal, [done.contact], selected, "contact.")
            opportunities = await build_opportunities(
                conn, principal, [done.opportunity] if done.opportunity else [], selected,
                "opportunity.",
            )  # fmt: skip
            return {
                "lead": lead, "customer": customer, "customer_created": done.customer_created,
                "contact": contact, "opportunity": opportunities[0] if opportunities else None,
            }  # fmt: skip

        return await run_mutation(info, ConvertLeadPayload, write)

    @strawberry.mutation(
        extensions=requires("leads:manage"),
        description="Replace the lead assignment rules. Leads created without an owner "
        "(by hand or by import) go to the first matching rule that has an eligible member: "
        "REGION rules match the lead's region, ROUND_ROBIN rules match every lead; both "
        "take turns among the active members of their team whose role writes leads.",
    )
    async def set_lead_assignment_rules(
        self, info: Info, input: SetLeadAssignmentRulesInput
    ) -> SetLeadAssignmentRulesPayload:
        async def write(conn) -> dict:
            rules = [
                {
                    "kind": r.kind.value, "team_id": parse_uuid(r.team_id), "region": r.region,
                    "position": r.position,
                }
                for r in input.rules
            ]  # fmt: skip
            rows = await assignment.set_rules(conn, actor=info.context.actor, rules=rules)
            return {"rules": await build_rules(conn, rows, selected_paths(info), "rules.")}

        return await run_mutation(info, SetLeadAssignmentRulesPayload, write)
