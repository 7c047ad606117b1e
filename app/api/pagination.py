"""Relay connections over keyset cursors.

A sort always ends in the primary key, so cursors are stable; a cursor is the sort
key of a row, encoded opaquely. Backwards pagination reverses the sort, fetches, and
reverses the page back. A sort that is not one ordered scan of one select (a custom
field's, app/custom_fields/sorting.py) passes a `Pageable` that fetches its own rows.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

import strawberry
from sqlalchemy import ColumnElement, Select, Uuid, and_, func, literal, or_, select, true, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.selectable import TableValuedAlias

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
    if isinstance(value, Decimal):
        return {"n": str(value)}
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
        if kind == "n":
            return Decimal(raw)
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


def after_condition(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order `keys` (any mix of directions)."""
    # SQLAlchemy refuses `column > True`: booleans (a custom field's) as bound literals.
    values = [literal(v) if isinstance(v, bool) else v for v in values]
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


def reverse_keys(keys: Sequence[SortKey]) -> list[SortKey]:
    return [SortKey(k.column, not k.descending) for k in keys]


def order_clauses(keys: Sequence[SortKey]) -> list[Any]:
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


class Pageable(Protocol):
    """A list whose page is more than one ordered scan: it fetches its rows itself."""

    base: Select  # every row of the list, unordered (what totalCount counts)

    async def fetch(
        self,
        conn: AsyncConnection,
        keys: Sequence[SortKey],
        after: Sequence[Any] | None,
        limit: int,
        *,
        backwards: bool,
    ) -> list[Any]:
        """At most `limit` rows strictly after the cursor values `after` (None: from
        the start) in the order `keys`, or in its reverse when `backwards`."""
        ...


async def paginate(
    conn: AsyncConnection,
    query: Select | Pageable,
    keys: Sequence[SortKey],
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    with_total: bool = False,
) -> Page:
    """Fetch one page of `query` (a select with its filters, not yet ordered, or a
    Pageable).

    The sort columns must be among the selected columns, under their own names.
    """
    size, backwards = page_size(first, last)
    order = reverse_keys(keys) if backwards else list(keys)
    cursor = before if backwards else after
    if backwards and after is not None or not backwards and before is not None:
        raise BadUserInput("use after with first, and before with last")
    values = None
    if cursor is not None:
        values = decode_cursor(cursor, len(keys), "before" if backwards else "after")
    if isinstance(query, Select):
        paged = query if values is None else query.where(after_condition(order, values))
        rows = list(
            (await conn.execute(paged.order_by(*order_clauses(order)).limit(size + 1))).all()
        )
    else:
        rows = await query.fetch(conn, keys, values, size + 1, backwards=backwards)
        query = query.base
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
    query: Select | Pageable,
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


# Nested connections (Customer.opportunities, Lead.activities, ...): one page per
# parent, every parent of a page of parents in one statement.


def unnest_ids(ids: Sequence[uuid.UUID], name: str = "parents") -> TableValuedAlias:
    """`unnest(:ids) WITH ORDINALITY AS parents(group_key, ordinality)`: the parents as a
    FROM item a LATERAL subquery can refer to, in the order given."""
    return (
        func.unnest(literal(list(ids), ARRAY(Uuid)))
        .table_valued("group_key", with_ordinality="ordinality")
        .render_derived(name)
    )


async def paginate_groups(
    conn: AsyncConnection,
    query: Select | Pageable,
    keys: Sequence[SortKey],
    group: Any,
    group_ids: Sequence[uuid.UUID],
    *,
    first: int | None = None,
    after: str | None = None,
    with_total: bool = False,
) -> dict[uuid.UUID, Page]:
    """The first page of `query` (a select with its filters and scope, not yet ordered)
    for each id of `group_ids`, the rows whose `group` column is that id. One statement:
    the ids unnested, each one's page a LATERAL subquery with its own ORDER BY and
    LIMIT (an index range per parent, not a sort of every child); the totals one
    GROUP BY. Forward only: `after` applies to every parent (a cursor of one parent's
    page continues that page)."""
    size, _ = page_size(first, None)
    if not isinstance(query, Select):  # a Pageable: its own fetch is for one list
        raise BadUserInput("orderBy: this order is available on the top-level list only")
    ids = list(dict.fromkeys(group_ids))
    if not ids:
        return {}
    paged = query
    if after is not None:
        paged = paged.where(after_condition(keys, decode_cursor(after, len(keys), "after")))
    parents = unnest_ids(ids)
    page = (
        paged.where(group == parents.c.group_key)
        .order_by(*order_clauses(keys))
        .limit(size + 1)
        .lateral("page")
    )
    outer = [SortKey(page.c[k.column.key], k.descending) for k in keys]
    statement = (
        select(parents.c.group_key, page)
        .select_from(parents.join(page, true()))
        .order_by(parents.c.ordinality, *order_clauses(outer))
    )
    grouped: dict[uuid.UUID, list[Any]] = {i: [] for i in ids}
    for row in await conn.execute(statement):
        grouped[row.group_key].append(row)
    totals: dict[uuid.UUID, int] = {}
    if with_total:
        counted = query.where(group.in_(ids)).order_by(None).subquery()
        column = counted.c[group.key]
        rows = await conn.execute(select(column, func.count()).group_by(column))
        totals = {key: count for key, count in rows}
    names = [k.column.key for k in keys]
    pages = {}
    for key, rows in grouped.items():
        more, rows = len(rows) > size, rows[:size]
        pages[key] = Page(
            rows=rows,
            has_next_page=more,
            has_previous_page=after is not None,
            cursors=[encode_cursor([getattr(r, n) for n in names]) for r in rows],
            total_count=totals.get(key, 0) if with_total else None,
        )
    return pages


async def pages_of(
    conn: AsyncConnection,
    query: Select | Pageable,
    keys: Sequence[SortKey],
    group: Any,
    group_ids: Sequence[uuid.UUID],
    selected: set[str],
    build: NodeBuilder[T],
    *,
    first: int | None = None,
    after: str | None = None,
) -> dict[uuid.UUID, Connection[T]]:
    """A connection per parent (as `page_of` for one): the pages in one statement, the
    nodes of all of them built together, so a page of parents costs one statement per
    nested connection (and one per kind of child below it)."""
    pages = await paginate_groups(
        conn, query, keys, group, group_ids, first=first, after=after,
        with_total="totalCount" in selected,
    )  # fmt: skip
    rows = [row for page in pages.values() for row in page.rows]
    nodes = list(await build(rows, selected, "edges.node."))
    connections, start = {}, 0
    for key, page in pages.items():
        end = start + len(page.rows)
        connections[key] = connection_from(page, nodes[start:end])
        start = end
    return connections
