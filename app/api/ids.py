from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import strawberry

from app.errors import fail


def parse_uuid(value: object) -> uuid.UUID | None:
    """Ids are plain UUIDs; anything else names no record (it is simply not found)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def graphql_id(value: uuid.UUID | None) -> strawberry.ID | None:
    """A database id as the API shows it (None stays None)."""
    return None if value is None else strawberry.ID(str(value))


def require_uuid(value: object, field: str, entity: str) -> uuid.UUID:
    parsed = parse_uuid(value)
    if parsed is None:
        raise fail(field, "NOT_FOUND", f"no such {entity}")
    return parsed


def optional_uuid(value: object, field: str, entity: str) -> uuid.UUID | None:
    return None if value is None else require_uuid(value, field, entity)


# The usual id fields of inputs: database column -> (GraphQL field, what it names).
OWNER_ID = {"owner_id": ("ownerId", "user")}


def provided(
    input: object, names: Iterable[str], ids: Mapping[str, tuple[str, str]] = OWNER_ID
) -> dict[str, Any]:
    """The fields the client sent (null included), as database values: enums by their
    value, the `ids` columns parsed (a malformed one is a userError naming the field).
    Fields left out are absent, so an update changes only what was sent."""
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(input, name, strawberry.UNSET)
        if value is strawberry.UNSET:
            continue
        if isinstance(value, enum.Enum):
            value = value.value
        elif name in ids:
            value = optional_uuid(value, *ids[name])
        out[name] = value
    return out
