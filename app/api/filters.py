"""Typed filter operators and their SQL: one place, reused by every capability's
`filter:` input. Each helper returns a SQLAlchemy condition (or None for "no filter")."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

import strawberry
from sqlalchemy import ColumnElement, and_, or_, true

from app.api.ids import parse_uuid
from app.errors import BadUserInput

E = TypeVar("E", bound=enum.Enum)

# Every list inside a `filter:` argument (`in`, tags, and/or, custom fields) holds at
# most this many items, as mutations taking id lists do; app/api/limits.py enforces
# it for all filter inputs at once, before any resolver runs.
MAX_FILTER_LIST = 100


@strawberry.input(description="Match an id: equal to, one of, or (un)set.")
class IdFilter:
    eq: strawberry.ID | None = None
    in_: list[strawberry.ID] | None = strawberry.field(default=None, name="in")
    is_null: bool | None = None


@strawberry.input(description="Match one value of an enum.")
class EnumFilter(Generic[E]):
    eq: E | None = None
    in_: list[E] | None = strawberry.field(default=None, name="in")
    is_null: bool | None = None


@strawberry.input(description="A time range; both ends inclusive.")
class DateTimeFilter:
    gte: dt.datetime | None = None
    lte: dt.datetime | None = None


@strawberry.input(description="A range of calendar days in the tenant's time zone; inclusive.")
class DateFilter:
    gte: dt.date | None = None
    lte: dt.date | None = None


@strawberry.input(
    description="Match document numbers exactly (QT-2026-000045, SO-2026-000123, PO-...)."
)
class DocumentNumberFilter:
    eq: str | None = None
    in_: list[str] | None = strawberry.field(default=None, name="in")


MAX_NUMBERS = MAX_FILTER_LIST


@strawberry.input(description="Tags: having all of these, and/or any of these.")
class TagsFilter:
    all: list[str] | None = None
    any: list[str] | None = None


def all_of(conditions: Iterable[ColumnElement[bool] | None]) -> ColumnElement[bool]:
    present = [c for c in conditions if c is not None]
    return and_(*present) if present else true()


def filter_id(value: Any, field: str) -> uuid.UUID | None:
    """An id given in a filter or query argument (None when not given); a malformed
    one is a BadUserInput naming the field, since it can match nothing."""
    if value is None:
        return None
    parsed = parse_uuid(value)
    if parsed is None:
        raise BadUserInput(f"{field}: {value!r} is not a valid id")
    return parsed


def id_condition(column: Any, f: IdFilter | None, field: str) -> ColumnElement[bool] | None:
    if f is None:
        return None
    parts = []
    if f.eq is not None:
        parts.append(column == filter_id(f.eq, field))
    if f.in_ is not None:
        parts.append(column.in_([filter_id(v, field) for v in f.in_]))
    if f.is_null is not None:
        parts.append(column.is_(None) if f.is_null else column.is_not(None))
    return all_of(parts)


def enum_condition(column: Any, f: EnumFilter | None) -> ColumnElement[bool] | None:
    if f is None:
        return None
    parts = []
    if f.eq is not None:
        parts.append(column == f.eq.value)
    if f.in_ is not None:
        parts.append(column.in_([v.value for v in f.in_]))
    if f.is_null is not None:
        parts.append(column.is_(None) if f.is_null else column.is_not(None))
    return all_of(parts)


def datetime_condition(column: Any, f: DateTimeFilter | None) -> ColumnElement[bool] | None:
    if f is None:
        return None
    parts = []
    if f.gte is not None:
        parts.append(column >= f.gte)
    if f.lte is not None:
        parts.append(column <= f.lte)
    return all_of(parts)


def date_condition(column: Any, f: DateFilter | None, time_zone: str) -> ColumnElement[bool] | None:
    """Calendar days mean the tenant's days: [gte 00:00, lte+1 00:00) in its zone."""
    if f is None:
        return None
    zone = ZoneInfo(time_zone)
    parts = []
    if f.gte is not None:
        parts.append(column >= dt.datetime.combine(f.gte, dt.time(), zone))
    if f.lte is not None:
        parts.append(column < dt.datetime.combine(f.lte + dt.timedelta(days=1), dt.time(), zone))
    return all_of(parts)


def day_condition(column: Any, f: DateFilter | None) -> ColumnElement[bool] | None:
    """For date columns (an order date, a due date), which are already calendar days."""
    if f is None:
        return None
    return all_of([
        column >= f.gte if f.gte is not None else None,
        column <= f.lte if f.lte is not None else None,
    ])  # fmt: skip


def number_condition(column: Any, f: DocumentNumberFilter | None) -> ColumnElement[bool] | None:
    if f is None:
        return None
    if f.in_ is not None and len(f.in_) > MAX_NUMBERS:
        raise BadUserInput(f"number.in takes at most {MAX_NUMBERS} numbers")
    return all_of([
        column == f.eq.strip() if f.eq is not None else None,
        column.in_([n.strip() for n in f.in_]) if f.in_ is not None else None,
    ])  # fmt: skip


def tags_condition(column: Any, f: TagsFilter | None) -> ColumnElement[bool] | None:
    if f is None:
        return None
    parts = []
    if f.all:
        parts.append(column.contains(f.all))
    if f.any:
        parts.append(column.overlap(f.any))
    return all_of(parts)


def any_of(conditions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return or_(*conditions)
