"""Relay connections over keyset cursors.

A sort always ends in the primary key, so cursors are stable; a cursor is the sort
key of a row, encoded opaquely. Backwards pagination reverses the sort, fetches, and
reverses the page back.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import ColumnElement, Select, and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import BadUserInput

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int | None = strawberry.field(
        default=None, description="Rows matching the filter; computed only when selected."
    )


@strawberry.enum
class SortDirection(enum.Enum):
    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True)
class SortKey:
    column: Any  # a Column
    descending: bool = False


@dataclass
class Page:
    rows: list[Any]
    has_next_page: bool
    has_previous_page: bool
    cursors: list[str]
    total_count: int | None


def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"t": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((kind, raw),) = value.items()
        if kind == "t":
            return dt.datetime.fromisoformat(raw)
        if kind == "d":
            return dt.date.fromisoformat(raw)
        if kind == "u":
            return uuid.UUID(raw)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise ValueError("unexpected cursor value")


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int, argument: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = [_decode_value(v) for v in json.loads(raw)]
    except (ValueError, TypeError) as error:
        raise BadUserInput(f"{argument} is not a valid cursor") from error
    if len(values) != size:
        raise BadUserInput(f"{argument} is not a valid cursor for this ordering")
    return values


def _after(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order `keys` (any mix of directions)."""
    if all(not k.descending for k in keys) or all(k.descending for k in keys):
        row = tuple_(*(k.column for k in keys))
        bound = tuple_(*values)
        return row < bound if keys[0].descending else row > bound
    clauses = []
    for i, key in enumerate(keys):
        equal = [keys[j].column == values[j] for j in range(i)]
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


def _reverse(keys: Sequence[SortKey]) -> list[SortKey]:
    return [SortKey(k.column, not k.descending) for k in keys]


def _order(keys: Sequence[SortKey]) -> list[Any]:
    return [k.column.desc() if k.descending else k.column.asc() for k in keys]


def page_size(first: int | None, last: int | None) -> tuple[int, bool]:
    if first is not None and last is not None:
        raise BadUserInput("pass either first or last, not both")
    size = first if first is not None else last
    if size is None:
        return DEFAULT_PAGE_SIZE, last is not None
    if size < 0:
        raise BadUserInput("first and last must not be negative")
    if size > MAX_PAGE_SIZE:
        raise BadUserInput(f"first and last may be at most {MAX_PAGE_SIZE}")
    return size, last is not None


async def paginate(
    conn: AsyncConnection,
    query: Select,
    keys: Sequence[SortKey],
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    with_total: bool = False,
) -> Page:
    """Fetch one page of `query` (a select with its filters, not yet ordered).

    The sort columns must be among the selected columns, under their own names.
    """
    size, backwards = page_size(first, last)
    order = _reverse(keys) if backwards else list(keys)
    cursor = before if backwards else after
    if backwards and after is not None or not backwards and before is not None:
        raise BadUserInput("use after with first, and before with last")
    paged = query
    if cursor is not None:
        values = decode_cursor(cursor, len(keys), "before" if backwards else "after")
        paged = paged.where(_after(order, values))
    rows = list((await conn.execute(paged.order_by(*_order(order)).limit(size + 1))).all())
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    total = None
    if with_total:
        total = await conn.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    names = [k.column.key for k in keys]
    return Page(
        rows=rows,
        has_next_page=more if not backwards else cursor is not None,
        has_previous_page=more if backwards else cursor is not None,
        cursors=[encode_cursor([getattr(r, n) for n in names]) for r in rows],
        total_count=total,
    )


def connection_from(page: Page, nodes: Sequence[T]) -> Connection[T]:
    edges = [Edge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        total_count=page.total_count,
    )


# Builds the nodes of a page from its rows: (rows, selected paths, their prefix).
NodeBuilder = Callable[[Sequence[Any], set[str], str], Awaitable[Sequence[T]]]


async def page_of(
    conn: AsyncConnection,
    query: Select,
    keys: Sequence[SortKey],
    selected: set[str],
    build: NodeBuilder[T],
    **window: Any,
) -> Connection[T]:
    """One page of `query` as a connection: `totalCount` only when selected, and the
    nodes built with what is selected below `edges.node.`. `window`: first, after,
    last, before."""
    page = await paginate(conn, query, keys, with_total="totalCount" in selected, **window)
    return connection_from(page, await build(page.rows, selected, "edges.node."))
