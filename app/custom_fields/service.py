"""Custom field definitions (define, change, remove) and values: validating what a
client sends against the definitions, writing it in the caller's transaction,
loading a page's values in one statement, and filter conditions.

Every function runs inside the caller's transaction and raises UserErrors for
anything the user can fix; nothing here commits."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    and_,
    delete,
    func,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.audit.service import Actor, diff, record
from app.custom_fields.tables import (
    OPTION_TYPES,
    TYPES,
    custom_field_definitions,
    custom_field_values,
)
from app.errors import BadUserInput, UserError, UserErrors, fail
from app.records import apply_change, insert_once, lock_for_change

defs = custom_field_definitions
vals = custom_field_values

KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_TEXT = 10_000
MAX_OPTIONS = 200
MAX_OPTION_LENGTH = 200
MAX_LABEL = 100
# JSON-safe integers: clients in JavaScript read numbers as doubles.
MAX_NUMBER = 2**53 - 1
MAX_DECIMAL = Decimal("1e14")  # numeric(18, 4)
COLUMN = {
    "text": "text_value",
    "select": "text_value",
    "number": "number_value",
    "decimal": "decimal_value",
    "date": "date_value",
    "boolean": "bool_value",
    "multiselect": "options_value",
}
VALUE_COLUMNS = sorted(set(COLUMN.values()))
UNIQUE = {
    "uq_custom_field_definitions_key": UserError(
        "key", "TAKEN", "a live custom field of this entity already has this key"
    )
}


@dataclass(frozen=True)
class Definition:
    id: uuid.UUID
    entity: str
    key: str
    label: str
    type: str
    required: bool
    options: tuple[str, ...]
    max_length: int | None
    min_value: Decimal | None
    max_value: Decimal | None
    position: int

    @classmethod
    def from_row(cls, row: Row) -> Definition:
        return cls(
            id=row.id, entity=row.entity, key=row.key, label=row.label, type=row.type,
            required=row.required, options=tuple(row.options), max_length=row.max_length,
            min_value=row.min_value, max_value=row.max_value, position=row.position,
        )  # fmt: skip


# --- definitions ---------------------------------------------------------------------


def live_definitions_query(entity: str):
    return (
        select(defs)
        .where(defs.c.entity == entity, defs.c.deleted_at.is_(None))
        .order_by(defs.c.position, defs.c.key)
    )


async def list_definitions(conn: AsyncConnection, entity: str) -> list[Row]:
    return list((await conn.execute(live_definitions_query(entity))).all())


async def definitions(conn: AsyncConnection, entity: str) -> dict[str, Definition]:
    """The entity's live fields by key, in display order."""
    return {r.key: Definition.from_row(r) for r in await list_definitions(conn, entity)}


def _check_definition(values: dict[str, Any], field_type: str) -> list[UserError]:
    """The rules a definition's settings follow, given its (fixed) type."""
    errors: list[UserError] = []
    if "label" in values:
        label = (values["label"] or "").strip()
        values["label"] = label
        if not label or len(label) > MAX_LABEL:
            errors.append(UserError("label", "INVALID", f"1 to {MAX_LABEL} characters"))
    if "options" in values:
        options = [o.strip() for o in (values["options"] or [])]
        values["options"] = options
        if field_type in OPTION_TYPES:
            if not options or len(options) > MAX_OPTIONS:
                errors.append(
                    UserError("options", "INVALID", f"1 to {MAX_OPTIONS} options are needed")
                )
            elif any(not o or len(o) > MAX_OPTION_LENGTH for o in options):
                errors.append(
                    UserError(
                        "options", "INVALID", f"options are 1 to {MAX_OPTION_LENGTH} characters"
                    )
                )
            elif len(set(options)) != len(options):
                errors.append(UserError("options", "INVALID", "options must be distinct"))
        elif options:
            errors.append(UserError("options", "INVALID", "only select fields have options"))
    elif field_type in OPTION_TYPES and "type" in values:
        errors.append(UserError("options", "REQUIRED", "select fields need their options"))
    max_length = values.get("max_length")
    if max_length is not None and (field_type != "text" or not 0 < max_length <= MAX_TEXT):
        errors.append(
            UserError("validation.maxLength", "INVALID",
                      f"only text fields have a maximum length, from 1 to {MAX_TEXT}")
        )  # fmt: skip
    low, high = values.get("min_value"), values.get("max_value")
    if (low is not None or high is not None) and field_type not in ("number", "decimal"):
        errors.append(
            UserError("validation", "INVALID", "only number and decimal fields have a range")
        )
    elif low is not None and high is not None and low > high:
        errors.append(UserError("validation.min", "INVALID", "min must not exceed max"))
    return errors


