"""Fetching one node by id for a query field, the same way for every capability."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from app.api.context import Info
from app.api.ids import parse_uuid
from app.api.selection import selected_paths

# (conn, principal, id) -> the row if the principal may see it.
RowLoader = Callable[..., Awaitable[Any]]
# (conn, principal, rows, selected) -> their nodes.
Builder = Callable[..., Awaitable[list]]


async def visible_node(info: Info, id: strawberry.ID, load: RowLoader, build: Builder) -> Any:
    """The node, or None: a malformed id, a missing row and one outside the caller's
    data scope look the same."""
    row_id: uuid.UUID | None = parse_uuid(id)
    if row_id is None:
        return None
    principal = info.context.principal
    async with info.context.db.read() as conn:
        row = await load(conn, principal, row_id)
        if row is None:
            return None
        (node,) = await build(conn, principal, [row], selected_paths(info))
    return node
