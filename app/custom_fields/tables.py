"""Custom field definitions and their values.

A definition names a field of one entity (customer, contact, lead, opportunity: see
`app.custom_fields.entities`). Values are one row per (field, record), with one typed
column set per field type, so a filter on any field, and a sort by it, is an index
range scan on (field_id, value). Removing a field
is a soft delete: its values are ignored (never returned, never filterable) until a
cleanup deletes them; defining the same key again makes a new field.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from app.db import record_columns, tenant_metadata

ENTITY_NAMES = ("customer", "contact", "lead", "opportunity")
TYPES = ("text", "number", "decimal", "date", "boolean", "select", "multiselect")
OPTION_TYPES = ("select", "multiselect")

custom_field_definitions = Table(
    "custom_field_definitions",
    tenant_metadata,
    Column("id", Uuid, primary_key=True),
    Column("entity", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("required", Boolean, nullable=False, server_default="false"),
    Column("options", ARRAY(Text), nullable=False, server_default="{}"),
    Column("max_length", Integer),
    Column("min_value", Numeric),
    Column("max_value", Numeric),
    Column("position", Integer, nullable=False, server_default="0"),
    *record_columns(),
    Column("deleted_at", DateTime(timezone=True)),
    CheckConstraint("entity in ('customer', 'contact', 'lead', 'opportunity')", name="entity"),
    CheckConstraint(
        "type in ('text', 'number', 'decimal', 'date', 'boolean', 'select', 'multiselect')",
        name="type",
    ),
    CheckConstraint("key ~ '^[a-z][a-z0-9_]{0,39}$'", name="key"),
    CheckConstraint(
        "(type in ('select', 'multiselect')) = (cardinality(options) > 0)", name="options"
    ),
    CheckConstraint("max_length IS NULL OR (type = 'text' AND max_length > 0)", name="max_length"),
    CheckConstraint(
        "(min_value IS NULL AND max_value IS NULL) OR type in ('number', 'decimal')",
        name="range",
    ),
    Index(
        "uq_custom_field_definitions_key",
        "entity",
        "key",
        unique=True,
        postgresql_where=text("deleted_at IS NULL"),
    ),
)

custom_field_values = Table(
    "custom_field_values",
    tenant_metadata,
    Column("field_id", Uuid, ForeignKey("custom_field_definitions.id"), nullable=False),
    Column("entity_id", Uuid, nullable=False),
    Column("text_value", Text),
    Column("number_value", BigInteger),
    Column("decimal_value", Numeric(18, 4)),
    Column("date_value", Date),
    Column("bool_value", Boolean),
    Column("options_value", ARRAY(Text)),
    PrimaryKeyConstraint("field_id", "entity_id", name="pk_custom_field_values"),
    CheckConstraint(
        "num_nonnulls(text_value, number_value, decimal_value, date_value, bool_value, "
        "options_value) = 1",
        name="one_value",
    ),
    CheckConstraint("cardinality(options_value) > 0", name="options_value"),
    Index("ix_custom_field_values_text", "field_id", "text_value", "entity_id"),
    Index("ix_custom_field_values_number", "field_id", "number_value", "entity_id"),
    Index("ix_custom_field_values_decimal", "field_id", "decimal_value", "entity_id"),
    Index("ix_custom_field_values_date", "field_id", "date_value", "entity_id"),
    Index("ix_custom_field_values_bool", "field_id", "bool_value", "entity_id"),
    Index("ix_custom_field_values_options", "options_value", postgresql_using="gin"),
    Index("ix_custom_field_values_entity_id", "entity_id"),
)