async def define_field(
    conn: AsyncConnection,
    *,
    actor: Actor,
    field_id: uuid.UUID | None,
    values: dict[str, Any],
) -> Row:
    values = dict(values)
    errors = []
    if values["type"] not in TYPES:
        errors.append(UserError("type", "INVALID", f"one of {', '.join(TYPES)}"))
    if not KEY.match(values.get("key") or ""):
        errors.append(
            UserError("key", "INVALID",
                      "a lowercase letter, then up to 39 lowercase letters, digits or _")
        )  # fmt: skip
    values.setdefault("options", [])
    errors += _check_definition(values, values["type"])
    if errors:
        raise UserErrors(errors)
    if values.get("position") is None and field_id is not None:  # a repeated define
        values["position"] = await conn.scalar(select(defs.c.position).where(defs.c.id == field_id))
    if values.get("position") is None:
        values["position"] = await conn.scalar(
            select(func.coalesce(func.max(defs.c.position) + 1, 0)).where(
                defs.c.entity == values["entity"], defs.c.deleted_at.is_(None)
            )
        )
    row, _ = await insert_once(
        conn, defs, actor=actor, entity="custom_field", row_id=field_id, values=values,
        unique=UNIQUE,
    )  # fmt: skip
    return row


async def update_field(
    conn: AsyncConnection,
    *,
    actor: Actor,
    field_id: uuid.UUID,
    version: int | None,
    values: dict[str, Any],
) -> Row:
    current = await lock_for_change(conn, defs, field_id, entity="custom field", version=version)
    values = dict(values)
    if "type" in values:
        if values.pop("type") != current.type:
            raise fail("type", "IMMUTABLE", "a field's type cannot change; define a new field")
    merged = {
        "min_value": current.min_value, "max_value": current.max_value, **values,
    }  # fmt: skip
    errors = _check_definition(merged, current.type)
    if "options" in values:
        values["options"] = merged["options"]
        removed = sorted(set(current.options) - set(values["options"]))
        if removed and not errors and await _options_in_use(conn, current.id, removed):
            errors.append(
                UserError("options", "IN_USE",
                          f"records still use {', '.join(removed)}; change them first")
            )  # fmt: skip
    if "label" in values:
        values["label"] = merged["label"]
    if errors:
        raise UserErrors(errors)
    return await apply_change(
        conn, defs, current, actor=actor, entity="custom_field", action="update", values=values
    )


async def _options_in_use(conn: AsyncConnection, field_id: uuid.UUID, options: list[str]) -> bool:
    found = await conn.scalar(
        select(vals.c.entity_id)
        .where(
            vals.c.field_id == field_id,
            or_(vals.c.text_value.in_(options), vals.c.options_value.overlap(options)),
        )
        .limit(1)
    )
    return found is not None


async def remove_field(conn: AsyncConnection, *, actor: Actor, field_id: uuid.UUID) -> Row:
    """A soft delete: the values stay until a cleanup removes them, but are never
    returned or filterable again; the key is free for a new field."""
    current = await lock_for_change(conn, defs, field_id, entity="custom field", version=None)
    return await apply_change(
        conn, defs, current, actor=actor, entity="custom_field", action="remove",
        values={"deleted_at": dt.datetime.now(dt.UTC)},
    )  # fmt: skip


# --- values: coercion and validation -------------------------------------------------


