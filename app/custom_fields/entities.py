"""Which records carry custom fields. Adding contacts, leads or opportunities means
one entry here (their table and read permission), the GraphQL enum value, and the
same few lines in that capability's inputs, types and filter as customers have."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entity:
    name: str  # custom_field_definitions.entity
    read_permission: str  # who may list the entity's field definitions


ENTITIES: dict[str, Entity] = {
    "customer": Entity("customer", "customers:read"),
}
