"""Sorting a list by a custom field, with keyset (cursor) pagination.

A list sorted by a custom field reads in two parts: the records that have a value, in
the order of the values index on (field_id, value, entity_id) (a range scan of that
index joined to the records by id), then the records without one, by the keys after
the custom field (ending in the id), through the values' primary key (an anti-join).
Records without a value come last in both directions, so the first pages of either
direction read the index; `last`/`before` walk the same order backwards (the records
without a value first). A page is one statement, two where it crosses from one part
to the other. The cursor is (value or null, the other keys..., id).

A custom field may only be the first orderBy entry (its index gives that order); any
entries after it break ties between records with the same value.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, cast, exists, literal_column, null
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.pagination import SortKey, after_condition, order_clauses, reverse_keys
from app.custom_fields.service import COLUMN, Definition, custom_field_values
from app.errors import BadUserInput

# An alias of its own: a filter's subqueries on custom_field_values must not correlate
# to the join of the sort.
vals = custom_field_values.alias("sort_values")
SORT = "custom_sort"  # the value's column in the page's rows (and the cursor's first key)
SORTABLE = ("text", "select", "number", "decimal", "date", "boolean")


@dataclass(frozen=True)
class Order:
    """One orderBy entry: a column of the list, or a custom field by key."""

    column: Any = None
    custom_field: str | None = None
    descending: bool = False


def _cursor_value_ok(kind: str, value: Any) -> bool:
    if value is None:
        return True
    if kind in ("text", "select"):
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "decimal":
        return isinstance(value, (Decimal, int)) and not isinstance(value, bool)
    if kind == "date":
        return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    return isinstance(value, bool)


@dataclass
class CustomFieldSort:
    """A list (`base`, its filters and scope applied) sorted by one custom field, then
    by `rest` (its other keys, ending in the id). An app.api.pagination.Pageable."""

    base: Select
    id_column: Any
    definition: Definition
    descending: bool
    rest: list[SortKey]

    def _with_values(self) -> tuple[Select, SortKey, list[SortKey]]:
        value = vals.c[COLUMN[self.definition.type]]
        joined = self.base.add_columns(value.label(SORT)).join_from(
            self.id_column.table,
            vals,
            (vals.c.entity_id == self.id_column) & (vals.c.field_id == self.definition.id),
        )
        # The id as the values index has it, so the index gives the whole order.
        rest = [
            SortKey(vals.c.entity_id if k.column is self.id_column else k.column, k.descending)
            for k in self.rest
        ]
        return joined, SortKey(value, self.descending), rest

    def _without_values(self) -> Select:
        value = vals.c[COLUMN[self.definition.type]]
        has_value = exists().where(
            vals.c.field_id == self.definition.id, vals.c.entity_id == self.id_column
        )
        return self.base.add_columns(cast(null(), value.type).label(SORT)).where(~has_value)

    def _statements(self, after: Sequence[Any] | None, backwards: bool) -> list[Select]:
        """The parts still to read, in reading order, each ordered (fetch bounds them)."""
        joined, value_key, rest_v = self._with_values()
        with_values = [value_key, *rest_v]
        without = self._without_values()
        rest = list(self.rest)
        if backwards:
            with_values, rest = reverse_keys(with_values), reverse_keys(rest)
        parts = [(joined, with_values, True), (without, rest, False)]
        if backwards:
            parts.reverse()
        if after is not None:
            # Skip the parts before the cursor's; within it, rows after the cursor.
            in_values = after[0] is not None
            while parts[0][2] != in_values:
                parts.pop(0)
            query, keys, has_values = parts[0]
            bound = list(after) if has_values else list(after[1:])
            parts[0] = (query.where(after_condition(keys, bound)), keys, has_values)
        return [query.order_by(*order_clauses(keys)) for query, keys, _ in parts]

    async def fetch(
        self,
        conn: AsyncConnection,
        keys: Sequence[SortKey],
        after: Sequence[Any] | None,
        limit: int,
        *,
        backwards: bool,
    ) -> list[Any]:
        if after is not None and not (
            _cursor_value_ok(self.definition.type, after[0]) and isinstance(after[-1], uuid.UUID)
        ):
            raise BadUserInput("the cursor is not valid for this ordering")
        rows: list[Any] = []
        for statement in self._statements(after, backwards):
            rows += (await conn.execute(statement.limit(limit - len(rows)))).all()
            if len(rows) >= limit:
                break
        return rows


def ordered(
    query: Select,
    id_column: Any,
    orders: Sequence[Order],
    fields: dict[str, Definition] | None,
) -> tuple[Select | CustomFieldSort, list[SortKey]]:
    """The list's query and sort keys for `orders` (not empty): each entry's column,
    then the id in the last entry's direction. A custom field (only as the first
    entry; `fields` holds the entity's live fields) makes the query a CustomFieldSort.
    Wrong entries are BAD_USER_INPUT."""
    for o in orders:
        if (o.column is None) == (o.custom_field is None):
            raise BadUserInput("orderBy: give each entry either field or customField")
    columns = [SortKey(o.column, o.descending) for o in orders if o.column is not None]
    tie = orders[-1].descending
    first = orders[0]
    if first.custom_field is None:
        if any(o.custom_field is not None for o in orders):
            raise BadUserInput("orderBy: a customField entry must come first")
        return query, [*columns, SortKey(id_column, tie)]
    if any(o.custom_field is not None for o in orders[1:]):
        raise BadUserInput("orderBy: sort by one customField at most")
    key = first.custom_field
    definition = (fields or {}).get(key)
    if definition is None:
        raise BadUserInput(f"orderBy: no custom field {key!r}")
    if definition.type not in SORTABLE:
        raise BadUserInput(f"orderBy: a {definition.type} field ({key!r}) cannot be sorted by")
    rest = [*columns, SortKey(id_column, tie)]
    sort = CustomFieldSort(query, id_column, definition, first.descending, rest)
    return sort, [SortKey(literal_column(SORT), first.descending), *rest]


def sorts_by_custom_field(orders: Sequence[Order]) -> bool:
    return any(o.custom_field is not None for o in orders)
