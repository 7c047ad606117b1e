from __future__ import annotations

import uuid

from app.errors import fail


def parse_uuid(value: object) -> uuid.UUID | None:
    """Ids are plain UUIDs; anything else names no record (it is simply not found)."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def require_uuid(value: object, field: str, entity: str) -> uuid.UUID:
    parsed = parse_uuid(value)
    if parsed is None:
        raise fail(field, "NOT_FOUND", f"no such {entity}")
    return parsed


def optional_uuid(value: object, field: str, entity: str) -> uuid.UUID | None:
    return None if value is None else require_uuid(value, field, entity)