class Invalid(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Invalid("INVALID_TYPE", "expects a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise Invalid("INVALID_TYPE", "expects a whole number")
        value = int(value)
    if isinstance(value, str):
        if not re.fullmatch(r"-?\d{1,16}", value.strip()):
            raise Invalid("INVALID_TYPE", "expects a whole number")
        value = int(value)
    if abs(value) > MAX_NUMBER:
        raise Invalid("OUT_OF_RANGE", f"whole numbers are at most {MAX_NUMBER} in size")
    return value


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Invalid("INVALID_TYPE", "expects a decimal number (preferably as a string)")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise Invalid("INVALID_TYPE", "expects a decimal number") from None
    if not number.is_finite():
        raise Invalid("INVALID_TYPE", "expects a decimal number")
    if abs(number) >= MAX_DECIMAL:
        raise Invalid("OUT_OF_RANGE", "decimals are below 10^14 in size")
    if number.as_tuple().exponent < -4 and number != number.quantize(Decimal("0.0001")):
        raise Invalid("INVALID", "decimals have at most 4 digits after the point")
    return number


def coerce(definition: Definition, value: Any) -> Any:
    """A client's JSON value as the field's Python value; raises Invalid."""
    kind = definition.type
    if kind in ("text", "select"):
        if not isinstance(value, str):
            raise Invalid("INVALID_TYPE", "expects a string")
        value = value.strip()
        if kind == "select" and value not in definition.options:
            raise Invalid("NOT_AN_OPTION", f"{value!r} is not one of the field's options")
        return value
    if kind == "number":
        return _number(value)
    if kind == "decimal":
        return _decimal(value)
    if kind == "date":
        if not isinstance(value, str):
            raise Invalid("INVALID_TYPE", "expects a date as YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise Invalid("INVALID_TYPE", "expects a date as YYYY-MM-DD") from None
    if kind == "boolean":
        if not isinstance(value, bool):
            raise Invalid("INVALID_TYPE", "expects true or false")
        return value
    if kind == "multiselect":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Invalid("INVALID_TYPE", "expects a list of strings")
        chosen = list(dict.fromkeys(v.strip() for v in value))
        unknown = [v for v in chosen if v not in definition.options]
        if unknown:
            raise Invalid("NOT_AN_OPTION", f"not among the field's options: {', '.join(unknown)}")
        return chosen
    raise Invalid("INVALID_TYPE", "unknown field type")  # pragma: no cover


def validate(definition: Definition, value: Any) -> Any:
    """Coerce, then the definition's own rules. None (or an empty text / selection)
    means no value."""
    if value is None:
        return None
    value = coerce(definition, value)
    if value == "" or value == []:
        return None
    if definition.type == "text":
        limit = definition.max_length or MAX_TEXT
        if len(value) > limit:
            raise Invalid("TOO_LONG", f"at most {limit} characters")
    if definition.type in ("number", "decimal"):
        if definition.min_value is not None and value < definition.min_value:
            raise Invalid("OUT_OF_RANGE", f"at least {definition.min_value}")
        if definition.max_value is not None and value > definition.max_value:
            raise Invalid("OUT_OF_RANGE", f"at most {definition.max_value}")
    return value


@dataclass
class PreparedValues:
    """Validated values to write for one record: key -> value (None clears)."""

    entity: str
    fields: dict[str, Definition]
    values: dict[str, Any]


async def prepare(
    conn: AsyncConnection,
    entity: str,
    items: Sequence[tuple[str, Any]] | None,
    *,
    creating: bool,
) -> tuple[PreparedValues | None, list[UserError]]:
    """Check what a client sent (key, JSON value) against the entity's live fields.
    Returns the values to write and the user errors (field `customFields.<key>`).
    `items` None (not given, as by imports and lead conversion) checks nothing, not
    even the required fields."""
    if items is None or (not items and not creating):
        return None, []
    fields = await definitions(conn, entity)
    errors: list[UserError] = []
    values: dict[str, Any] = {}
    for key, raw in items or ():
        where = f"customFields.{key}"
        definition = fields.get(key)
        if definition is None:
            errors.append(UserError(where, "UNKNOWN_FIELD", f"no custom field {key!r}"))
            continue
        if key in values:
            errors.append(UserError(where, "DUPLICATE", "this field is given more than once"))
            continue
        try:
            value = validate(definition, raw)
        except Invalid as problem:
            errors.append(UserError(where, problem.code, problem.message))
            continue
        if value is None and definition.required:
            errors.append(UserError(where, "REQUIRED", f"{definition.label} is required"))
            continue
        values[key] = value
    if creating:
        for key, definition in fields.items():
            if (
                definition.required
                and key not in values
                and not any(e.field == f"customFields.{key}" for e in errors)
            ):
                errors.append(
                    UserError(f"customFields.{key}", "REQUIRED", f"{definition.label} is required")
                )
    if not values and not errors:
        return None, []
    return PreparedValues(entity, fields, values), errors


def _row_value(definition: Definition, row: Any) -> Any:
    value = getattr(row, COLUMN[definition.type])
    return list(value) if definition.type == "multiselect" and value is not None else value


async def write(
    conn: AsyncConnection,
    prepared: PreparedValues | None,
    *,
    actor: Actor,
    entity_id: uuid.UUID,
    audit: bool = True,
) -> dict[str, Any]:
    """Write (upsert or clear) the prepared values of one record; returns the audit
    changes {"customFields.<key>": {"from", "to"}} and records them (action
    `<entity>.custom_fields`) when anything changed."""
    if prepared is None or not prepared.values:
        return {}
    fields = {key: prepared.fields[key] for key in prepared.values}
    by_id = {d.id: d for d in fields.values()}
    current = await conn.execute(
        select(vals).where(vals.c.entity_id == entity_id, vals.c.field_id.in_(list(by_id)))
    )
    before = {by_id[r.field_id].key: _row_value(by_id[r.field_id], r) for r in current}
    changes = diff(before, prepared.values)
    if not changes:
        return {}
    upserts, clears = [], []
    for key in changes:
        definition, value = fields[key], prepared.values[key]
        if value is None:
            clears.append(definition.id)
            continue
        row = dict.fromkeys(VALUE_COLUMNS)
        row.update(field_id=definition.id, entity_id=entity_id)
        row[COLUMN[definition.type]] = value
        upserts.append(row)
    if upserts:
        statement = insert(vals).values(upserts)
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=["field_id", "entity_id"],
                set_={c: statement.excluded[c] for c in VALUE_COLUMNS},
            )
        )
    if clears:
        await conn.execute(
            delete(vals).where(vals.c.entity_id == entity_id, vals.c.field_id.in_(clears))
        )
    changes = {f"customFields.{k}": v for k, v in changes.items()}
    if audit:
        await record(
            conn, actor=actor, action=f"{prepared.entity}.custom_fields",
            entity_type=prepared.entity, entity_id=entity_id, changes=changes,
        )  # fmt: skip
    return changes


async def write_on_update(
    conn: AsyncConnection,
    prepared: PreparedValues | None,
    *,
    actor: Actor,
    table: Table,
    current: Row,
    row: Row,
) -> Row:
    """Write an updated record's custom values (`current`: the record before the
    update, locked; `row`: after its own columns changed). When only custom values
    changed, the record still gets a new version, so a client holding the old one
    conflicts. Returns the record as it is now."""
    changed = await write(conn, prepared, actor=actor, entity_id=row.id)
    if not changed or row.version != current.version:
        return row
    statement = (
        update(table)
        .where(table.c.id == row.id)
        .values(version=table.c.version + 1, updated_at=func.now())
        .returning(table)
    )
    return (await conn.execute(statement)).one()


# --- values: reading -----------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    definition: Definition
    value: Any


async def values_by_entity(
    conn: AsyncConnection, entity: str, entity_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Value]]:
    """Live fields' values of many records in one statement, in display order."""
    ids = list(dict.fromkeys(entity_ids))
    grouped: dict[uuid.UUID, list[Value]] = defaultdict(list)
    if not ids:
        return grouped
    rows = await conn.execute(
        select(vals, *[c.label(f"def_{c.key}") for c in defs.c])
        .join(defs, defs.c.id == vals.c.field_id)
        .where(vals.c.entity_id.in_(ids), defs.c.entity == entity, defs.c.deleted_at.is_(None))
        .order_by(vals.c.entity_id, defs.c.position, defs.c.key)
    )
    cache: dict[uuid.UUID, Definition] = {}
    for row in rows:
        definition = cache.get(row.field_id)
        if definition is None:
            m = row._mapping
            definition = cache[row.field_id] = Definition(
                id=m["def_id"], entity=m["def_entity"], key=m["def_key"], label=m["def_label"],
                type=m["def_type"], required=m["def_required"], options=tuple(m["def_options"]),
                max_length=m["def_max_length"], min_value=m["def_min_value"],
                max_value=m["def_max_value"], position=m["def_position"],
            )  # fmt: skip
        grouped[row.entity_id].append(Value(definition, _row_value(definition, row)))
    return grouped


