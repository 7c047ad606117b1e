"""Which records carry custom fields: customers, contacts, leads and opportunities.
Adding another kind means one entry here (its read permission), the GraphQL enum
value, the entity in the definitions' CHECK (app/custom_fields/tables.py, a
migration), and the same few lines in that capability's inputs, service, types,
filter and orderBy as customers have."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entity:
    name: str  # custom_field_definitions.entity
    read_permission: str  # who may list the entity's field definitions


ENTITIES: dict[str, Entity] = {
    "customer": Entity("customer", "customers:read"),
    "contact": Entity("contact", "contacts:read"),
    "lead": Entity("lead", "leads:read"),
    "opportunity": Entity("opportunity", "opportunities:read"),
}