# --- filters -------------------------------------------------------------------------


@dataclass
class FieldFilter:
    key: str
    eq: Any = None
    in_: list[Any] | None = None
    gte: Any = None
    lte: Any = None
    is_null: bool | None = None
    contains: list[str] | None = None


OPERATORS = {
    "text": {"eq", "in", "isNull"},
    "select": {"eq", "in", "isNull"},
    "number": {"eq", "in", "gte", "lte", "isNull"},
    "decimal": {"eq", "in", "gte", "lte", "isNull"},
    "date": {"eq", "in", "gte", "lte", "isNull"},
    "boolean": {"eq", "isNull"},
    "multiselect": {"contains", "in", "isNull"},
}


def _filter_value(definition: Definition, value: Any, where: str) -> Any:
    try:
        return coerce(definition, value)
    except Invalid as problem:
        raise BadUserInput(f"{where}: {problem.message}") from None


def field_condition(
    id_column: Any, f: FieldFilter, fields: dict[str, Definition]
) -> ColumnElement[bool]:
    """One filter on a custom field as a semi-join of the record's id to the values
    index on (field_id, value). Wrong keys or operators are BAD_USER_INPUT."""
    where = f"customFields.{f.key}"
    definition = fields.get(f.key)
    if definition is None:
        raise BadUserInput(f"{where}: no custom field {f.key!r}")
    given = {
        name
        for name, value in (("eq", f.eq), ("in", f.in_), ("gte", f.gte), ("lte", f.lte),
                            ("isNull", f.is_null), ("contains", f.contains))
        if value is not None
    }  # fmt: skip
    refused = sorted(given - OPERATORS[definition.type])
    if refused:
        raise BadUserInput(
            f"{where}: a {definition.type} field cannot be filtered with {', '.join(refused)}"
        )
    column = vals.c[COLUMN[definition.type]]
    parts: list[ColumnElement[bool]] = []
    if f.eq is not None:
        parts.append(column == _filter_value(definition, f.eq, where))
    if f.in_ is not None:
        if definition.type == "multiselect":
            chosen = _filter_value(definition, list(f.in_), where)
            parts.append(column.overlap(chosen))
        else:
            parts.append(column.in_([_filter_value(definition, v, where) for v in f.in_]))
    if f.gte is not None:
        parts.append(column >= _filter_value(definition, f.gte, where))
    if f.lte is not None:
        parts.append(column <= _filter_value(definition, f.lte, where))
    if f.contains is not None:
        parts.append(column.contains(_filter_value(definition, list(f.contains), where)))
    conditions: list[ColumnElement[bool]] = []
    if parts:
        conditions.append(
            id_column.in_(select(vals.c.entity_id).where(vals.c.field_id == definition.id, *parts))
        )
    if f.is_null is not None:
        having = (
            select(vals.c.entity_id)
            .where(vals.c.field_id == definition.id, vals.c.entity_id == id_column)
            .exists()
        )
        conditions.append(not_(having) if f.is_null else having)
    return and_(*conditions) if conditions else true()


def uses_fields(f: Any, depth: int = 0, max_depth: int = 4) -> bool:
    """Whether a list's filter input (its `custom_fields`, and nested `and_`/`or_`
    ones down to the depth the list honours) needs the entity's definitions."""
    if f is None or depth >= max_depth:
        return False
    nested = [*(getattr(f, "and_", None) or []), *(getattr(f, "or_", None) or [])]
    return bool(getattr(f, "custom_fields", None)) or any(
        uses_fields(g, depth + 1, max_depth) for g in nested
    )


def fields_condition(
    id_column: Any, filters: Sequence[FieldFilter] | None, fields: dict[str, Definition]
) -> ColumnElement[bool] | None:
    if not filters:
        return None
    return and_(*(field_condition(id_column, f, fields) for f in filters))
